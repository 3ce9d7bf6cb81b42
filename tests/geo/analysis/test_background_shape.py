"""Weak hotspots drawn at the scale of the windows that found them (data built in code)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.analysis.background import background_labels
from geo.analysis.background_scan import scan_pvalues
from geo.analysis.background_shape import grow_weak

X0, Y0 = 500_000.0, 3_418_000.0
SIDE = 2000.0
N_BG = 12_000  # 0.003 cases per m2: 0.3 per 10 m cell, sparse like a district at 100k cases


def disc_patch(rng: np.random.Generator, centre: np.ndarray, *, diameter_m: float,
               ratio: float) -> np.ndarray:
    """Extra cases uniform in a disc, ``ratio`` times the background density there in all."""
    dens = N_BG / SIDE**2
    m = rng.poisson((ratio - 1) * dens * np.pi * diameter_m**2 / 4)
    r = diameter_m / 2 * np.sqrt(rng.random(m))
    a = rng.uniform(0, 2 * np.pi, m)
    return centre + np.c_[r * np.cos(a), r * np.sin(a)]


def background(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform([X0, Y0], [X0 + SIDE, Y0 + SIDE], (N_BG, 2))


def cover(polys: np.ndarray, disc: shapely.Geometry) -> tuple[shapely.Geometry, float]:
    hit = [p for p in polys if p.intersects(disc)]
    u = shapely.union_all(hit) if hit else shapely.Polygon()
    return u, float(u.intersection(disc).area / disc.area)


@pytest.mark.parametrize("seed", range(4))
def test_weak_patch_polygon_covers_its_centre_and_most_of_its_disc(seed: int) -> None:
    """A 90 m disc at 3.5 times a sparse background (0.3 cases per 10 m cell)."""
    rng = np.random.default_rng(seed)
    centre = np.array([X0 + 1000.0, Y0 + 1000.0])
    xy = np.vstack([disc_patch(rng, centre, diameter_m=90, ratio=3.5), background(rng)])
    disc = shapely.Point(centre).buffer(45.0)
    res = background_labels(xy)
    assert len(res.polygons) == 1
    poly, share = cover(res.polygons, disc)
    assert poly.contains(shapely.Point(centre))
    assert share >= 0.75, f"the polygon covers {share:.0%} of the disc"
    assert poly.area <= 2.5 * disc.area
    assert shapely.get_num_geometries(poly) == 1
    # the hotspot's cases are those of its cells: most of the patch, little more background
    inside = shapely.contains_xy(poly, xy[:, 0], xy[:, 1])
    assert res.case_count[0] == pytest.approx(inside.sum(), abs=0.1 * inside.sum())


def test_the_cases_hull_alone_misses_this_patch_centre() -> None:
    """Seed 1 above: the concave hull of the cases in the dense cells (``grow_weak=False``)
    covers 57 % of the disc and leaves its centre out; the grown cells cover 83 %."""
    rng = np.random.default_rng(1)
    centre = np.array([X0 + 1000.0, Y0 + 1000.0])
    xy = np.vstack([disc_patch(rng, centre, diameter_m=90, ratio=3.5), background(rng)])
    disc = shapely.Point(centre).buffer(45.0)
    old, old_share = cover(background_labels(xy, grow_weak=False).polygons, disc)
    new, new_share = cover(background_labels(xy).polygons, disc)
    assert not old.contains(shapely.Point(centre)) and old_share < 0.7
    assert new.contains(shapely.Point(centre)) and new_share >= old_share + 0.2


@pytest.mark.parametrize("seed", range(3))
def test_weak_patches_200_m_apart_and_a_market_stay_apart(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.array([X0 + 900.0, Y0 + 1000.0])
    b = a + np.array([200.0, 0.0])
    market = a + np.array([0.0, -170.0])
    xy = np.vstack([disc_patch(rng, a, diameter_m=100, ratio=4),
                    disc_patch(rng, b, diameter_m=100, ratio=4),
                    market + rng.normal(0, 12, (150, 2)), background(rng)])
    res = background_labels(xy)
    polys = res.polygons
    assert len(polys) == 3
    tree = shapely.STRtree(polys)
    hits = [tree.query(shapely.Point(c), predicate="within") for c in (a, b, market)]
    assert all(len(h) == 1 for h in hits)
    assert len({int(h[0]) for h in hits}) == 3
    for i in range(3):
        for j in range(i + 1, 3):
            assert polys[i].intersection(polys[j]).area < 1.0
    for h, c in zip(hits[:2], (a, b), strict=True):
        assert cover(polys[[h[0]]], shapely.Point(c).buffer(50.0))[1] >= 0.6
    # the market keeps the hull of its cases (sigma 12 m), not a window's disc
    assert polys[hits[2][0]].area <= np.pi * 36.0**2


def test_best_window_matches_the_patch_scale() -> None:
    """On a grid: a 10-cell disc at 3 times the background is best seen by the 10-cell window;
    a single cell holding 30 cases by the cell."""
    rng = np.random.default_rng(4)
    bg = np.full((80, 80), 0.5, np.float32)
    i, j = np.mgrid[:80, :80]
    lam = bg + np.where((i - 40) ** 2 + (j - 40) ** 2 <= 25, 1.0, 0.0).astype(np.float32)
    counts = rng.poisson(lam).astype(np.float32)
    counts[10, 10] = 30.0
    scan = scan_pvalues(counts, bg, [1.0, 4.0, 7.0, 10.0, 13.0], n_tests=counts.size)
    assert scan.best[10, 10] == 1.0
    assert scan.best[40, 40] in (7.0, 10.0, 13.0)
    assert scan.p_cell[40, 40] < 1e-8
    assert scan.p_spot_cell[10, 10] < 0.05 and scan.p_spot_cell[40, 40] > 0.05


def test_grow_weak_takes_free_cells_of_its_own_territory_only() -> None:
    """A weak hotspot (label 1) with a seed whose 10-cell window overlaps a strong hotspot
    (label 2) grows ring by ring while the ring is dense, within the seed's window, but never
    into label 2's cells or past the midline."""
    labels = np.zeros((40, 40), np.int64)
    labels[18:21, 14:17] = 1
    labels[18:21, 24:27] = 2
    seeds = np.zeros(labels.shape, bool)
    seeds[19, 15] = True
    best = np.zeros(labels.shape, np.float32)
    best[19, 15] = 10.0
    counts = np.zeros(labels.shape, np.float32)
    counts[12:27, 8:28] = 3.0  # dense everywhere near both
    bg = np.full(labels.shape, 0.5, np.float32)
    out = grow_weak(labels, seeds, best, np.array([False, True, False]), counts, bg, floor=2.0)
    assert np.array_equal(out == 2, labels == 2)
    grown = out == 1
    assert grown.sum() > 2 * (labels == 1).sum()
    ii, jj = np.nonzero(grown)
    assert np.hypot(ii - 19, jj - 15).max() <= 5.0 + 1.5  # within the window (plus own cells)
    assert jj.max() <= 20  # nearer to label 1 than to label 2 (midline between columns 16, 24)
    # a compact cluster with empty cells around it (a few addresses in sparse data) keeps
    # its cells: the first ring holds no case
    compact = np.where(labels == 1, 3.0, 0.0).astype(np.float32)
    same = grow_weak(labels, seeds, best, np.array([False, True, False]), compact, bg,
                     floor=2.0)
    assert np.array_equal(same, labels)
