"""The ``--effort FILE|auto`` option of ``xuncha hotspots`` and ``xuncha forecast``.

``FILE``: effort records (CSV/XLSX/GeoJSON rows or a plan JSON, see
:func:`geo.analysis.effort_zones.read_effort`). ``auto``: the confirmed visits, else the stored
plans, of the database (``--db``, default ``XUNCHA_DATABASE_URL``) on the days of the cases
(:func:`service.effort.stored_effort`).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from geo.analysis.effort_zones import read_effort
from service.effort import Ranked

EffortOpt = Annotated[str | None, typer.Option(
    "--effort", help="巡查记录：文件（CSV/XLSX/GeoJSON 的巡查记录，或计划 JSON），或 auto（数据库中"
    "的到达确认，没有则用已保存的计划）；给出时巡查发现的案件按每巡查小时排序")]
DbOpt = Annotated[str | None, typer.Option(
    "--db", help="--effort auto 使用的数据库 URL（默认 XUNCHA_DATABASE_URL）")]
DefaultMinOpt = Annotated[float | None, typer.Option(
    "--effort-default-minutes", help="没有时长的巡查记录按此分钟数计（默认：视为错误）")]


def load_effort(spec: str, *, db: str | None, start: date, end: date
                ) -> tuple[pd.DataFrame, str, tuple[str, ...]]:
    """Effort records for ``spec`` (a path or ``auto``), where they came from, and notes.

    Raises
    ------
    geo.errors.XunchaError
        The file cannot be read, or is of an unknown shape.
    """
    if spec.strip().lower() != "auto":
        return read_effort(Path(spec)), "file", ()
    from service.effort import stored_effort
    from service.settings import Settings
    from service.storage import Storage

    settings = Settings()
    storage = Storage(db or settings.database_url, boundaries_dir=settings.boundaries_dir,
                      tz=settings.timezone)
    try:
        return stored_effort(storage, None, start, end + timedelta(days=1))
    finally:
        storage.engine.dispose()


def cli_message(exc: Exception) -> str:
    """An error message with the library's option names replaced by the command's."""
    return str(exc).replace("或指定默认时长 default_duration_s", "或用 --effort-default-minutes 指定默认时长")


def echo_ranking(ranked: Ranked) -> None:
    """Print which ranking was used and its notes."""
    where = {"file": "巡查记录文件", "confirmed": "数据库中的到达确认", "planned": "数据库中已保存的计划",
             "none": "无"}[ranked.effort]
    typer.echo(f"排序：{ranked.label}（巡查记录来源：{where}）。")
    for note in ranked.notes:
        typer.echo(f"注意：{note}")
