"""Route sheets as XLSX (openpyxl) and as a print-friendly HTML page with an inline SVG map.

Both show the same content as the PDF (:mod:`geo.sheets.pdf`): header, data label, totals,
the table of stops with checklists and sign-off, and room for the work log. Every string from
the data is escaped in HTML (``html.escape``) and written as text, never as a formula, in XLSX.

The one writer rule for every XLSX and CSV export of the project lives here too: each string
cell goes through :func:`geo.safe_text.formula_safe` (a leading ``=``, ``+``, ``-``, ``@``, tab
or carriage return gets an apostrophe), so a spreadsheet program never evaluates user text.
:func:`geo.safe_text.formula_safe_frame` applies it to a DataFrame, :func:`write_csv_table` writes a DataFrame
as CSV with it (every field with a line break quoted) and :func:`write_xlsx_tables` writes
DataFrames as XLSX sheets with it (and without the control characters that openpyxl refuses).
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from geo.labels import KIND_COLOURS
from geo.safe_text import XLSX_ILLEGAL_CHARACTERS, formula_safe, formula_safe_frame
from geo.sheets.draw import MapDrawing, layout_map, scale_label
from geo.sheets.model import SheetStop, TeamSheet

_XLSX_COLS: tuple[tuple[str, float], ...] = (
    ("序号", 6), ("到达时段", 13), ("类型", 9), ("社区", 12), ("地址或地标", 24),
    ("问题类型", 14), ("情况说明", 32), ("检查要点", 36), ("签认", 12), ("经度", 11),
    ("纬度", 11),
)
_THIN = Side(style="thin", color="666666")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP_TOP = Alignment(wrap_text=True, vertical="top")


def _text(value: object) -> str:
    """Text safe for a worksheet cell: control characters removed."""
    return XLSX_ILLEGAL_CHARACTERS.sub("", "" if value is None else str(value))


def write_xlsx_tables(target: str | Path | IO[bytes], tables: Mapping[str, pd.DataFrame]) -> None:
    """Write each DataFrame of ``tables`` as one sheet of an XLSX workbook, formula-safe.

    Parameters
    ----------
    target : str, Path or binary file
        Where the workbook goes (a path, or e.g. an ``io.BytesIO``).
    tables : mapping of str to DataFrame
        Sheet name → table, in sheet order; written with a header row and without the index.
        Every string cell goes through :func:`formula_safe_frame` (``strip_control=True``),
        so no cell of the workbook is a formula.
    """
    with pd.ExcelWriter(target, engine="openpyxl") as writer:
        for name, table in tables.items():
            formula_safe_frame(table, strip_control=True).to_excel(
                writer, sheet_name=name, index=False)


def write_csv_table(target: str | Path | IO[str], table: pd.DataFrame) -> None:
    """Write ``table`` as a formula-safe CSV (UTF-8 with BOM for Excel, CRLF line ends).

    Parameters
    ----------
    target : str, Path or text file
        Where the CSV goes.
    table : DataFrame
        Written with a header row and without the index. String cells go through
        :func:`formula_safe_frame`; with CRLF line ends every field holding a carriage return
        or a newline is quoted, so no field can end a row early and start the next one with a
        formula (a bare ``\r`` is a line break to spreadsheet programs).
    """
    formula_safe_frame(table).to_csv(target, index=False, encoding="utf-8-sig",
                                     lineterminator="\r\n")


def _put(ws: Worksheet, row: int, col: int, value: object) -> None:
    """Write ``value``; strings are stored as formula-safe text (never as a formula)."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str) or value is None:
        cell.value = formula_safe(_text(value))  # type: ignore[assignment]
        cell.data_type = "s"
    else:
        cell.value = value  # type: ignore[assignment]


def _stop_row(sheet: TeamSheet, stop: SheetStop) -> list[object]:
    return [
        stop.seq, sheet.window(stop), stop.kind, stop.community, stop.address,
        stop.category_text(), stop.what,
        "\n".join(f"□ {item}" for item in stop.items()), "",
        round(float(stop.lon), 6) if stop.lon is not None and stop.has_position() else None,
        round(float(stop.lat), 6) if stop.lat is not None and stop.has_position() else None,
    ]


def _xlsx_header(ws: Worksheet, sheet: TeamSheet) -> int:
    """Write the header block; return the next free row."""
    ncol = len(_XLSX_COLS)
    _put(ws, 1, 1, sheet.title())
    ws.cell(row=1, column=1).font = Font(size=14, bold=True)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
    rows = [("日期", f"{sheet.date_text()}  班次 {sheet.shift_text()}"),
            ("队员", sheet.members_text()), ("出发", sheet.start_name), ("备注", sheet.note),
            ("数据说明", sheet.data_label.strip()), ("合计", sheet.totals_text())]
    r = 2
    for key, value in rows:
        if not value:
            continue
        _put(ws, r, 1, key)
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=2)
        _put(ws, r, 3, value)
        ws.merge_cells(start_row=r, start_column=3, end_row=r, end_column=ncol)
        if key == "数据说明":
            ws.cell(row=r, column=3).font = Font(color="B41E1E", bold=True)
        r += 1
    return r + 1


def _xlsx_log_block(ws: Worksheet, first_row: int) -> None:
    ncol = len(_XLSX_COLS)
    _put(ws, first_row, 1, "工作日志记录")
    ws.cell(row=first_row, column=1).font = Font(bold=True, size=12)
    r = first_row + 1
    for label in ("发现问题及处置情况（时间、地点、问题、措施）", "居民接待（诉求、处理结果）",
                  "需复查 / 交接下一班事项", "队员签名 / 中队长审核 / 返回时间"):
        _put(ws, r, 1, label)
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=ncol)
        ws.row_dimensions[r + 1].height = 48
        ws.merge_cells(start_row=r + 1, start_column=1, end_row=r + 1, end_column=ncol)
        ws.cell(row=r + 1, column=1).border = _BOX
        r += 2


def render_xlsx(sheet: TeamSheet) -> bytes:
    """Render one team's route sheet as an XLSX workbook (sheet 「路线单」, A4, fit to width).

    Parameters
    ----------
    sheet : TeamSheet
        The team, day and stops.

    Returns
    -------
    bytes
        The workbook.
    """
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "路线单"
    head = _xlsx_header(ws, sheet)
    for c, (name, width) in enumerate(_XLSX_COLS, start=1):
        _put(ws, head, c, name)
        cell = ws.cell(row=head, column=c)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E1E1E1")
        cell.border = _BOX
        cell.alignment = Alignment(horizontal="center", vertical="center")
        ws.column_dimensions[get_column_letter(c)].width = width
    for i, stop in enumerate(sheet.stops, start=head + 1):
        for c, value in enumerate(_stop_row(sheet, stop), start=1):
            _put(ws, i, c, value)
            ws.cell(row=i, column=c).border = _BOX
            ws.cell(row=i, column=c).alignment = _WRAP_TOP
    _xlsx_log_block(ws, head + len(sheet.stops) + 2)
    ws.print_title_rows = f"{head}:{head}"
    ws.freeze_panes = ws.cell(row=head + 1, column=1)
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    label = sheet.data_label.strip()
    ws.oddFooter.left.text = _text(f"数据说明：{label}" if label else "xuncha 巡查路线单")
    ws.oddFooter.right.text = "第 &P 页 / 共 &N 页"
    wb.properties.title = _text(sheet.title())
    wb.properties.creator = "xuncha"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _pts(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def render_svg(drawing: MapDrawing) -> str:
    """The route map as an inline SVG element (names escaped)."""
    d = drawing
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {d.width:.0f} {d.height:.0f}" '
           'role="img" aria-label="巡查路线图">',
           f'<rect width="{d.width:.0f}" height="{d.height:.0f}" fill="#fff"/>']
    for name, rings in d.polygons:
        path = " ".join("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in r) + " Z" for r in rings)
        out.append(f'<path d="{path}" fill="#f3f1ea" stroke="#969696" stroke-width="0.8" '
                   f'fill-rule="evenodd"><title>{_e(name)}</title></path>')
    for name, x, y in d.labels:
        out.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" fill="#777" '
                   f'text-anchor="middle">{_e(name)}</text>')
    if len(d.route) >= 2:
        out.append(f'<polyline points="{_pts(d.route)}" fill="none" stroke="#1e5ac8" '
                   'stroke-width="2.5" stroke-linejoin="round"/>')
    if d.start is not None:
        out.append(f'<rect x="{d.start[0] - 6:.1f}" y="{d.start[1] - 6:.1f}" width="12" '
                   'height="12" fill="#282828"><title>出发点</title></rect>')
    for seq, x, y, kind in d.stops:
        colour = KIND_COLOURS.get(kind, "#555555")
        out.append(f'<g><title>{_e(kind)} {seq}</title><circle cx="{x:.1f}" cy="{y:.1f}" r="9" '
                   f'fill="{colour}" stroke="#fff" stroke-width="1.5"/><text x="{x:.1f}" '
                   f'y="{y + 3.8:.1f}" font-size="10.5" fill="#fff" text-anchor="middle">'
                   f"{seq}</text></g>")
    y0 = d.height - 14
    out.append(f'<rect x="8" y="{y0 - 12:.1f}" width="{d.scale_len + 70:.1f}" height="22" '
               f'fill="#fff"/><line x1="14" y1="{y0:.1f}" x2="{14 + d.scale_len:.1f}" '
               f'y2="{y0:.1f}" stroke="#000" stroke-width="2"/><text x="{20 + d.scale_len:.1f}" '
               f'y="{y0 + 4:.1f}" font-size="11">{_e(scale_label(d.scale_m))}</text>')
    out.append("</svg>")
    return "\n".join(out)


_CSS = """
@page { size: A4 portrait; margin: 12mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
  sans-serif; font-size: 10pt; color: #000; max-width: 186mm; margin: 0 auto; }
h1 { font-size: 16pt; margin: 0 0 4px; } h2 { font-size: 12pt; margin: 6px 0; }
dl.info { display: grid; grid-template-columns: 4.5em 1fr; margin: 0 0 6px; gap: 1px 4px; }
dl.info dt { color: #555; } dl.info dd { margin: 0; }
.data-label { color: #b41e1e; font-weight: bold; }
.map svg { width: 100%; height: auto; border: 1px solid #000; display: block;
  box-sizing: border-box; }
.legend span { margin-right: 1.2em; } .legend i { display: inline-block; width: .8em;
  height: .8em; border-radius: 50%; margin-right: .3em; vertical-align: -1px; }
table.stops { width: 100%; border-collapse: collapse; margin-top: 4px; table-layout: fixed; }
table.stops th, table.stops td { border: 1px solid #444; padding: 3px; vertical-align: top;
  overflow-wrap: anywhere; line-break: strict; }
table.stops th { background: #e1e1e1; }
table.stops thead { display: table-header-group; }
table.stops tr { break-inside: avoid; page-break-inside: avoid; }
td.seq, td.win { text-align: center; white-space: nowrap; }
ul.check { list-style: none; margin: 0; padding: 0; } ul.check li::before { content: "□ "; }
.kind { font-weight: bold; }
.log { break-inside: avoid; page-break-inside: avoid; margin-top: 10px; }
.log .line { border-bottom: 1px solid #aaa; height: 7mm; }
.sign { display: flex; justify-content: space-between; margin-top: 8mm; }
footer { margin-top: 8px; font-size: 8pt; color: #555; }
@media screen { body { padding: 12px; } }
"""


_COLGROUP = "<colgroup>" + "".join(
    f'<col style="width:{w}%">' for w in (6, 12, 20, 24, 28, 10)
) + "</colgroup>"


def _html_row(sheet: TeamSheet, s: SheetStop) -> str:
    checks = "".join(f"<li>{_e(item)}</li>" for item in s.items())
    cat = s.category_text()
    return (
        f'<tr><td class="seq">{_e(s.seq)}</td><td class="win">{_e(sheet.window(s) or "—")}</td>'
        f"<td>{_e(s.community)}<br>{_e(s.address)}</td>"
        f'<td><span class="kind">【{_e(s.kind)}】{_e(cat)}</span><br>{_e(s.what)}</td>'
        f'<td><ul class="check">{checks}</ul></td><td>到达：<br>签名：</td></tr>'
    )


def render_html(sheet: TeamSheet, *, map_width_px: float = 744, map_height_px: float = 380) -> str:
    """Render one team's route sheet as a self-contained, print-friendly HTML page.

    Parameters
    ----------
    sheet : TeamSheet
        The team, day and stops.
    map_width_px, map_height_px : float
        Size of the inline SVG route map's view box (it scales to the page width).

    Returns
    -------
    str
        An HTML document (UTF-8, ``lang="zh-CN"``, A4 ``@page`` rules, no external resources).
    """
    info = [("日期", f"{sheet.date_text()}　班次 {sheet.shift_text()}"),
            ("队员", sheet.members_text() or "（未指定）"), ("出发", sheet.start_name),
            ("备注", sheet.note)]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in info if v)
    label = sheet.data_label.strip()
    label_html = f'<p class="data-label">数据说明：{_e(label)}</p>' if label else ""
    legend = "".join(f'<span><i style="background:{c}"></i>{_e(k)}</span>'
                     for k, c in KIND_COLOURS.items())
    svg = render_svg(layout_map(sheet, width=map_width_px, height=map_height_px))
    rows = "".join(_html_row(sheet, s) for s in sheet.stops)
    lines = "".join('<div class="line"></div>' for _ in range(3))
    log = "".join(f"<p>{t}</p>{lines}" for t in ("发现问题及处置情况（时间、地点、问题、措施）",
                                                 "居民接待（诉求、处理结果）",
                                                 "需复查 / 交接下一班事项"))
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(sheet.title())} {_e(sheet.date.isoformat())}</title><style>{_CSS}</style></head>
<body>
<h1>{_e(sheet.title())}</h1>
<dl class="info">{dl}</dl>{label_html}
<div class="map">{svg}</div>
<p class="legend">{legend}</p>
<p class="totals">{_e(sheet.totals_text())}</p>
<table class="stops">{_COLGROUP}<thead><tr><th>序号</th><th>到达时段</th><th>社区 / 地址</th>
<th>类型 / 事项</th><th>检查要点</th><th>签认</th></tr></thead>
<tbody>{rows}</tbody></table>
<section class="log"><h2>工作日志记录</h2>{log}
<div class="sign"><span>队员签名：</span><span>中队长审核：</span><span>返回时间：</span></div>
</section>
<footer>{_e(f"数据说明：{label}" if label else "xuncha 巡查路线单")}</footer>
</body></html>
"""
