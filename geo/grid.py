"""Square analysis grids in a metric CRS, with fast point → cell lookup.

A grid is anchored at multiples of ``cell_m`` in the working CRS, so two grids of the same cell
size over overlapping areas share cells (and ``cell_id`` values relative to the same origin are
stable across forecast origins). Point → cell mapping is integer arithmetic on coordinates, with
no spatial join: ``ix = floor((x - x0) / cell_m)``, ``iy = floor((y - y0) / cell_m)``.

``cell_id = iy * nx + ix`` indexes the grid's bounding rectangle (row-major, south to north);
only cells that intersect the area are returned by :func:`make_grid`, and
``GridSpec.mask`` marks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from geo.crs import require_crs, require_metric
from geo.errors import InputError

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Bounds = tuple[float, float, float, float]
AreaLike: TypeAlias = gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | Bounds

MAX_CELLS = 10_000_000


@dataclass(frozen=True)
class GridSpec:
    """A square grid over a bounding rectangle, with the cells inside the area marked.

    Attributes
    ----------
    x0, y0 : float
        South-west corner of cell (0, 0) in the working CRS (metres).
    cell_m : float
        Cell side in metres.
    nx, ny : int
        Number of columns and rows of the bounding rectangle.
    crs : pyproj.CRS
        The metric working CRS.
    mask : ndarray of bool, shape (ny, nx)
        True for cells that intersect the area.
    """

    x0: float
    y0: float
    cell_m: float
    nx: int
    ny: int
    crs: CRS
    mask: BoolArray = field(repr=False)

    @property
    def n_cells(self) -> int:
        """Number of cells inside the area."""
        return int(self.mask.sum())

    @property
    def cell_ids(self) -> IntArray:
        """``cell_id`` of the cells inside the area, ascending."""
        return np.flatnonzero(self.mask.ravel()).astype(np.int64)

    def cell_index(self, x: npt.ArrayLike, y: npt.ArrayLike) -> IntArray:
        """Map points (working CRS) to ``cell_id`` of the bounding rectangle; -1 outside it.

        Points in the rectangle but outside the area keep their ``cell_id`` (check ``mask``).
        """
        xa = np.asarray(x, dtype=float)
        ya = np.asarray(y, dtype=float)
        with np.errstate(invalid="ignore"):
            fx = np.floor((xa - self.x0) / self.cell_m)
            fy = np.floor((ya - self.y0) / self.cell_m)
        ok = np.isfinite(fx) & np.isfinite(fy)
        ok &= (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        out = np.full(xa.shape, -1, dtype=np.int64)
        out[ok] = fy[ok].astype(np.int64) * self.nx + fx[ok].astype(np.int64)
        return out

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """One square Polygon per cell inside the area, with ``cell_id``, ``ix``, ``iy``."""
        ids = self.cell_ids
        iy, ix = np.divmod(ids, self.nx)
        xmin = self.x0 + ix * self.cell_m
        ymin = self.y0 + iy * self.cell_m
        geom = shapely.box(xmin, ymin, xmin + self.cell_m, ymin + self.cell_m)
        gdf = gpd.GeoDataFrame(
            {"cell_id": ids, "ix": ix.astype(np.int64), "iy": iy.astype(np.int64)},
            geometry=geom,
            crs=self.crs,
        )
        return gdf


def _area_geometry(area: AreaLike, crs: object | None) -> tuple[BaseGeometry | None, Bounds, CRS]:
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        c = require_metric(require_crs(area, what="区域"), what="区域")
        geoms = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
        geoms = geoms[~(geoms.is_empty | geoms.isna())]
        if len(geoms) == 0:
            raise InputError("区域为空（没有有效几何）；请提供至少一个多边形，或省略区域以使用案件范围。")
        geom = shapely.union_all(shapely.make_valid(geoms.to_numpy()))
        return geom, tuple(float(v) for v in geom.bounds), c  # type: ignore[return-value]
    c = require_metric(crs, what="区域")
    if isinstance(area, BaseGeometry):
        if area.is_empty:
            raise InputError("区域几何为空；请提供有效的多边形。")
        return area, tuple(float(v) for v in area.bounds), c  # type: ignore[return-value]
    b = tuple(float(v) for v in area)  # type: ignore[union-attr]
    if len(b) != 4 or not np.all(np.isfinite(b)) or b[2] < b[0] or b[3] < b[1]:
        raise InputError(f"范围 {area} 无效；应为 (xmin, ymin, xmax, ymax)，单位米，且 xmax≥xmin、ymax≥ymin。")
    return None, (b[0], b[1], b[2], b[3]), c


def grid_spec(
    area_or_bounds: AreaLike,
    *,
    cell_m: float,
    crs: object | None = None,
    max_cells: int = MAX_CELLS,
) -> GridSpec:
    """Build a :class:`GridSpec` over an area polygon or a bounding rectangle.

    Parameters
    ----------
    area_or_bounds : GeoDataFrame, GeoSeries, shapely geometry or (xmin, ymin, xmax, ymax)
        The area in a metric CRS. Points and lines are allowed (the cells they touch).
    cell_m : float
        Cell side in metres (> 0).
    crs : CRS-like, optional
        Required for a bare geometry or bounds; taken from the frame otherwise.
    max_cells : int
        Refuse grids whose bounding rectangle has more cells than this.

    Raises
    ------
    InputError
        If ``cell_m`` is not positive, the area is empty, or the grid would be too large.
    CRSError
        If the CRS is missing or not metric.
    """
    if not np.isfinite(cell_m) or cell_m <= 0:
        raise InputError(f"网格边长 cell_m={cell_m} 无效；请使用大于 0 的米数，例如 150。")
    geom, (xmin, ymin, xmax, ymax), c = _area_geometry(area_or_bounds, crs)
    x0 = np.floor(xmin / cell_m) * cell_m
    y0 = np.floor(ymin / cell_m) * cell_m
    nx = int(np.floor((xmax - x0) / cell_m)) + 1
    ny = int(np.floor((ymax - y0) / cell_m)) + 1
    if nx * ny > max_cells:
        raise InputError(
            f"网格过大：{nx}×{ny}={nx * ny:,} 个格子，超过上限 {max_cells:,}；"
            f"请增大网格边长（当前 {cell_m} 米）或缩小区域。"
        )
    if geom is None or geom.geom_type == "Point":
        mask = np.ones((ny, nx), dtype=bool)
    else:
        mask = _intersecting(geom, x0, y0, cell_m, nx, ny)
    return GridSpec(float(x0), float(y0), float(cell_m), nx, ny, c, mask)


def _intersecting(
    geom: BaseGeometry, x0: float, y0: float, cell_m: float, nx: int, ny: int
) -> BoolArray:
    """Mask of cells intersecting ``geom`` (row by row to bound memory).

    For a polygonal area, cells that only touch it (share an edge or a corner) are left out.
    """
    shapely.prepare(geom)
    polygonal = geom.geom_type in ("Polygon", "MultiPolygon")
    mask = np.zeros((ny, nx), dtype=bool)
    xs = x0 + np.arange(nx) * cell_m
    rows_per_chunk = max(1, 200_000 // max(nx, 1))
    for r0 in range(0, ny, rows_per_chunk):
        r1 = min(ny, r0 + rows_per_chunk)
        yy = y0 + np.arange(r0, r1) * cell_m
        gx, gy = np.meshgrid(xs, yy)
        boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell_m, gy.ravel() + cell_m)
        hit = shapely.intersects(geom, boxes)
        if polygonal:  # drop cells that only share an edge or corner with the area
            hit &= ~shapely.touches(geom, boxes)
        mask[r0:r1] = hit.reshape(r1 - r0, nx)
    return mask


def make_grid(
    area_or_bounds: AreaLike,
    *,
    cell_m: float,
    crs: object | None = None,
    max_cells: int = MAX_CELLS,
) -> gpd.GeoDataFrame:
    """Square grid of side ``cell_m`` covering an area polygon or a bounding rectangle.

    Parameters
    ----------
    area_or_bounds : GeoDataFrame, GeoSeries, shapely geometry or (xmin, ymin, xmax, ymax)
        The area in a metric CRS (the frame's CRS, or ``crs`` for a geometry or bounds).
    cell_m : float
        Cell side in metres.
    crs : CRS-like, optional
        CRS of a bare geometry or bounds.
    max_cells : int
        Refuse grids whose bounding rectangle has more cells (default 10 million).

    Returns
    -------
    GeoDataFrame
        One square Polygon per cell that intersects the area, columns ``cell_id`` (int, row-major
        index of the bounding rectangle), ``ix``, ``iy``; ``attrs["grid"]`` holds the
        :class:`GridSpec` (use :func:`points_to_cells` for fast lookup).

    Raises
    ------
    InputError
        If the cell size is invalid or the grid would exceed ``max_cells``.
    CRSError
        If the CRS is missing or not in metres.
    """
    spec = grid_spec(area_or_bounds, cell_m=cell_m, crs=crs, max_cells=max_cells)
    gdf = spec.to_geodataframe()
    gdf.attrs["grid"] = spec
    return gdf


def points_to_cells(
    x: npt.ArrayLike, y: npt.ArrayLike, grid: GridSpec | gpd.GeoDataFrame
) -> IntArray:
    """``cell_id`` of each point (working-CRS metres); -1 outside the area's cells.

    Parameters
    ----------
    x, y : array_like
        Coordinates in the grid's CRS.
    grid : GridSpec or GeoDataFrame from :func:`make_grid`
    """
    spec = _spec_of(grid)
    ids = spec.cell_index(x, y)
    inside = ids >= 0
    inside[inside] = spec.mask.ravel()[ids[inside]]
    return np.where(inside, ids, -1)


def _spec_of(grid: Any) -> GridSpec:
    if isinstance(grid, GridSpec):
        return grid
    spec = getattr(grid, "attrs", {}).get("grid")
    if not isinstance(spec, GridSpec):
        raise InputError("网格对象缺少 attrs['grid']；请使用 make_grid() 生成的网格。")
    return spec
