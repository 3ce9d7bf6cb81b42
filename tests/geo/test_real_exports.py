"""Real export shapes through the one case reader (geo.io.tables.read_table + geo.cases).

The corpus (tests/export_corpus.py) is built in code: eUrbanMIS stat fields in GBK with
zone-prefixed Gauss-Krüger coordinates, the REC_LIST API, 12345 set B below a title row, an XLSX
with a title row, merged cells, Excel serial dates and BD-09, 12345 set A without coordinates,
and a Chinese UI export with 案件类型 before 小类, X = northing and eUrbanMIS stage strings.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import openpyxl
import pandas as pd
import pytest
from export_corpus import CorpusFile, corpus, excel_serial
from pyproj import Geod, Transformer

from geo.boundaries import load_default
from geo.case_columns import map_columns, parse_map
from geo.case_coords import gk_epsg, locate
from geo.cases import analysis_cases, parse_cases
from geo.errors import FileReadError, InputError, ValidationError
from geo.io.tables import read_table

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def communities():  # type: ignore[no-untyped-def]
    return load_default().communities


@pytest.fixture(scope="module")
def points(communities) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    reps = [g.representative_point() for g in communities.geometry[:6]]
    return [(p.x, p.y) for p in reps]


def _files(points: list[tuple[float, float]]) -> dict[str, CorpusFile]:
    return {f.name: f for f in corpus(points)}


NAMES = ["eurbanmis_stat_gbk.csv", "rec_list.csv", "12345_setB.csv", "title_merged.xlsx",
         "12345_setA.csv", "eurbanmis_ui.csv"]


@pytest.mark.parametrize("name", NAMES)
def test_corpus_rows_stored_and_rejected(name: str, points, communities) -> None:  # type: ignore[no-untyped-def]
    f = _files(points)[name]
    res = parse_cases(read_table(f.data, filename=f.name), communities=communities)
    assert res.n_rows == len(f.rows)
    assert sorted(res.cases["row"]) == sorted(f.stored)
    assert res.rejected_rows == sorted(f.rejected)
    got = res.cases.set_index("row")
    for row, want in f.stored.items():
        case = got.loc[row]
        assert (case["case_id"], case["category"], case["status"]) == (
            want.case_id, want.category, want.status), (name, row)
        flag = None if pd.isna(case["status_flag"]) else case["status_flag"]
        assert flag == want.flag, (name, row)
        assert case["community_code"] is not None and case["squad"] is not None
    by_row: dict[int, list[str]] = {}
    for p in res.problems:
        by_row.setdefault(p.row, []).append(f"{p.value}|{p.message}")
    for row, want in f.rejected.items():
        assert any(want.reason in text for text in by_row[row]), (name, row, by_row[row])
        if want.value is not None:
            assert any(text.startswith(want.value + "|") for text in by_row[row]), by_row[row]
    report = "\n".join(res.notes + res.mapping.describe())
    for note in f.notes:
        assert note in report, (name, note, report)


def test_coordinates_land_where_they_were_made(points, communities) -> None:  # type: ignore[no-untyped-def]
    files = _files(points)
    for name in ("eurbanmis_stat_gbk.csv", "title_merged.xlsx", "eurbanmis_ui.csv"):
        res = parse_cases(read_table(files[name].data, filename=name), communities=communities)
        first = res.cases["row"].min()
        for _, case in res.cases.iterrows():
            x, y = points[int(case["row"] - first)]
            _, _, dist = GEOD.inv(case["lon"], case["lat"], x, y)
            assert abs(dist) < 0.05, (name, case["row"], dist)  # GK rounded to 1 cm; BD-09 exact
    gk = parse_cases(read_table(files["eurbanmis_stat_gbk.csv"].data), communities=communities)
    assert set(gk.cases["coord_system"]) == {"epsg:4526"}
    ui = parse_cases(read_table(files["eurbanmis_ui.csv"].data), communities=communities)
    assert set(ui.cases["coord_system"]) == {"epsg:4497"}
    assert any("北坐标" in n for n in ui.notes)


def test_title_rows_and_merged_cells(points) -> None:  # type: ignore[no-untyped-def]
    xlsx = read_table(_files(points)["title_merged.xlsx"].data, filename="t.xlsx")
    assert xlsx.attrs["header_row"] == 3 and list(xlsx.index) == [4, 5, 6, 7, 8, 9]
    assert list(xlsx["大类"][:3]) == ["街面秩序"] * 3 and list(xlsx["小类"][:2]) == ["占道经营"] * 2
    assert list(xlsx["当前阶段"][3:5]) == ["挂账", "挂账"]
    csv = read_table(_files(points)["12345_setB.csv"].data, filename="b.csv")
    assert csv.attrs["header_row"] == 3 and csv.index[0] == 4 and "taskId" in csv.columns
    # a horizontally merged cell is not copied across (only vertical ranges are filled)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["任务号", "经度", "纬度"])
    ws.append(["A1", 113.9, 30.9])
    ws.append(["A2", None, 30.9])
    ws.merge_cells("A3:B3")
    buf = io.BytesIO()
    wb.save(buf)
    t = read_table(buf.getvalue(), filename="m.xlsx")
    assert list(t["经度"]) == ["113.9", ""]


def test_most_specific_column_wins_and_map_overrides() -> None:
    cols = ["任务号", "案件类型", "大类", "小类", "上报时间", "经度", "纬度"]
    cmap = map_columns(cols)
    assert cmap.uses["category"] == ["小类", "大类", "案件类型"]
    assert "问题类型 category ← 小类（为空时用 大类、案件类型）" in cmap.describe()
    table = pd.DataFrame([["A1", "市一体化平台", "街面秩序", "店外经营", "2026-05-01 08:00",
                           "113.91", "30.92"],
                          ["A2", "市一体化平台", "街面秩序", "", "2026-05-01 08:00", "113.91",
                           "30.92"]], columns=cols)
    res = parse_cases(table)
    assert list(res.cases["category"]) == ["09005"]
    bad = res.problems[0]
    assert (bad.row, bad.column, bad.value) == (3, "大类", "街面秩序")  # fell back, and says so
    mapped = parse_cases(table, columns=parse_map(["大类=category"]))
    assert mapped.rejected_rows == [2, 3] and mapped.problems[0].column == "大类"
    with pytest.raises(InputError, match="不在文件中"):
        parse_cases(table, columns={"备注": "status"})
    with pytest.raises(InputError, match="角色"):
        parse_map(["小类=kind"])
    with pytest.raises(FileReadError, match="--map"):
        parse_cases(table.drop(columns=["任务号"]))


def test_statuses_flags_and_closure_times() -> None:
    base = {"case_id": ["S1", "S2", "S3", "S4", "S5"], "category": "09006",
            "reported_at": "2026-05-01 08:00", "lon": "113.91", "lat": "30.92"}
    res = parse_cases(pd.DataFrame({**base, "状态": ["挂账", "办理中（超期）", "已退单", "", "外星状态"],
                                    "结案时间": ["", "", "", "2026-05-02 09:00", ""]}))
    got = res.cases.set_index("case_id")
    assert list(got["status"]) == ["处置", "处置", "作废", "结案"]
    assert list(got["status_flag"].fillna("-")) == ["挂账", "超期", "-", "-"]
    assert list(got["status_given"]) == [True, True, True, True]
    (bad,) = res.problems
    assert bad.value == "外星状态" and bad.column == "状态" and "无法识别的案件状态" in bad.message
    no_status = parse_cases(pd.DataFrame({**base, "closed_at": ["2026-05-02 09:00", "", "", "",
                                                                  ""]}))
    assert list(no_status.cases["status"]) == ["结案", "上报", "上报", "上报", "上报"]
    assert list(no_status.cases["status_given"]) == [True, False, False, False, False]


def test_times_serial_chinese_offsets_and_future() -> None:
    now = datetime(2026, 12, 1, 8, 0)
    table = pd.DataFrame({
        "case_id": ["T1", "T2", "T3", "T4", "T5"], "category": "09006", "lon": "113.91",
        "lat": "30.92",
        "reported_at": ["46331.5", "2026年11月5日 12时", "2026-11-05T04:00:00Z",
                        "2026-12-02 07:00", "2026-12-03 09:00"]})
    res = parse_cases(table, now=now)
    assert [t.strftime("%m-%d %H:%M") for t in res.cases["reported_at"]] == [
        "11-05 12:00", "11-05 12:00", "11-05 12:00", "12-02 07:00"]
    (late,) = res.problems
    assert late.row == 6 and "晚于当前时间" in late.message and "--allow-future" in late.message
    relaxed = parse_cases(table, now=now, max_future=None)
    assert relaxed.problems == [] and excel_serial("2026-11-05 12:00") == 46331.5
    assert parse_cases(table, now=now, max_future=timedelta(days=3)).problems == []


def test_unknown_category_names_closest_entries_and_alias_table() -> None:
    table = pd.DataFrame({"case_id": ["C1"], "category": ["跨门营业"], "reported_at": ["2026-05-01"],
                          "lon": ["113.91"], "lat": ["30.92"]})
    (p,) = parse_cases(table).problems
    assert "09005 店外经营" in p.message and "别名表" in p.message
    assert "geo/data" not in p.message and "categories.csv" not in p.message
    (p,) = parse_cases(table, alias_hint="或把它加入 /srv/aliases.csv").problems
    assert p.message.endswith("或把它加入 /srv/aliases.csv。")


def test_plane_coordinates_need_a_zone_or_an_epsg_code() -> None:
    assert (gk_epsg(25), gk_epsg(38), gk_epsg(45), gk_epsg(13), gk_epsg(19), gk_epsg(23)) == (
        4513, 4526, 4533, 4491, 4497, 4501)
    assert gk_epsg(24) is None and gk_epsg(46) is None
    x, y = Transformer.from_crs(4326, 4547, always_xy=True).transform(113.91, 30.92)
    loc = locate(pd.Series([f"{x:.2f}"]), pd.Series([f"{y:.2f}"]))
    (mask, role, message), = loc.problems
    assert mask.tolist() == [True] and role == "lon" and "EPSG:4547" in message
    ok = locate(pd.Series([f"{x:.2f}"]), pd.Series([f"{y:.2f}"]), coords="EPSG:4547")
    assert ok.problems == [] and ok.lon[0] == pytest.approx(113.91, abs=1e-7)
    hinted = map_columns(["编号", "类别", "上报时间", "百度经度", "百度纬度"])
    assert hinted.implied == "bd09"
    assert map_columns(["id", "category", "createTime", "lng(高德)", "lat(高德)"]).implied == "gcj02"


def test_file_without_coordinates_rejects_every_row(points) -> None:  # type: ignore[no-untyped-def]
    f = _files(points)["12345_setA.csv"]
    res = parse_cases(read_table(f.data))
    assert len(res.cases) == 0 and res.rejected_rows == [2, 3, 4]
    assert all(p.message.startswith("无坐标") for p in res.problems)
    assert "12345受理时间" in "\n".join(res.mapping.describe())


def test_analysis_mode_keeps_any_category_anywhere() -> None:
    table = pd.DataFrame({"编号": ["c1", "c1"], "类别": ["THEFT", "BATTERY"],
                          "发现时间": ["2024年1月2日 8时", "2024-01-02T14:00:00Z"],
                          "经度": ["-87.63", "-87.62"], "纬度": ["41.88", "41.87"]})
    gdf, no_time = analysis_cases(table, required=("category",), tz="America/Chicago")
    assert list(gdf["category"]) == ["THEFT", "BATTERY"] and no_time == 0  # repeated ids allowed
    assert [t.hour for t in gdf["reported_at"]] == [8, 8]  # 14:00Z is 08:00 in Chicago
    assert gdf.crs.to_epsg() == 4326 and gdf.geometry.x.iloc[0] == pytest.approx(-87.63)
    with pytest.raises(FileReadError, match="lat"):
        analysis_cases(table.drop(columns=["纬度"]))
    bad = table.assign(经度=["-87.63", "x"])
    with pytest.raises(ValidationError, match="第 3 行"):
        analysis_cases(bad)
    untimed, n_untimed = analysis_cases(table.assign(发现时间=["", "?"]))
    assert n_untimed == 2 and untimed["reported_at"].isna().all()  # optional unless required
    with pytest.raises(ValidationError, match="上报时间"):
        analysis_cases(table.assign(发现时间=["", "?"]), times_required=True)
