"""Route sheets as XLSX (openpyxl), and every XLSX/CSV table writer of the project.

The workbook shows the same content as the PDF (:mod:`geo.sheets.pdf`): header, data label,
totals, the table of stops with checklists and sign-off, and room for the work log; every string
is written as text, never as a formula. The print-friendly HTML page is in :mod:`geo.sheets.html_page`
(:func:`render_html` and :func:`render_svg` are re-exported here).

The one writer rule for every XLSX and CSV export of the project lives here too: each string
cell goes through :func:`geo.safe_text.formula_safe` (a leading ``=``, ``+``, ``-``, ``@``, tab
or carriage return gets an apostrophe), so a spreadsheet program never evaluates user text.
:func:`geo.safe_text.formula_safe_frame` applies it to a DataFrame, :func:`write_csv_table` writes a DataFrame
as CSV with it (every field with a line break quoted) and :func:`write_xlsx_tables` writes
DataFrames as XLSX sheets with it (and without the control characters that openpyxl refuses).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from geo.safe_text import XLSX_ILLEGAL_CHARACTERS, formula_safe, formula_safe_frame
from geo.sheets.html_page import render_html, render_svg
from geo.sheets.model import SheetStop, TeamSheet

__all__ = ["print_setup", "render_html", "render_svg", "render_xlsx", "text_width",
           "write_csv_table", "write_xlsx_tables"]

_XLSX_COLS: tuple[tuple[str, float], ...] = (
    ("序号", 6), ("到达时段", 13), ("类型", 9), ("社区", 12), ("地址或地标", 24),
    ("问题类型", 14), ("情况说明", 32), ("检查要点", 36), ("签认", 12), ("经度", 11),
    ("纬度", 11),
)
_LEG_COL = ("前往本站", 18)
_THIN = Side(style="thin", color="666666")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP_TOP = Alignment(wrap_text=True, vertical="top")


def _text(value: object) -> str:
    """Text safe for a worksheet cell: control characters removed."""
    return XLSX_ILLEGAL_CHARACTERS.sub("", "" if value is None else str(value))


def text_width(value: object) -> float:
    """Display width of ``value`` in spreadsheet column units (a CJK character counts 2)."""
    lines = str("" if value is None else value).split("\n")
    return max((sum(2.0 if ord(ch) > 0x2E7F else 1.0 for ch in line) for line in lines),
               default=0.0)


def print_setup(ws: Worksheet, *, header_row: int = 1, landscape: bool = False,
                footer: str = "") -> None:
    """A4, fit to one page wide, ``header_row`` repeated on every printed page and frozen.

    Parameters
    ----------
    ws : Worksheet
        The sheet (changed in place).
    header_row : int
        The table's heading row (1-based).
    landscape : bool
        Landscape instead of portrait.
    footer : str
        Left footer text (the page number goes on the right).
    """
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    if footer:
        ws.oddFooter.left.text = _text(footer)
    ws.oddFooter.right.text = "第 &P 页 / 共 &N 页"


def _fit_columns(ws: Worksheet, table: pd.DataFrame, *, max_width: float = 48.0) -> bool:
    """Set each column's width from its heading and values; True if some text wraps."""
    wraps = False
    for c, name in enumerate(table.columns, start=1):
        widths = [text_width(name)] + [text_width(v) for v in table.iloc[:, c - 1].head(2000)]
        want = max(widths) + 2.0
        wraps = wraps or want > max_width
        ws.column_dimensions[get_column_letter(c)].width = min(max(want, 6.0), max_width)
    return wraps


def write_xlsx_tables(target: str | Path | IO[bytes], tables: Mapping[str, pd.DataFrame], *,
                      footer: str = "") -> None:
    """Write each DataFrame of ``tables`` as one sheet of an XLSX workbook, formula-safe and
    ready to print.

    Parameters
    ----------
    target : str, Path or binary file
        Where the workbook goes (a path, or e.g. an ``io.BytesIO``).
    tables : mapping of str to DataFrame
        Sheet name → table, in sheet order; written with a header row and without the index.
        Every string cell goes through :func:`formula_safe_frame` (``strip_control=True``),
        so no cell of the workbook is a formula.
    footer : str
        Printed at the bottom left of every page (e.g. ``模拟数据，仅供演示``).

    Notes
    -----
    Each sheet gets column widths from its content (CJK characters count double, at most 48;
    longer text wraps), a bold shaded heading row that is frozen and repeated on every printed
    page, A4 paper fitted to one page wide (landscape for more than 6 columns) and page numbers.
    """
    with pd.ExcelWriter(target, engine="openpyxl") as writer:
        for name, table in tables.items():
            safe = formula_safe_frame(table, strip_control=True)
            safe.to_excel(writer, sheet_name=name, index=False)
            ws = writer.sheets[name]
            wraps = _fit_columns(ws, safe)
            for cell in ws[1]:
                cell.font = Font(bold=True)
                cell.fill = PatternFill("solid", fgColor="E1E1E1")
                cell.alignment = Alignment(horizontal="center", vertical="center",
                                           wrap_text=True)
            if wraps:
                for row in ws.iter_rows(min_row=2):
                    for cell in row:
                        cell.alignment = _WRAP_TOP
            print_setup(ws, header_row=1, landscape=len(safe.columns) > 6, footer=footer)


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
    legs = any(sheet.leg_text(stop) for stop in sheet.stops)
    cols = [*_XLSX_COLS, _LEG_COL] if legs else list(_XLSX_COLS)
    for c, (name, width) in enumerate(cols, start=1):
        _put(ws, head, c, name)
        cell = ws.cell(row=head, column=c)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E1E1E1")
        cell.border = _BOX
        cell.alignment = Alignment(horizontal="center", vertical="center")
        ws.column_dimensions[get_column_letter(c)].width = width
    for i, stop in enumerate(sheet.stops, start=head + 1):
        values = _stop_row(sheet, stop) + ([sheet.leg_text(stop)] if legs else [])
        for c, value in enumerate(values, start=1):
            _put(ws, i, c, value)
            ws.cell(row=i, column=c).border = _BOX
            ws.cell(row=i, column=c).alignment = _WRAP_TOP
    _xlsx_log_block(ws, head + len(sheet.stops) + 2)
    label = sheet.data_label.strip()
    print_setup(ws, header_row=head, landscape=True,
                footer=f"数据说明：{label}" if label else "xuncha 巡查路线单")
    ws.print_options.gridLines = False
    wb.properties.title = _text(sheet.title())
    wb.properties.creator = "xuncha"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
