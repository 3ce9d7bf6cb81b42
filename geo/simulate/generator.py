"""Simulated 城管 cases for the embedded Xiaonan default (模拟数据), with their ground truth.

:func:`simulate_cases` draws a year of cases for the 53 communities from a set of ground-truth
hotspots tied to the simulated landmarks (morning markets 06–09, night markets 18–22, school gates,
old compounds, green spaces, recycling stations, shop fronts along main roads) plus background
noise spread over every community. Daily counts are Poisson with a monthly season, a weekly
pattern, the Spring Festival, and persistent, emerging or fading trends. Every case carries
``simulated = True`` and a description starting with ``［模拟］``. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from geo.boundaries import DefaultArea, assign_community
from geo.catalogue import default_catalogue
from geo.crs import WGS84, XIAONAN_WORKING_CRS
from geo.errors import InputError
from geo.labels import OPEN_STATUSES
from geo.simulate.text import address_for, describe, pick_sources

TZ = "Asia/Shanghai"
SIM_TAG = "［模拟］"
Windows = tuple[tuple[float, float, float], ...]  # (start hour, end hour, weight)

MORNING: Windows = ((6.0, 7.0, 0.35), (7.0, 8.0, 0.4), (8.0, 9.0, 0.25))
NIGHT: Windows = ((18.0, 19.0, 0.2), (19.0, 21.0, 0.55), (21.0, 22.0, 0.25))
SCHOOL: Windows = ((7.0, 8.0, 0.35), (11.5, 12.5, 0.15), (16.0, 18.0, 0.5))
DAY: Windows = ((8.0, 12.0, 0.45), (12.0, 18.0, 0.45), (18.0, 20.0, 0.1))
SHOP: Windows = ((9.0, 21.0, 1.0),)
EVENING_NOISE: Windows = ((19.0, 22.0, 0.45), (22.0, 24.0, 0.35), (6.0, 8.0, 0.1), (12.0, 14.0, 0.1))
GREEN_DAY: Windows = ((6.5, 10.0, 0.5), (10.0, 18.0, 0.5))

SEASONS = {  # monthly factors, January first
    "全年": np.ones(12),
    "春夏": np.array([0.1, 0.15, 0.6, 1.0, 1.0, 0.9, 0.85, 0.7, 0.45, 0.25, 0.15, 0.1]),
    "夏秋": np.array([0.45, 0.45, 0.6, 0.8, 0.95, 1.0, 1.0, 1.0, 0.95, 0.8, 0.6, 0.45]),
    "学期": np.array([1.0, 0.3, 1.0, 1.0, 1.0, 1.0, 0.15, 0.1, 1.0, 1.0, 1.0, 1.0]),
    "施工": np.array([0.6, 0.4, 0.9, 1.0, 1.0, 0.9, 0.8, 0.8, 1.0, 1.0, 0.9, 0.7]),
}
WEEKLY = {  # Monday first
    "market": np.array([0.9, 0.9, 0.9, 0.9, 1.0, 1.35, 1.35]),
    "weekday": np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]),
    "night": np.array([0.8, 0.8, 0.85, 0.9, 1.3, 1.5, 1.2]),
    "flat": np.array([1.05, 1.05, 1.0, 1.0, 1.0, 0.95, 0.95]),
}


@dataclass(frozen=True)
class _Recipe:
    """How one landmark kind produces a hotspot of one category."""

    category: str
    windows: Windows
    season: str
    weekly: str
    rate: float  # cases per day at full season, per unit of landmark size (or flat if size 0)
    radius_m: float
    per_size: bool = False


RECIPES: dict[str, tuple[_Recipe, ...]] = {
    "morning_market": (_Recipe("09006", MORNING, "全年", "market", 0.055, 90.0, True),
                       _Recipe("09002", MORNING, "全年", "market", 0.012, 60.0, True)),
    "night_market": (_Recipe("09006", NIGHT, "夏秋", "night", 0.05, 80.0, True),
                     _Recipe("09002", NIGHT, "夏秋", "night", 0.01, 60.0, True),
                     _Recipe("06028", EVENING_NOISE, "夏秋", "night", 0.018, 120.0, True)),
    "school": (_Recipe("09001", SCHOOL, "学期", "weekday", 0.8, 60.0),),
    "old_compound": (_Recipe("06001", DAY, "施工", "flat", 0.3, 110.0),
                     _Recipe("06036", DAY, "全年", "flat", 0.55, 110.0),
                     _Recipe("06040", DAY, "全年", "flat", 0.22, 90.0),
                     _Recipe("08016", DAY, "施工", "flat", 0.06, 110.0)),
    "green_space": (_Recipe("06045", GREEN_DAY, "春夏", "flat", 0.005, 0.0, True),),
    "recycling": (_Recipe("09004", DAY, "全年", "flat", 0.5, 50.0),
                  _Recipe("06036", DAY, "全年", "flat", 0.2, 60.0)),
    "main_road": (_Recipe("09005", SHOP, "全年", "flat", 0.45, 100.0),),
}
# Background: district-wide cases per day by category (spread over communities) and hours.
BACKGROUND: dict[str, tuple[float, Windows, str]] = {
    "09006": (3.0, ((6.0, 9.0, 0.45), (18.0, 22.0, 0.35), (9.0, 18.0, 0.2)), "全年"),
    "09001": (2.0, ((7.0, 9.0, 0.3), (11.0, 13.0, 0.2), (16.0, 19.0, 0.35), (19.0, 22.0, 0.15)), "全年"),
    "09005": (2.0, SHOP, "全年"),
    "09002": (0.2, ((6.0, 9.0, 0.6), (18.0, 22.0, 0.4)), "全年"),
    "06036": (3.0, DAY, "全年"),
    "06001": (1.0, DAY, "施工"),
    "08016": (0.3, DAY, "施工"),
    "06045": (1.2, GREEN_DAY, "春夏"),
    "06028": (1.5, ((19.0, 24.0, 0.75), (6.0, 8.0, 0.1), (8.0, 19.0, 0.15)), "夏秋"),
    "06040": (0.7, DAY, "全年"),
    "09004": (0.5, DAY, "全年"),
}
STALL_SET = {"09006", "09001", "09005", "09002"}
# median hours from report to closure, per category
CLOSE_MEDIAN_H = {"09006": 3, "09001": 3, "09005": 8, "09002": 6, "06036": 20, "06001": 150,
                  "08016": 300, "06045": 72, "06028": 12, "06040": 48, "09004": 36}
MAX_OPEN_DAYS = 45.0
OPEN_STAGES = OPEN_STATUSES


def _minute_weights(windows: Windows) -> np.ndarray:
    """A probability over the 1440 minutes of a day from hour windows."""
    w = np.zeros(1440)
    for start, end, weight in windows:
        a, b = round(start * 60), round(end * 60)
        w[a:b] += weight / max(b - a, 1)
    return w / w.sum()


def _active_hours(windows: Windows) -> str:
    """``"06:00-09:00"``: windows sorted and merged where they touch, comma-separated."""
    spans: list[list[float]] = []
    for a, b, _ in sorted(windows):
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    return ",".join(f"{int(a):02d}:{round(a % 1 * 60):02d}-{int(b):02d}:{round(b % 1 * 60):02d}"
                    for a, b in spans)


def _spring_festival(dates: pd.DatetimeIndex, category: str) -> np.ndarray:
    """Stall surge in the weeks before 春节 2026 (17 Feb) and a lull in the holiday week."""
    f = np.ones(len(dates))
    days = (dates - pd.Timestamp("2026-02-17")).days.to_numpy()
    f[(days >= 0) & (days < 7)] = 0.45
    if category in STALL_SET:
        f[(days >= -21) & (days < 0)] = 1.35
    return f


def _daily_factor(dates: pd.DatetimeIndex, season: str, weekly: str, category: str) -> np.ndarray:
    return (SEASONS[season][dates.month.to_numpy() - 1] * WEEKLY[weekly][dates.day_of_week.to_numpy()]
            * _spring_festival(dates, category))


def _trend(n_days: int, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """persistent (75%), emerging (ramps up from a day) or fading (ramps down to zero)."""
    t = np.arange(n_days, dtype=float)
    u = rng.random()
    if u < 0.13:
        d0 = rng.integers(n_days // 4, (2 * n_days) // 3)
        return "emerging", np.clip((t - d0) / 30.0, 0.0, 1.0)
    if u < 0.25:
        d0 = rng.integers(n_days // 6, n_days // 2)
        return "fading", np.clip(1.0 - (t - d0) / 60.0, 0.0, 1.0)
    return "persistent", np.ones(n_days)


def _build_hotspots(area: DefaultArea, n_days: int, rng: np.random.Generator) -> pd.DataFrame:
    """One row per ground-truth hotspot (working-CRS centre, recipe, trend)."""
    lm = area.landmarks.to_crs(XIAONAN_WORKING_CRS)
    rows: list[dict[str, object]] = []
    for rec in lm.sort_values("id").itertuples():
        for recipe in RECIPES.get(str(rec.kind), ()):
            size = float(rec.size or 0)
            if rec.kind == "main_road":
                centres = [rec.geometry.interpolate(f, normalized=True) for f in (0.3, 0.7)]
            else:
                centres = [rec.geometry.centroid]
            for k, c in enumerate(centres):
                trend, curve = _trend(n_days, rng)
                rate = recipe.rate * (size if recipe.per_size else 1.0) * rng.uniform(0.7, 1.3)
                rows.append({
                    "hotspot_id": f"H{len(rows) + 1:03d}", "category": recipe.category,
                    "landmark": str(rec.name) + (f"{'南北'[k]}段" if rec.kind == "main_road" else ""),
                    "kind": str(rec.kind), "x": c.x, "y": c.y,
                    "radius_m": recipe.radius_m or 0.6 * size, "windows": recipe.windows,
                    "season": recipe.season, "weekly": recipe.weekly, "rate": rate,
                    "trend": trend, "curve": curve,
                })
    return pd.DataFrame(rows)


def _draw_times(counts: np.ndarray, windows: Windows, rng: np.random.Generator) -> np.ndarray:
    """Seconds since the first midnight for ``counts[d]`` cases on each day ``d``."""
    day = np.repeat(np.arange(len(counts)), counts)
    minute = rng.choice(1440, size=len(day), p=_minute_weights(windows))
    return day * 86400 + minute * 60 + rng.integers(0, 60, size=len(day))


def _hotspot_cases(
    hot: pd.DataFrame, dates: pd.DatetimeIndex, rng: np.random.Generator
) -> pd.DataFrame:
    parts = []
    for h in hot.itertuples():
        lam = h.rate * h.curve * _daily_factor(dates, h.season, h.weekly, h.category)
        counts = rng.poisson(lam)
        secs = _draw_times(counts, h.windows, rng)
        n = len(secs)
        sd = h.radius_m / 2.0
        parts.append(pd.DataFrame({
            "t": secs, "x": h.x + rng.normal(0, sd, n), "y": h.y + rng.normal(0, sd, n),
            "cx": h.x, "cy": h.y, "sd": sd, "category": h.category, "hotspot_id": h.hotspot_id,
            "landmark": h.landmark, "kind": h.kind,
        }))
    return pd.concat(parts, ignore_index=True)


def _uniform_in(poly: object, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    import shapely

    minx, miny, maxx, maxy = poly.bounds  # type: ignore[attr-defined]
    xs: list[np.ndarray] = [np.empty(0)]
    ys: list[np.ndarray] = [np.empty(0)]
    got = 0
    while got < n:
        x = rng.uniform(minx, maxx, 2 * n + 8)
        y = rng.uniform(miny, maxy, 2 * n + 8)
        ok = shapely.contains_xy(poly, x, y)
        xs.append(x[ok])
        ys.append(y[ok])
        got += int(ok.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _background_cases(
    area: DefaultArea, dates: pd.DatetimeIndex, rng: np.random.Generator
) -> pd.DataFrame:
    comm = area.communities.to_crs(XIAONAN_WORKING_CRS)
    share = rng.lognormal(0.0, 0.5, size=len(comm))
    share /= share.sum()
    parts = []
    for cat, (per_day, windows, season) in BACKGROUND.items():
        lam = per_day * _daily_factor(dates, season, "flat", cat)
        for poly, s in zip(comm.geometry, share, strict=True):
            counts = rng.poisson(lam * s)
            secs = _draw_times(counts, windows, rng)
            x, y = _uniform_in(poly, len(secs), rng)
            parts.append(pd.DataFrame({"t": secs, "x": x, "y": y, "cx": x, "cy": y, "sd": 0.0,
                                       "category": cat, "hotspot_id": None, "landmark": None,
                                       "kind": "background"}))
    return pd.concat(parts, ignore_index=True)


def _keep_inside(df: pd.DataFrame, core: object, rng: np.random.Generator) -> pd.DataFrame:
    """Redraw points that fell outside every community; finally put them on the centre."""
    import shapely

    x, y = df["x"].to_numpy().copy(), df["y"].to_numpy().copy()
    cx, cy, sd = df["cx"].to_numpy(), df["cy"].to_numpy(), df["sd"].to_numpy()
    for _ in range(20):
        bad = ~shapely.contains_xy(core, x, y)
        if not bad.any():
            break
        x[bad] = cx[bad] + rng.normal(0, 1, bad.sum()) * sd[bad]
        y[bad] = cy[bad] + rng.normal(0, 1, bad.sum()) * sd[bad]
    bad = ~shapely.contains_xy(core, x, y)
    x[bad], y[bad] = cx[bad], cy[bad]
    return df.assign(x=x, y=y)


def _status(
    df: pd.DataFrame, end: pd.Timestamp, rng: np.random.Generator
) -> tuple[np.ndarray, pd.Series]:
    """Workflow state and closing time: closed unless still in progress at ``end``."""
    n = len(df)
    median_h = df["category"].map(CLOSE_MEDIAN_H).fillna(24).to_numpy(dtype=float)
    handling_h = median_h * rng.lognormal(0.0, 0.8, n)
    check_h = 30.0 * rng.lognormal(0.0, 0.9, n)  # 核查 and filing before 结案
    dur_s = np.minimum(handling_h + check_h, MAX_OPEN_DAYS * 24.0) * 3600.0
    reported = df["reported_at"]
    age_s = (end - reported).dt.total_seconds().to_numpy()
    progress = age_s / dur_s
    stage = np.minimum((progress * len(OPEN_STAGES)).astype(int), len(OPEN_STAGES) - 1)
    status = np.where(progress >= 1.0, "结案", np.array(OPEN_STAGES, dtype=object)[stage])
    void = rng.random(n) < 0.015
    status = np.where(void & (age_s > 7200), "作废", status)
    dur_s = np.where(status == "作废", 7200.0, dur_s)
    closed = reported + pd.to_timedelta(np.round(dur_s), unit="s")
    closed = closed.where(np.isin(status, ["结案", "作废"]))
    return status.astype(object), closed


def simulate_cases(
    area: DefaultArea, *, start: str = "2025-12-01", days: int = 365, seed: int = 20261128
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Simulate ``days`` days of cases for the default area, with the ground-truth hotspots.

    Parameters
    ----------
    area : DefaultArea
        The embedded default (:func:`geo.boundaries.load_default`); its ``landmarks`` seed the
        hotspots.
    start : str
        First day (local date, Asia/Shanghai).
    days : int
        Number of days; the simulation's "now" is midnight after the last day, so the last
        weeks' slow cases are still open.
    seed : int
        Random seed; the same seed gives the same cases.

    Returns
    -------
    cases : DataFrame
        ``case_id, category, category_name, reported_at`` (tz-aware, Asia/Shanghai), ``lon, lat``
        (WGS84), ``description`` (Chinese, starting ``［模拟］``), ``address, source, status,
        closed_at, community_code, community, squad, hotspot_id`` (ground truth, None for
        background cases) and ``simulated`` (True), sorted by ``reported_at``.
    hotspots : GeoDataFrame
        One Polygon (EPSG:4326) per ground-truth hotspot: ``hotspot_id, category, category_name,
        landmark, kind, radius_m, active_hours, peak_hour, season, trend, intensity_per_day``
        (expected cases a day at full season and trend), ``case_count`` and ``simulated``.

    Raises
    ------
    InputError
        If ``days`` < 1 or ``start`` is not a date.
    """
    if days < 1:
        raise InputError(f"模拟天数 days 必须至少为 1，收到 {days}。")
    try:
        t0 = pd.Timestamp(start).tz_localize(TZ) if pd.Timestamp(start).tzinfo is None \
            else pd.Timestamp(start).tz_convert(TZ)
    except (ValueError, TypeError) as exc:
        raise InputError(f"开始日期「{start}」无法识别；请用 YYYY-MM-DD。") from exc
    t0 = t0.normalize()
    rng = np.random.default_rng(seed)
    dates = pd.date_range(t0.tz_localize(None), periods=days, freq="D")
    hot = _build_hotspots(area, days, rng)
    raw = pd.concat([_hotspot_cases(hot, dates, rng), _background_cases(area, dates, rng)],
                    ignore_index=True)
    core = area.communities.to_crs(XIAONAN_WORKING_CRS).union_all()
    raw = _keep_inside(raw, core, rng).sort_values(["t", "x"], kind="stable").reset_index(drop=True)
    return _finish(raw, area, t0, days, rng), _hotspot_frame(hot, raw)


def _category_names(codes: pd.Series) -> dict[str, str]:
    cat = default_catalogue()
    return {c: cat.name(c) for c in pd.unique(codes)}


def _finish(raw: pd.DataFrame, area: DefaultArea, t0: pd.Timestamp, days: int,
            rng: np.random.Generator) -> pd.DataFrame:
    to_wgs = Transformer.from_crs(XIAONAN_WORKING_CRS, WGS84, always_xy=True)
    lon, lat = to_wgs.transform(raw["x"].to_numpy(), raw["y"].to_numpy())
    reported = t0 + pd.to_timedelta(raw["t"].to_numpy(), unit="s")
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
    where = assign_community(pts, area.communities)
    names = _category_names(raw["category"])
    pyr = random.Random(int(rng.integers(2**62)))
    df = pd.DataFrame({
        "category": raw["category"].to_numpy(),
        "category_name": raw["category"].map(names).to_numpy(),
        "reported_at": pd.Series(reported),
        "lon": np.round(lon, 7), "lat": np.round(lat, 7),
    })
    day_key = df["reported_at"].dt.strftime("%Y%m%d")
    seq = df.groupby(day_key).cumcount() + 1
    df.insert(0, "case_id", "SIM" + day_key + seq.map("{:04d}".format))
    streets = area.communities.set_index("code")["street"].to_dict()
    dx = (raw["x"] - raw["cx"]).to_numpy()
    dy = (raw["y"] - raw["cy"]).to_numpy()
    df["description"] = [
        SIM_TAG + describe(c, lm, k, h, ddx, ddy, pyr)
        for c, lm, k, h, ddx, ddy in zip(df["category"], raw["landmark"], raw["kind"],
                                         df["reported_at"].dt.hour, dx, dy, strict=True)
    ]
    df["address"] = [
        address_for(streets.get(code, ""), name, lm, k, ddx, ddy, pyr)
        for code, name, lm, k, ddx, ddy in zip(where["community_code"], where["community"],
                                              raw["landmark"], raw["kind"], dx, dy, strict=True)
    ]
    df["source"] = pick_sources(df["category"].to_numpy(), STALL_SET, rng)
    end = t0 + pd.Timedelta(days=days)
    df["status"], df["closed_at"] = _status(df, end, rng)
    df["community_code"] = where["community_code"].to_numpy()
    df["community"] = where["community"].to_numpy()
    df["squad"] = where["squad"].to_numpy()
    df["hotspot_id"] = raw["hotspot_id"].to_numpy()
    df["simulated"] = True
    return df


def _hotspot_frame(hot: pd.DataFrame, raw: pd.DataFrame) -> gpd.GeoDataFrame:
    counts = raw["hotspot_id"].value_counts()
    names = _category_names(hot["category"])
    circles = gpd.GeoSeries(gpd.points_from_xy(hot["x"], hot["y"]), crs=XIAONAN_WORKING_CRS)
    circles = circles.buffer(hot["radius_m"].to_numpy(), quad_segs=8).to_crs(WGS84)
    centres = gpd.GeoSeries(gpd.points_from_xy(hot["x"], hot["y"]),
                            crs=XIAONAN_WORKING_CRS).to_crs(WGS84)
    peak = [int(np.argmax(_minute_weights(w)) // 60) for w in hot["windows"]]
    return gpd.GeoDataFrame({
        "hotspot_id": hot["hotspot_id"], "category": hot["category"],
        "category_name": hot["category"].map(names),
        "landmark": hot["landmark"], "kind": hot["kind"],
        "centre_lon": centres.x.round(7), "centre_lat": centres.y.round(7),
        "radius_m": hot["radius_m"].round(1),
        "active_hours": [_active_hours(w) for w in hot["windows"]],
        "peak_hour": peak, "season": hot["season"], "trend": hot["trend"],
        "intensity_per_day": hot["rate"].round(3),
        "case_count": hot["hotspot_id"].map(counts).fillna(0).astype(int),
        "simulated": True,
    }, geometry=circles.to_numpy(), crs=WGS84)
