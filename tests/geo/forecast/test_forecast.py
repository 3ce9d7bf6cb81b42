"""Cell forecasts: planted hotspots, time cut-off, ranks, areas, bad input."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import InputError
from geo.forecast.cells import DEFAULT_METHOD, METHODS, forecast_cells, rank_scores

AT = pd.Timestamp("2024-03-01", tz="Asia/Shanghai")
HOT = (114.0123, 30.9234)  # downtown Xiaogan


def _cases(n: int = 1500, n_hot: int = 150, seed: int = 0, days: int = 120) -> gpd.GeoDataFrame:
    """Uniform background over ~5 km plus a hotspot recurring every few days at one point."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2023-11-01", tz="Asia/Shanghai")
    t = t0 + pd.to_timedelta(rng.uniform(0, days, n), unit="D")
    lon = 113.99 + rng.uniform(0, 0.05, n)
    lat = 30.90 + rng.uniform(0, 0.05, n)
    lon[:n_hot] = HOT[0] + rng.normal(0, 0.0001, n_hot)
    lat[:n_hot] = HOT[1] + rng.normal(0, 0.0001, n_hot)
    return gpd.GeoDataFrame(
        {"case_id": [f"c{i}" for i in range(n)], "category": "09006", "reported_at": t},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def cases() -> gpd.GeoDataFrame:
    return _cases()


def _contains_hot(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
    hot = gpd.GeoSeries([shapely.Point(*HOT)], crs="EPSG:4326").to_crs(gdf.crs).iloc[0]
    return gdf.geometry.contains(hot)


@pytest.mark.parametrize("method", list(METHODS))
def test_planted_recurring_hotspot_ranks_first(cases: gpd.GeoDataFrame, method: str) -> None:
    out = forecast_cells(cases, at=AT, method=method)
    top = out.iloc[0]
    assert top["rank"] == 1
    assert bool(_contains_hot(out.iloc[[0]]).iloc[0]), f"{method} missed the hotspot"
    assert top["score"] > out["score"].iloc[1:].max()


def test_default_is_blend_and_scores_are_expected_counts(cases: gpd.GeoDataFrame) -> None:
    assert DEFAULT_METHOD == "blend"
    out = forecast_cells(cases, at=AT)
    # blend scores are Poisson rates fitted on past weeks: the total is about a week's cases
    weekly = (cases["reported_at"] < AT).sum() / ((AT - cases["reported_at"].min()).days / 7)
    assert 0.6 * weekly < out["score"].sum() < 1.4 * weekly


def test_grid_cells_ranks_and_crs(cases: gpd.GeoDataFrame) -> None:
    out = forecast_cells(cases, at=AT, cell_m=200)
    assert out.crs.to_epsg() == 4547  # CGCS2000 GK CM 114E, chosen from the data
    assert np.allclose(out.geometry.area, 200.0**2)
    assert sorted(out["rank"]) == list(range(1, len(out) + 1))
    assert out["rank"].is_monotonic_increasing
    assert out["score"].is_monotonic_decreasing
    assert out["cell_id"].is_unique
    # every training case lies in some cell (the area is the cases' convex hull)
    pts = cases[cases["reported_at"] < AT].to_crs(out.crs)
    assert pts.within(out.union_all().buffer(1e-6)).all()
    assert out.attrs["n_training"] == int((cases["reported_at"] < AT).sum())


def test_only_cases_before_at_are_used(cases: gpd.GeoDataFrame) -> None:
    base = forecast_cells(cases, at=AT, method="naive_all")
    # a burst at another point on and after `at` must change nothing
    far = (114.03, 30.94)
    burst = gpd.GeoDataFrame(
        {"case_id": [f"b{i}" for i in range(500)], "category": "x",
         "reported_at": AT + pd.to_timedelta(np.arange(500) * 60, unit="s")},
        geometry=[shapely.Point(*far)] * 500, crs="EPSG:4326",
    )
    more = pd.concat([cases, burst], ignore_index=True)
    for method in METHODS:
        a = forecast_cells(cases, at=AT, method=method)
        b = forecast_cells(more, at=AT, method=method)
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")),
                                      pd.DataFrame(b.drop(columns="geometry")))
    assert base["score"].sum() == (cases["reported_at"] < AT).sum()


def test_area_polygon_defines_the_cells(cases: gpd.GeoDataFrame) -> None:
    area = shapely.box(114.00, 30.91, 114.02, 30.93)
    out = forecast_cells(cases, at=AT, area=area)
    area_w = gpd.GeoSeries([area], crs="EPSG:4326").to_crs(out.crs).iloc[0]
    assert all(g.intersection(area_w).area > 0 for g in out.geometry)
    assert out.union_all().area >= area_w.area - 1e-6
    assert bool(_contains_hot(out.iloc[[0]]).iloc[0])


def test_naive_timestamps_and_naive_at() -> None:
    c = _cases(n=200, n_hot=40)
    c["reported_at"] = c["reported_at"].dt.tz_localize(None)
    out = forecast_cells(c, at="2024-03-01", method="naive_all")
    assert out["score"].sum() == (c["reported_at"] < pd.Timestamp("2024-03-01")).sum()


def test_single_case_and_all_at_one_point() -> None:
    one = _cases(n=1, n_hot=1)
    out = forecast_cells(one, at=AT)
    assert len(out) == 1 and out["rank"].tolist() == [1]
    same = _cases(n=50, n_hot=50)
    same.geometry = [shapely.Point(*HOT)] * 50
    for method in METHODS:
        res = forecast_cells(same, at=AT, method=method)
        assert len(res) == 1 and res["score"].iloc[0] > 0


def test_bad_input_gives_clear_errors(cases: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputError, match="没有案件"):
        forecast_cells(cases.iloc[:0], at=AT)
    with pytest.raises(InputError, match="之前没有任何案件"):
        forecast_cells(cases, at="2020-01-01")
    no_time = cases.copy()
    no_time.loc[no_time.index[:3], "reported_at"] = pd.NaT
    with pytest.raises(InputError, match="3 条案件没有有效的上报时间"):
        forecast_cells(no_time, at=AT)
    with pytest.raises(InputError, match="网格过大"):
        forecast_cells(cases, at=AT, cell_m=1.0, max_cells=1000)
    with pytest.raises(InputError, match="网格过大"):
        forecast_cells(cases, at=AT, cell_m=0.5)  # ~10k × 11k cells > 10 million
    with pytest.raises(InputError, match="未知的预测方法"):
        forecast_cells(cases, at=AT, method="magic")
    with pytest.raises(InputError, match="horizon_days"):
        forecast_cells(cases, at=AT, horizon_days=0)
    with pytest.raises(InputError, match="不是有效日期"):
        forecast_cells(cases, at="not a date")


def test_rank_scores_ties_go_to_lower_position() -> None:
    assert rank_scores(np.array([1.0, 3.0, 3.0, 0.0])).tolist() == [3, 1, 2, 4]
