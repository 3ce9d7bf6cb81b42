"""Demand, candidates and exclusions for siting stall relocation points (疏导点) in a district.

* :func:`stall_demand` aggregates stall cases (09006 占道经营, 09001 无照经营游商, 09005 店外经营,
  09002 早（夜）市管理问题) into demand points on a grid, weighted by recency (exponential decay
  with a half-life) and by whether they occur in market hours (早市 06:00–09:00, 夜市
  18:00–22:30: domain.md §4.1/§4.2, local practice).
* :func:`candidate_grid` generates candidate points inside a service area when the planner gives
  no candidate layer.
* :func:`apply_exclusions` removes candidates near school gates (100 m: the Hefei 禁止区 rule), on
  main roads, inside green space or outside the squads' area, and says why for each.

The adapter that solves and describes a scenario lives in :mod:`geo.siting.frames`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import points

from geo.crs import require_metric, to_working
from geo.errors import InputError

STALL_CATEGORIES: tuple[str, ...] = ("09006", "09001", "09005", "09002")
STALL_NAMES: tuple[str, ...] = ("占道经营", "无照经营游商", "店外经营", "早（夜）市管理问题")
MARKET_HOURS: tuple[tuple[float, float], ...] = ((6.0, 9.0), (18.0, 22.5))
"""Market windows in local decimal hours: morning market 06:00–09:00, night market 18:00–22:30."""

EXCLUSION_REASONS = {
    "school": "距学校门口 {d:g} 米内",
    "road": "位于主干道上（{d:g} 米缓冲）",
    "green": "位于绿地内",
    "area": "在中队辖区外",
}


def _stall_rows(cases: gpd.GeoDataFrame, categories: Sequence[str]) -> pd.Series:
    cat = cases["category"].astype(str).str.strip()
    keep = cat.isin(categories) | cat.isin(STALL_NAMES)
    if "category_name" in cases:
        keep |= cases["category_name"].astype(str).isin(STALL_NAMES)
    return keep


def _in_market(hours: pd.Series, windows: Iterable[tuple[float, float]]) -> pd.Series:
    hit = pd.Series(False, index=hours.index)
    for start, end in windows:
        hit |= (hours >= start) & (hours < end)
    return hit


def stall_demand(
    cases: gpd.GeoDataFrame,
    *,
    at: str | pd.Timestamp,
    half_life_days: float = 90.0,
    window_days: float = 365.0,
    cell_m: float = 50.0,
    categories: Sequence[str] = STALL_CATEGORIES,
    market_hours: Sequence[tuple[float, float]] = MARKET_HOURS,
    off_market_weight: float = 0.5,
    crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Aggregate stall cases into weighted demand points in the working CRS.

    Parameters
    ----------
    cases : GeoDataFrame
        Case table (contract columns ``case_id``, ``category``, ``reported_at``, Point geometry).
    at : str or Timestamp
        Reference time; only cases reported before it and within ``window_days`` count.
    half_life_days : float, default 90
        A case ``half_life_days`` old weighs half as much as one reported at ``at``.
    window_days : float, default 365
        Look-back window.
    cell_m : float, default 50
        Side of the aggregation grid in metres; each occupied cell gives one demand point at the
        weighted centroid of its cases.
    categories : sequence of str
        Category codes counted as stall demand (Chinese names of the four are accepted too).
    market_hours : sequence of (start, end)
        Market windows in local decimal hours; cases outside them weigh ``off_market_weight``.
    off_market_weight : float, default 0.5
        Weight factor of a case reported outside every market window.
    crs : str, optional
        Working CRS in metres (default: chosen from the data, EPSG:4547 for Xiaonan).

    Returns
    -------
    GeoDataFrame
        One row per occupied cell: ``demand_id``, ``weight``, ``case_count``, ``market_share``
        (share of cases in market hours), ``last_reported``, Point geometry in the working CRS.

    Raises
    ------
    InputError
        If a needed column is missing, or no stall case falls in the window.
    """
    missing = [c for c in ("category", "reported_at") if c not in cases]
    if missing:
        raise InputError(f"案件表缺少列：{', '.join(missing)}；需要 category 与 reported_at。")
    if half_life_days <= 0 or window_days <= 0 or cell_m <= 0:
        raise InputError("half_life_days、window_days 和 cell_m 必须为正数。")
    t = pd.to_datetime(cases["reported_at"])
    ref = pd.Timestamp(at)
    tz = getattr(t.dt, "tz", None)
    if ref.tzinfo is None and tz is not None:
        ref = ref.tz_localize(tz)
    elif ref.tzinfo is not None and tz is None:
        ref = ref.tz_localize(None)
    age = (ref - t).dt.total_seconds() / 86400.0
    keep = _stall_rows(cases, categories) & (age > 0) & (age <= window_days)
    keep &= ~cases.geometry.is_empty & cases.geometry.notna()
    if not keep.any():
        raise InputError(
            f"{ref:%Y-%m-%d} 之前 {window_days:g} 天内没有摊贩类案件（{', '.join(categories)}）；"
            "请检查案件类别、时间范围或 at 参数。")
    sub = to_working(cases.loc[keep], crs=crs)
    hours = t[keep].dt.hour + t[keep].dt.minute / 60.0
    market = _in_market(hours, market_hours)
    w = np.power(0.5, age[keep] / half_life_days) * np.where(market, 1.0, off_market_weight)
    x, y = sub.geometry.x.to_numpy(), sub.geometry.y.to_numpy()
    df = pd.DataFrame({"ix": np.floor(x / cell_m).astype(np.int64),
                       "iy": np.floor(y / cell_m).astype(np.int64), "w": w.to_numpy(),
                       "wx": w.to_numpy() * x, "wy": w.to_numpy() * y,
                       "market": market.to_numpy(), "t": t[keep].to_numpy()})
    g = df.groupby(["ix", "iy"], sort=True).agg(
        weight=("w", "sum"), wx=("wx", "sum"), wy=("wy", "sum"), case_count=("w", "size"),
        market_share=("market", "mean"), last_reported=("t", "max")).reset_index()
    out = gpd.GeoDataFrame(
        {"demand_id": [f"d{a}_{b}" for a, b in zip(g["ix"], g["iy"], strict=True)],
         "weight": g["weight"].to_numpy(), "case_count": g["case_count"].to_numpy(),
         "market_share": g["market_share"].to_numpy(), "last_reported": g["last_reported"]},
        geometry=points(g["wx"] / g["weight"], g["wy"] / g["weight"]), crs=sub.crs)
    return out


def candidate_grid(
    area: gpd.GeoDataFrame | gpd.GeoSeries, *, spacing_m: float = 100.0, crs: str | None = None
) -> gpd.GeoDataFrame:
    """Candidate points on a square grid inside ``area`` (working CRS).

    Returns
    -------
    GeoDataFrame
        ``candidate_id`` (``"g0"``, ``"g1"``, …) and Point geometry, in the working CRS.

    Raises
    ------
    InputError
        If ``spacing_m`` is not positive or the area is empty / holds no grid point.
    """
    if spacing_m <= 0:
        raise InputError(f"候选网格间距 spacing_m 必须为正数，实际为 {spacing_m}。")
    frame = area if isinstance(area, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=area)
    if frame.empty:
        raise InputError("服务区域为空，无法生成候选网格。")
    frame = to_working(frame, crs=crs)
    shape = frame.union_all()
    x0, y0, x1, y1 = shape.bounds
    gx, gy = np.meshgrid(np.arange(x0 + spacing_m / 2, x1, spacing_m),
                         np.arange(y0 + spacing_m / 2, y1, spacing_m))
    pts = gpd.GeoSeries(points(gx.ravel(), gy.ravel()), crs=frame.crs)
    pts = pts[pts.within(shape)].reset_index(drop=True)
    if pts.empty:
        raise InputError(f"服务区域内没有间距 {spacing_m:g} 米的网格点；请减小 spacing_m。")
    return gpd.GeoDataFrame({"candidate_id": [f"g{i}" for i in range(len(pts))]},
                            geometry=pts, crs=frame.crs)


def _layer(layer: gpd.GeoDataFrame | gpd.GeoSeries | None, crs: object, what: str
           ) -> gpd.GeoSeries | None:
    if layer is None:
        return None
    if layer.crs is None:
        raise InputError(f"{what}图层没有坐标参考系（CRS）；请在 GeoJSON/GPKG 中指定或 set_crs()。")
    geom = layer.geometry if isinstance(layer, gpd.GeoDataFrame) else layer
    return geom.to_crs(crs)


def apply_exclusions(
    candidates: gpd.GeoDataFrame,
    *,
    schools: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    school_buffer_m: float = 100.0,
    main_roads: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    road_buffer_m: float = 15.0,
    green: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    service_area: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Split candidates into kept and excluded ones, with the reason for each exclusion.

    Parameters
    ----------
    candidates : GeoDataFrame
        Candidate points in a metric CRS.
    schools : GeoDataFrame or GeoSeries, optional
        School gates (points) or school grounds (polygons); candidates within
        ``school_buffer_m`` are excluded. ``None`` skips the rule.
    school_buffer_m : float, default 100
        Hefei's 禁止区 rule: no stalls within 100 m of school gates.
    main_roads : optional
        Main-road centrelines (lines) or carriageway polygons; candidates within
        ``road_buffer_m`` are excluded (no stall clusters on 主次干道).
    road_buffer_m : float, default 15
        Half-width of a main road in metres.
    green : optional
        Green-space polygons; candidates inside are excluded.
    service_area : optional
        The squads' area; candidates outside it are excluded.

    Returns
    -------
    (kept, excluded) : tuple of GeoDataFrame
        ``excluded`` has a ``reason`` column (Chinese; several reasons joined by "；").

    Raises
    ------
    InputError
        If a layer has no CRS, or every candidate is excluded (the message counts each reason).
    """
    crs = require_metric(candidates.crs, what="候选点")
    geom = candidates.geometry
    reasons: list[list[str]] = [[] for _ in range(len(candidates))]

    def mark(hit: np.ndarray, text: str) -> None:
        for k in np.flatnonzero(hit):
            reasons[k].append(text)

    sch = _layer(schools, crs, "学校")
    if sch is not None and len(sch):
        mark(geom.within(sch.buffer(school_buffer_m).union_all()).to_numpy(),
             EXCLUSION_REASONS["school"].format(d=school_buffer_m))
    roads = _layer(main_roads, crs, "主干道")
    if roads is not None and len(roads):
        mark(geom.within(roads.buffer(road_buffer_m).union_all()).to_numpy(),
             EXCLUSION_REASONS["road"].format(d=road_buffer_m))
    grn = _layer(green, crs, "绿地")
    if grn is not None and len(grn):
        mark(geom.within(grn.union_all()).to_numpy(), EXCLUSION_REASONS["green"])
    area = _layer(service_area, crs, "服务区域")
    if area is not None:
        mark(~geom.within(area.union_all()).to_numpy(), EXCLUSION_REASONS["area"])
    out = np.array([bool(r) for r in reasons], dtype=bool)
    kept = candidates.loc[~out].copy()
    excluded = candidates.loc[out].copy()
    excluded["reason"] = ["；".join(r) for r in reasons if r]
    if kept.empty:
        counts = pd.Series([x for r in reasons for x in r]).value_counts()
        detail = "，".join(f"{k} {v} 个" for k, v in counts.items())
        raise InputError(f"所有 {len(candidates)} 个候选点都被排除（{detail}）；"
                         "请检查排除图层与缓冲距离，或提供其他候选点。")
    return kept, excluded
