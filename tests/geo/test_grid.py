"""Square grids: extent, cell ids, point lookup, limits."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from geo.errors import CRSError, InputError
from geo.grid import grid_spec, make_grid, points_to_cells

CRS = "EPSG:32650"


def test_bounds_grid_is_anchored_and_square() -> None:
    g = make_grid((1010.0, 2020.0, 1590.0, 2290.0), cell_m=100.0, crs=CRS)
    spec = g.attrs["grid"]
    assert (spec.x0, spec.y0, spec.nx, spec.ny) == (1000.0, 2000.0, 6, 3)
    assert len(g) == 18
    assert np.allclose(g.geometry.area, 10_000.0)
    assert g.crs.to_epsg() == 32650
    first = g.iloc[0]
    assert first["cell_id"] == 0 and tuple(first.geometry.bounds) == (1000.0, 2000.0, 1100.0, 2100.0)
    assert g["cell_id"].tolist() == list(range(18))


def test_polygon_grid_keeps_only_intersecting_cells() -> None:
    tri = Polygon([(0, 0), (1000, 0), (0, 1000)])
    g = make_grid(tri, cell_m=100.0, crs=CRS)
    # cells (i, j) with i + j <= 9 overlap the triangle; i + j = 10 only touch it at a corner
    assert len(g) == 55
    assert all(tri.intersection(geom).area > 0 for geom in g.geometry)
    assert np.isclose(g.geometry.area.sum() - tri.area, 10 * 5_000.0)


def test_points_to_cells_matches_geometry() -> None:
    g = make_grid((0.0, 0.0, 999.0, 499.0), cell_m=50.0, crs=CRS)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 999, 500), rng.uniform(0, 499, 500)
    ids = points_to_cells(x, y, g)
    by_id = g.set_index("cell_id").geometry
    for xi, yi, cid in zip(x[:50], y[:50], ids[:50], strict=True):
        assert by_id[cid].contains(shapely.Point(xi, yi))
    out = points_to_cells(np.array([-1.0, 5000.0, np.nan]), np.array([0.0, 0.0, 1.0]), g)
    assert out.tolist() == [-1, -1, -1]


def test_points_outside_polygon_mask_are_minus_one() -> None:
    tri = Polygon([(0, 0), (1000, 0), (0, 1000)])
    spec = grid_spec(tri, cell_m=100.0, crs=CRS)
    assert points_to_cells([950.0], [950.0], spec).tolist() == [-1]
    assert points_to_cells([50.0], [50.0], spec).tolist() == [0]


def test_point_area_gives_one_cell() -> None:
    g = make_grid(shapely.Point(123.0, 456.0), cell_m=150.0, crs=CRS)
    assert len(g) == 1
    assert g.geometry.iloc[0].contains(shapely.Point(123.0, 456.0))


def test_too_many_cells_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="网格过大"):
        make_grid((0.0, 0.0, 1e6, 1e6), cell_m=10.0, crs=CRS)
    with pytest.raises(InputError, match="网格过大"):
        make_grid((0.0, 0.0, 1000.0, 1000.0), cell_m=10.0, crs=CRS, max_cells=100)


def test_bad_cell_size_and_crs() -> None:
    with pytest.raises(InputError, match="cell_m"):
        make_grid((0.0, 0.0, 10.0, 10.0), cell_m=0.0, crs=CRS)
    with pytest.raises(CRSError):
        make_grid((0.0, 0.0, 10.0, 10.0), cell_m=1.0, crs="EPSG:4326")
    with pytest.raises(CRSError):
        make_grid((0.0, 0.0, 10.0, 10.0), cell_m=1.0)
