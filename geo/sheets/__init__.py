"""Printable route sheets (巡查路线单): one team, one day — PDF, XLSX and print-friendly HTML.

Build a :class:`TeamSheet` (team, members and their 2+1+1+1 roles, date, shift, ordered
:class:`SheetStop` s, totals, route and community polygons for the map, and a ``data_label`` such
as ``模拟数据`` when the data is simulated), then render it::

    from geo.sheets import SheetStop, TeamSheet, render_html, render_pdf, render_xlsx

    sheet = TeamSheet(squad_name="书院中队", team_name="第一组",
                      members=[("张伟", "城管队员"), ("王强", "市政")],
                      date="2025-05-12", shift_start="07:00", shift_end="15:00",
                      stops=[SheetStop(seq=1, arrive=600, depart=1200, community="西大社区",
                                       address="西大市场东门", what="早市摊贩外溢",
                                       category="09006", kind="热点", lon=113.92, lat=30.93)],
                      distance_m=4200, duration_s=14400, data_label="模拟数据，仅供演示")
    pdf_bytes = render_pdf(sheet)

A daily plan gives its sheets with :func:`team_sheets` (``team_sheets(plan, squad)``; a stored
plan after :meth:`geo.planning.model.DailyPlan.from_json`). Numeric stop times are seconds after
``shift_start`` (a patrol solution's ``arrive_s``).
Checklists come from ``geo/data/checklists.json`` by category and stop kind
(:func:`checklist_for`) unless a stop gives its own. Every XLSX and CSV writer goes through
:func:`formula_safe_frame`. Importing this package loads neither the planner nor the routing
solvers (:func:`team_sheets` loads :mod:`geo.planning` when first used).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from geo.safe_text import formula_safe_frame
from geo.sheets.a4 import default_font_path
from geo.sheets.model import SheetStop, TeamMember, TeamSheet, checklist_for, format_clock
from geo.sheets.pdf import render_pdf, render_pdf_many
from geo.sheets.tabular import (
    render_html,
    render_svg,
    render_xlsx,
    write_csv_table,
    write_xlsx_tables,
)

if TYPE_CHECKING:
    from geo.sheets.from_plan import team_sheets

__all__ = [
    "SheetStop",
    "TeamMember",
    "TeamSheet",
    "checklist_for",
    "default_font_path",
    "format_clock",
    "formula_safe_frame",
    "render_html",
    "render_pdf",
    "render_pdf_many",
    "render_svg",
    "render_xlsx",
    "sheet_filename",
    "team_sheets",
    "write_csv_table",
    "write_xlsx_tables",
]


def __getattr__(name: str) -> Any:
    if name == "team_sheets":
        from geo.sheets.from_plan import team_sheets

        return team_sheets
    raise AttributeError(f"module 'geo.sheets' has no attribute {name!r}")


_UNSAFE = re.compile(r'[\\/:*?"<>|\s\x00-\x1f]+')


def sheet_filename(sheet: TeamSheet, *, ext: str = "pdf") -> str:
    """A safe file name ``2025-05-12_书院中队_第一组.pdf`` for the sheet.

    Path separators, characters Windows forbids and whitespace become ``_``.
    """
    parts = [sheet.date.isoformat(), sheet.squad_name, sheet.team_name]
    stem = "_".join(_UNSAFE.sub("_", p).strip("._") or "x" for p in parts)
    return f"{stem}.{ext.lstrip('.')}"
