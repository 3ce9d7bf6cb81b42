"""Reading and validating a district's boundary file (geo.boundary_files, geo.districts):
any CRS in, WGS84 out with areas in m²; each bad input a message naming the feature and community."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from district_support import (
    CODE,
    NAME,
    SIDE_M,
    communities,
    feature,
    raw_geojson,
    squads_doc,
    write_district,
)
from pyproj import Transformer

from geo.districts import build_district
from geo.errors import CRSError, FileReadError, InputError, ValidationError


def _build(path: Path, sq: Path | None, **kw: object):  # type: ignore[no-untyped-def]
    records = json.loads(sq.read_text(encoding="utf-8"))["squads"] if sq else None
    return build_district(path, code=CODE, name=NAME, city="孝感市", squads=records, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("epsg", "name"), [(4547, "b.geojson"), (32650, "b.gpkg"),
                                            (4547, "b.shp")])
def test_projected_file_becomes_wgs84_with_true_areas(tmp_path: Path, epsg: int, name: str) -> None:
    path, sq = write_district(tmp_path, epsg=epsg, name=name)
    layers = _build(path, sq)
    comm = layers.communities
    assert list(comm["code"]) == [f"420921001{k:03d}" for k in range(1, 7)]
    assert comm.crs.to_epsg() == 4326
    assert layers.source_crs == f"EPSG:{epsg}"
    # 800 m squares: 640 000 m² each, measured after the round trip through WGS84 (±0.5 %)
    assert comm["area_m2"].tolist() == pytest.approx([SIDE_M ** 2] * 6, rel=5e-3)
    # the first corner lands where pyproj puts it
    lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(
        *communities(epsg).geometry.iloc[0].exterior.coords[0])
    assert shapely.distance(comm.geometry.iloc[0].boundary, shapely.Point(lon, lat)) < 1e-9
    assert list(comm["squad"]) == ["xc-a"] * 3 + ["xc-b"] * 3
    assert list(comm["street"]) == ["花园镇"] * 3 + ["周巷镇"] * 3
    # one station per community, inside it; the outline is the union (one 2400 × 1600 m block)
    st = layers.stations
    assert [bool(g.within(c)) for g, c in zip(st.geometry, comm.geometry, strict=True)] == [True] * 6
    assert len(layers.outline.geoms) == 1
    assert [s["district_code"] for s in layers.squads] == [CODE, CODE]


def test_squads_from_the_file_column(tmp_path: Path) -> None:
    gdf = communities()
    gdf["squad"] = ["a", "a", "b", "b", "b", "b"]
    path, _ = write_district(tmp_path, gdf=gdf)
    layers = _build(path, None)
    assert [(s["id"], len(s["communities"])) for s in layers.squads] == [("a", 2), ("b", 4)]


def _problems(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return "\n".join(p.message for p in exc.value.problems)


def test_overlap_names_both_communities_and_the_area(tmp_path: Path) -> None:
    gdf = communities()
    gdf.loc[1, "geometry"] = shapely.affinity.translate(gdf.geometry.iloc[1], 0, -100.0)  # 80 000 m²
    path, sq = write_district(tmp_path, gdf=gdf)
    with pytest.raises(ValidationError) as exc:
        _build(path, sq)
    text = _problems(exc)
    assert "第 2 个要素（社区 420921001002 模拟2社区）" in text
    assert "与社区「420921001001」重叠 80000.0 平方米（允许 1）" in text
    assert "b.geojson" in str(exc.value)
    # a sliver under the tolerance passes; the tolerance is in m²
    gdf.loc[1, "geometry"] = shapely.affinity.translate(communities().geometry.iloc[1], 0, -0.001)
    path, sq = write_district(tmp_path, gdf=gdf)
    assert len(_build(path, sq).communities) == 6
    with pytest.raises(ValidationError, match=r"重叠 0\.8 平方米（允许 0\.5）"):
        _build(path, sq, max_overlap_m2=0.5)


def test_unclosed_ring_is_a_problem_of_that_feature(tmp_path: Path) -> None:
    x, y = 500000.0, 3460000.0
    closed = [(x, y), (x + 500, y), (x + 500, y + 500), (x, y + 500), (x, y)]
    path = raw_geojson(tmp_path, [feature("c1", "甲社区", closed),
                                  feature("c2", "乙社区", [(x + 600, y), (x + 900, y),
                                                          (x + 900, y + 400), (x + 600, y + 400)])])
    squads = [{"id": "s", "name": "中队", "communities": ["c1", "c2"]}]
    with pytest.raises(ValidationError) as exc:
        build_district(path, code=CODE, name=NAME, squads=squads)
    assert [p.row for p in exc.value.problems] == [3]
    assert "第 2 个要素（社区 c2 乙社区）：边界环未闭合（首尾坐标不同）" in _problems(exc)


def test_every_community_in_exactly_one_squad(tmp_path: Path) -> None:
    gdf = communities()
    codes = list(gdf["code"])
    doc = squads_doc(codes)
    doc["squads"][0]["communities"] = [*codes[:2], codes[4]]  # 003 in none, 005 in both
    doc["squads"][1]["communities"].append("420921999999")
    path, sq = write_district(tmp_path, gdf=gdf, squads=doc)
    with pytest.raises(ValidationError) as exc:
        _build(path, sq)
    text = _problems(exc)
    assert "第 3 个要素（社区 420921001003 模拟3社区）：不属于任何中队" in text
    assert "第 5 个要素（社区 420921001005 模拟5社区）：同时属于中队 xc-a、xc-b" in text
    assert "中队「xc-b」列出的社区「420921999999」不在边界文件中" in text
    assert len(exc.value.problems) == 3


def test_missing_crs_needs_crs_option(tmp_path: Path) -> None:
    x, y = 500000.0, 3460000.0
    ring = [(x, y), (x + 500, y), (x + 500, y + 500), (x, y + 500), (x, y)]
    path = raw_geojson(tmp_path, [feature("c1", "甲社区", ring)], crs=None)
    squads = [{"id": "s", "name": "中队", "communities": ["c1"]}]
    with pytest.raises(CRSError, match=r"raw\.geojson 没有坐标参考系.*--crs EPSG:4547"):
        build_district(path, code=CODE, name=NAME, squads=squads)
    ok = build_district(path, code=CODE, name=NAME, squads=squads, crs="EPSG:4547")
    assert ok.communities["area_m2"].iloc[0] == pytest.approx(250000.0, rel=5e-3)
    # a Shapefile without its .prj
    shp, _ = write_district(tmp_path, name="b.shp")
    shp.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match=r"b\.shp 没有坐标参考系"):
        _build(shp, tmp_path / "squads.json")
    # a declared CRS that contradicts --crs
    gj, sq = write_district(tmp_path)
    with pytest.raises(CRSError, match="EPSG:4547，与 --crs EPSG:32650 不一致"):
        _build(gj, sq, crs="EPSG:32650")
    # RFC 7946 GeoJSON (lon/lat, no crs member) is WGS84
    lonlat = raw_geojson(tmp_path, [feature("c1", "甲社区", [(114.0, 31.0), (114.01, 31.0),
                                                           (114.01, 31.01), (114.0, 31.0)])],
                         crs=None, name="wgs.geojson")
    assert build_district(lonlat, code=CODE, name=NAME, squads=squads).source_crs == "EPSG:4326"


def test_bad_district_fields_and_files(tmp_path: Path) -> None:
    path, _sq = write_district(tmp_path)
    with pytest.raises(InputError, match="区县编码「42 09」无效"):
        build_district(path, code="42 09", name=NAME)
    with pytest.raises(FileReadError, match="找不到边界文件"):
        build_district(tmp_path / "none.geojson", code=CODE, name=NAME)
    (tmp_path / "x.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(FileReadError, match="类型不受支持"):
        build_district(tmp_path / "x.csv", code=CODE, name=NAME)
