"""Density hotspots of cases: where, how many, what, when.

:func:`find_hotspots` selects cases (a category code, a list of codes, or a group name such as
``"stall"``), clusters them by density in the working CRS (metres) with
:func:`geo.analysis.clustering.density_labels`, and describes each cluster as a hotspot polygon.

Defaults, chosen for city blocks (a block is roughly 100–200 m across):

* ``method="hdbscan"`` (grid-weighted, see :mod:`geo.analysis.clustering`); ``"dbscan"`` with
  ``eps_m=50`` is the alternative.
* ``min_cases``: at least 10 cases, or 0.2 % of the selected cases if that is more.
* ``min_samples=10``: a case is "dense" when 10 cases lie within its core distance.
* ``min_density_ratio=4``: hotspot cases sit where the local density is at least four times
  the mean density over the area where cases occur (200 m cells with any case).
* ``cell_m=10``: cases are snapped to a 10 m grid before clustering (≤ 7 m shift).
* ``buffer_m=20``: the polygon is the convex hull of the hotspot's cases buffered by 20 m, so
  that a hotspot of cases at one address is still a visible polygon.
* ``merge_gap_m=2 * buffer_m``: clusters whose hulls come that close (so their polygons would
  overlap) are one hotspot — HDBSCAN tends to split one market into sub-clusters.
* ``half_life_days=30``: the recency score sums ``0.5 ** (age_days / 30)`` over the cases, age
  counted back from ``at`` (default: the latest report).
* ``gi_cell_m=100``: Gi* significance on 100 m squares (:mod:`geo.analysis.significance`); ``None``
  skips it.

Empty and degenerate input: no case at all (or none of the requested category) raises
:class:`~geo.errors.InputError`; fewer cases than ``min_cases`` gives an empty result (no
hotspot); cases all at one point give one hotspot (a ``buffer_m`` disc) when there are enough of
them. Without a ``reported_at`` column (or only missing times) the spatial part still works and
the time fields are empty (``recency_score`` NaN, ``peak_hours`` "", ``first_seen`` NaT).
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

from geo.analysis.clustering import (
    DEFAULT_CELL_M,
    DEFAULT_DENSITY_RATIO,
    DEFAULT_EPS_M,
    Method,
    merge_close_clusters,
)
from geo.analysis.clustering import density_labels as _density_labels
from geo.analysis.profile import time_profile
from geo.crs import WGS84, require_crs, to_working
from geo.errors import InputError

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


def _auto_min_cases(n: int) -> int:
    return max(10, int(np.ceil(0.002 * n)))


def find_hotspots(
    cases: gpd.GeoDataFrame,
    *,
    category: str | Sequence[str] | None = None,
    method: Method = "hdbscan",
    min_cases: int | None = None,
    min_samples: int | None = None,
    eps_m: float = DEFAULT_EPS_M,
    cell_m: float = DEFAULT_CELL_M,
    min_density_ratio: float | None = DEFAULT_DENSITY_RATIO,
    buffer_m: float = 20.0,
    merge_gap_m: float | None = None,
    at: pd.Timestamp | str | None = None,
    half_life_days: float = 30.0,
    communities: gpd.GeoDataFrame | None = None,
    working_crs: str | None = None,
    gi_cell_m: float | None = 100.0,
) -> gpd.GeoDataFrame:
    """Density hotspots of the selected cases (see the module docstring for the defaults).

    Parameters
    ----------
    cases : GeoDataFrame
        Case points with a CRS (EPSG:4326 as from ``geo.cases``); columns ``category`` and,
        for the time fields, ``reported_at`` (tz-aware); optional ``category_name``,
        ``community``, ``community_code``, ``squad``.
    category : str or sequence of str, optional
        A code (``"09006"``), comma-separated codes, a list of codes, or a group
        (``"stall"``, ``"structures"``, ``"clutter"``, ``"green"``, ``"noise"``, ``"bollards"``,
        ``"recycling"``). ``None``: all cases.
    method : {"hdbscan", "dbscan"}
    min_cases, min_samples, eps_m, cell_m, min_density_ratio
        Clustering options (:func:`geo.analysis.clustering.density_labels`); ``min_cases`` is its
        ``min_cluster_size``.
    buffer_m : float
        Buffer around the hull of each hotspot's cases, metres.
    merge_gap_m : float, optional
        Clusters whose hulls come within this distance are merged into one hotspot
        (default ``2 * buffer_m``: their polygons would overlap); 0 turns merging off.
    at : Timestamp or str, optional
        Reference time: only cases reported before ``at`` are used and recency is counted back
        from it. Default: the latest report.
    half_life_days : float
        Half-life of the recency weight.
    communities : GeoDataFrame, optional
        Community polygons (``code``, ``name``, ``squad``) used when the cases carry no
        ``community``/``squad`` columns.
    working_crs : str, optional
        Metric CRS for the analysis (default: chosen from the data, EPSG:4547 in Xiaonan).
    gi_cell_m : float or None
        Cell size of the Gi* grid used to tag significance; ``None`` skips it.

    Returns
    -------
    GeoDataFrame
        One row per hotspot, in the working CRS, sorted by ``recency_score`` (then
        ``case_count``) with ``hotspot_id`` H01, H02, …; columns :data:`COLUMNS`. Use
        :func:`hotspots_to_geojson` for WGS84 GeoJSON.
    """
    require_crs(cases, what="案件数据")
    at_ts = _as_timestamp(at, cases)
    sel = to_working(select_cases(cases, category, at=at_ts), crs=working_crs)
    label, _ = resolve_category(category)
    labels = label_points(sel, method=method, min_cases=min_cases, min_samples=min_samples,
                          eps_m=eps_m, cell_m=cell_m, min_density_ratio=min_density_ratio)
    labels, poly = hotspot_labels(sel, labels, buffer_m=buffer_m, merge_gap_m=merge_gap_m)
    n_clusters = len(poly)
    if n_clusters == 0:
        return _empty(sel.crs)
    out = _describe(sel, labels, poly, label=label)
    times = _times(sel)
    prof = time_profile(times, labels, n_clusters, at=at_ts, half_life_days=half_life_days)
    out = pd.concat([out, prof], axis=1)
    out = _place(out, sel, labels, communities)
    if gi_cell_m:
        from geo.analysis.significance import hotspot_grid, tag_hotspots

        out = tag_hotspots(out, hotspot_grid(sel, cell_m=gi_cell_m))
    return _finish(out)


def label_points(
    cases: gpd.GeoDataFrame, *, method: Method = "hdbscan", min_cases: int | None = None,
    min_samples: int | None = None, eps_m: float = DEFAULT_EPS_M, cell_m: float = DEFAULT_CELL_M,
    min_density_ratio: float | None = DEFAULT_DENSITY_RATIO,
) -> npt.NDArray[np.int64]:
    """Cluster label (``-1`` = noise) of each case of ``cases`` (metric CRS), in row order."""
    xy = shapely.get_coordinates(cases.geometry.to_numpy())
    mc = min_cases if min_cases is not None else _auto_min_cases(len(xy))
    if len(xy) < mc:
        return np.full(len(xy), -1, np.int64)
    return _density_labels(xy, method=method, min_cluster_size=mc, min_samples=min_samples,
                           eps_m=eps_m, cell_m=cell_m, min_density_ratio=min_density_ratio)


def hotspot_labels(
    cases: gpd.GeoDataFrame, labels: npt.NDArray[np.int64], *, buffer_m: float = 20.0,
    merge_gap_m: float | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """From density labels to hotspots: merge close clusters, draw polygons, absorb cases.

    Returns the final label of each case (``-1`` outside every hotspot) and the polygons.
    """
    xy = shapely.get_coordinates(cases.geometry.to_numpy())
    gap = 2.0 * buffer_m if merge_gap_m is None else merge_gap_m
    labels = merge_close_clusters(xy, labels, gap_m=gap)
    if len(labels) == 0 or labels.max() < 0:
        return labels, np.empty(0, dtype=object)
    poly = _polygons(xy, labels, buffer_m)
    return _absorb(xy, labels, poly), poly


def cluster_cases(cases: gpd.GeoDataFrame, **options: Any) -> pd.Series:
    """Hotspot label of every case, aligned to ``cases.index`` (-1 = in no hotspot).

    Accepts the clustering options of :func:`label_points`, ``buffer_m``, ``merge_gap_m`` and
    ``working_crs``; labels are the same clusters as :func:`find_hotspots` (numbered by size,
    not by the hotspot ranking).
    """
    require_crs(cases, what="案件数据")
    crs = options.pop("working_crs", None)
    buffer_m = options.pop("buffer_m", 20.0)
    gap = options.pop("merge_gap_m", None)
    work = to_working(cases, crs=crs)
    labels, _ = hotspot_labels(work, label_points(work, **options), buffer_m=buffer_m,
                               merge_gap_m=gap)
    return pd.Series(labels, index=cases.index, name="cluster")


def _as_timestamp(at: pd.Timestamp | str | None, cases: gpd.GeoDataFrame) -> pd.Timestamp | None:
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


def _times(sel: gpd.GeoDataFrame) -> pd.Series:
    """Report times as datetimes (all NaT when the column is missing or unusable)."""
    if "reported_at" not in sel.columns:
        return pd.Series(pd.NaT, index=sel.index, dtype="datetime64[ns]")
    t = sel["reported_at"]
    if not pd.api.types.is_datetime64_any_dtype(t):
        t = pd.to_datetime(t, errors="coerce")
    return t


def _polygons(xy: npt.NDArray[np.float64], labels: npt.NDArray[np.int64],
              buffer_m: float) -> npt.NDArray[np.object_]:
    """Convex hull of each cluster's cases, buffered by ``buffer_m`` (at least 0.5 m)."""
    ok = np.flatnonzero(labels >= 0)
    ok = ok[np.argsort(labels[ok], kind="stable")]
    mp = shapely.multipoints(xy[ok], indices=labels[ok])
    return shapely.buffer(shapely.convex_hull(mp), max(buffer_m, 0.5))


def _absorb(xy: npt.NDArray[np.float64], labels: npt.NDArray[np.int64],
            poly: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    """Count every selected case inside a hotspot polygon as part of that hotspot.

    Density clustering leaves the sparser edge of a market as noise although it lies inside
    the polygon a leader sees; ``case_count`` should be the cases in the polygon.
    """
    noise = np.flatnonzero(labels < 0)
    if len(noise) == 0:
        return labels
    pts = shapely.points(xy[noise])
    pt_idx, poly_idx = shapely.STRtree(poly).query(pts, predicate="within")
    out = labels.copy()
    out[noise[pt_idx]] = poly_idx
    return out


def _describe(sel: gpd.GeoDataFrame, labels: npt.NDArray[np.int64],
              poly: npt.NDArray[np.object_], *, label: str) -> gpd.GeoDataFrame:
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
        dom.append(str(vc.index[0]))
        if names is not None:
            nm = pd.Series(names[(labels == c) & (cats == vc.index[0])]).dropna()
            dom_name.append(str(nm.iloc[0]) if len(nm) else None)
        else:
            dom_name.append(None)
    return gpd.GeoDataFrame(
        {"category": label, "case_count": counts, "area_m2": area,
         "density_per_ha": counts / (area / 10_000.0), "dominant_category": dom,
         "dominant_category_name": dom_name, "category_mix": mix},
        geometry=poly, crs=sel.crs,
    )


def _mode(values: pd.Series) -> str | None:
    v = values.dropna().astype(str)
    v = v[v.str.len() > 0]
    return str(v.mode().iloc[0]) if len(v) else None


def _place(out: gpd.GeoDataFrame, sel: gpd.GeoDataFrame, labels: npt.NDArray[np.int64],
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


def _empty(crs: object) -> gpd.GeoDataFrame:
    cols = [c for c in COLUMNS if c != "geometry"]
    return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=crs)


def _finish(out: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    score = out["recency_score"].fillna(-1.0)
    order = np.lexsort((-out["case_count"].to_numpy(), -score.to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    width = max(2, len(str(len(out))))
    out["hotspot_id"] = [f"H{i + 1:0{width}d}" for i in range(len(out))]
    for col in ("gi_confidence", "gi_z_max", "gi_significant"):
        if col not in out.columns:
            out[col] = None
    return gpd.GeoDataFrame(out[COLUMNS], geometry="geometry", crs=out.crs)


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
