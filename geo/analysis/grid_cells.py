"""Occupied cells of a fine square grid: the input of the grid-weighted density clustering.

:func:`aggregate_to_grid` snaps points (metres) to a square grid and counts them per occupied
cell; :func:`background_density` is the mean density of cases over the area where cases occur
(the reference of the density floor of :func:`geo.analysis.clustering.density_labels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geo.errors import InputError

__all__ = ["BACKGROUND_CELL_M", "DEFAULT_CELL_M", "MIN_BACKGROUND_AREA_M2", "GridCells",
           "aggregate_to_grid", "background_density", "check_xy", "weighted_background"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_CELL_M = 10.0
BACKGROUND_CELL_M = 200.0
MIN_BACKGROUND_AREA_M2 = 1_000_000.0  # a compact selection is compared with at least 1 km²


@dataclass(frozen=True)
class GridCells:
    """Occupied cells of a square grid.

    Attributes
    ----------
    xy : ndarray of shape (m, 2)
        Mean position of the points in each cell (metres).
    counts : ndarray of shape (m,)
        Number of points in each cell.
    point_cell : ndarray of shape (n,)
        Index of the cell of each input point.
    """

    xy: FloatArray
    counts: IntArray
    point_cell: IntArray


def check_xy(xy: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(xy, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"坐标数组形状应为 (n, 2)，实际为 {arr.shape}。")
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise InputError(f"第 {bad} 个点的坐标不是有限数值；请先删除或修正缺失坐标。")
    return arr


def aggregate_to_grid(xy: npt.ArrayLike, *, cell_m: float = DEFAULT_CELL_M) -> GridCells:
    """Snap points to a square grid of side ``cell_m`` and count them per occupied cell.

    Parameters
    ----------
    xy : array_like of shape (n, 2)
        Point coordinates in metres.
    cell_m : float
        Cell side in metres.

    Returns
    -------
    GridCells
    """
    pts = check_xy(xy)
    if cell_m <= 0:
        raise InputError(f"网格边长 cell_m 必须为正数，实际为 {cell_m}。")
    if len(pts) == 0:
        return GridCells(np.empty((0, 2)), np.empty(0, np.int64), np.empty(0, np.int64))
    ij = np.floor((pts - pts.min(axis=0)) / cell_m).astype(np.int64)
    key = ij[:, 0] * (int(ij[:, 1].max()) + 1) + ij[:, 1]
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    inverse = inverse.astype(np.int64).ravel()
    sx = np.bincount(inverse, weights=pts[:, 0])
    sy = np.bincount(inverse, weights=pts[:, 1])
    cxy = np.column_stack([sx / counts, sy / counts])
    return GridCells(cxy, counts.astype(np.int64), inverse)


def background_density(xy: npt.ArrayLike, *, cell_m: float = BACKGROUND_CELL_M) -> float:
    """Mean density of cases (per m²) over the area where cases occur.

    The area is the number of occupied ``cell_m`` cells times the cell area, so that empty
    countryside inside the bounding box does not dilute it, but at least
    ``MIN_BACKGROUND_AREA_M2`` (1 km²), so that a selection made of one market alone is not
    its own background.
    """
    cells = aggregate_to_grid(xy, cell_m=cell_m)
    if len(cells.counts) == 0:
        return 0.0
    return weighted_background(cells, cell_m)


def weighted_background(cells: GridCells, cell_m: float = BACKGROUND_CELL_M) -> float:
    """:func:`background_density` computed from already aggregated cells."""
    coarse = aggregate_to_grid(cells.xy, cell_m=cell_m)
    area = max(len(coarse.counts) * cell_m * cell_m, MIN_BACKGROUND_AREA_M2)
    return float(cells.counts.sum()) / area
