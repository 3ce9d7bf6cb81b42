"""Getis-Ord Gi* hot-spot significance on a square or hexagonal grid, with FDR correction.

This is the recipe of ArcGIS's *Optimized Hot Spot Analysis* for incident points, simplified:

1. Aggregate the cases to a grid (fishnet of squares, or hexagons) covering their extent, zeros
   included, in a metric CRS. ``cell_m`` is the square side or the hexagon's flat-to-flat width
   (centre spacing); 100 m by default — about a city block.
2. Gi* with binary weights: every cell whose centre lies within ``band_m`` (default
   ``2 * cell_m``) of a cell's centre, the cell itself included. Z-scores follow Getis & Ord
   (1995); the implementation is a sparse matrix product (it agrees with
   ``esda.G_Local(star=True)``'s analytical z-scores).
3. Two-sided normal p-values, corrected for multiple testing and spatial dependence with the
   Benjamini–Hochberg false-discovery rate at 10 %, 5 % and 1 %: a cell is a 99 % hot (cold)
   spot when BH rejects it at 1 % and its z is positive (negative), and so on. Bins follow
   ArcGIS: ``gi_bin`` in {-3, …, 3}.

:func:`tag_hotspots` gives each density hotspot the highest confidence among the hot cells its
polygon overlaps.
"""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy import sparse, stats
from scipy.spatial import cKDTree

from geo.crs import require_metric
from geo.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Shape = Literal["square", "hex"]

MAX_GRID_CELLS = 2_000_000
LEVELS = ((99, 0.01), (95, 0.05), (90, 0.10))
CLASS_ZH = {3: "热点（99% 置信）", 2: "热点（95% 置信）", 1: "热点（90% 置信）", 0: "不显著",
            -1: "冷点（90% 置信）", -2: "冷点（95% 置信）", -3: "冷点（99% 置信）"}


def _hex_geometry(cell_m: float) -> tuple[float, float]:
    """Column spacing and row spacing of a pointy-top hexagon lattice of width ``cell_m``."""
    return cell_m, cell_m * np.sqrt(3.0)


def make_lattice(
    xy: npt.ArrayLike, *, cell_m: float, shape: Shape = "square"
) -> tuple[FloatArray, IntArray]:
    """Cell centres covering the points' extent and the cell of each point.

    Returns
    -------
    centres : ndarray of shape (m, 2)
    point_cell : ndarray of shape (n,)
    """
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(pts) == 0:
        raise InputError("没有案件点，无法建立网格；请检查筛选条件。")
    if cell_m <= 0:
        raise InputError(f"网格边长 cell_m 必须为正数，实际为 {cell_m}。")
    lo = pts.min(axis=0)
    hi = pts.max(axis=0)
    if shape == "square":
        nx, ny = (np.floor((hi - lo) / cell_m) + 1).astype(int)
        _check_size(nx * ny)
        ij = np.floor((pts - lo) / cell_m).astype(np.int64)
        gx, gy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
        centres = lo + (np.column_stack([gx.ravel(), gy.ravel()]) + 0.5) * cell_m
        return centres, ij[:, 0] * ny + ij[:, 1]
    if shape != "hex":
        raise InputError(f"未知的网格形状「{shape}」；可选 square 或 hex。")
    dx, dy = _hex_geometry(cell_m)
    nx, ny = int(np.ceil((hi[0] - lo[0]) / dx)) + 1, int(np.ceil((hi[1] - lo[1]) / dy)) + 1
    _check_size(2 * nx * ny)
    rel = pts - lo
    a = np.rint(rel / [dx, dy]).astype(np.int64)  # lattice A: (i*dx, j*dy)
    b = np.floor(rel / [dx, dy]).astype(np.int64)  # lattice B: ((i+.5)dx, (j+.5)dy)
    da = np.hypot(*(rel - a * [dx, dy]).T)
    db = np.hypot(*(rel - (b + 0.5) * [dx, dy]).T)
    in_b = db < da
    ii = np.where(in_b, b[:, 0], a[:, 0]).clip(0, nx - 1)
    jj = np.where(in_b, b[:, 1], a[:, 1]).clip(0, ny - 1)
    gx, gy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    ca = lo + np.column_stack([gx.ravel(), gy.ravel()]) * [dx, dy]
    cb = lo + (np.column_stack([gx.ravel(), gy.ravel()]) + 0.5) * [dx, dy]
    centres = np.vstack([ca, cb])
    return centres, (in_b * nx * ny + ii * ny + jj).astype(np.int64)


def _check_size(n_cells: int) -> None:
    if n_cells > MAX_GRID_CELLS:
        raise InputError(
            f"网格过大（{n_cells} 个单元，上限 {MAX_GRID_CELLS}）；请增大 cell_m 或缩小研究范围。"
        )


def neighbour_matrix(centres: FloatArray, *, band_m: float) -> sparse.csr_matrix:
    """Binary weights: 1 between cells whose centres are within ``band_m``, self included."""
    tree = cKDTree(centres)
    pairs = tree.query_pairs(band_m + 1e-9, output_type="ndarray")
    m = len(centres)
    rows = np.r_[pairs[:, 0], pairs[:, 1], np.arange(m)]
    cols = np.r_[pairs[:, 1], pairs[:, 0], np.arange(m)]
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(m, m))


def gi_star(values: npt.ArrayLike, weights: sparse.csr_matrix) -> FloatArray:
    """Getis-Ord Gi* z-scores of ``values`` (m,) or (m, T) (one column per period).

    Binary ``weights`` must include the diagonal. Columns with zero variance give z = 0.
    """
    x = np.asarray(values, dtype=float)
    one_d = x.ndim == 1
    x2 = x.reshape(len(x), -1)
    n = x2.shape[0]
    mean = x2.mean(axis=0)
    s = np.sqrt(np.maximum((x2**2).mean(axis=0) - mean**2, 0.0))
    wsum = np.asarray(weights.sum(axis=1)).ravel()[:, None]
    w2sum = np.asarray(weights.multiply(weights).sum(axis=1)).ravel()[:, None]
    lag = weights @ x2
    denom = s * np.sqrt(np.maximum(n * w2sum - wsum**2, 0.0) / max(n - 1, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (lag - mean * wsum) / denom
    z = np.where(np.isfinite(z), z, 0.0)
    return z.ravel() if one_d else z


def bh_reject(p: npt.ArrayLike, alpha: float) -> npt.NDArray[np.bool_]:
    """Benjamini–Hochberg: True where the hypothesis is rejected at false-discovery rate alpha."""
    pv = np.asarray(p, dtype=float)
    m = pv.size
    if m == 0:
        return np.zeros(0, bool)
    order = np.argsort(pv, kind="stable")
    passed = pv[order] <= alpha * np.arange(1, m + 1) / m
    out = np.zeros(m, bool)
    if passed.any():
        out[order[: int(np.flatnonzero(passed)[-1]) + 1]] = True
    return out


def confidence_bins(z: npt.ArrayLike, *, fdr: bool = True) -> tuple[FloatArray, IntArray]:
    """Two-sided p-values and ArcGIS-style bins (-3 … 3) for z-scores (one set of tests)."""
    zz = np.asarray(z, dtype=float)
    p = 2.0 * stats.norm.sf(np.abs(zz))
    level = np.zeros(zz.shape, np.int64)
    for rank, (_, alpha) in zip((3, 2, 1), LEVELS, strict=True):
        sig = bh_reject(p, alpha) if fdr else p <= alpha
        level = np.where((level == 0) & sig, rank, level)
    return p, (np.sign(zz).astype(np.int64) * level)


def _cell_polygons(centres: FloatArray, cell_m: float, shape: Shape) -> npt.NDArray[np.object_]:
    if shape == "square":
        h = cell_m / 2.0
        return shapely.box(centres[:, 0] - h, centres[:, 1] - h, centres[:, 0] + h,
                           centres[:, 1] + h)
    r = cell_m / np.sqrt(3.0)  # circumradius of a hexagon of flat-to-flat width cell_m
    ang = np.deg2rad(90.0 + 60.0 * np.arange(7))
    ring = np.stack([np.cos(ang), np.sin(ang)], axis=1) * r
    coords = centres[:, None, :] + ring[None, :, :]
    return shapely.polygons(coords)


def hotspot_grid(
    cases: gpd.GeoDataFrame,
    *,
    cell_m: float = 100.0,
    band_m: float | None = None,
    shape: Shape = "square",
    fdr: bool = True,
) -> gpd.GeoDataFrame:
    """Gi* hot and cold spots of case counts on a grid (Optimized Hot Spot Analysis).

    Parameters
    ----------
    cases : GeoDataFrame
        Case points in a projected CRS in metres (use ``geo.crs.to_working`` first).
    cell_m : float
        Square side, or hexagon width, in metres.
    band_m : float, optional
        Neighbourhood radius in metres (default ``2 * cell_m``).
    shape : {"square", "hex"}
    fdr : bool
        Benjamini–Hochberg correction (default); ``False`` uses raw p-values.

    Returns
    -------
    GeoDataFrame
        One row per cell of the fishnet: ``cell_id``, ``count``, ``gi_z``, ``gi_p``, ``gi_bin``
        (-3 … 3), ``gi_confidence`` (99/95/90/0), ``gi_class`` (hot_99 … cold_99 or
        not_significant), ``gi_label`` (Chinese), polygon geometry, in the cases' CRS.

    Raises
    ------
    InputError
        No cases, or a grid of more than 2 million cells.
    CRSError
        If the cases are not in a metric CRS.
    """
    require_metric(cases.crs, what="案件数据")
    return hotspot_grid_xy(shapely.get_coordinates(cases.geometry.to_numpy()), cases.crs,
                           cell_m=cell_m, band_m=band_m, shape=shape, fdr=fdr)


def hotspot_grid_xy(xy: npt.ArrayLike, crs: object, *, cell_m: float = 100.0,
                    band_m: float | None = None, shape: Shape = "square",
                    fdr: bool = True) -> gpd.GeoDataFrame:
    """:func:`hotspot_grid` of point coordinates ``xy`` (n, 2) in the metric CRS ``crs``."""
    require_metric(crs, what="案件数据")
    centres, point_cell = make_lattice(xy, cell_m=cell_m, shape=shape)
    counts = np.bincount(point_cell, minlength=len(centres)).astype(float)
    w = neighbour_matrix(centres, band_m=band_m if band_m else 2.0 * cell_m)
    z = gi_star(counts, w)
    p, bins = confidence_bins(z, fdr=fdr)
    return _grid_frame(centres, counts, z, p, bins, cell_m, shape, crs)


def _grid_frame(centres: FloatArray, counts: FloatArray, z: FloatArray, p: FloatArray,
                bins: IntArray, cell_m: float, shape: Shape, crs: object) -> gpd.GeoDataFrame:
    conf = np.array([0, 90, 95, 99])[np.abs(bins)]
    cls = np.where(bins > 0, "hot_", np.where(bins < 0, "cold_", "")).astype(object)
    cls = np.where(bins == 0, "not_significant", cls + conf.astype(str))
    return gpd.GeoDataFrame(
        {"cell_id": np.arange(len(centres)), "count": counts.astype(np.int64), "gi_z": z,
         "gi_p": p, "gi_bin": bins, "gi_confidence": conf, "gi_class": cls,
         "gi_label": pd.Series(bins).map(CLASS_ZH).to_numpy()},
        geometry=_cell_polygons(centres, cell_m, shape), crs=crs,
    )


def tag_hotspots(hotspots: gpd.GeoDataFrame, grid: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add the Gi* significance of each hotspot polygon: the best hot cell it overlaps.

    Adds ``gi_confidence`` (99/95/90, 0 when no hot cell overlaps), ``gi_z_max`` (largest
    z of an overlapped cell) and ``gi_significant`` (bool). Returns a new GeoDataFrame aligned
    to ``hotspots``' index.
    """
    out = hotspots.copy()
    out["gi_confidence"] = 0
    out["gi_z_max"] = np.nan
    out["gi_significant"] = False
    if len(out) == 0 or len(grid) == 0:
        return out
    g = grid.to_crs(out.crs) if grid.crs != out.crs else grid
    left, right = g.sindex.query(out.geometry, predicate="intersects")
    if len(left) == 0:
        return out
    pairs = pd.DataFrame({"h": left, "z": g["gi_z"].to_numpy()[right],
                          "conf": np.where(g["gi_bin"].to_numpy()[right] > 0,
                                           g["gi_confidence"].to_numpy()[right], 0)})
    agg = pairs.groupby("h").agg(z=("z", "max"), conf=("conf", "max"))
    pos = agg.index.to_numpy()
    out.iloc[pos, out.columns.get_loc("gi_confidence")] = agg["conf"].to_numpy()
    out.iloc[pos, out.columns.get_loc("gi_z_max")] = agg["z"].to_numpy()
    out["gi_significant"] = out["gi_confidence"] > 0
    return out
