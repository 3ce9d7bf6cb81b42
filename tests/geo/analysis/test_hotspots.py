"""Density hotspots: planted clusters are found, noise is not, edge cases do not crash."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sklearn.cluster import HDBSCAN
from sklearn.metrics import adjusted_rand_score

from geo.analysis.clustering import aggregate_to_grid, density_labels, merge_close_clusters
from geo.analysis.hotspots import (
    cluster_cases,
    find_hotspots,
    hotspots_to_geojson,
    resolve_category,
)
from geo.errors import InputError

CRS = "EPSG:4547"
X0, Y0 = 560_000.0, 3_425_000.0
TZ = "Asia/Shanghai"


def make_cases(seed: int = 0, n_noise: int = 3000, n_hot: int = 300,
               centre: tuple[float, float] = (X0, Y0), sigma_m: float = 30.0,
               hot_category: str = "09006") -> gpd.GeoDataFrame:
    """Uniform noise over 6 km x 6 km plus one planted market with morning/evening peaks."""
    rng = np.random.default_rng(seed)
    x = np.r_[rng.uniform(X0 - 3000, X0 + 3000, n_noise), centre[0] + rng.normal(0, sigma_m, n_hot)]
    y = np.r_[rng.uniform(Y0 - 3000, Y0 + 3000, n_noise), centre[1] + rng.normal(0, sigma_m, n_hot)]
    day = pd.Timestamp("2024-03-01", tz=TZ) + pd.to_timedelta(
        rng.integers(0, 120, n_noise + n_hot), unit="D")
    hours = np.r_[rng.uniform(0, 24, n_noise),
                  np.where(rng.random(n_hot) < 0.6, rng.uniform(6, 9, n_hot),
                           rng.uniform(18, 22, n_hot))]
    cats = np.r_[rng.choice(["06036", "06028"], n_noise), np.full(n_hot, hot_category)]
    gdf = gpd.GeoDataFrame(
        {"case_id": [f"c{i}" for i in range(n_noise + n_hot)], "category": cats,
         "reported_at": day + pd.to_timedelta(hours, unit="h")},
        geometry=gpd.points_from_xy(x, y), crs=CRS)
    return gdf.to_crs("EPSG:4326")


def test_planted_cluster_is_found_with_its_properties() -> None:
    cases = make_cases()
    hs = find_hotspots(cases)
    assert len(hs) == 1
    h = hs.iloc[0]
    assert h["hotspot_id"] == "H01"
    assert h.geometry.contains(shapely.Point(X0, Y0))
    assert 200 <= h["case_count"] <= 330  # most of the market's 300 cases, few background ones
    assert h["dominant_category"] == "09006" and h["category_mix"]["09006"] > 0.9
    assert h["peak_windows"] == [[6, 9], [18, 22]]
    assert h["peak_hours"] == "06:00–09:00, 18:00–22:00"
    assert len(h["weekday_profile"]) == 7 and abs(sum(h["weekday_profile"]) - 1) < 1e-3
    assert h["first_seen"] < h["last_seen"]
    assert h["gi_confidence"] == 99 and h["gi_significant"]
    assert h["area_m2"] == pytest.approx(h.geometry.area)
    assert h["density_per_ha"] == pytest.approx(h["case_count"] / h["area_m2"] * 1e4)
    assert 114.0 < h["center_lon"] < 115.0


def test_category_filter_and_groups() -> None:
    cases = make_cases()
    assert len(find_hotspots(cases, category="stall")) == 1
    assert len(find_hotspots(cases, category=["09006", "09001"])) == 1
    assert find_hotspots(cases, category="06036").empty  # background only: no hotspot
    with pytest.raises(InputError, match="09002"):
        find_hotspots(cases, category="09002")
    assert resolve_category("摊点")[1] == ("09006", "09001", "09005", "09002")


def test_dbscan_finds_the_same_market() -> None:
    hs = find_hotspots(make_cases(), method="dbscan")
    assert len(hs) == 1 and hs.geometry.iloc[0].contains(shapely.Point(X0, Y0))


def test_uniform_noise_gives_no_hotspot() -> None:
    cases = make_cases(n_hot=0, n_noise=5000)
    assert find_hotspots(cases).empty
    assert find_hotspots(cases, method="dbscan").empty


def test_recency_score_ranks_recent_market_first() -> None:
    old = make_cases(seed=1, n_noise=0, centre=(X0, Y0))
    new = make_cases(seed=2, n_noise=0, centre=(X0 + 2000, Y0))
    new["reported_at"] = new["reported_at"] + pd.Timedelta(days=200)
    cases = pd.concat([old, new], ignore_index=True)
    hs = find_hotspots(cases, gi_cell_m=None)
    assert len(hs) == 2
    first = hs.to_crs(CRS).geometry.iloc[0]
    assert first.contains(shapely.Point(X0 + 2000, Y0))
    assert hs["recency_score"].iloc[0] > 50 * hs["recency_score"].iloc[1]


def test_empty_single_and_one_point_inputs() -> None:
    cases = make_cases()
    with pytest.raises(InputError):
        find_hotspots(cases.iloc[:0])
    assert find_hotspots(cases.iloc[:1]).empty  # one case: documented empty result
    one = cases.iloc[:40].copy()
    one["geometry"] = shapely.Point(114.6, 30.9)
    hs = find_hotspots(one, method="hdbscan")
    assert len(hs) == 1 and hs["case_count"].iloc[0] == 40
    assert hs["area_m2"].iloc[0] == pytest.approx(np.pi * 20**2, rel=0.03)


def test_without_times_spatial_part_still_works() -> None:
    cases = make_cases().drop(columns=["reported_at"])
    hs = find_hotspots(cases)
    assert len(hs) == 1
    assert hs["peak_hours"].iloc[0] == "" and np.isnan(hs["recency_score"].iloc[0])
    fc = hotspots_to_geojson(hs)
    assert fc["features"][0]["properties"]["first_seen"] is None


def test_missing_crs_is_an_error() -> None:
    cases = make_cases()
    with pytest.raises(InputError):
        find_hotspots(gpd.GeoDataFrame(cases.drop(columns="geometry"), geometry=list(
            cases.geometry)))


def test_geojson_is_wgs84_polygons() -> None:
    fc = hotspots_to_geojson(find_hotspots(make_cases()))
    feat = fc["features"][0]
    assert feat["geometry"]["type"] == "Polygon"
    lon, lat = feat["geometry"]["coordinates"][0][0]
    assert 114 < lon < 115 and 30 < lat < 32
    for key in ("hotspot_id", "case_count", "category", "peak_hours"):
        assert key in feat["properties"]


def test_cluster_cases_aligned_to_index() -> None:
    cases = make_cases().set_index("case_id")
    lab = cluster_cases(cases, min_cases=20)
    assert lab.index.equals(cases.index)
    assert (lab.iloc[-300:] == 0).mean() > 0.7 and (lab.iloc[:3000] == 0).mean() < 0.02


def test_grid_hdbscan_agrees_with_sklearn() -> None:
    rng = np.random.default_rng(5)
    cen = rng.uniform(0, 5000, (8, 2))
    pts = np.vstack([cen[rng.integers(0, 8, 3000)] + rng.normal(0, 40, (3000, 2)),
                     rng.uniform(0, 5000, (2000, 2))])
    ours = density_labels(pts, min_cluster_size=30, min_samples=10, min_density_ratio=None)
    ref = HDBSCAN(min_cluster_size=30, min_samples=10, copy=True).fit_predict(pts)
    assert adjusted_rand_score(ref, ours) > 0.95


def test_grid_aggregation_and_merge() -> None:
    cells = aggregate_to_grid(np.array([[0.0, 0.0], [1.0, 1.0], [25.0, 0.0]]), cell_m=10)
    assert sorted(cells.counts.tolist()) == [1, 2]
    xy = np.array([[0, 0], [1, 0], [30, 0], [31, 0], [500, 0], [501, 0]], float)
    merged = merge_close_clusters(xy, np.array([0, 0, 1, 1, 2, 2]), gap_m=40)
    assert merged[0] == merged[2] != merged[4]


def test_background_method_gives_documented_empty_result_at_one_point() -> None:
    one = make_cases().iloc[:40].copy()
    one["geometry"] = shapely.Point(114.6, 30.9)
    hs = find_hotspots(one)  # default method: background — one grid cell, no background
    assert hs.empty
    assert list(hs.columns[:3]) == ["hotspot_id", "category", "case_count"]
    assert {"expected_cases", "excess_ratio", "p_min", "geometry"} <= set(hs.columns)
