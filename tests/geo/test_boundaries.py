"""Tests of the embedded Xiaonan default and of geo.boundaries (validation, point assignment)."""

from __future__ import annotations

import csv
import itertools
import subprocess
import sys
from collections import Counter
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, Polygon

from geo.boundaries import DefaultArea, assign_community, load_default, validate_boundaries
from geo.errors import CRSError, NotFoundError, ValidationError

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
XIAONAN = SHARED / "data" / "xiaonan"
needs_shared = pytest.mark.skipif(not XIAONAN.is_dir(), reason="../shared/data/xiaonan is absent")

EXPECTED = {"shuyuan": 12, "xinhua": 12, "guangchang": 16, "chezhan": 6, "nanda": 7}


@pytest.fixture(scope="module")
def area() -> DefaultArea:
    return load_default()


@pytest.fixture(scope="module")
def metric(area: DefaultArea) -> gpd.GeoDataFrame:
    return area.communities.to_crs("EPSG:4547")


def test_53_communities_with_counts_per_squad(area: DefaultArea) -> None:
    c = area.communities
    assert len(c) == 53
    assert dict(Counter(c["squad"])) == EXPECTED
    assert c["code"].is_unique
    assert c["code"].str.fullmatch(r"\d{12}").all()
    assert c["approximate"].all()
    assert not c["name"].str.endswith("居委会").any()
    assert {"新华社区", "春云社区", "周楼社区", "董湖社区"} <= set(c.loc[c.squad == "nanda", "name"])
    assert c.crs.to_epsg() == 4326


@pytest.mark.shared
@needs_shared
def test_codes_and_names_come_from_the_nbs_csv(area: DefaultArea) -> None:
    rows = {r["village_code"]: r for r in csv.DictReader(
        (XIAONAN / "communities_nbs2023.csv").open(encoding="utf-8"))}
    for rec in area.communities.itertuples():
        assert rec.code in rows
        assert rows[rec.code]["village_name"] == rec.full_name
        assert rows[rec.code]["street_name"] == rec.street
    streets = Counter(area.communities["street"])
    assert streets == {"书院街道": 12, "新华街道": 12, "广场街道": 16, "车站街道": 6, "经济开发区": 7}


def test_polygons_valid_and_non_overlapping(metric: gpd.GeoDataFrame) -> None:
    assert metric.is_valid.all()
    assert (metric.geom_type == "Polygon").all()
    overlap = sum(a.intersection(b).area for a, b in itertools.combinations(metric.geometry, 2))
    assert overlap < 1.0
    union = metric.union_all()
    assert union.geom_type == "Polygon"  # no holes or islands: a tessellation of one core
    assert abs(union.area - metric.area.sum()) < 1.0
    assert metric.area.min() > 0.2e6 and metric.area.max() < 3e6  # plausible urban communities
    assert (abs(metric["area_m2"] - metric.area) < 5.0).all()


def test_each_street_is_contiguous(metric: gpd.GeoDataFrame) -> None:
    for street, grp in metric.groupby("street"):
        assert grp.union_all().buffer(0.01).geom_type == "Polygon", street


def test_inside_the_real_outline(area: DefaultArea) -> None:
    outline = area.district.geometry.iloc[0]
    assert "cnmaps" in area.district["source"].iloc[0]
    assert area.communities.union_all().difference(outline).area < 1e-10
    minx, miny, maxx, maxy = area.communities.total_bounds
    assert minx >= 113.85 and maxx <= 114.0 and miny >= 30.88 and maxy <= 30.98


@pytest.mark.shared
@needs_shared
def test_outline_matches_the_shared_source(area: DefaultArea) -> None:
    src = gpd.read_file(XIAONAN / "xiaonan_district_wgs84.geojson").to_crs("EPSG:4547")
    ours = area.district.to_crs("EPSG:4547")
    diff = src.geometry.iloc[0].symmetric_difference(ours.geometry.iloc[0]).area
    assert diff / src.area.iloc[0] < 1e-4


def test_one_station_inside_each_community(area: DefaultArea) -> None:
    s = area.stations
    assert len(s) == 53 and s["community_code"].is_unique
    joined = assign_community(s, area.communities)
    assert (joined["community_code"] == s["community_code"]).all()
    assert (joined["squad"] == s["squad"]).all()
    assert s["name"].str.endswith("社区城管工作站").all()


def test_squads_cover_every_community_once_with_79_officers(area: DefaultArea) -> None:
    assert [s["id"] for s in area.squads] == list(EXPECTED)
    assert [s["name"] for s in area.squads] == ["书院中队", "新华中队", "广场中队", "车站中队", "南大中队"]
    codes = [c for s in area.squads for c in s["communities"]]
    assert sorted(codes) == sorted(area.communities["code"])
    by_code = area.communities.set_index("code")["squad"]
    officers = 0
    for sq in area.squads:
        assert all(by_code[c] == sq["id"] for c in sq["communities"])
        per_station = Counter((p["station"], p["role"]) for p in sq["staff"])
        for code in sq["communities"]:
            assert per_station[(code, "城管队员")] in (1, 2)
            assert all(per_station[(code, r)] == 1 for r in ("市政", "园林", "环卫"))
        assert all(p["fictitious"] for p in sq["staff"])
        n = sum(p["role"] == "城管队员" for p in sq["staff"])
        assert n == sq["officer_count"]
        officers += n
    assert officers == 79


def test_teams_are_staggered_and_staffed_by_their_squad(area: DefaultArea) -> None:
    for sq in area.squads:
        teams = sq["teams"]
        assert 2 <= len(teams) <= 4
        ids = {p["id"]: p for p in sq["staff"]}
        members = [m for t in teams for m in t["members"]]
        assert len(members) == len(set(members))
        assert all(ids[m]["role"] == "城管队员" for m in members)
        assert {t["shift_start"] for t in teams} == {"06:00", "14:00"}
        for t in teams:
            assert t["start_station"] in sq["communities"] and t["mode"] in ("walk", "ebike")
            assert t["shift_start"] < t["break"]["start"] < t["break"]["end"] < t["shift_end"]
    assert area.squad("nanda")["name"] == "南大中队"
    with pytest.raises(NotFoundError, match="shuyuan"):
        area.squad("nope")


def test_landmarks_are_simulated_and_inside(area: DefaultArea) -> None:
    lm = area.landmarks
    assert lm["simulated"].all()
    assert "西大市场" in set(area.markets["name"])
    kinds = set(lm["kind"])
    assert {"morning_market", "night_market", "old_compound", "green_space", "school",
            "main_road", "recycling"} <= kinds
    pts = lm[lm.kind != "main_road"]
    joined = assign_community(pts.set_geometry(pts.representative_point()), area.communities)
    assert (joined["community_code"] == pts["community_code"]).all()


def _square(x0: float, y0: float, side: float = 100.0) -> Polygon:
    return Polygon([(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side)])


def test_validate_boundaries_collects_every_problem() -> None:
    bowtie = Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    gdf = gpd.GeoDataFrame(
        {"code": ["A", "A", "B", "C", None], "name": ["a", "b", "c", "d", "e"]},
        geometry=[_square(0, 0), _square(50, 0), bowtie, Point(0, 0), _square(500, 0)],
        crs="EPSG:4547",
    )
    with pytest.raises(ValidationError) as err:
        validate_boundaries(gdf)
    probs = err.value.problems
    text = str(err.value)
    assert "重复" in text and "无效" in text and "Point" in text and "为空" in text
    assert "重叠 5000.0" in text
    assert {p.row for p in probs} == {3, 4, 5, 6}
    assert len(probs) == 5


def test_validate_boundaries_needs_crs_and_nbs_codes() -> None:
    gdf = gpd.GeoDataFrame({"code": ["123"], "name": ["x"]}, geometry=[_square(0, 0)])
    with pytest.raises(ValidationError) as err:
        validate_boundaries(gdf, nbs_codes=True)
    assert len(err.value.problems) == 2
    assert "坐标参考系" in str(err.value) and "12 位" in str(err.value)
    ok = validate_boundaries(gdf.set_crs("EPSG:4547"))
    assert ok["code"].tolist() == ["123"] and ok is not gdf


def test_assign_community_edges_and_outside() -> None:
    comm = gpd.GeoDataFrame({"code": ["B", "A"], "name": ["b", "a"], "squad": ["s2", "s1"]},
                            geometry=[_square(100, 0), _square(0, 0)], crs="EPSG:4547")
    pts = gpd.GeoDataFrame(geometry=[Point(100, 50), Point(150, 50), Point(-5, 5), None],
                           index=[10, 11, 12, 13], crs="EPSG:4547")
    out = assign_community(pts, comm)
    assert list(out.index) == [10, 11, 12, 13]
    assert out["community_code"].tolist() == ["A", "B", None, None]  # shared edge -> smallest code
    assert out.loc[11, "squad"] == "s2"
    flipped = assign_community(pts, comm.iloc[::-1])
    assert flipped.equals(out)
    wgs = assign_community(pts.to_crs("EPSG:4326"), comm)
    assert wgs.loc[11, "community"] == "b"
    with pytest.raises(CRSError):
        assign_community(gpd.GeoDataFrame(geometry=[Point(0, 0)]), comm)


@pytest.mark.shared
@needs_shared
def test_build_script_is_deterministic(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_boundaries.py"),
                    "--shared", str(SHARED), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    committed = ROOT / "data" / "boundaries"
    total = 0
    for f in ("xiaonan_district.geojson", "communities.geojson", "stations.geojson",
              "squads.json", "landmarks.geojson"):
        assert (tmp_path / f).read_bytes() == (committed / f).read_bytes(), f
        total += (committed / f).stat().st_size
    assert total < 1_000_000
