"""Round scan windows, the hotspot-level keep rule and the array projection (data built in code)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy import ndimage

from geo.analysis.background import background_labels, keep_hotspots
from geo.analysis.background_scan import disc_sum, window_diameters
from geo.analysis.frame import working_coordinates
from geo.analysis.significance import hotspot_grid, hotspot_grid_xy
from geo.crs import to_working
from geo.errors import InputError

X0, Y0 = 500_000.0, 3_418_000.0


@pytest.mark.parametrize("diameter", [1.0, 3.0, 4.0, 7.0, 10.0, 13.0])
def test_disc_sum_counts_the_cells_whose_centres_are_in_the_disc(diameter: float) -> None:
    rng = np.random.default_rng(1)
    a = rng.poisson(0.7, (41, 33)).astype(np.float32)
    r = diameter / 2
    i, j = np.mgrid[-int(r):int(r) + 1, -int(r):int(r) + 1]
    footprint = (i**2 + j**2 <= r * r).astype(float)
    expected = ndimage.correlate(a.astype(float), footprint, mode="constant")
    assert np.array_equal(disc_sum(a, diameter), expected)
    if diameter == 10.0:
        assert footprint.sum() == 81  # a 100 m window on 10 m cells: 8,100 m2 for 7,854 m2


def test_window_diameters_in_cells() -> None:
    assert window_diameters((10, 40, 70, 100, 130), 10.0) == [1.0, 4.0, 7.0, 10.0, 13.0]
    assert window_diameters((12, 40, 40.0), 10.0) == [1.0, 4.0]


def test_keep_rule_fdr_keeps_weaker_candidates_once_strong_ones_are_found() -> None:
    count = np.array([50, 40, 30, 12, 12, 9])
    bound = np.array([1e-9, 1e-6, 0.02, 0.12, 0.4, 1e-12])
    fwer = keep_hotspots(count, bound, min_cases=10, alpha=0.05, rule="fwer")
    fdr = keep_hotspots(count, bound, min_cases=10, alpha=0.05, rule="fdr")
    assert sorted(fwer.tolist()) == [0, 1, 2]  # bound <= 0.05
    # BH over the five with >= 10 cases: ranks 1..5 need <= .05 .10 .15 .20 .25; the 4th
    # (0.12 <= 0.20) passes, the 5th (0.4 > 0.25) does not; the 6th has too few cases
    assert sorted(fdr.tolist()) == [0, 1, 2, 3]
    assert len(keep_hotspots(count, np.full(6, 2.0), min_cases=10, alpha=0.05,
                             rule="fdr")) == 0


def test_weak_patch_beside_strong_hotspots_is_found() -> None:
    """A disc 100 m wide at twice the background density, among four strong markets."""
    rng = np.random.default_rng(12)
    side = 2000.0
    bg = rng.uniform([X0, Y0], [X0 + side, Y0 + side], (40_000, 2))
    markets = [np.array([X0 + 400.0 + 400 * k, Y0 + 400.0]) for k in range(4)]
    strong = [mk + rng.normal(0, 12, (300, 2)) for mk in markets]
    centre = np.array([X0 + 1000.0, Y0 + 1400.0])
    m = int(40_000 / side**2 * np.pi * 50**2)  # as many extra cases as background ones
    r, a = 50 * np.sqrt(rng.random(m)), rng.uniform(0, 2 * np.pi, m)
    xy = np.vstack([*strong, centre + np.c_[r * np.cos(a), r * np.sin(a)], bg])
    res = background_labels(xy)
    tree = shapely.STRtree(res.polygons)
    for mk in markets:
        assert len(tree.query(shapely.Point(mk), predicate="within")) == 1
    patch = res.labels[1200:1200 + m]
    hit = np.unique(patch[patch >= 0])
    assert len(hit) == 1, "the patch is one hotspot"
    assert (patch == hit[0]).sum() >= 0.3 * m
    assert res.polygons[hit[0]].distance(shapely.Point(centre)) <= 10.0
    assert res.polygons[hit[0]].within(shapely.Point(centre).buffer(60.0))
    assert len(res.polygons) <= 6  # four markets and the patch, at most one false hotspot


def test_bad_keep_rule_is_refused() -> None:
    with pytest.raises(InputError, match="keep_rule"):
        background_labels(np.zeros((20, 2)), keep_rule="bonferroni")  # type: ignore[arg-type]


def test_working_coordinates_match_to_working() -> None:
    rng = np.random.default_rng(2)
    lon = 113.9 + rng.random(500) * 0.1
    lat = 30.9 + rng.random(500) * 0.1
    g = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    ref = to_working(g)
    xy, crs = working_coordinates(g)
    assert crs == ref.crs
    assert np.allclose(xy, shapely.get_coordinates(ref.geometry.to_numpy()), atol=1e-6)
    xy2, crs2 = working_coordinates(ref, "EPSG:4547")
    assert crs2.to_epsg() == 4547
    assert np.allclose(xy2, shapely.get_coordinates(to_working(g, crs="EPSG:4547")
                                                    .geometry.to_numpy()), atol=1e-6)
    grid_a = hotspot_grid(ref, cell_m=200.0)
    grid_b = hotspot_grid_xy(xy, crs, cell_m=200.0)
    assert np.array_equal(grid_a["gi_z"].to_numpy(), grid_b["gi_z"].to_numpy())
