"""Siting inputs and the GeoDataFrame adapter: demand, candidates, exclusions, scenarios, map."""

from __future__ import annotations

import math

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import points
from shapely.geometry import LineString, Point, box

from geo.errors import InputError
from geo.maps.siting import siting_layer
from geo.siting.frames import (
    compare_scenarios,
    coverage_curve,
    site_relocation_points,
    siting_geojson_frames,
    siting_tables,
)
from geo.siting.inputs import apply_exclusions, candidate_grid, stall_demand

CRS = "EPSG:4547"
X0, Y0 = 500_000.0, 3_420_000.0  # inside CGCS2000 zone 38 (Xiaogan)


def _cases(rows: list[tuple[float, float, str, str]]) -> gpd.GeoDataFrame:
    """Cases from (dx, dy, category, reported_at) in metres from (X0, Y0), returned in WGS84."""
    xy = np.array([(X0 + r[0], Y0 + r[1]) for r in rows])
    gdf = gpd.GeoDataFrame(
        {"case_id": [f"c{i}" for i in range(len(rows))], "category": [r[2] for r in rows],
         "reported_at": pd.to_datetime([r[3] for r in rows]).tz_localize("Asia/Shanghai")},
        geometry=points(xy[:, 0], xy[:, 1]), crs=CRS)
    return gdf.to_crs("EPSG:4326")


def test_stall_demand_weights_recency_and_market_hours() -> None:
    cases = _cases([
        (10, 10, "09006", "2026-06-01 07:00"),   # market hour, 30 days old
        (30, 30, "09001", "2026-07-01 07:30"),   # market hour, same day (half a day old)
        (20, 40, "09005", "2026-06-01 12:00"),   # off-market, 30 days old
        (260, 10, "09002", "2026-07-01 19:00"),  # another cell, night market
        (15, 15, "06001", "2026-07-01 07:00"),   # not a stall case
        (15, 15, "09006", "2026-07-02 07:00"),   # after `at`
        (15, 15, "09006", "2024-01-01 07:00"),   # outside the 365-day window
    ])
    d = stall_demand(cases, at="2026-07-01 19:30", half_life_days=30.0, crs=CRS)
    assert len(d) == 2 and str(d.crs) == CRS
    d = d.sort_values("case_count", ascending=False).reset_index(drop=True)
    assert d["case_count"].tolist() == [3, 1]
    def age(t: str) -> float:
        return (pd.Timestamp("2026-07-01 19:30") - pd.Timestamp(t)) / pd.Timedelta(days=1)

    w_old = 0.5 ** (age("2026-06-01 07:00") / 30.0)
    w_new = 0.5 ** (age("2026-07-01 07:30") / 30.0)
    w_off = 0.5 ** (age("2026-06-01 12:00") / 30.0) * 0.5
    assert d.loc[0, "weight"] == pytest.approx(w_old + w_new + w_off, rel=1e-6)
    assert d.loc[0, "market_share"] == pytest.approx(2 / 3)
    cx = (w_old * 10 + w_new * 30 + w_off * 20) / (w_old + w_new + w_off)
    assert d.geometry.x[0] - X0 == pytest.approx(cx, abs=0.01)
    with pytest.raises(InputError, match="没有摊贩类案件"):
        stall_demand(cases, at="2020-01-01", crs=CRS)


def test_candidate_grid_fills_the_area() -> None:
    area = gpd.GeoSeries([box(X0, Y0, X0 + 1000, Y0 + 600)], crs=CRS)
    g = candidate_grid(area, spacing_m=100.0)
    assert len(g) == 60 and g["candidate_id"].is_unique
    assert g.geometry.x.min() == pytest.approx(X0 + 50) and g.geometry.y.max() == pytest.approx(
        Y0 + 550)
    with pytest.raises(InputError, match="spacing_m"):
        candidate_grid(area, spacing_m=0)


def test_exclusions_measure_distances() -> None:
    cand = gpd.GeoDataFrame({"candidate_id": list("abcdefg")}, geometry=points(
        [X0 + 99, X0 + 101, X0 + 300, X0 + 300, X0 + 700, X0 + 2000, X0 + 400],
        [Y0, Y0, Y0 + 510, Y0 + 520, Y0 + 50, Y0, Y0 + 300]), crs=CRS)
    schools = gpd.GeoDataFrame(geometry=[Point(X0, Y0)], crs=CRS).to_crs("EPSG:4326")
    road = gpd.GeoSeries([LineString([(X0 - 100, Y0 + 500), (X0 + 1000, Y0 + 500)])], crs=CRS)
    green = gpd.GeoSeries([box(X0 + 650, Y0, X0 + 750, Y0 + 100)], crs=CRS)
    area = gpd.GeoSeries([box(X0 - 200, Y0 - 200, X0 + 1000, Y0 + 1000)], crs=CRS)
    kept, out = apply_exclusions(cand, schools=schools, main_roads=road, road_buffer_m=15,
                                 green=green, service_area=area)
    assert sorted(kept["candidate_id"]) == ["b", "d", "g"]
    reasons = dict(zip(out["candidate_id"], out["reason"], strict=True))
    assert "学校" in reasons["a"] and "主干道" in reasons["c"] and "绿地" in reasons["e"]
    assert "辖区外" in reasons["f"]
    kept2, _ = apply_exclusions(cand, schools=schools, school_buffer_m=50)
    assert "a" in set(kept2["candidate_id"])
    with pytest.raises(InputError, match="所有 7 个候选点都被排除"):
        apply_exclusions(cand, service_area=gpd.GeoSeries([box(0, 0, 1, 1)], crs=CRS))


def _two_clusters() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 60, (30, 2)) + np.array([X0 + 500, Y0 + 500])
    b = rng.normal(0, 60, (20, 2)) + np.array([X0 + 2500, Y0 + 500])
    xy = np.vstack([a, b])
    demand = gpd.GeoDataFrame({"demand_id": [f"d{i}" for i in range(50)],
                               "weight": np.r_[np.full(30, 2.0), np.ones(20)],
                               "case_count": np.full(50, 3)},
                              geometry=points(xy[:, 0], xy[:, 1]), crs=CRS)
    cand = candidate_grid(gpd.GeoSeries([box(X0, Y0, X0 + 3000, Y0 + 1000)], crs=CRS),
                          spacing_m=100)
    return demand, cand


def test_site_relocation_points_serves_both_clusters() -> None:
    demand, cand = _two_clusters()
    sites = site_relocation_points(demand, cand, sites=2, radius_m=500)
    s = sites.attrs["summary"]
    assert s["optimal"] and s["covered_share"] == pytest.approx(1.0)
    assert sorted(sites["served_weight"]) == pytest.approx([20.0, 60.0])
    assert sites["served_points"].sum() == 50 and sites["served_cases"].sum() == 150
    assert sites["vendors_estimate"].sum() == 50
    assert (sites["mean_walk_m"] <= 500).all()
    area = gpd.GeoSeries(sites["catchment"], crs=CRS).area
    assert area.to_numpy() == pytest.approx(math.pi * (500 / 1.3) ** 2, rel=0.01)
    assert set(sites.attrs["assignment"].values()) == set(sites["candidate_id"])
    one = site_relocation_points(demand, cand, sites=1, radius_m=500)
    assert one.attrs["summary"]["covered_weight"] == pytest.approx(60.0)


class _DoubleTravel:
    """A network-like travel model: every walk is twice the straight line."""

    def distance_matrix_m(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return 2.0 * np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])


def test_travel_duck_type_shapes_catchment_and_coverage() -> None:
    demand, cand = _two_clusters()
    sites = site_relocation_points(demand, cand, sites=1, radius_m=300, travel=_DoubleTravel())
    area = float(gpd.GeoSeries(sites["catchment"], crs=CRS).area.iloc[0])
    assert area == pytest.approx(math.pi * 150.0**2, rel=0.2)
    assert sites.attrs["summary"]["distance"] == "network"
    straight = site_relocation_points(demand, cand, sites=1, radius_m=300, circuity=1.0)
    assert sites.attrs["summary"]["covered_weight"] < straight.attrs["summary"]["covered_weight"]


def test_curve_comparison_tables_and_map() -> None:
    demand, cand = _two_clusters()
    curve = coverage_curve(demand, cand, k_max=3, radius_m=300)
    assert curve.index.tolist() == [1, 2, 3]
    assert curve["covered_share"].is_monotonic_increasing and curve["optimal"].all()
    assert curve["marginal_share"].sum() == pytest.approx(curve["covered_share"].iloc[-1])
    a = site_relocation_points(demand, cand, sites=1, radius_m=300)
    b = site_relocation_points(demand, cand, sites=3, radius_m=300)
    cmp = compare_scenarios(a, b, names=("3点", "5点"))
    assert list(cmp.columns) == ["3点", "5点", "差值"]
    assert cmp.loc["点位数", "差值"] == 2
    assert cmp.loc["覆盖率", "5点"] == pytest.approx(curve.loc[3, "covered_share"])
    sheets = siting_tables(b)
    assert set(sheets) == {"疏导点", "方案概况"} and len(sheets["疏导点"]) == 3
    assert sheets["疏导点"]["经度"].between(113, 115).all()
    pts, areas = siting_geojson_frames(b)
    assert str(pts.crs) == "EPSG:4326" and areas.geom_type.eq("Polygon").all()
    b["candidate_id"] = ["<script>alert(1)</script>", "b", "c"]
    m = folium.Map(location=[30.9, 113.9])
    siting_layer(b, name="<b>层</b>").add_to(m)
    html = m.get_root().render()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_adapter_bad_input() -> None:
    demand, cand = _two_clusters()
    with pytest.raises(InputError, match="少于要选的点数"):
        site_relocation_points(demand, cand.iloc[:2], sites=3)
    with pytest.raises(InputError, match="没有候选点"):
        site_relocation_points(demand, cand.iloc[:0], sites=1)
    with pytest.raises(InputError, match="没有任何需求点与候选点配对"):
        site_relocation_points(demand, cand, sites=1, radius_m=1.0)
    neg = demand.assign(weight=-1.0)
    with pytest.raises(InputError, match="≥ 0"):
        site_relocation_points(neg, cand, sites=1)
    with pytest.raises(InputError, match=r"投影坐标系|地理坐标系"):
        site_relocation_points(demand.to_crs("EPSG:4326"), cand, sites=1)
