"""Route sheets that show everything they claim: PDF legend and scale bar never over a stop,
stacked stops spread, legs shown, XLSX print-ready, the HTML sheet on a 390 px phone without
overlaps and its print button calling ``window.print``."""

from __future__ import annotations

import io
import math
import os
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from shapely.geometry import box

from geo.labels import format_leg
from geo.sheets import SheetStop, TeamMember, TeamSheet, render_html, render_pdf, render_xlsx
from geo.sheets.draw import layout_map, spread_markers
from geo.sheets.pdf import _CONTENT_W, _MARGIN, furniture_boxes, stop_boxes
from geo.sheets.tabular import write_xlsx_tables

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LON0, LAT0 = 113.915, 30.925


def _sheet(*, corners: bool = True, stacked: bool = True) -> TeamSheet:
    """Stops on a ring, plus stops in every corner of the view (where a legend or scale bar
    drawn inside the frame would sit) and three stops at one place."""
    pts = [(LON0 + 0.012 + 0.009 * math.cos(2 * math.pi * k / 8),
            LAT0 + 0.0105 + 0.008 * math.sin(2 * math.pi * k / 8)) for k in range(8)]
    if corners:
        pts += [(LON0 + 0.0005, LAT0 + 0.0005), (LON0 + 0.0235, LAT0 + 0.0005),
                (LON0 + 0.0005, LAT0 + 0.0205), (LON0 + 0.0235, LAT0 + 0.0205)]
    if stacked:
        pts += [(LON0 + 0.012, LAT0 + 0.0105)] * 3
    stops = [SheetStop(seq=k + 1, arrive=600 * (k + 1), depart=600 * (k + 1) + 300,
                       community="西大社区", address=f"书院街{k + 1}号", what=f"点位{k + 1:02d}号",
                       category="09006", kind=("热点", "复查", "疏导点", "社区巡查")[k % 4],
                       lon=x, lat=y, leg_m=347.0 + k, leg_s=290.0)
             for k, (x, y) in enumerate(pts)]
    return TeamSheet(squad_name="书院中队", team_name="书院一组", members=[TeamMember("张伟", "城管队员")],
                     date=date(2025, 5, 12), stops=stops, distance_m=5230, duration_s=9000,
                     communities=[("西大社区", box(LON0, LAT0, LON0 + 0.024, LAT0 + 0.021))],
                     start_name="西大社区工作站", start_lonlat=(LON0 + 0.0005, LAT0 + 0.0195),
                     data_label="模拟数据，仅供演示")


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_pdf_legend_and_scale_bar_never_cover_a_stop() -> None:
    sheet = _sheet()
    d = layout_map(sheet, width=_CONTENT_W, height=95.0, marker_r=2.4)
    x0, y0 = _MARGIN, 40.0
    furniture = furniture_boxes(d, x0, y0)
    markers = stop_boxes(d, x0, y0)
    assert len(markers) == len(sheet.stops) + 1  # every stop and the work station
    for name, fbox in furniture.items():
        for m in markers:
            assert not _overlap(fbox, m), (name, fbox, m)
        assert fbox[1] >= y0 + d.height  # below the map frame
        assert x0 <= fbox[0] and fbox[0] + fbox[2] <= x0 + _CONTENT_W + 1e-9
    names = list(furniture)
    for i, a in enumerate(names):  # legend, scale bar and north arrow apart from each other
        for b in names[i + 1:]:
            assert not _overlap(furniture[a], furniture[b]), (a, b)
    text = re.sub(r"\s+", "", _pdf_text(render_pdf(sheet)))
    for needle in ("热点", "社区巡查", "工作站", "北", "步行350米·5分"):
        assert needle in text, needle


def test_stacked_stops_are_spread_with_leaders() -> None:
    d = layout_map(_sheet(corners=False), width=186.0, height=95.0, marker_r=2.4)
    spots = [(x, y) for _, x, y, _ in d.stops]
    for i, a in enumerate(spots):
        for b in spots[i + 1:]:
            assert math.dist(a, b) >= 2 * 2.4 - 1e-9  # no two markers overlap
        assert 2.4 - 1e-9 <= a[0] <= 186 - 2.4 + 1e-9 and 2.4 - 1e-9 <= a[1] <= 95 - 2.4 + 1e-9
    moved = [k for k, (s, a) in enumerate(zip(spots, d.anchors, strict=True)) if s != a]
    assert len(moved) == 3  # only the three stacked stops, each still near its place
    assert all(math.dist(spots[k], d.anchors[k]) < 6 for k in moved)
    assert spread_markers([(0.0, 0.0), (50.0, 0.0)], 2.0) == [(0.0, 0.0), (50.0, 0.0)]
    assert layout_map(_sheet(), width=186, height=95).anchors == \
        [(x, y) for _, x, y, _ in layout_map(_sheet(), width=186, height=95).stops]


def test_leg_text() -> None:
    assert format_leg(347, 290) == "步行 350 米 · 5 分"
    assert format_leg(1234, 600, mode="ebike") == "电动车 1.2 公里 · 10 分"
    assert format_leg(None, None) == ""
    sheet = _sheet()
    assert sheet.leg_text(sheet.stops[0]) == "步行 350 米 · 5 分"
    assert "步行 350 米 · 5 分" in render_html(sheet)


def test_xlsx_route_sheet_and_tables_are_print_ready() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(_sheet())))
    ws = wb["路线单"]
    rows = list(ws.iter_rows(values_only=True))
    head = next(i for i, r in enumerate(rows) if r[0] == "序号")
    assert rows[head][-1] == "前往本站" and rows[head + 1][-1] == "步行 350 米 · 5 分"
    buf = io.BytesIO()
    table = pd.DataFrame({"队伍": ["书院一组", "书院二组"], "地址": ["书院街" * 30, "=1+1"],
                          "序号": [1, 2]})
    write_xlsx_tables(buf, {"巡查路线": table, "说明": pd.DataFrame({"说明": ["模拟数据"]})},
                      footer="模拟数据，仅供演示")
    wb2 = openpyxl.load_workbook(io.BytesIO(buf.getvalue()))
    for sheet in (ws, wb2["巡查路线"], wb2["说明"]):
        assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4
        assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.print_title_rows and sheet.freeze_panes
    t = wb2["巡查路线"]
    assert t.print_title_rows == "$1:$1" and t.freeze_panes == "A2"
    widths = {k: v.width for k, v in t.column_dimensions.items()}
    assert widths["A"] >= 10 and widths["B"] == 48 and 6 <= widths["C"] < 10
    assert t["B2"].alignment.wrap_text  # long text wraps instead of running off the page
    assert t["B3"].value == "'=1+1" and t["B3"].data_type == "s"  # still formula-safe
    assert t["A1"].font.bold and "模拟数据" in t.oddFooter.left.text


def _pdf_text(data: bytes) -> str:
    import shutil
    import subprocess

    if not shutil.which("pdftotext"):
        pytest.skip("需要 pdftotext（poppler-utils）")
    return subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data,
                          capture_output=True, check=True).stdout.decode("utf-8")


def _playwright() -> Any:
    import importlib

    sync_playwright: Any
    try:
        sync_playwright = importlib.import_module("playwright.sync_api").sync_playwright
    except ImportError:
        sync_playwright = None
    reason = ("playwright is not installed" if sync_playwright is None else
              f"{CHROMIUM} is missing" if not CHROMIUM.exists() else "")
    if reason:
        if os.environ.get("XUNCHA_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    return sync_playwright


@pytest.mark.browser
def test_html_sheet_on_a_phone_and_its_print_button(tmp_path: Path) -> None:
    sync_playwright = _playwright()
    page_file = tmp_path / "sheet.html"
    page_file.write_text(render_html(_sheet()), encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(page_file.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
        rows = page.locator("table.stops tbody tr")
        assert rows.count() == len(_sheet().stops)
        for i in range(rows.count()):
            cells = rows.nth(i).locator("td")
            boxes = [cells.nth(k).bounding_box() for k in range(cells.count())]
            assert all(b is not None and b["width"] > 0 for b in boxes)
            for a in range(len(boxes)):
                assert boxes[a]["x"] + boxes[a]["width"] <= 390 + 0.5  # type: ignore[index]
                for b in range(a + 1, len(boxes)):
                    ba, bb = boxes[a], boxes[b]
                    assert not _overlap((ba["x"], ba["y"], ba["width"], ba["height"]),  # type: ignore[index]
                                        (bb["x"], bb["y"], bb["width"], bb["height"])), (i, a, b)  # type: ignore[index]
            # no cell's text runs out of its box (the times used to run into the addresses)
            assert cells.evaluate_all("cs => cs.every(c => c.scrollWidth <= c.clientWidth + 1)")
        page.evaluate("() => { window.__printed = 0;"
                      " window.print = () => { window.__printed += 1; }; }")
        page.get_by_role("button", name="打印路线单").click()
        assert page.evaluate("window.__printed") == 1
        page.emulate_media(media="print")
        assert not page.get_by_role("button", name="打印路线单").is_visible()
        browser.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
