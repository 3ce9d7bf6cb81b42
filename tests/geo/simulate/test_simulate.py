"""Tests of geo.simulate.generator: the simulated year of cases for the embedded Xiaonan default."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.boundaries import DefaultArea, assign_community, load_default
from geo.errors import InputError
from geo.simulate.generator import simulate_cases


@pytest.fixture(scope="module")
def area() -> DefaultArea:
    return load_default()


@pytest.fixture(scope="module")
def sim(area: DefaultArea) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    return simulate_cases(area)


def test_deterministic_for_a_seed(area: DefaultArea, sim: tuple) -> None:
    again, hot_again = simulate_cases(area)
    assert again.equals(sim[0])
    assert hot_again.drop(columns="geometry").equals(sim[1].drop(columns="geometry"))
    other, _ = simulate_cases(area, seed=7, days=30)
    assert not other["lon"].head(50).equals(sim[0]["lon"].head(50))


def test_volume_columns_and_labels(sim: tuple) -> None:
    cases, _ = sim
    assert 15_000 <= len(cases) <= 40_000
    for col in ("case_id", "category", "category_name", "reported_at", "lon", "lat",
                "description", "address", "source", "status", "closed_at", "community",
                "community_code", "squad", "simulated"):
        assert col in cases.columns
    assert cases["case_id"].is_unique
    assert str(cases["reported_at"].dt.tz) == "Asia/Shanghai"
    assert cases["reported_at"].is_monotonic_increasing
    start = pd.Timestamp("2025-12-01", tz="Asia/Shanghai")
    assert cases["reported_at"].min() >= start
    assert cases["reported_at"].max() < start + pd.Timedelta(days=365)
    assert cases["simulated"].all()
    assert cases["description"].str.startswith("［模拟］").all()
    assert set(cases["source"]) == {"巡查发现", "12345热线", "数字城管"}
    assert set(cases["category"]) == {"09006", "09001", "09005", "09002", "06001", "08016",
                                      "06036", "06045", "06028", "06040", "09004"}
    assert (cases.loc[cases["category"] == "09006", "category_name"] == "占道经营").all()
    assert cases["address"].str.startswith("孝感市孝南区").all()


def test_days_scale_the_volume(area: DefaultArea, sim: tuple) -> None:
    month, _ = simulate_cases(area, start="2026-04-01", days=30)
    per_day_year = len(sim[0]) / 365
    assert 0.6 * per_day_year * 30 < len(month) < 1.6 * per_day_year * 30
    assert month["reported_at"].min() >= pd.Timestamp("2026-04-01", tz="Asia/Shanghai")


def test_stall_cases_concentrate_in_market_hours(sim: tuple) -> None:
    cases, hot = sim
    stalls = cases[cases["category"].isin(["09006", "09002"])]
    hour = stalls["reported_at"].dt.hour
    in_windows = ((hour >= 6) & (hour < 9)) | ((hour >= 18) & (hour < 22))
    assert in_windows.mean() > 0.85
    morning_ids = set(hot.loc[hot["kind"] == "morning_market", "hotspot_id"])
    m_hours = cases.loc[cases["hotspot_id"].isin(morning_ids), "reported_at"].dt.hour
    assert len(m_hours) > 2000 and m_hours.between(6, 8).all()
    night_ids = set(hot.loc[(hot["kind"] == "night_market") & (hot["category"] == "09006"),
                            "hotspot_id"])
    assert cases.loc[cases["hotspot_id"].isin(night_ids), "reported_at"].dt.hour.between(18, 21).all()
    noise = cases.loc[cases["category"] == "06028", "reported_at"].dt.hour
    assert (noise >= 19).mean() > 0.6


def test_green_space_cases_peak_in_spring_and_summer(sim: tuple) -> None:
    cases, _ = sim
    month = cases.loc[cases["category"] == "06045", "reported_at"].dt.month
    warm = month.isin([3, 4, 5, 6, 7, 8]).sum() / 6
    cold = month.isin([11, 12, 1, 2]).sum() / 4
    assert warm > 4 * cold


def test_weekly_pattern_and_school_gates(sim: tuple) -> None:
    cases, hot = sim
    school_ids = set(hot.loc[hot["kind"] == "school", "hotspot_id"])
    school = cases[cases["hotspot_id"].isin(school_ids)]
    assert len(school) > 500
    assert (school["reported_at"].dt.day_of_week < 5).all()
    markets = cases[cases["hotspot_id"].isin(set(hot.loc[hot["kind"] == "morning_market",
                                                         "hotspot_id"]))]
    dow = markets["reported_at"].dt.day_of_week
    assert (dow >= 5).sum() / 2 > 1.2 * (dow < 5).sum() / 5


def test_all_points_inside_the_communities(area: DefaultArea, sim: tuple) -> None:
    cases, _ = sim
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(cases["lon"], cases["lat"]), crs=4326)
    joined = assign_community(pts, area.communities)
    assert joined["community_code"].notna().all()
    assert (joined["community_code"].to_numpy() == cases["community_code"].to_numpy()).all()
    assert cases["squad"].value_counts().min() > 1000
    assert cases["community"].nunique() == 53


def test_status_mostly_closed_recent_ones_open(sim: tuple) -> None:
    cases, _ = sim
    closed = cases["status"].isin(["结案", "作废"])
    assert (cases["status"] == "结案").mean() > 0.9
    assert closed.sum() < len(cases)
    assert cases.loc[~closed, "status"].nunique() == 5  # 上报 立案 派遣 处置 核查
    end = pd.Timestamp("2026-12-01", tz="Asia/Shanghai")
    assert cases.loc[~closed, "reported_at"].min() > end - pd.Timedelta(days=46)
    assert cases.loc[closed, "closed_at"].notna().all()
    assert cases.loc[~closed, "closed_at"].isna().all()
    assert (cases.loc[closed, "closed_at"] >= cases.loc[closed, "reported_at"]).all()
    assert (cases.loc[closed, "closed_at"] <= end).all()


def test_ground_truth_hotspots(sim: tuple) -> None:
    cases, hot = sim
    assert hot.crs.to_epsg() == 4326
    assert hot["simulated"].all() and hot["hotspot_id"].is_unique
    assert {"persistent", "emerging", "fading"} <= set(hot["trend"])
    assert hot.loc[hot["kind"] == "morning_market", "active_hours"].eq("06:00-09:00").all()
    assert hot.loc[hot["kind"] == "green_space", "season"].eq("春夏").all()
    counted = cases["hotspot_id"].value_counts()
    assert (hot.set_index("hotspot_id")["case_count"] == counted.reindex(hot["hotspot_id"])
            .fillna(0).to_numpy()).all()
    assert 0.5 < cases["hotspot_id"].notna().mean() < 0.9  # background noise exists
    # most hotspot cases fall within the hotspot's circle
    withid = cases[cases["hotspot_id"].notna()]
    pts = gpd.GeoSeries(gpd.points_from_xy(withid["lon"], withid["lat"]), crs=4326)
    polys = hot.set_index("hotspot_id").geometry.reindex(withid["hotspot_id"]).to_numpy()
    inside = shapely.within(pts.to_numpy(), polys)
    assert inside.mean() > 0.8


def test_trends_show_in_the_counts(sim: tuple) -> None:
    cases, hot = sim
    day = (cases["reported_at"] - cases["reported_at"].min()).dt.days
    q = (day // 91).clip(upper=3)
    first, last = 0, 3
    for trend, sign in (("emerging", 1), ("fading", -1)):
        ids = set(hot.loc[(hot["trend"] == trend) & (hot["season"] == "全年"), "hotspot_id"])
        sub = cases[cases["hotspot_id"].isin(ids)]
        diff = (q[sub.index] == last).sum() - (q[sub.index] == first).sum()
        assert sign * diff > 0, trend


def test_bad_arguments(area: DefaultArea) -> None:
    with pytest.raises(InputError, match="days"):
        simulate_cases(area, days=0)
    with pytest.raises(InputError, match="开始日期"):
        simulate_cases(area, start="not a date")
