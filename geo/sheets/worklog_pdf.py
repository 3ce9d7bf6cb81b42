"""The official 《城管进社区工作日志》 of one community work station for one day or one week, as an
A4 PDF with the embedded Chinese font of the route sheets (:func:`geo.sheets.a4.default_font_path`).

Header: title, squad and station, the day or week, the officers of the station and the authors of
the entries, the data label. Then the table of entries (time, 社区, place, what was found, action,
reception outcome, linked cases, photo count; headings repeated on every page, text wrapped
character by character with the route sheets' CJK line-break rules, a row never split across
pages). A voided entry (已作废) is printed struck through in grey with its reason — a ledger keeps
it. Last the signature lines. Every page has a footer with the page number.

Build a :class:`WorkLogSheet` of :class:`WorkLogLine` s and call :func:`render_worklog_pdf`::

    sheet = WorkLogSheet(squad_name="书院中队", station_name="书院社区城管工作站",
                         period_text="2026-05-06（星期三）", officers=["张伟", "王强"],
                         lines=[WorkLogLine(time="07:40", community="书院社区", place="西大市场",
                                            problem="早市摊贩占道", action="劝导进入疏导点",
                                            outcome="当场办理", cases=["SY1"], photos=2)])
    pdf_bytes = render_worklog_pdf(sheet)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import WrapMode
from fpdf.fonts import FontFace

from geo.sheets.a4 import CONTENT_W_MM, FONT, MARGIN_MM, RED, A4Document, default_font_path
from geo.sheets.pdf import _bold_text, _wrap

_FONT = FONT
_MARGIN = MARGIN_MM
_CONTENT_W = CONTENT_W_MM
COLUMNS: tuple[tuple[str, float], ...] = (
    ("时间", 17.0), ("社区", 18.0), ("地点", 24.0), ("发现问题", 36.0), ("处置情况", 36.0),
    ("接待结果", 16.0), ("关联案件", 25.0), ("照片", 14.0))
"""The table's headings and column widths (mm); the widths add up to the 186 mm text width."""
PAD = 1.2
"""Cell padding (mm) on every side."""
FONT_SIZE = 8.5
LINE_H = 4.3
_GREY = (110, 110, 110)
_RED = RED


@dataclass(frozen=True)
class WorkLogLine:
    """One entry of the log as printed.

    ``time`` is already formatted (``HH:MM`` for a day, ``MM-DD HH:MM`` for a week);
    ``void_reason`` is set for a voided entry (printed as 已作废 with the reason).
    """

    time: str
    community: str = ""
    place: str = ""
    problem: str = ""
    action: str = ""
    outcome: str = ""
    cases: Sequence[str] = ()
    photos: int = 0
    author: str = ""
    void_reason: str | None = None

    def cells(self) -> list[str]:
        """The texts of the table's cells, in :data:`COLUMNS` order."""
        problem = self.problem
        if self.void_reason is not None:
            problem = f"【已作废：{self.void_reason}】\n{problem}"
        when = "\n".join(t for t in (self.time, self.author) if t)
        return [when, self.community, self.place, problem, self.action, self.outcome or "—",
                "\n".join(self.cases) or "—", f"{int(self.photos)} 张"]


@dataclass(frozen=True)
class WorkLogSheet:
    """The log of one station for one period: heading fields and the entries, oldest first."""

    squad_name: str
    station_name: str
    period_text: str
    officers: Sequence[str] = ()
    authors: Sequence[str] = ()
    lines: Sequence[WorkLogLine] = field(default_factory=list)
    data_label: str = ""

    def title(self) -> str:
        """``城管进社区工作日志``."""
        return "城管进社区工作日志"


class _LogPDF(A4Document):
    """The work log's document: running header with station and period (pages 2+)."""

    footer_fallback = "xuncha 工作日志"

    def __init__(self, sheet: WorkLogSheet, *, font_path: str | Path | None) -> None:
        super().__init__(title=f"{sheet.title()} {sheet.station_name} {sheet.period_text}",
                         font_path=font_path, grey=_GREY)
        self.sheet = sheet

    def running_title(self) -> str:
        s = self.sheet
        return f"{s.title()}（续） · {s.station_name} · {s.period_text}"

    def data_label(self) -> str:
        return self.sheet.data_label


def _heading(pdf: FPDF, sheet: WorkLogSheet) -> None:
    _bold_text(pdf, 9, f"《{sheet.title()}》", 16)
    pdf.set_font(_FONT, size=9.5)
    rows = [("中队", sheet.squad_name), ("工作站", sheet.station_name),
            ("日期", sheet.period_text),
            ("在站人员", "、".join(sheet.officers) or "（未登记）"),
            ("填写人", "、".join(sheet.authors) or "—"),
            ("条目", f"{len(sheet.lines)} 条（其中作废 "
                     f"{sum(1 for ln in sheet.lines if ln.void_reason is not None)} 条）")]
    for key, value in rows:
        pdf.set_text_color(*_GREY)
        pdf.cell(18, 5.4, key)
        pdf.set_text_color(0, 0, 0)
        pdf.multi_cell(0, 5.4, value, wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
    if sheet.data_label.strip():
        pdf.set_text_color(*_RED)
        pdf.multi_cell(0, 5.4, f"数据说明：{sheet.data_label.strip()}", wrapmode=WrapMode.CHAR,
                       new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(1.5)


def inner_width(column: int) -> float:
    """The text width (mm) inside column ``column`` of the table (padding and rule taken off)."""
    return COLUMNS[column][1] - 2 * PAD - 0.3


def fit_lines(pdf: FPDF, text: str, width: float) -> list[str]:
    """``text`` wrapped to ``width`` mm with the route sheets' CJK rules
    (:func:`geo.sheets.pdf._wrap`), then any line still too wide (one long run of letters or
    digits, which those rules keep together) cut character by character."""
    out: list[str] = []
    for ln in _wrap(pdf, text, width).split("\n"):
        while len(ln) > 1 and pdf.get_string_width(ln) > width:
            cut = len(ln) - 1
            while cut > 1 and pdf.get_string_width(ln[:cut]) > width:
                cut -= 1
            out.append(ln[:cut])
            ln = ln[cut:]
        out.append(ln)
    return out


def wrapped_cells(pdf: FPDF, line: WorkLogLine) -> list[str]:
    """``line``'s cells pre-wrapped to their columns (font already set on ``pdf``)."""
    return ["\n".join(fit_lines(pdf, text, inner_width(i))) for i, text in enumerate(line.cells())]


def _table(pdf: FPDF, sheet: WorkLogSheet) -> None:
    pdf.set_font(_FONT, size=FONT_SIZE)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    heading = FontFace(emphasis="", fill_color=(225, 225, 225))
    void = FontFace(color=_GREY)
    with pdf.table(col_widths=tuple(w for _, w in COLUMNS), width=_CONTENT_W,
                   line_height=LINE_H, wrapmode=WrapMode.CHAR, text_align="LEFT",
                   v_align="TOP", padding=PAD, headings_style=heading,
                   repeat_headings=1) as table:
        row = table.row()
        for name, _ in COLUMNS:
            row.cell(name, align="C")
        for line in sheet.lines:
            row = table.row(style=void if line.void_reason is not None else None)
            for i, text in enumerate(wrapped_cells(pdf, line)):
                row.cell(text, align="C" if i in (0, 5, 7) else "L")
    if not sheet.lines:
        pdf.set_text_color(*_GREY)
        pdf.cell(0, 7, "本期没有日志条目。", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)


def _signatures(pdf: FPDF) -> None:
    if pdf.get_y() + 34 > pdf.h - 16:
        pdf.add_page()
    pdf.ln(5)
    pdf.set_font(_FONT, size=9.5)
    pdf.set_draw_color(120, 120, 120)
    half = _CONTENT_W / 2
    for left, right in (("记录人签名：", "日期："), ("站长签名：", "日期："),
                        ("中队长审核：", "日期：")):
        y = pdf.get_y()
        pdf.cell(half, 8, left)
        pdf.cell(half, 8, right, new_x="LMARGIN", new_y="NEXT")
        pdf.line(_MARGIN + 24, y + 7, _MARGIN + half - 6, y + 7)
        pdf.line(_MARGIN + half + 12, y + 7, _MARGIN + _CONTENT_W, y + 7)
        pdf.ln(2)


def render_worklog_pdf(sheet: WorkLogSheet, *, font_path: str | Path | None = None) -> bytes:
    """Render the 《城管进社区工作日志》 of ``sheet`` as an A4 PDF.

    Parameters
    ----------
    sheet : WorkLogSheet
        The station, period, officers and entries.
    font_path : str or Path, optional
        A Chinese ``.otf``/``.ttf`` font to embed (subset); default: Noto Sans CJK SC from
        ``mplfonts`` (:func:`geo.sheets.a4.default_font_path`).

    Returns
    -------
    bytes
        The PDF document.
    """
    pdf = _LogPDF(sheet, font_path=font_path)
    pdf.start_form()
    _heading(pdf, sheet)
    _table(pdf, sheet)
    _signatures(pdf)
    return bytes(pdf.output())


def font_for_measuring(font_path: str | Path | None = None) -> FPDF:
    """An FPDF with the table font set, to measure wrapped cells (tests: no text overflow)."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_font(_FONT, fname=str(font_path or default_font_path()))
    pdf.set_font(_FONT, size=FONT_SIZE)
    return pdf
