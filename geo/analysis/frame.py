"""The hotspot frame shared by every hotspot method: case selection, columns, description.

:func:`geo.analysis.hotspots.find_hotspots` (density clustering) and
:func:`geo.analysis.background.find_background_hotspots` (background contrast) differ only in how
they label the cases; both select cases with :func:`select_cases`, describe each hotspot with
:func:`describe_hotspots` and :func:`place_hotspots`, and sort and number with
:func:`finish_hotspots`, so that their frames have the same columns (:data:`COLUMNS`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geo.analysis.profile import time_profile
from geo.analysis.significance import hotspot_grid_xy, tag_hotspots
from geo.crs import WGS84, require_crs, require_metric, working_crs
from geo.errors import InputError

__all__ = ["CATEGORY_GROUPS", "COLUMNS", "GROUP_ALIASES", "as_timestamp", "case_times",
           "describe_hotspots", "empty_hotspots", "finish_hotspots", "hotspot_frame",
           "hotspots_to_geojson", "place_hotspots", "resolve_category", "select_cases",
           "working_coordinates"]

CATEGORY_GROUPS: dict[str, tuple[str, ...]] = {
    "stall": ("09006", "09001", "09005", "09002"),
    "structures": ("06001", "08016"),
    "clutter": ("06036",),
    "green": ("06045",),
    "noise": ("06028",),
    "bollards": ("06040",),
    "recycling": ("09004",),
}
GROUP_ALIASES = {"摊点": "stall", "占道": "stall", "违建": "structures", "杂物": "clutter",
                 "毁绿": "green", "噪声": "noise", "路桩": "bollards", "废品": "recycling"}

COLUMNS = [
    "hotspot_id", "category", "case_count", "area_m2", "density_per_ha", "dominant_category",
    "dominant_category_name", "category_mix", "community", "community_code", "squad",
    "recency_score", "peak_hours", "peak_windows", "hour_profile", "weekday_profile",
    "first_seen", "last_seen", "center_lon", "center_lat", "gi_confidence", "gi_z_max",
    "gi_significant", "geometry",
]


def resolve_category(category: str | Sequence[str] | None) -> tuple[str, tuple[str, ...] | None]:
    """Turn a code, list of codes or group name into (label, codes); (``"all"``, None) for all."""
    if category is None or (isinstance(category, str) and category.strip() in ("", "all")):
        return "all", None
    if isinstance(category, str):
        key = category.strip()
        key = GROUP_ALIASES.get(key, key)
        if key.lower() in CATEGORY_GROUPS:
            return key.lower(), CATEGORY_GROUPS[key.lower()]
        codes = tuple(c.strip() for c in key.split(",") if c.strip())
        return key, codes
    codes = tuple(str(c).strip() for c in category)
    return ",".join(codes), codes


def select_cases(cases: gpd.GeoDataFrame, category: str | Sequence[str] | None = None,
                 *, at: pd.Timestamp | None = None) -> gpd.GeoDataFrame:
    """Cases of the category (and, with ``at``, reported before ``at``) with a point geometry.

    Raises
    ------
    InputError
        If nothing is left, saying which filter removed everything.
    """
    if len(cases) == 0:
        raise InputError("没有案件数据；请先导入案件，或检查文件是否为空。")
    label, codes = resolve_category(category)
    sel = cases
    if codes is not None:
        if "category" not in cases.columns:
            raise InputError("案件数据缺少 category（问题类型）列，无法按类别筛选。")
        sel = sel[sel["category"].astype(str).str.strip().isin(codes)]
        if len(sel) == 0:
            found = ", ".join(sorted(cases["category"].astype(str).unique())[:10])
            raise InputError(f"没有类别为「{label}」（{', '.join(codes)}）的案件；"
                             f"数据中的类别有：{found}。")
    if at is not None and "reported_at" in sel.columns:
        t = sel["reported_at"]
        sel = sel[t.isna() | (t < at)]
        if len(sel) == 0:
            raise InputError(f"在 {at} 之前没有所选类别的案件；请检查 at 日期。")
    geom = sel.geometry
    ok = geom.notna() & ~geom.is_empty & (geom.geom_type == "Point")
    if not ok.any():
        raise InputError("所选案件都没有有效的点坐标（经纬度）；请检查 lon/lat 列。")
    return sel[ok]


def as_timestamp(at: pd.Timestamp | str | None, cases: gpd.GeoDataFrame) -> pd.Timestamp | None:
    """``at`` as a Timestamp in the cases' time zone (``None`` stays ``None``)."""
    if at is None:
        return None
    try:
        ts = pd.Timestamp(at)
    except (ValueError, TypeError) as exc:
        raise InputError(f"参考时间 at「{at}」无法识别；请用 YYYY-MM-DD 格式。") from exc
    tz = getattr(cases["reported_at"].dt, "tz", None) if "reported_at" in cases.columns else None
    if tz is not None and ts.tzinfo is None:
        ts = ts.tz_localize(tz)
    return ts


def case_times(sel: gpd.GeoDataFrame) -> pd.Series:
    """Report times as datetimes (all NaT when the column is missing or unusable)."""
    if "reported_at" not in sel.columns:
        return pd.Series(pd.NaT, index=sel.index, dtype="datetime64[ns]")
    t = sel["reported_at"]
    if not pd.api.types.is_datetime64_any_dtype(t):
        t = pd.to_datetime(t, errors="coerce")
    return t


def working_coordinates(sel: gpd.GeoDataFrame,
                        crs: str | CRS | None = None) -> tuple[npt.NDArray[np.float64], CRS]:
    """Coordinates of the (point) cases in the working CRS, and that CRS.

    The same numbers as :func:`geo.crs.to_working` (``crs`` if given, else chosen from the
    median lon/lat by :func:`geo.crs.working_crs`) without building a projected GeoDataFrame:
    the coordinates are transformed as arrays (a million points in a fraction of a second).

    Raises
    ------
    CRSError
        If ``sel`` has no CRS or ``crs`` is not metric.
    """
    src = require_crs(sel, what="案件数据")
    pts = shapely.get_coordinates(sel.geometry.to_numpy())
    if crs is not None:
        target = require_metric(crs, what="目标坐标系")
    else:
        wgs = CRS.from_user_input(WGS84)
        lon, lat = (pts[:, 0], pts[:, 1]) if src == wgs else Transformer.from_crs(
            src, wgs, always_xy=True).transform(pts[:, 0], pts[:, 1])
        target = working_crs(lon, lat)
    if target == src:
        return pts, target
    x, y = Transformer.from_crs(src, target, always_xy=True).transform(pts[:, 0], pts[:, 1])
    return np.column_stack([x, y]), target


def hotspot_frame(sel: gpd.GeoDataFrame, xy: npt.NDArray[np.float64], crs: CRS,
                  labels: npt.NDArray[np.int64], poly: npt.NDArray[np.object_], *, label: str,
                  at: pd.Timestamp | None, half_life_days: float,
                  communities: gpd.GeoDataFrame | None,
                  gi_cell_m: float | None) -> gpd.GeoDataFrame:
    """The described hotspots of any method, before :func:`finish_hotspots`.

    Counts and category mix (:func:`describe_hotspots`), time profile
    (:func:`geo.analysis.profile.time_profile`), community and centre
    (:func:`place_hotspots`) and, with ``gi_cell_m``, the Gi* tag
    (:mod:`geo.analysis.significance`) of the hotspots ``poly`` (working CRS ``crs``) of the
    cases ``sel`` (any CRS; ``xy`` are their coordinates in ``crs``, ``labels`` their hotspot).
    """
    out = describe_hotspots(sel, labels, poly, label=label, crs=crs)
    prof = time_profile(case_times(sel), labels, len(poly), at=at,
                        half_life_days=half_life_days)
    out = place_hotspots(pd.concat([out, prof], axis=1), sel, labels, communities)
    if gi_cell_m:
        out = tag_hotspots(out, hotspot_grid_xy(xy, crs, cell_m=gi_cell_m))
    return out


def describe_hotspots(sel: gpd.GeoDataFrame, labels: npt.NDArray[np.int64],
                      poly: npt.NDArray[np.object_], *, label: str,
                      crs: object | None = None) -> gpd.GeoDataFrame:
    """Counts, area, density and category mix of each hotspot (label ``0..k-1``).

    ``poly`` is in ``crs`` (default: the CRS of ``sel``).
    """
    n_clusters = len(poly)
    counts = np.bincount(labels[labels >= 0], minlength=n_clusters)
    area = shapely.area(poly)
    cats = sel["category"].astype(str).to_numpy() if "category" in sel.columns else None
    names = sel["category_name"].to_numpy() if "category_name" in sel.columns else None
    mix: list[dict[str, float]] = []
    dom: list[str | None] = []
    dom_name: list[str | None] = []
    for c in range(n_clusters):
        if cats is None:
            mix.append({})
            dom.append(None)
            dom_name.append(None)
            continue
        vc = pd.Series(cats[labels == c]).value_counts()
        mix.append({k: round(float(v) / counts[c], 4) for k, v in vc.head(5).items()})
        dom.append(str(vc.index[0]) if len(vc) else None)
        if names is not None and len(vc):
            nm = pd.Series(names[(labels == c) & (cats == vc.index[0])]).dropna()
            dom_name.append(str(nm.iloc[0]) if len(nm) else None)
        else:
            dom_name.append(None)
    return gpd.GeoDataFrame(
        {"category": label, "case_count": counts, "area_m2": area,
         "density_per_ha": counts / (area / 10_000.0), "dominant_category": dom,
         "dominant_category_name": dom_name, "category_mix": mix},
        geometry=poly, crs=sel.crs if crs is None else crs,
    )


def _mode(values: pd.Series) -> str | None:
    v = values.dropna().astype(str)
    v = v[v.str.len() > 0]
    return str(v.mode().iloc[0]) if len(v) else None


def place_hotspots(out: gpd.GeoDataFrame, sel: gpd.GeoDataFrame, labels: npt.NDArray[np.int64],
                   communities: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Community, community code and squad of each hotspot; centre in lon/lat."""
    out = out.copy()
    centre = out.geometry.representative_point()
    ll = gpd.GeoSeries(centre, crs=out.crs).to_crs(WGS84)
    out["center_lon"], out["center_lat"] = ll.x.to_numpy(), ll.y.to_numpy()
    for col in ("community", "community_code", "squad"):
        if col in sel.columns:
            s = sel[col].reset_index(drop=True)
            out[col] = [_mode(s[labels == c]) for c in range(len(out))]
        else:
            out[col] = None
    if communities is not None and len(communities) and out["community"].isna().any():
        comm = communities.to_crs(out.crs)
        hit = gpd.sjoin(gpd.GeoDataFrame(geometry=centre, crs=out.crs), comm, how="left",
                        predicate="within")
        hit = hit[~hit.index.duplicated()]
        fill = out["community"].isna()
        for col, src in (("community", "name"), ("community_code", "code"), ("squad", "squad")):
            if src in hit.columns:
                out.loc[fill, col] = hit.loc[fill, src].to_numpy()
    return out


def empty_hotspots(crs: object, extra: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """A frame with no hotspot and the columns :data:`COLUMNS` (then ``extra``)."""
    cols = [c for c in COLUMNS if c != "geometry"] + list(extra)
    return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=crs)


def finish_hotspots(out: gpd.GeoDataFrame, extra: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """Sort by ``recency_score`` then ``case_count``, number H01, H02, …; columns in order.

    Columns: :data:`COLUMNS` without the geometry, then ``extra``, then ``geometry``. Missing
    Gi* (or extra) columns are filled with ``None``.
    """
    cols = [c for c in COLUMNS if c != "geometry"] + list(extra) + ["geometry"]
    out = out.copy()
    for col in cols:
        if col not in out.columns:
            out[col] = pd.Series(dtype=float) if len(out) == 0 else None
    if len(out):
        score = out["recency_score"].fillna(-1.0)
        order = np.lexsort((-out["case_count"].to_numpy(), -score.to_numpy()))
        out = out.iloc[order].reset_index(drop=True)
    width = max(2, len(str(len(out))))
    out["hotspot_id"] = [f"H{i + 1:0{width}d}" for i in range(len(out))]
    return gpd.GeoDataFrame(out[cols], geometry="geometry", crs=out.crs)


def _iso(value: Any) -> Any:
    if value is pd.NaT:
        return None
    return value.isoformat() if isinstance(value, pd.Timestamp) else value


def hotspots_to_geojson(hotspots: gpd.GeoDataFrame) -> dict[str, Any]:
    """A WGS84 GeoJSON FeatureCollection (dict) of hotspots; times as ISO 8601 text."""
    g = hotspots.to_crs(WGS84) if hotspots.crs is not None else hotspots
    g = g.copy()
    for col in g.columns:
        if col != "geometry" and pd.api.types.is_datetime64_any_dtype(g[col]):
            g[col] = g[col].map(lambda t: t.isoformat() if pd.notna(t) else None).astype(object)
        elif g[col].dtype == object:
            g[col] = [_iso(v) for v in g[col]]
    data: dict[str, Any] = json.loads(g.to_json(drop_id=True, na="null"))
    return data
