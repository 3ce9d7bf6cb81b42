"""Hotspots that stay tight in a heavy, uneven background: a grid scan against a local background.

Density clustering (HDBSCAN, DBSCAN) links hotspots through a dense background and draws one
convex hull over the merged cluster. :func:`find_background_hotspots` instead asks, cell by cell,
"are there more cases here than the background around here explains?":

1. **Counts** of the cases on a fine square grid (``cell_m``, 10 m: a stall frontage), with
   ``np.bincount`` — no GeoDataFrame of points is built.
2. **Local background**: the median count of the occupied coarse cells (about
   ``background_radius_m / 2`` across) in a 5 x 5 coarse window — about ``background_radius_m``
   (500 m) each side — interpolated to the fine cells. The median ignores the few coarse cells a
   hotspot fills, and follows a gradient or a dense urban core.
3. **Significance, at several scales**: for each scan window (``scan_windows_m``: the 10 m
   cell — a stall — and discs 40, 70, 100 and 130 m across — a gate, a weak patch 60–120 m wide;
   :mod:`geo.analysis.background_scan`) the cases in the window centred on a cell are tested
   against the background expected in it, upper Poisson tail (``scipy.stats.poisson.sf``); the
   smallest p-value over the windows (times their number, Bonferroni) is the cell's. Round
   windows matter: a 90 m square over an 84 m disc adds 45 % background and costs the weak
   hotspot four orders of magnitude of p. The cells of the study area (fine cells inside
   occupied coarse cells) are corrected together with the Benjamini–Hochberg false-discovery
   rate ``alpha`` (5 %): the rejected cells are the seeds.
   **Hotspot-level test**: each candidate (step 4–5) gets the family-wise bound
   ``p * windows * study cells`` of its best cell (column ``p_min``, capped at 1), counting only
   windows no wider than 1.5 times the candidate's own extent (a patch of background cases
   beside a market does not inherit the market's cases through a wide window). Candidates
   holding ``min_cases`` (10) are kept by Benjamini–Hochberg over those bounds at ``alpha``
   (``keep_rule="fdr"``, the default: about ``alpha`` of the hotspots false, and weak hotspots
   found once strong ones are) or, with ``keep_rule="fwer"``, only where the bound itself is at
   most ``alpha`` (at most ``alpha`` chance of any false hotspot; misses weak hotspots).
4. **Density floor and shape**: a hotspot cell has, in its 3 x 3 neighbourhood, at least
   ``min_density_ratio`` (2) times the local background and two cases, and is itself empty or
   at that density; one-cell gaps are closed and cells farther than half the largest window
   from a seed are dropped. The 8-connected components of these cells holding a seed are the
   hotspots. A component with a cell significant on its own (a market gate, a lane of stalls)
   is trimmed to the cells whose own count is unusual for the background (upper tail
   <= 5 %), so a lane 15 m wide stays a strip, not a blob or a hull.
5. **Adjacent hotspots stay apart**: each component is split by a watershed on the smoothed
   ratio of cases to background (Gaussian, ``smooth_m`` = 20 m) from its local maxima; two
   basins are merged back unless the excess over background at the saddle between them falls
   below ``saddle_ratio`` (one half) of the excess at the lower peak.
6. **Polygons** hug the cases: the concave hull (``hull_ratio`` 0.3) of the hotspot's cases,
   without stray background cases (4th-nearest neighbour in the hotspot farther than three times
   its median), buffered by ``buffer_m`` (3 m), kept inside the hotspot's cells (buffered alike)
   and clipped off the cells of the other hotspots. ``case_count`` counts the cases in the
   hotspot's cells.
7. **Weak hotspots at the scale that found them** (``grow_weak``, default on;
   :mod:`geo.analysis.background_shape`): a hotspot with no cell significant on its own was
   found only through a wider window, and its cells that pass the density floor are a noisy
   part of it (on the simulated district, the hull of their few cases covered 40–80 % of a weak
   disc and sometimes missed its centre). It grows one ring of cells at a time while the ring
   holds ``min_density_ratio`` times its background, inside the best windows of its seeds
   (the union of its significant windows) and nearer to it than to any other hotspot, never
   into another hotspot; its polygon is the dissolved union of its cells (closed by one cell),
   its ``case_count`` and ``expected_cases`` theirs. Strong hotspots (a market gate, a lane of
   stalls) keep step 6, so a lane stays a strip.

Defaults are for city blocks and a year of cases from a district; for a sparse selection
(a few thousand cases over a city) 20–25 m cells and wider windows find more.

Degenerate input (documented, not an error): fewer than ``min_cases`` cases, or every case in one
grid cell (no area to estimate a background from), give an empty frame with the columns of
:func:`geo.analysis.hotspots.find_hotspots`. Wrong options raise :class:`~geo.errors.InputError`; no
case at all, or none of the category, raises it as :func:`geo.analysis.frame.select_cases` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.analysis.background_grid import (
    CountGrid,
    count_grid,
    fdr_seeds,
    hotspot_polygons,
    local_background,
    segment,
)
from geo.analysis.background_scan import (
    KeepRule,
    component_bounds,
    keep_hotspots,
    scan_pvalues,
    window_diameters,
)
from geo.analysis.background_shape import cell_polygons
from geo.analysis.background_shape import grow_weak as _grow
from geo.analysis.frame import (
    as_timestamp,
    empty_hotspots,
    finish_hotspots,
    hotspot_frame,
    resolve_category,
    select_cases,
    working_coordinates,
)
from geo.crs import require_crs
from geo.errors import InputError

__all__ = ["DEFAULT_BUFFER_M", "DEFAULT_MIN_CASES", "EXTRA_COLUMNS", "BackgroundHotspots",
           "background_labels", "find_background_hotspots", "keep_hotspots"]

DEFAULT_CELL_M = 10.0
DEFAULT_BACKGROUND_RADIUS_M = 500.0
DEFAULT_SCAN_WINDOWS_M = (10.0, 40.0, 70.0, 100.0, 130.0)
DEFAULT_ALPHA = 0.05
DEFAULT_DENSITY_RATIO = 2.0
DEFAULT_MIN_CASES = 10
DEFAULT_SMOOTH_M = 20.0
DEFAULT_SADDLE_RATIO = 0.5
DEFAULT_BUFFER_M = 3.0
DEFAULT_HULL_RATIO = 0.3
WINDOW_REACH = 1.5
EXTRA_COLUMNS = ["expected_cases", "excess_ratio", "p_min"]
KEEP_RULES: tuple[KeepRule, ...] = get_args(KeepRule)
DEFAULT_KEEP_RULE: KeepRule = "fdr"


@dataclass(frozen=True)
class BackgroundHotspots:
    """Result of :func:`background_labels`.

    Attributes
    ----------
    labels : ndarray of shape (n,)
        Hotspot of each case (``0..k-1``, numbered by decreasing case count), ``-1`` outside.
    polygons : ndarray of shape (k,)
        Shapely polygon of each hotspot, working CRS.
    case_count, expected_cases, p_min : ndarray of shape (k,)
        Cases in the hotspot's cells, the background expected there, and its family-wise
        bound ``p * windows * study cells`` (capped at 1; module docstring, step 3).
    """

    labels: npt.NDArray[np.int64]
    polygons: npt.NDArray[np.object_]
    case_count: npt.NDArray[np.int64]
    expected_cases: npt.NDArray[np.float64]
    p_min: npt.NDArray[np.float64]


def _check_options(cell_m: float, background_radius_m: float, scan_windows_m: Sequence[float],
                   alpha: float, min_density_ratio: float, min_cases: int, smooth_m: float,
                   saddle_ratio: float, buffer_m: float, hull_ratio: float,
                   keep_rule: str) -> None:
    problems = []
    if keep_rule not in KEEP_RULES:
        problems.append(f"keep_rule 应为 {' 或 '.join(KEEP_RULES)}，实际为「{keep_rule}」")
    if not cell_m > 0:
        problems.append(f"cell_m（网格边长）必须为正数，实际为 {cell_m}")
    if not background_radius_m >= 2 * cell_m:
        problems.append(f"background_radius_m 至少为 cell_m 的 2 倍，实际为 {background_radius_m}")
    if len(scan_windows_m) == 0 or min(scan_windows_m) <= 0:
        problems.append("scan_windows_m 至少要有一个正的窗口边长（米）")
    if not 0 < alpha < 1:
        problems.append(f"alpha（错误发现率）应在 0 和 1 之间，实际为 {alpha}")
    if not min_density_ratio >= 1:
        problems.append(f"min_density_ratio 至少为 1，实际为 {min_density_ratio}")
    if min_cases < 1:
        problems.append(f"min_cases 至少为 1，实际为 {min_cases}")
    if not smooth_m > 0 or not 0 <= saddle_ratio <= 1 or not 0 <= hull_ratio <= 1:
        problems.append("smooth_m 须为正数，saddle_ratio 和 hull_ratio 应在 0 到 1 之间")
    if not buffer_m >= 0:
        problems.append(f"buffer_m 不能为负，实际为 {buffer_m}")
    if problems:
        raise InputError("背景热点参数有误：" + "；".join(problems) + "。")


def _none(n: int) -> BackgroundHotspots:
    return BackgroundHotspots(np.full(n, -1, np.int64), np.empty(0, dtype=object),
                              np.empty(0, np.int64), np.empty(0), np.empty(0))


def background_labels(
    xy: npt.ArrayLike,
    *,
    cell_m: float = DEFAULT_CELL_M,
    background_radius_m: float = DEFAULT_BACKGROUND_RADIUS_M,
    scan_windows_m: Sequence[float] = DEFAULT_SCAN_WINDOWS_M,
    alpha: float = DEFAULT_ALPHA,
    min_density_ratio: float = DEFAULT_DENSITY_RATIO,
    min_cases: int = DEFAULT_MIN_CASES,
    smooth_m: float = DEFAULT_SMOOTH_M,
    saddle_ratio: float = DEFAULT_SADDLE_RATIO,
    buffer_m: float = DEFAULT_BUFFER_M,
    hull_ratio: float = DEFAULT_HULL_RATIO,
    keep_rule: KeepRule = DEFAULT_KEEP_RULE,
    grow_weak: bool = True,
) -> BackgroundHotspots:
    """Hotspot label of each point and hotspot polygons (numeric core; metres).

    Parameters
    ----------
    xy : array_like of shape (n, 2)
        Case coordinates in a metric CRS.
    cell_m, background_radius_m, scan_windows_m, alpha, min_density_ratio, min_cases, smooth_m, \
saddle_ratio, buffer_m, hull_ratio, keep_rule, grow_weak
        See :func:`find_background_hotspots`.

    Returns
    -------
    BackgroundHotspots
        No hotspot (all labels -1) for fewer than ``min_cases`` points or points in one cell.

    Raises
    ------
    InputError
        Bad options, non-finite coordinates, or a grid of more than 40 million cells.
    """
    _check_options(cell_m, background_radius_m, scan_windows_m, alpha, min_density_ratio,
                   min_cases, smooth_m, saddle_ratio, buffer_m, hull_ratio, keep_rule)
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    if not np.isfinite(pts).all():
        raise InputError("有案件坐标不是有限数值；请先删除或修正缺失坐标。")
    n = len(pts)
    if n < max(min_cases, 2):
        return _none(n)
    grid = count_grid(pts, cell_m=cell_m)
    if grid.counts.size < 2:
        return _none(n)
    bg, study = local_background(grid.counts, cell_m=cell_m,
                                 background_radius_m=background_radius_m)
    diam = window_diameters(scan_windows_m, cell_m)
    sizes = [max(1, round(max(diam)))]
    scan = scan_pvalues(grid.counts, bg, diam, int(study.sum()))
    seeds = fdr_seeds(scan.p_cell, study, alpha=alpha)
    cells = segment(grid.counts, bg, seeds, scan.p_spot_cell <= alpha, sizes=sizes,
                    min_density_ratio=min_density_ratio, smooth_cells=smooth_m / cell_m,
                    saddle_ratio=saddle_ratio)
    k = int(cells.max())
    if k == 0:
        return _none(n)
    flat = cells.ravel()
    count = np.bincount(flat, weights=grid.counts.ravel(), minlength=k + 1)[1:]
    p_min = np.r_[np.inf, component_bounds(grid.counts, bg, cells, diam, int(study.sum()),
                                           reach=WINDOW_REACH)]
    ok = keep_hotspots(count, p_min[1:], min_cases=min_cases, alpha=alpha, rule=keep_rule)
    if len(ok) == 0:
        return _none(n)
    remap = np.zeros(k + 1, np.int64)
    remap[ok + 1] = np.arange(1, len(ok) + 1)
    kept = remap[cells]
    if grow_weak:
        strong = np.zeros(len(ok) + 1, bool)
        strong[kept[scan.p_spot_cell <= alpha]] = True
        kept = _grow(kept, seeds, scan.best, ~strong, grid.counts, bg,
                     floor=min_density_ratio)
    else:
        strong = np.ones(len(ok) + 1, bool)
    return _result(grid, kept, bg, pts, np.minimum(p_min[1:][ok], 1.0), ~strong[1:],
                   buffer_m=buffer_m, hull_ratio=hull_ratio)


def _result(grid: CountGrid, kept: npt.NDArray[np.int64], bg: npt.NDArray[np.float32],
            pts: npt.NDArray[np.float64], p_min: npt.NDArray[np.float64],
            weak: npt.NDArray[np.bool_], *, buffer_m: float,
            hull_ratio: float) -> BackgroundHotspots:
    """Counts, polygons and labels of the hotspots ``1..k`` of ``kept``, renumbered
    ``0..k-1`` by decreasing case count; the ``weak`` ones drawn as their cells."""
    k = len(p_min)
    flat = kept.ravel()
    count = np.bincount(flat, weights=grid.counts.ravel(), minlength=k + 1)[1:]
    expected = np.bincount(flat, weights=bg.ravel(), minlength=k + 1)[1:]
    order = np.argsort(-count, kind="stable")
    remap = np.full(k + 1, -1, np.int64)
    remap[order + 1] = np.arange(k)
    point_label = remap[flat[grid.point_cell]]
    final = (remap[flat] + 1).reshape(kept.shape)
    poly = hotspot_polygons(grid, final, np.arange(1, k + 1), pts, point_label,
                            buffer_m=buffer_m, hull_ratio=hull_ratio)
    drawn = np.flatnonzero(weak[order])
    if len(drawn):
        poly[drawn] = cell_polygons(grid, final, drawn + 1, poly)
    return BackgroundHotspots(point_label, poly, np.rint(count[order]).astype(np.int64),
                              expected[order].astype(np.float64), p_min[order])


def find_background_hotspots(
    cases: gpd.GeoDataFrame,
    *,
    category: str | Sequence[str] | None = None,
    cell_m: float = DEFAULT_CELL_M,
    background_radius_m: float = DEFAULT_BACKGROUND_RADIUS_M,
    scan_windows_m: Sequence[float] = DEFAULT_SCAN_WINDOWS_M,
    alpha: float = DEFAULT_ALPHA,
    min_density_ratio: float = DEFAULT_DENSITY_RATIO,
    min_cases: int = DEFAULT_MIN_CASES,
    smooth_m: float = DEFAULT_SMOOTH_M,
    saddle_ratio: float = DEFAULT_SADDLE_RATIO,
    buffer_m: float = DEFAULT_BUFFER_M,
    hull_ratio: float = DEFAULT_HULL_RATIO,
    keep_rule: KeepRule = DEFAULT_KEEP_RULE,
    grow_weak: bool = True,
    at: pd.Timestamp | str | None = None,
    half_life_days: float = 30.0,
    communities: gpd.GeoDataFrame | None = None,
    working_crs: str | None = None,
    gi_cell_m: float | None = 100.0,
) -> gpd.GeoDataFrame:
    """Hotspots as significant excess over the local background (see the module docstring).

    Parameters
    ----------
    cases : GeoDataFrame
        Case points with a CRS (EPSG:4326 as from ``geo.cases``), as for
        :func:`geo.analysis.hotspots.find_hotspots`.
    category : str or sequence of str, optional
        A code, codes or a group (``"stall"`` …); ``None``: all cases.
    cell_m : float
        Side of the counting grid, metres (default 10).
    background_radius_m : float
        Half-width of the window the local background median is taken over, metres (500).
    scan_windows_m : sequence of float
        Scan windows, metres: under 1.5 cells the single cell, else the diameter of a round
        window (10, 40, 70, 100, 130).
    alpha : float
        Benjamini–Hochberg false-discovery rate over the cells (0.05).
    min_density_ratio : float
        Density floor of a hotspot cell, as a multiple of its local background (2).
    min_cases : int
        Fewest cases in a hotspot (10).
    smooth_m : float
        Gaussian sigma of the surface the watershed splits hotspots on, metres (20).
    saddle_ratio : float
        Two peaks stay separate hotspots when the excess at the saddle between them is below
        this share of the lower peak's excess (0.5).
    buffer_m : float
        Buffer around the concave hull of a hotspot's cases, metres (3).
    hull_ratio : float
        ``shapely.concave_hull`` ratio (0.3; 1 is the convex hull, smaller hugs tighter).
    keep_rule : {"fdr", "fwer"}
        Hotspot-level test (module docstring, step 3): Benjamini–Hochberg over the candidates
        (default) or the stricter family-wise bound.
    grow_weak : bool
        Draw a weak hotspot (no cell significant on its own) as the dense part of the windows
        that found it (module docstring, step 7; default) instead of the hull of its cases.
    at, half_life_days, communities, working_crs, gi_cell_m
        As in :func:`geo.analysis.hotspots.find_hotspots`.

    Returns
    -------
    GeoDataFrame
        One row per hotspot in the working CRS, sorted by ``recency_score`` (then
        ``case_count``), ``hotspot_id`` H01, H02, …; the columns of
        :func:`geo.analysis.hotspots.find_hotspots` followed by ``expected_cases`` (background cases
        expected in the hotspot's cells), ``excess_ratio`` (``case_count / expected_cases``) and
        ``p_min`` (the family-wise bound of the hotspot, capped at 1), geometry last. Empty (same columns)
        when there is no hotspot.

    Raises
    ------
    InputError
        No case (of the category), bad options, or a case extent too large for ``cell_m``.
    CRSError
        If ``cases`` has no CRS.
    """
    require_crs(cases, what="案件数据")
    at_ts = as_timestamp(at, cases)
    sel = select_cases(cases, category, at=at_ts)
    xy, crs = working_coordinates(sel, working_crs)
    label, _ = resolve_category(category)
    res = background_labels(xy, cell_m=cell_m, background_radius_m=background_radius_m,
                            scan_windows_m=scan_windows_m, alpha=alpha,
                            min_density_ratio=min_density_ratio, min_cases=min_cases,
                            smooth_m=smooth_m, saddle_ratio=saddle_ratio, buffer_m=buffer_m,
                            hull_ratio=hull_ratio, keep_rule=keep_rule, grow_weak=grow_weak)
    if len(res.polygons) == 0:
        return finish_hotspots(empty_hotspots(crs), EXTRA_COLUMNS)
    out = hotspot_frame(sel, xy, crs, res.labels, res.polygons, label=label, at=at_ts,
                        half_life_days=half_life_days, communities=communities,
                        gi_cell_m=gi_cell_m)
    out["expected_cases"] = res.expected_cases
    out["excess_ratio"] = res.case_count / np.maximum(res.expected_cases, 1e-9)
    out["p_min"] = res.p_min
    return finish_hotspots(out, EXTRA_COLUMNS)
