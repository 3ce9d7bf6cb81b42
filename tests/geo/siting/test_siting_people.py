"""Siting results planners can act on: sites named by landmark and community, numbers rounded,
Chinese words for model, solver and distance, a demand layer and a 3-vs-5 comparison."""

from __future__ import annotations

import re

import folium
import geopandas as gpd
import numpy as np
import pytest
from shapely import points
from shapely.geometry import LineString, Point, box

from geo.errors import InputError
from geo.labels import distance_method_text, format_share, method_text, round_metres, solver_text
from geo.maps import comparison_map, siting_layer, siting_map
from geo.siting.district import name_sites
from geo.siting.frames import locate_relocation_points, siting_tables
from geo.siting.inputs import candidate_grid
from geo.siting.result import RelocationSites, compare_site_sets

CRS = "EPSG:4547"
X0, Y0 = 500_000.0, 3_420_000.0


def _area() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    comm = gpd.GeoDataFrame({"name": ["西大社区", "槐荫社区"]},
                            geometry=[box(X0, Y0, X0 + 1500, Y0 + 1000),
                                      box(X0 + 1500, Y0, X0 + 3000, Y0 + 1000)], crs=CRS)
    landmarks = gpd.GeoDataFrame(
        {"name": ["西大市场", "槐荫公园", "城站路", "远处学校"],
         "kind": ["morning_market", "green_space", "main_road", "school"]},
        geometry=[Point(X0 + 380, Y0 + 500), box(X0 + 2400, Y0 + 400, X0 + 2450, Y0 + 450),
                  LineString([(X0, Y0 + 950), (X0 + 3000, Y0 + 950)]),
                  Point(X0 + 9000, Y0 + 9000)], crs=CRS).to_crs("EPSG:4326")
    return comm, landmarks


def _scenario(k: int) -> tuple[RelocationSites, gpd.GeoDataFrame]:
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
    res = locate_relocation_points(demand, cand, sites=k, radius_m=300)
    return res, demand


def test_sites_named_by_landmark_and_community() -> None:
    comm, landmarks = _area()
    sites = gpd.GeoDataFrame({"rank": [1, 2, 3, 4]}, geometry=points(
        [X0 + 500, X0 + 2425, X0 + 1200, X0 + 1400], [Y0 + 500, Y0 + 425, Y0 + 930, Y0 + 50]),
        crs=CRS)
    named = name_sites(sites, landmarks=landmarks, communities=comm)
    assert named.loc[0, "site_name"] == "西大市场东侧"
    assert named.loc[0, "address"] == "西大社区 · 西大市场东侧约 120 米"
    assert named.loc[0, "landmark_m"] == 120 and named.loc[0, "community"] == "西大社区"
    assert named.loc[1, "site_name"] == "槐荫公园内" and named.loc[1, "community"] == "槐荫社区"
    assert named.loc[2, "site_name"] == "城站路旁"  # no landmark within 600 m, a road 20 m off
    assert "没有登记的地标" in named.loc[3, "address"] and named.loc[3, "site_name"] == "西大社区内"
    bare = name_sites(sites)  # no layers: still a readable name
    assert list(bare["site_name"]) == [f"疏导点 {k}" for k in range(1, 5)]


def test_siting_xlsx_tables_in_chinese_and_rounded() -> None:
    res, _ = _scenario(2)
    comm, landmarks = _area()
    named = name_sites(res.sites, landmarks=landmarks, communities=comm)
    named.attrs = dict(res.sites.attrs)
    tables = siting_tables(named)
    sites = tables["疏导点"]
    assert {"名称", "位置", "所在社区", "服务案件数", "服务需求占比（%）", "平均步行距离（米）"} \
        <= set(sites.columns)
    assert sites["服务案件数"].dtype.kind == "i"  # whole cases, never "245.0"
    assert (sites["平均步行距离（米）"] % 10 == 0).all()
    assert all(round(v, 1) == v for v in sites["服务需求占比（%）"])
    assert set(sites["所在社区"]) == {"西大社区", "槐荫社区"}
    words = dict(zip(tables["方案概况"]["指标"], tables["方案概况"]["数值"], strict=True))
    assert words["求解方法"] == "精确求解，已证明最优" and words["是否已证明最优"] == "是"
    assert words["距离计算"] == "直线距离 × 1.3（绕行系数）"
    joined = " ".join(str(v) for v in tables["方案概况"]["数值"])
    for internal in ("straight line", "highs", "exact", "greedy", "True", "False"):
        assert internal not in joined, internal


def test_labels_for_people() -> None:
    assert solver_text("highs") == "HiGHS 整数规划" and solver_text("other") == "other"
    assert method_text("heuristic") == "启发式，近似解"
    assert distance_method_text("network") == "沿路网的步行距离"
    assert round_metres(124.9) == 120 and round_metres(float("nan")) is None
    assert format_share(0.3856) == "38.6%"


def test_comparison_table_and_map() -> None:
    (three, demand), (five, _) = _scenario(1), _scenario(2)
    comm, landmarks = _area()
    runs = {}
    for name, res in (("1 个点", three), ("2 个点", five)):
        named = name_sites(res.sites, landmarks=landmarks, communities=comm)
        named.attrs = dict(res.sites.attrs)
        runs[name] = named
    table = compare_site_sets(runs)
    assert list(table["方案"]) == ["1 个点", "2 个点"] and list(table["点位数"]) == [1, 2]
    assert table.loc[1, "覆盖需求占比（%）"] > table.loc[0, "覆盖需求占比（%）"]
    assert table["覆盖案件数"].dtype.kind == "i"
    assert (table["平均步行距离（米）"] % 10 == 0).all()
    assert "西大市场" in table.loc[0, "疏导点"]
    assert table.loc[1, "与首个方案相同的点位"] <= 1
    with pytest.raises(InputError):
        compare_site_sets({})
    page = comparison_map(runs, communities=comm, demand=demand, basemap="none",
                          static_prefix="/static/vendor").get_root().render()
    for needle in ("1 个点的疏导点", "2 个点的疏导点", "摊贩需求", "西大市场"):
        assert needle in page, needle
    assert "#1565c0" in page and "#e65100" in page  # two colours
    assert page.count("摊贩需求：") == len(demand)  # one circle per demand point
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', page)
    one = siting_map(runs["2 个点"], communities=comm, demand=demand).get_root().render()
    assert "疏导点 1 · " in one
    m = folium.Map()
    siting_layer(runs["2 个点"]).add_to(m)
    html = m.get_root().render()
    assert "服务案件数" in html and ".0</td>" not in html  # whole numbers in the popup
