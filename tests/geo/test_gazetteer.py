"""Cases without coordinates placed by name (geo.gazetteer, geo.cases ``gazetteer=``).

Rules checked: normalisation (NFKC, prefixes, punctuation, 社区/小区/居委会 variants), exact names
before names contained in the text, the most precise kind first and then the longest name,
ambiguity (named candidates; the 社区/街道 of the row decides), roads never used, a bureau's table
replacing built-in names and refused row by row when bad, and the 12345 set A corpus file with
小区 and 街道 columns read with precisions, the placing name per row and clear rejections.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from export_corpus import bureau_gazetteer, set_a_places
from shapely.geometry import Point, box

from geo.boundaries import load_default
from geo.cases import parse_cases
from geo.errors import FileReadError, ValidationError
from geo.gazetteer import Gazetteer
from geo.io.tables import read_table
from geo.place_names import normalise


@pytest.fixture(scope="module")
def area():  # type: ignore[no-untyped-def]
    return load_default()


@pytest.fixture(scope="module")
def gaz(area) -> Gazetteer:  # type: ignore[no-untyped-def]
    return Gazetteer.from_area(communities=area.communities, landmarks=area.landmarks)


def _centre(area, name: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    p = area.communities.loc[area.communities["name"] == name].geometry.iloc[0]
    q = p.representative_point()
    return q.x, q.y


def _landmark(area, name: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    g = area.landmarks.loc[area.landmarks["name"] == name].geometry.iloc[0]
    q = g if g.geom_type == "Point" else g.representative_point()
    return q.x, q.y


def test_normalise_prefixes_punctuation_and_suffix_variants() -> None:
    assert normalise("湖北省孝感市孝南区 书院社区居委会") == "书院社区"
    assert normalise("（孝南区）书院社区居民委员会。") == "书院社区"
    assert normalise("书院小区") == normalise("书院居委会") == "书院社区"
    assert normalise("ＸＩＮＨＵＡ　Ｒｄ．") == "xinhuard"  # NFKC: full-width letters and space
    assert normalise("书院街12号") == "书院街12号"  # 街 is not a suffix of a community


def test_suffix_variants_match_one_community_and_a_street_does_not(gaz, area) -> None:  # type: ignore[no-untyped-def]
    centre = _centre(area, "书院社区")
    for kw in ({"compound": "书院"}, {"address": "书院居委会门口"},
               {"address": "孝南区书院社区居民委员会东侧"}, {"community": "书院社区"}):
        m = gaz.match(**kw)
        assert (m.precision, m.name) == ("community", "书院社区"), kw
        assert (m.lon, m.lat) == pytest.approx(centre)
    miss = gaz.match(address="书院街12号")
    assert not miss.located and miss.candidates == ()
    assert "「书院街12号」" in miss.reason() and "地名表" in miss.reason()


def test_exact_name_first_then_most_precise_then_longest(gaz, area) -> None:  # type: ignore[no-untyped-def]
    exact = gaz.match(compound="红卫还建", address="北外社区旁")  # 小区名称 is a known name
    assert (exact.precision, exact.name, exact.role) == ("landmark", "红卫还建小区", "compound")
    assert (exact.lon, exact.lat) == pytest.approx(_landmark(area, "红卫还建小区"))
    both = gaz.match(address="城西社区西大市场门口")  # a community and a landmark: the landmark
    assert (both.precision, both.name) == ("landmark", "西大市场")
    assert both.describe() == "按地名「西大市场」定位（地标级）"
    comm = gaz.match(address="湖北省孝感市孝南区北外社区居委会旁")
    assert comm.precision == "community" and "社区级" in comm.describe()
    x, y = _landmark(area, "槐荫夜市")
    longer = gaz.with_entries(pd.DataFrame({"name": ["槐荫夜市东口"], "lon": [x + 0.003],
                                            "lat": [y], "kind": ["地标"]}))
    got = longer.match(address="槐荫夜市东口卖水果")
    assert got.name == "槐荫夜市东口" and got.lon == pytest.approx(x + 0.003)
    assert longer.match(address="槐荫夜市西口").name == "槐荫夜市"


def test_ambiguous_names_are_named_unless_the_street_or_community_decides(gaz) -> None:  # type: ignore[no-untyped-def]
    m = gaz.match(address="城西社区与城东社区交界处")
    assert not m.located
    assert m.candidates == ("「城西社区」（书院街道）", "「城东社区」（广场街道）")
    assert "无法唯一定位" in m.reason() and "城西社区与城东社区交界处" in m.reason()
    assert gaz.match(address="城西社区与城东社区交界处", street="广场街道").name == "城东社区"
    assert gaz.match(address="城西社区与城东社区交界处", street="书院街道办事处").name == "城西社区"
    assert not gaz.match(address="城西社区与城东社区交界处", street="车站街道").located


def test_same_name_in_two_places_needs_the_community(area) -> None:  # type: ignore[no-untyped-def]
    a, b = _centre(area, "周楼社区"), _centre(area, "锦绣社区")
    marks = gpd.GeoDataFrame({"name": ["幸福游园", "幸福游园"], "kind": ["green_space"] * 2,
                              "community_code": ["420902400007", "420902001009"],
                              "community": ["周楼社区", "锦绣社区"]},
                             geometry=[Point(a), Point(b)], crs=4326)
    gaz = Gazetteer.from_area(communities=area.communities, landmarks=marks)
    m = gaz.match(address="幸福游园北门")
    assert not m.located and m.candidates == ("「幸福游园」（周楼社区）", "「幸福游园」（锦绣社区）")
    decided = gaz.match(address="幸福游园北门", community="锦绣社区")
    assert decided.name == "幸福游园" and (decided.lon, decided.lat) == pytest.approx(b)
    fallback = gaz.match(address="无名路5号", community="锦绣社区")  # the 社区 column alone
    assert (fallback.precision, fallback.name, fallback.role) == ("community", "锦绣社区",
                                                                  "community")


def test_roads_and_polygons(area) -> None:  # type: ignore[no-untyped-def]
    gaz = Gazetteer.from_area(landmarks=area.landmarks)
    assert "槐荫大道" in set(area.landmarks["name"])  # a main road of the landmark file …
    assert not gaz.match(address="槐荫大道88号").located  # … places nothing
    x, y = _centre(area, "董湖社区")
    park = gpd.GeoDataFrame({"name": ["试验公园"], "kind": ["green_space"]},
                            geometry=[box(x - 0.001, y - 0.001, x + 0.001, y + 0.001)], crs=4326)
    m = Gazetteer.from_area(landmarks=park).match(address="试验公园")
    assert m.precision == "landmark" and abs(m.lon - x) < 0.001 and abs(m.lat - y) < 0.001


def test_bureau_entries_override_and_extend(gaz, area) -> None:  # type: ignore[no-untyped-def]
    golden, park = _centre(area, "城东社区"), _centre(area, "槐荫桥社区")
    bureau = gaz.with_entries(read_table(bureau_gazetteer(golden, park), filename="g.csv"))
    assert len(bureau) == len(gaz) + 1  # 金桂园小区 added, 槐荫公园 replaced
    m = bureau.match(compound="金桂园")
    assert (m.precision, m.name) == ("landmark", "金桂园小区")
    assert (m.lon, m.lat) == pytest.approx(golden, abs=1e-7)
    moved = bureau.match(address="槐荫公园南门")
    assert (moved.lon, moved.lat) == pytest.approx(park, abs=1e-7)
    assert (gaz.match(address="槐荫公园南门").lon, gaz.match(address="槐荫公园南门").lat) == (
        pytest.approx(_landmark(area, "槐荫公园")))
    point = gaz.with_entries(pd.DataFrame({"名称": ["书院街12号"], "经度": [golden[0]],
                                           "纬度": [golden[1]], "类型": ["门牌"]}))
    assert point.match(address="书院街12号").precision == "point"
    assert point.with_hint("某文件").hint == "某文件" and "某文件" in point.with_hint(
        "某文件").match(address="无名路").reason("某文件")


def test_bad_bureau_rows_are_refused_one_by_one(gaz) -> None:  # type: ignore[no-untyped-def]
    bad = pd.DataFrame({"name": ["", "甲小区", "乙小区", "丙小区", "丙小区"],
                        "lon": ["113.9", "30.9", "113.9", "113.91", "113.95"],
                        "lat": ["30.9", "113.9", "30.9", "30.91", "30.95"],
                        "kind": ["地标", "地标", "楼宇", "", ""]})
    with pytest.raises(ValidationError) as err:
        gaz.with_entries(bad)
    rows = {(p.row, p.column) for p in err.value.problems}
    assert rows == {(2, "name"), (3, "lon"), (4, "kind"), (6, "name")}
    assert "地名表" in str(err.value) and "填反" in str(err.value)
    with pytest.raises(FileReadError, match="lat"):
        gaz.with_entries(pd.DataFrame({"name": ["x"], "lon": ["113.9"]}))


def test_set_a_with_compounds_read_with_precisions(area) -> None:  # type: ignore[no-untyped-def]
    f = set_a_places()
    golden, park = _centre(area, "城东社区"), _centre(area, "槐荫桥社区")
    gaz = Gazetteer.from_area(communities=area.communities, landmarks=area.landmarks).with_entries(
        read_table(bureau_gazetteer(golden, park), filename="g.csv"))
    res = parse_cases(read_table(f.data, filename=f.name), communities=area.communities,
                      gazetteer=gaz)
    got = res.cases.set_index("row")
    assert sorted(got.index) == sorted(f.stored) and res.rejected_rows == sorted(f.rejected)
    for row, want in f.stored.items():
        assert (got.at[row, "case_id"], got.at[row, "category"], got.at[row, "status"],
                got.at[row, "location_precision"]) == (want.case_id, want.category, want.status,
                                                       want.precision), row
        assert got.at[row, "coord_system"] == "gazetteer" and got.at[row, "squad"] is not None
    problems = {p.row: p for p in res.problems}
    for row, refused in f.rejected.items():
        assert refused.reason in problems[row].message and problems[row].value == refused.value
    assert problems[9].column == "12345诉求地址" and "地名表" in problems[9].message
    located = {p.row: p for p in res.located}
    assert located[2].message == "按地名「西大市场」定位（地标级）"
    assert (located[4].column, located[4].value) == ("小区名称", "红卫还建")
    assert got.at[4, "address"] == "红卫还建"  # no 诉求地址: the compound stands in
    assert got.at[3, "community"] == "北外社区" and got.at[8, "community"] == "城东社区"
    assert (got.at[6, "lon"], got.at[6, "lat"]) == pytest.approx(park, abs=1e-7)
    assert all(any(n in note for note in res.notes) for n in f.notes)
    without = parse_cases(read_table(f.data, filename=f.name), communities=area.communities)
    assert len(without.cases) == 0 and all(p.message.startswith("无坐标") for p in without.problems)


def test_rows_with_coordinates_stay_points_and_empty_cells_are_placed(gaz, area) -> None:  # type: ignore[no-untyped-def]
    x, y = _centre(area, "书院社区")
    table = pd.DataFrame({"案件编号": ["P1", "P2", "P3", "P4"], "问题类型": "占道经营",
                          "上报时间": "2026-05-03 08:00", "经度": [f"{x:.6f}", "", "", f"{x:.6f}"],
                          "纬度": [f"{y:.6f}", "", "", ""],
                          "地址": ["书院街1号", "西大市场北门", "", "书院街2号"]})
    res = parse_cases(table, communities=area.communities, gazetteer=gaz)
    got = res.cases.set_index("case_id")
    assert got.at["P1", "location_precision"] == "point"
    assert got.at["P2", "location_precision"] == "landmark"
    assert (got.at["P2", "lon"], got.at["P2", "lat"]) == pytest.approx(_landmark(area, "西大市场"))
    by_row = {p.row: p.message for p in res.problems}
    assert by_row[4].startswith("无坐标：该行没有经纬度")  # P3: nothing to place it by
    assert by_row[5].startswith("缺少纬度")  # P4: one coordinate missing is still an error
