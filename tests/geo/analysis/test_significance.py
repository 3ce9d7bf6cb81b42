"""Gi* on a grid with FDR: agrees with esda, finds a planted hot spot, not uniform noise."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.analysis.significance import (
    bh_reject,
    gi_star,
    hotspot_grid,
    make_lattice,
    neighbour_matrix,
    tag_hotspots,
)
from geo.errors import CRSError, InputError

CRS = "EPSG:4547"


def points(xy: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS)


def uniform(seed: int, n: int = 20_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 4000, (n, 2)) + np.array([500_000, 3_400_000])


def test_gi_star_matches_esda() -> None:
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    rng = np.random.default_rng(0)
    centres, cell = make_lattice(rng.uniform(0, 1000, (400, 2)), cell_m=100)
    counts = np.bincount(cell, minlength=len(centres)).astype(float)
    ours = gi_star(counts, neighbour_matrix(centres, band_m=200))
    w = libpysal.weights.DistanceBand(centres, threshold=200.0001, binary=True,
                                      silence_warnings=True)
    ref = esda.G_Local(counts, w, star=True, transform="B", permutations=0).Zs
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_planted_hot_spot_is_99_percent() -> None:
    rng = np.random.default_rng(1)
    hot = rng.normal(0, 40, (600, 2)) + np.array([502_000, 3_402_000])
    grid = hotspot_grid(points(np.vstack([uniform(1), hot])), cell_m=100)
    centre = grid[grid.contains(shapely.Point(502_000 + 1, 3_402_000 + 1))].iloc[0]
    assert centre["gi_confidence"] == 99 and centre["gi_class"] == "hot_99"
    assert centre["gi_label"] == "热点（99% 置信）"
    hot_cells = grid[grid["gi_bin"] > 0]
    # every significant hot cell is near the planted spot
    d = hot_cells.centroid.distance(shapely.Point(502_000, 3_402_000))
    assert d.max() < 400


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uniform_noise_has_no_significant_cell(seed: int) -> None:
    grid = hotspot_grid(points(uniform(seed)), cell_m=100)
    assert (grid["gi_bin"] == 0).all()
    assert grid["count"].sum() == 20_000


def test_without_fdr_noise_gives_false_positives() -> None:
    grid = hotspot_grid(points(uniform(0)), cell_m=100, fdr=False)
    assert (grid["gi_bin"] != 0).sum() > 10  # the reason for the FDR correction


def test_hex_grid_counts_and_geometry() -> None:
    xy = uniform(3, 5000)
    grid = hotspot_grid(points(xy), cell_m=100, shape="hex")
    assert grid["count"].sum() == 5000
    areas = grid.geometry.area
    assert areas.iloc[0] == pytest.approx(100**2 * np.sqrt(3) / 2, rel=1e-6)
    # each point lies in the hexagon it was counted in
    sample = points(xy[:200])
    joined = gpd.sjoin(sample, grid[grid["count"] > 0], predicate="within")
    assert len(joined) == 200


def test_bh_reject() -> None:
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    assert bh_reject(p, 0.05).sum() == 2
    assert bh_reject(np.array([]), 0.05).size == 0


def test_tag_hotspots() -> None:
    rng = np.random.default_rng(4)
    hot = rng.normal(0, 40, (600, 2)) + np.array([502_000, 3_402_000])
    grid = hotspot_grid(points(np.vstack([uniform(4), hot])), cell_m=100)
    polys = gpd.GeoDataFrame(
        {"hotspot_id": ["A", "B"]},
        geometry=[shapely.Point(502_000, 3_402_000).buffer(60),
                  shapely.Point(500_300, 3_400_300).buffer(60)], crs=CRS)
    tagged = tag_hotspots(polys, grid)
    assert tagged["gi_confidence"].tolist() == [99, 0]
    assert tagged["gi_significant"].tolist() == [True, False]
    assert tagged.index.equals(polys.index)


def test_bad_input() -> None:
    with pytest.raises(CRSError):
        hotspot_grid(points(uniform(0, 10)).to_crs("EPSG:4326"))
    with pytest.raises(InputError):
        hotspot_grid(points(np.empty((0, 2))))
    with pytest.raises(InputError, match="网格过大"):
        hotspot_grid(points(np.array([[0.0, 0.0], [1e6, 1e6]])), cell_m=1)
    one = hotspot_grid(points(np.array([[500_000.0, 3_400_000.0]] * 5)), cell_m=100)
    assert (one["gi_bin"] == 0).all()  # one point, or all cases at one point: nothing to compare
