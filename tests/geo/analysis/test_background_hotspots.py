"""Background-contrast hotspots (geo.analysis.background) on data built in code."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.analysis.background import background_labels, find_background_hotspots
from geo.analysis.hotspots import COLUMNS
from geo.errors import InputError

CRS = "EPSG:4547"
X0, Y0 = 500_000.0, 3_418_000.0


def uniform(rng: np.random.Generator, n: int, side_m: float = 1500.0) -> np.ndarray:
    return rng.uniform([X0, Y0], [X0 + side_m, Y0 + side_m], (n, 2))


def street(rng: np.random.Generator, n: int, centre: np.ndarray, *, length_m: float,
           width_m: float, angle_deg: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    u = rng.uniform(-length_m / 2, length_m / 2, n)
    v = rng.uniform(-width_m / 2, width_m / 2, n)
    return centre + np.c_[u * np.cos(a) - v * np.sin(a), u * np.sin(a) + v * np.cos(a)]


def sides(poly: shapely.Geometry) -> tuple[float, float]:
    """Short and long side of the minimum rotated rectangle."""
    c = np.asarray(shapely.minimum_rotated_rectangle(poly).exterior.coords)
    e = sorted([float(np.hypot(*(c[1] - c[0]))), float(np.hypot(*(c[2] - c[1])))])
    return e[0], e[1]


def to_cases(xy: np.ndarray) -> gpd.GeoDataFrame:
    n = len(xy)
    t = pd.Timestamp("2026-05-01 08:00", tz="Asia/Shanghai") + pd.to_timedelta(
        np.arange(n) % 60, "D")  # every case at 08:00, over two months
    g = gpd.GeoDataFrame({"case_id": np.arange(n).astype(str), "category": "09006",
                          "reported_at": t}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
                         crs=CRS)
    return g.to_crs("EPSG:4326")


def test_street_in_heavy_background_is_one_thin_polygon() -> None:
    rng = np.random.default_rng(7)
    centre = np.array([X0 + 750.0, Y0 + 750.0])
    lane = street(rng, 400, centre, length_m=200, width_m=15, angle_deg=30)
    bg = uniform(rng, 20_000)  # about 0.9 cases per 10 m cell: 20,000 of 20,400 are background
    res = background_labels(np.vstack([lane, bg]))
    assert len(res.polygons) == 1
    poly = res.polygons[0]
    assert poly.contains(shapely.Point(centre))
    short, long = sides(poly)
    assert 180 <= long <= 240
    assert short <= 40, f"street polygon {short:.0f} m wide for a 15 m lane"
    assert long / short >= 5
    assert poly.area <= 2.5 * 200 * 15
    in_lane = res.labels[:400] == 0
    assert in_lane.mean() >= 0.95  # the lane's cases are in it ...
    assert (res.labels[400:] == 0).sum() <= 80  # ... and few background cases


def test_two_compact_hotspots_200_m_apart_stay_two() -> None:
    rng = np.random.default_rng(3)
    a = np.array([X0 + 650.0, Y0 + 750.0])
    b = a + np.array([200.0, 0.0])
    xy = np.vstack([a + rng.normal(0, 15, (400, 2)), b + rng.normal(0, 15, (250, 2)),
                    uniform(rng, 20_000)])
    res = background_labels(xy)
    assert len(res.polygons) == 2
    tree = shapely.STRtree(res.polygons)
    hit_a = tree.query(shapely.Point(a), predicate="within")
    hit_b = tree.query(shapely.Point(b), predicate="within")
    assert len(hit_a) == 1 and len(hit_b) == 1 and hit_a[0] != hit_b[0]
    assert not res.polygons[0].intersects(res.polygons[1])


def test_adjacent_hotspots_split_at_the_saddle() -> None:
    """Two strong markets 90 m apart whose tails touch are split by the watershed."""
    rng = np.random.default_rng(5)
    a = np.array([X0 + 700.0, Y0 + 750.0])
    b = a + np.array([90.0, 0.0])
    xy = np.vstack([a + rng.normal(0, 12, (600, 2)), b + rng.normal(0, 12, (600, 2)),
                    uniform(rng, 20_000)])
    res = background_labels(xy)
    assert len(res.polygons) == 2
    major_a = np.bincount(res.labels[:600] + 1).argmax() - 1
    major_b = np.bincount(res.labels[600:1200] + 1).argmax() - 1
    assert {int(major_a), int(major_b)} == {0, 1}
    assert (res.labels[:600] == major_a).mean() >= 0.9
    assert (res.labels[600:1200] == major_b).mean() >= 0.9


@pytest.mark.parametrize("seed", range(5))
def test_uniform_background_alone_has_no_hotspot(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n in (5_000, 50_000):
        assert len(background_labels(uniform(rng, n)).polygons) == 0


@pytest.mark.parametrize("seed", range(3))
def test_gradient_background_has_no_hotspot_in_the_dense_part(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # density rises five-fold from west to east over 3 km (rejection sampling)
    c = rng.uniform([X0, Y0], [X0 + 3000, Y0 + 2000], (200_000, 2))
    w = 1 + 4 * (c[:, 0] - X0) / 3000
    xy = c[rng.random(len(c)) * 5 < w]
    res = background_labels(xy)
    assert len(res.polygons) == 0
    # a weak patch (4x the local density, 100 m wide) in the dense east is still found
    centre = np.array([X0 + 2600.0, Y0 + 1000.0])
    local = len(xy) / (3000 * 2000) * (1 + 4 * 2600 / 3000) / 3.0  # cases per m2 there
    m = rng.poisson(3 * local * np.pi * 50**2)
    r, a = 50 * np.sqrt(rng.random(m)), rng.uniform(0, 2 * np.pi, m)
    patch = centre + np.c_[r * np.cos(a), r * np.sin(a)]
    res = background_labels(np.vstack([patch, xy]))
    assert len(res.polygons) == 1 and res.polygons[0].contains(shapely.Point(centre))


def test_frame_has_the_find_hotspots_columns() -> None:
    rng = np.random.default_rng(11)
    centre = np.array([X0 + 750.0, Y0 + 750.0])
    xy = np.vstack([street(rng, 300, centre, length_m=200, width_m=15, angle_deg=100),
                    uniform(rng, 10_000)])
    out = find_background_hotspots(to_cases(xy), working_crs=CRS)
    assert list(out.columns[: len(COLUMNS) - 1]) == COLUMNS[:-1]
    assert {"expected_cases", "excess_ratio", "p_min"} <= set(out.columns)
    assert out.crs == CRS and len(out) == 1
    row = out.iloc[0]
    assert row["hotspot_id"] == "H01" and 280 <= row["case_count"] <= 330
    assert row["excess_ratio"] > 5 and row["p_min"] < 0.05
    assert row["area_m2"] == pytest.approx(out.geometry.iloc[0].area)
    assert row["peak_hours"]  # the time profile is filled


def test_too_few_cases_or_one_cell_give_an_empty_frame() -> None:
    rng = np.random.default_rng(0)
    few = find_background_hotspots(to_cases(uniform(rng, 9)), working_crs=CRS)
    assert len(few) == 0 and list(few.columns[: len(COLUMNS) - 1]) == COLUMNS[:-1]
    one_cell = np.full((500, 2), [X0 + 1.0, Y0 + 1.0]) + rng.uniform(0, 5, (500, 2))
    empty = find_background_hotspots(to_cases(one_cell), working_crs=CRS)
    assert len(empty) == 0 and "geometry" in empty.columns
    assert len(background_labels(np.empty((0, 2))).polygons) == 0


def test_bad_input_raises_input_error() -> None:
    rng = np.random.default_rng(0)
    xy = uniform(rng, 100)
    with pytest.raises(InputError, match="cell_m"):
        background_labels(xy, cell_m=0)
    with pytest.raises(InputError, match="alpha"):
        background_labels(xy, alpha=1.5)
    with pytest.raises(InputError, match="有限"):
        background_labels(np.vstack([xy, [[np.nan, 0.0]]]))
    with pytest.raises(InputError, match="范围太大"):
        background_labels(np.array([[0.0, 0.0], [1e6, 1e6]] * 10), cell_m=10)
    with pytest.raises(InputError):
        find_background_hotspots(to_cases(xy).iloc[:0], working_crs=CRS)
