"""Hotspots of cases: where, how many, what, when — one polygon per hotspot.

:func:`find_hotspots` selects cases (a category code, a list of codes, or a group name such as
``"stall"``), labels the hotspot cases with one of :data:`METHODS` in the working CRS (metres),
and describes each hotspot (counts, category mix, community, time profile, Gi* tag).

Methods
-------
``"background"`` (default; :mod:`geo.analysis.background`)
    A 10 m count grid tested, window by window (the 10 m cell and discs 40/70/100/130 m
    across), against the local background (median of the surrounding ~1 km), Poisson upper
    tail, Benjamini–Hochberg FDR 5 % over the cells and again over the candidate hotspots
    (their family-wise bounds; ``keep_rule="fwer"`` for the stricter rule); adjacent hotspots split at saddles; the
    polygon is the concave hull of the hotspot's cases buffered by 3 m. Hotspots stay tight and
    apart in a heavy, uneven background (a dense core, a gradient), and uniform noise gives none.
    A selection made *only* of hotspot cases (no background at all) has no background to stand
    out from: use ``"hdbscan"`` for such a selection.
``"hdbscan"`` (grid-weighted, :mod:`geo.analysis.clustering`)
    Density clustering with a density floor of four times the mean density of the area where
    cases occur; the polygon is the convex hull of the cluster's cases buffered by 20 m; clusters
    whose polygons would overlap are merged.
``"dbscan"``
    As ``"hdbscan"`` but DBSCAN with ``eps_m=50``.

Defaults (chosen for city blocks, a block is roughly 100–200 m across):

* ``min_cases``: background 10; hdbscan/dbscan at least 10, or 0.2 % of the selected cases if
  that is more.
* ``buffer_m``: background 3 m, hdbscan/dbscan 20 m (so a hotspot of cases at one address is
  still a visible polygon).
* ``cell_m=10``: the counting / snapping grid (≤ 7 m shift).
* ``min_density_ratio``: background 2 (a hotspot cell holds twice its local background),
  hdbscan/dbscan 4; 0 turns the hdbscan/dbscan floor off.
* hdbscan/dbscan only: ``min_samples=10``, ``eps_m=50`` (DBSCAN), ``merge_gap_m=2 * buffer_m``.
  Passing ``min_samples`` or ``merge_gap_m`` with ``"background"`` is an error; ``eps_m`` is
  used by DBSCAN only (ignored otherwise, as before).
* ``half_life_days=30``: the recency score sums ``0.5 ** (age_days / 30)`` over the cases, age
  counted back from ``at`` (default: the latest report).
* ``gi_cell_m=100``: Gi* significance on 100 m squares (:mod:`geo.analysis.significance`);
  ``None`` skips it.

Empty and degenerate input: no case at all (or none of the requested category) raises
:class:`~geo.errors.InputError`; fewer cases than ``min_cases`` gives an empty result (no
hotspot). Cases all at one point: hdbscan/dbscan give one hotspot (a ``buffer_m`` disc) when
there are enough of them; background gives an empty result (one grid cell: no area to estimate
a background from). Without a ``reported_at`` column (or only missing times) the spatial part
still works and the time fields are empty (``recency_score`` NaN, ``peak_hours`` "",
``first_seen`` NaT). The background frame carries three more columns before the geometry:
``expected_cases``, ``excess_ratio``, ``p_min``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.analysis import background as bg
from geo.analysis.clustering import (
    DEFAULT_CELL_M,
    DEFAULT_DENSITY_RATIO,
    DEFAULT_EPS_M,
    merge_close_clusters,
)
from geo.analysis.clustering import density_labels as _density_labels
from geo.analysis.frame import (
    CATEGORY_GROUPS,
    COLUMNS,
    GROUP_ALIASES,
    as_timestamp,
    empty_hotspots,
    finish_hotspots,
    hotspot_frame,
    hotspots_to_geojson,
    resolve_category,
    select_cases,
    working_coordinates,
)
from geo.crs import require_crs, to_working
from geo.errors import InputError

__all__ = ["CATEGORY_GROUPS", "COLUMNS", "DENSITY_BUFFER_M", "GROUP_ALIASES", "METHODS",
           "Method", "cluster_cases", "find_hotspots", "hotspot_labels", "hotspots_to_geojson",
           "label_points", "resolve_category", "select_cases"]

Method = Literal["background", "hdbscan", "dbscan"]
METHODS: tuple[Method, ...] = get_args(Method)
"""Hotspot methods, the default first."""
DENSITY_BUFFER_M = 20.0


def _auto_min_cases(n: int) -> int:
    return max(10, int(np.ceil(0.002 * n)))


def _check_method(method: str, min_samples: int | None, merge_gap_m: float | None) -> None:
    if method not in METHODS:
        raise InputError(f"未知的热点方法「{method}」；可选：{'、'.join(METHODS)}。")
    if method == "background" and (min_samples is not None or merge_gap_m is not None):
        raise InputError("min_samples 和 merge_gap_m 只用于 hdbscan/dbscan 聚类；"
                         "background 方法请去掉这两个参数，或改用 method=\"hdbscan\"。")


def find_hotspots(
    cases: gpd.GeoDataFrame,
    *,
    category: str | Sequence[str] | None = None,
    method: Method = "background",
    min_cases: int | None = None,
    min_samples: int | None = None,
    eps_m: float = DEFAULT_EPS_M,
    cell_m: float = DEFAULT_CELL_M,
    min_density_ratio: float | None = None,
    buffer_m: float | None = None,
    merge_gap_m: float | None = None,
    at: pd.Timestamp | str | None = None,
    half_life_days: float = 30.0,
    communities: gpd.GeoDataFrame | None = None,
    working_crs: str | None = None,
    gi_cell_m: float | None = 100.0,
) -> gpd.GeoDataFrame:
    """Hotspots of the selected cases (see the module docstring for methods and defaults).

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
    method : {"background", "hdbscan", "dbscan"}
        See :data:`METHODS`.
    min_cases : int, optional
        Fewest cases in a hotspot (background 10; hdbscan/dbscan ``max(10, 0.2 % of n)``).
    min_samples, eps_m
        hdbscan/dbscan options (:func:`geo.analysis.clustering.density_labels`).
    cell_m : float
        Side of the counting / snapping grid, metres (10).
    min_density_ratio : float, optional
        Density floor as a multiple of the background (background 2, hdbscan/dbscan 4).
    buffer_m : float, optional
        Buffer around the hull of each hotspot's cases, metres (background 3, otherwise 20).
    merge_gap_m : float, optional
        hdbscan/dbscan: clusters whose hulls come within this distance are merged into one
        hotspot (default ``2 * buffer_m``: their polygons would overlap); 0 turns merging off.
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
        ``case_count``) with ``hotspot_id`` H01, H02, …; columns :data:`COLUMNS` (background:
        plus ``expected_cases``, ``excess_ratio``, ``p_min`` before the geometry). Use
        :func:`hotspots_to_geojson` for WGS84 GeoJSON.

    Raises
    ------
    InputError
        No case (of the category), an unknown method, or options that do not fit the method.
    """
    _check_method(method, min_samples, merge_gap_m)
    if method == "background":
        return bg.find_background_hotspots(
            cases, category=category, cell_m=cell_m,
            min_density_ratio=(bg.DEFAULT_DENSITY_RATIO if min_density_ratio is None
                               else min_density_ratio),
            min_cases=bg.DEFAULT_MIN_CASES if min_cases is None else min_cases,
            buffer_m=bg.DEFAULT_BUFFER_M if buffer_m is None else buffer_m, at=at,
            half_life_days=half_life_days, communities=communities, working_crs=working_crs,
            gi_cell_m=gi_cell_m)
    require_crs(cases, what="案件数据")
    at_ts = as_timestamp(at, cases)
    sel = select_cases(cases, category, at=at_ts)
    xy, crs = working_coordinates(sel, working_crs)
    label, _ = resolve_category(category)
    labels = _xy_labels(xy, method=method, min_cases=min_cases, min_samples=min_samples,
                        eps_m=eps_m, cell_m=cell_m, min_density_ratio=min_density_ratio)
    labels, poly = _xy_hotspots(xy, labels, merge_gap_m=merge_gap_m,
                                buffer_m=DENSITY_BUFFER_M if buffer_m is None else buffer_m)
    if len(poly) == 0:
        return empty_hotspots(crs)
    out = hotspot_frame(sel, xy, crs, labels, poly, label=label, at=at_ts,
                        half_life_days=half_life_days, communities=communities,
                        gi_cell_m=gi_cell_m)
    return finish_hotspots(out)


def label_points(
    cases: gpd.GeoDataFrame, *, method: Method = "background", min_cases: int | None = None,
    min_samples: int | None = None, eps_m: float = DEFAULT_EPS_M, cell_m: float = DEFAULT_CELL_M,
    min_density_ratio: float | None = None,
) -> npt.NDArray[np.int64]:
    """Hotspot / cluster label (``-1`` = none) of each case of ``cases`` (metric CRS), in order.

    ``"background"``: the final hotspot labels of
    :func:`geo.analysis.background.background_labels` (numbered by decreasing case count).
    ``"hdbscan"``/``"dbscan"``: density clusters, before merging and absorbing
    (:func:`hotspot_labels` does that).
    """
    _check_method(method, min_samples, None)
    return _xy_labels(shapely.get_coordinates(cases.geometry.to_numpy()), method=method,
                      min_cases=min_cases, min_samples=min_samples, eps_m=eps_m, cell_m=cell_m,
                      min_density_ratio=min_density_ratio)


def _xy_labels(xy: npt.NDArray[np.float64], *, method: Method, min_cases: int | None,
               min_samples: int | None, eps_m: float, cell_m: float,
               min_density_ratio: float | None) -> npt.NDArray[np.int64]:
    if method == "background":
        return bg.background_labels(
            xy, cell_m=cell_m,
            min_cases=bg.DEFAULT_MIN_CASES if min_cases is None else min_cases,
            min_density_ratio=(bg.DEFAULT_DENSITY_RATIO if min_density_ratio is None
                               else min_density_ratio)).labels
    mc = min_cases if min_cases is not None else _auto_min_cases(len(xy))
    if len(xy) < mc:
        return np.full(len(xy), -1, np.int64)
    ratio = DEFAULT_DENSITY_RATIO if min_density_ratio is None else min_density_ratio
    return _density_labels(xy, method=method, min_cluster_size=mc, min_samples=min_samples,
                           eps_m=eps_m, cell_m=cell_m, min_density_ratio=ratio or None)


def hotspot_labels(
    cases: gpd.GeoDataFrame, labels: npt.NDArray[np.int64], *,
    buffer_m: float = DENSITY_BUFFER_M, merge_gap_m: float | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """From density labels to hotspots: merge close clusters, draw polygons, absorb cases.

    Returns the final label of each case (``-1`` outside every hotspot) and the polygons.
    """
    return _xy_hotspots(shapely.get_coordinates(cases.geometry.to_numpy()), labels,
                        buffer_m=buffer_m, merge_gap_m=merge_gap_m)


def _xy_hotspots(xy: npt.NDArray[np.float64], labels: npt.NDArray[np.int64], *,
                 buffer_m: float, merge_gap_m: float | None,
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    gap = 2.0 * buffer_m if merge_gap_m is None else merge_gap_m
    labels = merge_close_clusters(xy, labels, gap_m=gap)
    if len(labels) == 0 or labels.max() < 0:
        return labels, np.empty(0, dtype=object)
    poly = _polygons(xy, labels, buffer_m)
    return _absorb(xy, labels, poly), poly


def cluster_cases(cases: gpd.GeoDataFrame, **options: Any) -> pd.Series:
    """Hotspot label of every case, aligned to ``cases.index`` (-1 = in no hotspot).

    Accepts ``method`` and the options of :func:`label_points`, ``buffer_m``, ``merge_gap_m``
    (hdbscan/dbscan) and ``working_crs``; labels are the same hotspots as :func:`find_hotspots`
    (numbered by size, not by the hotspot ranking).
    """
    require_crs(cases, what="案件数据")
    crs = options.pop("working_crs", None)
    buffer_m = options.pop("buffer_m", None)
    gap = options.pop("merge_gap_m", None)
    method = options.get("method", "background")
    _check_method(method, options.get("min_samples"), gap)
    work = to_working(cases, crs=crs)
    labels = label_points(work, **options)
    if method != "background":
        labels, _ = hotspot_labels(work, labels, merge_gap_m=gap,
                                   buffer_m=DENSITY_BUFFER_M if buffer_m is None else buffer_m)
    return pd.Series(labels, index=cases.index, name="cluster")


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
