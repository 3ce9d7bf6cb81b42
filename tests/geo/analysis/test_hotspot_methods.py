"""find_hotspots dispatches to the background method by default; options fit their method."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import geo.analysis as analysis
from geo.analysis.background import EXTRA_COLUMNS, find_background_hotspots
from geo.analysis.frame import COLUMNS
from geo.analysis.hotspots import METHODS, cluster_cases, find_hotspots, label_points
from geo.crs import to_working
from geo.errors import InputError

CRS = "EPSG:4547"
X0, Y0 = 560_000.0, 3_425_000.0


def cases(seed: int = 0) -> gpd.GeoDataFrame:
    """Dense background (12,000 cases over 2 km) plus a 200 m x 12 m lane of 300 stalls."""
    rng = np.random.default_rng(seed)
    bg = rng.uniform([X0 - 1000, Y0 - 1000], [X0 + 1000, Y0 + 1000], (12_000, 2))
    lane = np.c_[X0 + rng.uniform(-100, 100, 300), Y0 + rng.uniform(-6, 6, 300)]
    xy = np.vstack([bg, lane])
    t = pd.Timestamp("2024-03-01 07:00", tz="Asia/Shanghai") + pd.to_timedelta(
        np.arange(len(xy)) % 90, "D")
    g = gpd.GeoDataFrame({"case_id": np.arange(len(xy)).astype(str), "category": "09006",
                          "reported_at": t}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
                         crs=CRS)
    return g.to_crs("EPSG:4326")


def test_methods_tuple_default_first_and_exported() -> None:
    assert METHODS == ("background", "hdbscan", "dbscan")
    assert analysis.METHODS is METHODS and analysis.find_hotspots is find_hotspots
    assert set(analysis.__all__) >= {"find_hotspots", "METHODS", "hotspots_to_geojson",
                                     "gi_star", "tag_hotspots", "emerging_hotspots"}


def test_default_is_the_background_method_with_its_columns() -> None:
    c = cases()
    hs = find_hotspots(c, working_crs=CRS, gi_cell_m=None)
    ref = find_background_hotspots(c, working_crs=CRS, gi_cell_m=None)
    assert list(hs.columns) == [x for x in COLUMNS if x != "geometry"] + EXTRA_COLUMNS + [
        "geometry"]
    assert len(hs) == len(ref) == 1
    assert hs.geometry.iloc[0].equals(ref.geometry.iloc[0])
    # the lane stays a strip: 3 m buffer, not the 20 m convex-hull disc of hdbscan
    assert hs.geometry.iloc[0].contains(shapely.Point(X0, Y0))
    assert hs["area_m2"].iloc[0] < 200 * 40


def test_hdbscan_is_still_available_and_draws_a_wider_polygon() -> None:
    c = cases()
    hd = find_hotspots(c, method="hdbscan", working_crs=CRS, gi_cell_m=None)
    assert len(hd) >= 1 and "p_min" not in hd.columns
    bgd = find_hotspots(c, working_crs=CRS, gi_cell_m=None)
    assert hd["area_m2"].max() > bgd["area_m2"].iloc[0]


def test_unknown_method_and_clustering_options_with_background_are_errors() -> None:
    c = cases()
    with pytest.raises(InputError, match="background"):
        find_hotspots(c, method="kmeans")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="min_samples"):
        find_hotspots(c, min_samples=5)
    with pytest.raises(InputError, match="merge_gap_m"):
        find_hotspots(c, merge_gap_m=10.0)
    assert len(find_hotspots(c, method="hdbscan", min_samples=5, merge_gap_m=10.0,
                             working_crs=CRS, gi_cell_m=None)) >= 1


def test_min_cases_and_buffer_reach_the_background_method() -> None:
    c = cases()
    assert find_hotspots(c, min_cases=400, working_crs=CRS, gi_cell_m=None).empty
    thin = find_hotspots(c, working_crs=CRS, gi_cell_m=None)
    wide = find_hotspots(c, buffer_m=15.0, working_crs=CRS, gi_cell_m=None)
    assert wide["area_m2"].iloc[0] > thin["area_m2"].iloc[0]


def test_cluster_cases_and_label_points_accept_background() -> None:
    c = cases().set_index("case_id")
    lab = cluster_cases(c, working_crs=CRS)
    assert lab.index.equals(c.index)
    assert (lab.iloc[-300:] == 0).mean() > 0.8 and (lab.iloc[:12_000] >= 0).mean() < 0.01
    raw = label_points(to_working(c, crs=CRS), method="background")
    assert np.array_equal(raw, lab.to_numpy())
    hd = cluster_cases(c, method="hdbscan", working_crs=CRS)
    assert (hd.iloc[-300:] >= 0).mean() > 0.8
