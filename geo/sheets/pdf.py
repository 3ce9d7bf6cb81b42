"""The A4 PDF route sheet (路线单) of one team for one day, with an embedded Chinese font.

Page 1: title, team and shift, the data label, a vector route map (community polygons, route,
numbered stops, spread apart where they would overlap; no tiles) with its legend, scale bar and
north arrow in a strip below the frame (never over a stop), totals. Then the table of stops (headings repeated on every page,
long text wrapped character by character, a row never split across pages) and a block for the
work log (工作日志) and signatures. Every page has a footer with the page number and data label.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TextMode, WrapMode
from fpdf.fonts import FontFace

from geo.errors import InputError
from geo.labels import KIND_COLOURS
from geo.sheets.a4 import CONTENT_W_MM, FONT, MARGIN_MM, RED, A4Document
from geo.sheets.draw import MapDrawing, layout_map, scale_label
from geo.sheets.model import SheetStop, TeamSheet

_FONT = FONT
_MARGIN = MARGIN_MM
_CONTENT_W = CONTENT_W_MM
_COLS = (("序号", 10.0), ("到达时段", 25.0), ("社区 / 地址", 36.0),
         ("类型 / 事项", 43.0), ("检查要点", 52.0), ("签认", 20.0))
_PAD = 1.2
_GREY = (90, 90, 90)
_RED = RED


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


class _SheetPDF(A4Document):
    """The route sheets' document: running header with team, day and shift (pages 2+)."""

    footer_fallback = "xuncha 巡查路线单"

    def __init__(self, sheet: TeamSheet, *, title: str, font_path: str | Path | None) -> None:
        super().__init__(title=title, font_path=font_path, grey=_GREY)
        self.sheet = sheet

    def start_sheet(self, sheet: TeamSheet) -> None:
        """Begin ``sheet`` on a new page (several sheets can share one document)."""
        self.sheet = sheet
        self.start_form()

    def running_title(self) -> str:
        s = self.sheet
        return f"{s.title()}（续） · {s.date_text()} · 班次 {s.shift_text()}"

    def data_label(self) -> str:
        return self.sheet.data_label


def _bold_text(pdf: FPDF, h: float, text: str, size: float) -> None:
    """A heading: the regular CJK face, filled and stroked to look bold."""
    pdf.set_font(_FONT, size=size)
    # local_context wraps the text in q/Q: the stroke mode must not leak into later text.
    with pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=0.12 * size / 10):
        pdf.multi_cell(0, h, text, wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")


def _draw_heading(pdf: FPDF, sheet: TeamSheet) -> None:
    _bold_text(pdf, 8, sheet.title(), 16)
    pdf.set_font(_FONT, size=9.5)
    rows = [
        ("日期", f"{sheet.date_text()}    班次 {sheet.shift_text()}"),
        ("队员", sheet.members_text() or "（未指定）"),
    ]
    if sheet.start_name:
        rows.append(("出发", sheet.start_name))
    if sheet.note:
        rows.append(("备注", sheet.note))
    for key, value in rows:
        pdf.set_text_color(*_GREY)
        pdf.cell(12, 5.2, key)
        pdf.set_text_color(0, 0, 0)
        pdf.multi_cell(0, 5.2, value, wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
    if sheet.data_label.strip():
        pdf.set_text_color(*_RED)
        pdf.multi_cell(0, 5.2, f"数据说明：{sheet.data_label.strip()}", wrapmode=WrapMode.CHAR,
                       new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(1.5)


_STOP_R = 2.4
_STRIP_H = 7.0
Box = tuple[float, float, float, float]


def _draw_shapes(pdf: FPDF, d: MapDrawing, x0: float, y0: float) -> None:
    def at(p: tuple[float, float]) -> tuple[float, float]:
        return (x0 + p[0], y0 + p[1])

    pdf.set_draw_color(150, 150, 150)
    pdf.set_fill_color(243, 241, 234)
    pdf.set_line_width(0.2)
    for _name, rings in d.polygons:
        pdf.polygon([at(p) for p in rings[0]], style="DF")
        for hole in rings[1:]:
            pdf.set_fill_color(255, 255, 255)
            pdf.polygon([at(p) for p in hole], style="DF")
            pdf.set_fill_color(243, 241, 234)
    pdf.set_font(_FONT, size=6.5)
    pdf.set_text_color(120, 120, 120)
    for name, lx, ly in d.labels:
        w = pdf.get_string_width(name) + 1
        pdf.set_xy(x0 + lx - w / 2, y0 + ly - 2)
        pdf.cell(w, 4, name, align="C")
    if len(d.route) >= 2:
        pdf.set_draw_color(30, 90, 200)
        pdf.set_line_width(0.7)
        pdf.polyline([at(p) for p in d.route], style="D")
    if d.start is not None:
        sx, sy = at(d.start)
        pdf.set_fill_color(40, 40, 40)
        pdf.rect(sx - 1.8, sy - 1.8, 3.6, 3.6, style="F")
    pdf.set_draw_color(60, 60, 60)
    pdf.set_fill_color(60, 60, 60)
    pdf.set_line_width(0.2)
    for (_seq, sx, sy, _kind), anchor in zip(d.stops, d.anchors, strict=True):
        if (sx, sy) != anchor:  # a spread marker: leader line to where the stop is
            ax, ay = at(anchor)
            pdf.line(ax, ay, x0 + sx, y0 + sy)
            pdf.circle(ax, ay, 0.5, style="F")
    pdf.set_line_width(0.25)
    pdf.set_draw_color(255, 255, 255)
    pdf.set_font(_FONT, size=6.5)
    pdf.set_text_color(255, 255, 255)
    for seq, sx, sy, kind in d.stops:
        pdf.set_fill_color(*_rgb(KIND_COLOURS.get(kind, "#555555")))
        cx, cy = at((sx, sy))
        pdf.circle(cx, cy, _STOP_R, style="DF")
        pdf.set_xy(cx - _STOP_R, cy - _STOP_R)
        pdf.cell(2 * _STOP_R, 2 * _STOP_R, str(seq), align="C")
    pdf.set_text_color(0, 0, 0)


def furniture_boxes(d: MapDrawing, x0: float, y0: float) -> dict[str, Box]:
    """Where the legend, the scale bar and the north arrow of a route map go: ``(x, y, w, h)``
    in mm, in a strip just below the map frame (``x0``, ``y0``, ``d.width`` × ``d.height``), so
    they never cover a stop, the route or the work station."""
    top = y0 + d.height + 0.8
    legend_w = 20.0 * len(KIND_COLOURS) + 16.0
    north = (x0 + d.width - 8.0, top, 8.0, _STRIP_H - 1.0)
    scale_w = d.scale_len + 20.0
    scale = (north[0] - scale_w - 2.0, top, scale_w, _STRIP_H - 1.0)
    return {"legend": (x0, top, legend_w, _STRIP_H - 1.0), "scale": scale, "north": north}


def stop_boxes(d: MapDrawing, x0: float, y0: float) -> list[Box]:
    """The box (mm) of every stop marker and of the work station as drawn on the page."""
    out = [(x0 + x - _STOP_R, y0 + y - _STOP_R, 2 * _STOP_R, 2 * _STOP_R)
           for _, x, y, _ in d.stops]
    if d.start is not None:
        out.append((x0 + d.start[0] - 1.8, y0 + d.start[1] - 1.8, 3.6, 3.6))
    return out


def _draw_map_furniture(pdf: FPDF, d: MapDrawing, x0: float, y0: float) -> None:
    """Legend, scale bar and north arrow, in the strip below the map (:func:`furniture_boxes`)."""
    boxes = furniture_boxes(d, x0, y0)
    pdf.set_font(_FONT, size=7)
    pdf.set_text_color(0, 0, 0)
    lx, ly, _, lh = boxes["legend"]
    cy = ly + lh / 2
    for kind, colour in KIND_COLOURS.items():
        pdf.set_fill_color(*_rgb(colour))
        pdf.circle(lx + 1.5, cy, 1.5, style="F")
        pdf.set_xy(lx + 3.5, cy - 2)
        pdf.cell(16, 4, kind)
        lx += 20
    pdf.set_fill_color(40, 40, 40)
    pdf.rect(lx, cy - 1.5, 3.0, 3.0, style="F")
    pdf.set_xy(lx + 3.8, cy - 2)
    pdf.cell(12, 4, "工作站")
    sx, sy, _, sh = boxes["scale"]
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.5)
    pdf.line(sx + 1, sy + sh / 2, sx + 1 + d.scale_len, sy + sh / 2)
    pdf.set_line_width(0.3)
    for tick in (sx + 1, sx + 1 + d.scale_len):
        pdf.line(tick, sy + sh / 2 - 1.2, tick, sy + sh / 2)
    pdf.set_xy(sx + d.scale_len + 2, sy + sh / 2 - 2.5)
    pdf.cell(18, 5, scale_label(d.scale_m))
    nx, ny, nw, _ = boxes["north"]
    pdf.set_fill_color(0, 0, 0)
    tip = nx + 2.0
    pdf.polygon([(tip, ny), (tip - 1.6, ny + 4.5), (tip + 1.6, ny + 4.5)], style="F")
    pdf.set_xy(tip + 1.6, ny + 0.6)
    pdf.cell(nw - 3.6, 4, "北")


def _draw_map(pdf: FPDF, sheet: TeamSheet, height: float) -> None:
    x0, y0 = _MARGIN, pdf.get_y()
    d = layout_map(sheet, width=_CONTENT_W, height=height, marker_r=_STOP_R)
    with pdf.rect_clip(x0, y0, _CONTENT_W, height):
        _draw_shapes(pdf, d, x0, y0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.3)
    pdf.rect(x0, y0, _CONTENT_W, height)
    _draw_map_furniture(pdf, d, x0, y0)
    pdf.set_y(y0 + height + _STRIP_H + 1)


def _stop_cells(sheet: TeamSheet, stop: SheetStop) -> list[str]:
    place = "\n".join(t for t in (stop.community, stop.address) if t)
    cat = stop.category_text()
    head = f"【{stop.kind}】{cat}" if cat else f"【{stop.kind}】"
    what = "\n".join(t for t in (head, stop.what) if t)
    checks = "\n".join(f"□ {item}" for item in stop.items())
    when = "\n".join(t for t in (sheet.window(stop) or "—", sheet.leg_text(stop)) if t)
    return [str(stop.seq), when, place, what, checks, "到达：\n签名："]


_NO_LINE_START = set("，。、；：？！）》」』】〕”’…—·,.;:?!)]}%")
_NO_LINE_END = set("（《「『【〔“‘([{")


def _wrap_line(pdf: FPDF, text: str, width: float) -> list[str]:
    """Break one paragraph into lines no wider than ``width`` (mm), with simple CJK rules.

    Closing punctuation never starts a line and opening punctuation never ends one (the
    character before is carried over instead); runs of ASCII letters and digits stay together
    when they fit on a line.
    """
    lines: list[str] = []
    current = ""
    tokens = re.findall(r"[A-Za-z0-9_.\-]+|.", text)
    for tok in tokens:
        if pdf.get_string_width(current + tok) <= width or not current:
            current += tok
            continue
        carry = ""
        if tok[0] in _NO_LINE_START and len(current) > 1:
            carry, current = current[-1], current[:-1]
        while len(current) > 1 and current[-1] in _NO_LINE_END:
            carry, current = current[-1] + carry, current[:-1]
        lines.append(current)
        current = carry + tok
        while pdf.get_string_width(current) > width and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and pdf.get_string_width(current[:cut]) > width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    lines.append(current)
    return lines


def _wrap(pdf: FPDF, text: str, width: float) -> str:
    """Pre-wrap ``text`` (several paragraphs) for a table cell ``width`` mm wide."""
    return "\n".join(line for para in text.split("\n") for line in _wrap_line(pdf, para, width))


def _draw_table(pdf: FPDF, sheet: TeamSheet) -> None:
    pdf.set_font(_FONT, size=8.5)
    pdf.set_fill_color(255, 255, 255)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    heading = FontFace(emphasis="", fill_color=(225, 225, 225))
    with pdf.table(
        col_widths=tuple(w for _, w in _COLS), width=_CONTENT_W, line_height=4.3,
        wrapmode=WrapMode.CHAR, text_align="LEFT", v_align="TOP", padding=_PAD,
        headings_style=heading, repeat_headings=1,
    ) as table:
        row = table.row()
        for name, _ in _COLS:
            row.cell(name, align="C")
        for stop in sheet.stops:
            row = table.row()
            for i, text in enumerate(_stop_cells(sheet, stop)):
                inner = _COLS[i][1] - 2 * _PAD - 0.3
                row.cell(_wrap(pdf, text, inner), align="C" if i < 2 else "L")


def _draw_log_block(pdf: FPDF) -> None:
    """Ruled space for the work log (工作日志) and signatures."""
    needed = 78.0
    if pdf.get_y() + needed > pdf.h - 16:
        pdf.add_page()
    pdf.ln(3)
    _bold_text(pdf, 6, "工作日志记录", 11)
    pdf.set_font(_FONT, size=9)
    pdf.set_draw_color(170, 170, 170)
    pdf.set_line_width(0.2)
    for label, lines in (("发现问题及处置情况（时间、地点、问题、措施）", 5),
                         ("居民接待（诉求、处理结果）", 2), ("需复查 / 交接下一班事项", 2)):
        pdf.set_text_color(*_GREY)
        pdf.cell(0, 6, label, new_x="LMARGIN", new_y="NEXT")
        for _ in range(lines):
            y = pdf.get_y() + 5.5
            pdf.line(_MARGIN, y, _MARGIN + _CONTENT_W, y)
            pdf.set_y(y)
    pdf.ln(4)
    pdf.set_text_color(0, 0, 0)
    third = _CONTENT_W / 3
    for label in ("队员签名：", "中队长审核：", "返回时间："):
        pdf.cell(third, 6, label)
    pdf.ln(6)


def render_pdf(sheet: TeamSheet, *, font_path: str | Path | None = None,
               map_height_mm: float = 95.0) -> bytes:
    """Render one team's route sheet as an A4 PDF.

    Parameters
    ----------
    sheet : TeamSheet
        The team, day and stops.
    font_path : str or Path, optional
        A Chinese ``.otf``/``.ttf`` font to embed (subset); default: Noto Sans CJK SC from
        ``mplfonts`` (:func:`geo.sheets.a4.default_font_path`).
    map_height_mm : float
        Height of the route map on page 1 (its width is the text width, 186 mm).

    Returns
    -------
    bytes
        The PDF document.
    """
    return render_pdf_many([sheet], font_path=font_path, map_height_mm=map_height_mm)


def render_pdf_many(sheets: Sequence[TeamSheet], *, font_path: str | Path | None = None,
                    map_height_mm: float = 95.0) -> bytes:
    """Render several route sheets (e.g. every team of a squad) into one A4 PDF.

    Each sheet starts on a new page with its own heading and map; options as :func:`render_pdf`.

    Raises
    ------
    InputError
        If ``sheets`` is empty.
    """
    if not sheets:
        raise InputError("没有路线单可以输出；请至少提供一个队伍的路线单。")
    title = sheets[0].title() if len(sheets) == 1 else f"{sheets[0].squad_name} 巡查路线单"
    pdf = _SheetPDF(sheets[0], title=title, font_path=font_path)
    for sheet in sheets:
        pdf.start_sheet(sheet)
        _draw_heading(pdf, sheet)
        _draw_map(pdf, sheet, map_height_mm)
        pdf.set_font(_FONT, size=10)
        pdf.cell(0, 6, sheet.totals_text(), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        _draw_table(pdf, sheet)
        _draw_log_block(pdf)
    return bytes(pdf.output())
