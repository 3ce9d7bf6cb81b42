"""Route sheets: PDF (text extracted with pdftotext/pypdf), XLSX read back, HTML escaped."""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
from datetime import date, datetime

import geopandas as gpd
import openpyxl
import pytest
from fpdf import FPDF
from shapely.geometry import box

from geo.errors import CRSError, InputError
from geo.sheets import (
    SheetStop,
    TeamSheet,
    checklist_for,
    default_font_path,
    format_clock,
    render_html,
    render_pdf,
    render_xlsx,
    sheet_filename,
)
from geo.sheets.draw import layout_map
from geo.sheets.pdf import _wrap_line

LON0, LAT0 = 113.915, 30.925
EVIL = "<script>alert(1)</script>"
LONG = "西大市场东门外早市摊贩沿人行道连续摆摊约二十余个" * 3 + "ABC12345" + "尾部标记文字"
CATS = [("09006", "占道经营"), ("06036", "乱堆杂物"), ("06045", "非法占绿毁绿"),
        ("06028", "噪声扰民"), ("06040", "私设地锁、阻车桩"), ("09004", "废品收购乱象")]
KINDS = ["热点", "复查", "疏导点", "社区巡查"]


def _communities() -> gpd.GeoDataFrame:
    polys = [box(LON0 + i * 0.008, LAT0 + j * 0.007, LON0 + (i + 1) * 0.008, LAT0 + (j + 1) * 0.007)
             for i in range(3) for j in range(3)]
    names = ["书院社区", "西大社区", "槐荫社区", "董永社区", "文昌社区", "航天社区", "城站社区",
             "北京路社区", "长征社区"]
    return gpd.GeoDataFrame({"name": names}, geometry=polys, crs="EPSG:4326").to_crs("EPSG:4547")


def make_sheet(n: int = 5, *, what: str | None = None, label: str = "模拟数据，仅供演示",
               **overrides: object) -> TeamSheet:
    stops = []
    for s in range(n):
        a = 2 * math.pi * s / max(n, 1)
        code, name = CATS[s % len(CATS)]
        stops.append(SheetStop(
            seq=s + 1, arrive=600 + s * 1200, depart=1200 + s * 1200, community="西大社区",
            address=f"书院街{s + 10}号", what=f"点位{s + 1:02d}号 早市摊贩外溢",
            category=code, category_name=name, kind=KINDS[s % 4],
            lon=LON0 + 0.012 + 0.009 * math.cos(a), lat=LAT0 + 0.0105 + 0.008 * math.sin(a)))
    if what is not None and stops:
        stops[min(1, n - 1)].what = what
    kw: dict[str, object] = dict(
        squad_name="书院中队", team_name="第一组",
        members=[("张伟", "城管队员"), ("李娜", "城管队员"), ("王强", "市政"), ("赵敏", "园林"),
                 ("刘洋", "环卫")],
        date=date(2025, 5, 12), shift_start="07:00", shift_end="15:00", stops=stops,
        distance_m=5230.0, duration_s=n * 1200.0 + 600, communities=_communities(),
        start_name="西大社区工作站", start_lonlat=(LON0 + 0.012, LAT0 + 0.0105), data_label=label)
    kw.update(overrides)
    return TeamSheet(**kw)  # type: ignore[arg-type]


def pdf_text(data: bytes) -> str:
    """Text of a PDF: pdftotext (poppler) if installed, else pypdf, else skip."""
    if shutil.which("pdftotext"):
        out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data,
                             capture_output=True, check=True)
        return out.stdout.decode("utf-8")
    pypdf = pytest.importorskip("pypdf", reason="需要 pdftotext（poppler-utils）或 pypdf 提取文字")
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", data))


@pytest.fixture(scope="module")
def pdf5() -> bytes:
    return render_pdf(make_sheet(5, what=LONG))


def test_pdf_header_stops_and_font(pdf5: bytes) -> None:
    assert pdf5.startswith(b"%PDF")
    text = pdf_text(pdf5)
    for needle in ("书院中队 第一组 巡查路线单", "张伟、李娜（城管队员）", "王强（市政）",
                   "2025年5月12日 星期一", "07:00–15:00", "数据说明：模拟数据，仅供演示",
                   "点位01号", "点位05号", "是否已劝离至疏导点", "停靠点 5 个", "5.2 公里",
                   "07:10–07:20", "工作日志记录", "队员签名"):
        assert needle in text, needle
    assert b"NotoSansCJK" in pdf5  # the font is embedded (subset)
    assert page_count(pdf5) >= 1


def test_pdf_long_text_wraps(pdf5: bytes) -> None:
    text = pdf_text(pdf5)
    assert LONG in re.sub(r"\s+", "", text)  # every character is there, in order
    assert not any(LONG in line for line in text.splitlines())  # but over several lines


def test_pdf_40_stops_paginate_each_stop_once() -> None:
    data = render_pdf(make_sheet(40))
    pages = page_count(data)
    assert pages > 1
    text = pdf_text(data)
    for k in range(1, 41):
        assert text.count(f"点位{k:02d}号") == 1, k
    assert re.search(rf"共\s*{pages}\s*页", text)
    assert "（续）" in text  # running header on later pages
    assert text.count("数据说明：模拟数据，仅供演示") >= pages  # footer on every page


def test_pdf_without_map_data_and_label() -> None:
    sheet = make_sheet(2, label="", communities=None, start_lonlat=None)
    for s in sheet.stops:
        s.lon = s.lat = None
    text = pdf_text(render_pdf(sheet, font_path=default_font_path()))
    assert "点位02号" in text and "数据说明" not in text


def test_wrap_line_keeps_width_and_punctuation() -> None:
    pdf = FPDF()
    pdf.add_font("cjk", fname=str(default_font_path()))
    pdf.set_font("cjk", size=8.5)
    text = "是否影响通行（人行道、盲道、消防通道），是否已劝离至疏导点。ABCDEFG12345摊位"
    lines = _wrap_line(pdf, text, 20.0)
    assert "".join(lines) == text and len(lines) > 2
    assert all(pdf.get_string_width(line) <= 20.0 + 1e-6 for line in lines)
    assert not any(line[0] in "，。、）" for line in lines[1:])


def test_xlsx_round_trip() -> None:
    sheet = make_sheet(4, label="模拟数据")
    sheet.stops[2].address = "=HYPERLINK(\"http://example.com\")"
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(sheet)))
    ws = wb["路线单"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "书院中队 第一组 巡查路线单"
    assert any(r[0] == "数据说明" and r[2] == "模拟数据" for r in rows)
    head = next(i for i, r in enumerate(rows) if r[0] == "序号")
    assert rows[head][:3] == ("序号", "到达时段", "类型")
    body = rows[head + 1: head + 5]
    assert [r[0] for r in body] == [1, 2, 3, 4]
    assert body[0][1] == "07:10–07:20" and body[0][2] == "热点"
    assert "□ 是否已劝离至疏导点" in body[0][7]
    assert body[2][4] == "'=HYPERLINK(\"http://example.com\")"  # text with an apostrophe, never a formula
    assert ws.cell(row=head + 4, column=5).data_type == "s"  # text, not a formula
    assert body[0][9] == pytest.approx(sheet.stops[0].lon, abs=1e-6)
    assert ws.print_title_rows == f"${head + 1}:${head + 1}"
    assert "模拟数据" in ws.oddFooter.left.text


def test_html_escapes_everything() -> None:
    sheet = make_sheet(3, what=EVIL, label=EVIL, squad_name=EVIL, note=EVIL,
                       members=[(EVIL, "城管队员")])
    sheet.stops[0].community = EVIL
    sheet.stops[0].checklist = [EVIL]
    page = render_html(sheet)
    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6
    assert page.count("<circle") == 3 and "<polyline" in page
    assert "@page" in page and 'lang="zh-CN"' in page


def test_html_plain_content() -> None:
    page = render_html(make_sheet(3))
    for needle in ("书院中队 第一组 巡查路线单", "数据说明：模拟数据，仅供演示", "点位03号",
                   "是否已劝离至疏导点", "西大社区", "工作日志记录"):
        assert needle in page


def test_checklists() -> None:
    stall = checklist_for("09006")
    assert "是否已劝离至疏导点" in stall and "摊位数量及经营品种" in stall
    assert checklist_for("", category_name="占道经营") == stall
    assert checklist_for("占道经营") == stall
    assert checklist_for("09006", kind="疏导点")[0] == "摊位是否在划定范围内经营"
    recheck = checklist_for("06036", kind="复查")
    assert recheck[0] == "上次问题是否已整改" and recheck[-2:] == checklist_for("06036")[:2]
    assert checklist_for("99999", category_name="不存在") == ["现场情况是否正常", "发现问题拍照记录",
                                                              "处置措施及结果"]
    for code in ("09006", "09001", "09005", "09002", "06001", "08016", "06036", "06045", "06028",
                 "06040", "09004"):
        assert len(checklist_for(code)) >= 3


def test_format_clock_and_sheet_fields() -> None:
    assert format_clock(600, base="07:00") == "07:10"
    assert format_clock(90, base=datetime(2025, 5, 12, 18, 30)) == "18:32"
    assert format_clock("7:05") == "07:05" and format_clock(None) == ""
    assert format_clock(3600 * 5, base="22:00") == "03:00（次日）"
    midnight = make_sheet(1, times_from="00:00")
    midnight.stops[0].arrive, midnight.stops[0].depart = 7 * 3600 + 300, 7 * 3600 + 900
    assert midnight.window(midnight.stops[0]) == "07:05–07:15"
    assert SheetStop(seq=1, category="06045").category_text() == "非法占绿毁绿"
    assert SheetStop(seq=1, category="x1").category_text() == "x1"
    sheet = make_sheet(1, date="2025-05-13")
    assert sheet.date == date(2025, 5, 13) and sheet.date_text().endswith("星期二")
    with pytest.raises(InputError):
        make_sheet(1, date="13.05.2025")
    with pytest.raises(InputError):
        make_sheet(1, members=[("a", "b", "c")])
    odd = make_sheet(2, team_name="第/一:组 *")
    assert sheet_filename(odd, ext="xlsx") == "2025-05-12_书院中队_第_一_组.xlsx"


def test_layout_map_projects_inside_box() -> None:
    sheet = make_sheet(8)
    d = layout_map(sheet, width=186.0, height=95.0)
    assert len(d.stops) == 8 and len(d.route) == 10  # start → 8 stops → start
    for _, x, y, _ in d.stops:
        assert 0 < x < 186 and 0 < y < 95
    assert d.polygons and {n for n, *_ in d.labels} <= set(_communities()["name"])
    assert d.scale_m in (100, 200, 250, 500, 1000) and 0 < d.scale_len <= 186 / 5 + 1e-9
    # Aspect: 1 km east and 1 km north are the same length on the page.
    ys = [y for _, _, y, _ in d.stops]
    assert max(ys) - min(ys) > 40
    nocrs = _communities().set_crs(None, allow_override=True)
    with pytest.raises(CRSError):
        layout_map(make_sheet(2, communities=nocrs), width=100, height=50)


def test_pdf_many_sheets_in_one_document() -> None:
    from dataclasses import replace

    from geo.sheets import render_pdf_many

    a = make_sheet(3)
    b = replace(make_sheet(4), team_name="第二组")
    data = render_pdf_many([a, b])
    text = pdf_text(data)
    assert a.team_name in text and "第二组" in text
    assert page_count(data) == page_count(render_pdf(a)) + page_count(render_pdf(b))
    with pytest.raises(InputError):
        render_pdf_many([])
