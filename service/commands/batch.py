"""``xuncha batch`` and ``xuncha export``: bounded-memory analytics on GeoParquet, on Dask too.

``xuncha export --format geoparquet --out DIR`` writes the stored cases month by month (bounded
memory) as a Hive-partitioned GeoParquet dataset ``DIR/district=<squad>/month=YYYY-MM/*.parquet``
(:func:`geo.io.parquet.write_case_dataset`). ``xuncha batch --source DIR --out RESULTS`` runs
:func:`geo.batch.run_batch` (per-district Gi*, forecast, trends, statistics) in-process, or on
Dask with ``--scheduler local`` (LocalCluster, 2 workers) or ``--scheduler tcp://host:8786``.
Exit 0 on success, 1 on bad input or an unreachable scheduler, 2 when the source is unreadable.

Wiring: add ``"service.commands.batch"`` to ``COMMAND_MODULES`` in :mod:`service.cli`.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from geo.errors import FileReadError, XunchaError
from service.settings import Settings
from service.storage import CaseFilter, Storage


def batch(
    source: Annotated[Path, typer.Option("--source", help="GeoParquet 案件数据集目录（xuncha export 导出）")],
    out: Annotated[Path, typer.Option("--out", help="结果目录（gi/forecast/trends 为 GeoParquet）")],
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Dask 调度器地址（如 tcp://10.0.0.5:8786）；local = 本机 2 进程；默认不用 Dask")] = None,
    cell_m: Annotated[float, typer.Option("--cell-m", help="网格边长（米）")] = 150.0,
    at: Annotated[str | None, typer.Option("--at", help="预测起点 YYYY-MM-DD；默认最后一天的次日")] = None,
    horizon_days: Annotated[float, typer.Option("--horizon-days", help="预测天数")] = 7.0,
    method: Annotated[str, typer.Option("--method", help="预测方法")] = "blend",
    timeout_s: Annotated[float, typer.Option("--timeout-s", help="连接调度器的等待秒数")] = 10.0,
) -> None:
    """按区（district）批量计算 Gi* 热点、预测、趋势和统计；可在 Dask 集群上运行。"""
    from geo.batch import run_batch

    try:
        result = run_batch(source, scheduler=scheduler, cell_m=cell_m, at=at,
                           horizon_days=horizon_days, method=method, timeout_s=timeout_s,
                           tz=Settings().timezone)
        paths = result.write(out)
    except FileReadError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(code=2) from None
    except XunchaError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(code=1) from None
    s = result.summary
    typer.echo(f"已分析 {s['cases']:,} 条案件（{len(s['districts'])} 个区，{s['first_day']} 至 {s['at']} 前，"
               f"{s['scheduler']}）；结果已写入 {paths['summary'].parent}")


def export(
    out: Annotated[Path, typer.Option("--out", help="输出目录")],
    fmt: Annotated[str, typer.Option("--format", help="导出格式：geoparquet")] = "geoparquet",
    db: Annotated[str | None, typer.Option(help="数据库 URL（默认 XUNCHA_DATABASE_URL）")] = None,
) -> None:
    """导出案件为按区（中队）和月份分区的 GeoParquet 数据集，供 DuckDB、Sedona、QGIS 使用。"""
    from geo.io.parquet import write_case_dataset

    if fmt != "geoparquet":
        typer.echo(f"错误：不支持的导出格式「{fmt}」；目前只支持 geoparquet。", err=True)
        raise typer.Exit(code=1)
    settings = Settings()
    storage = Storage(db or settings.database_url, boundaries_dir=settings.boundaries_dir,
                      tz=settings.timezone)
    span = _time_span(storage)
    if span is None:
        typer.echo("错误：数据库中没有案件；请先 xuncha import。", err=True)
        raise typer.Exit(code=1)
    tz = settings.timezone
    first = span[0].tz_convert(tz).tz_localize(None).normalize().replace(day=1).tz_localize(tz)
    months = pd.date_range(first, span[1].tz_convert(tz) + pd.offsets.MonthBegin(1), freq="MS")
    written = 0
    for i, (start, end) in enumerate(itertools.pairwise(months)):
        # one month at a time: memory bounded by a month of cases
        cases = storage.query_cases(CaseFilter(start=start.to_pydatetime(), end=end.to_pydatetime()))
        if len(cases):
            write_case_dataset(cases.assign(district=cases["squad"].fillna("none")), out,
                               part=i, tz=tz)
            written += len(cases)
    typer.echo(f"已导出 {written:,} 条案件到 {out}（GeoParquet，按 district=中队、month 分区）")


def _time_span(storage: Storage) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Report times of the oldest and newest case (UTC), None without cases."""
    from sqlalchemy import func, select

    from service.models import Case

    with storage.begin() as session:
        lo, hi = session.execute(select(func.min(Case.reported_at), func.max(Case.reported_at))).one()
    if lo is None:
        return None
    ts = [pd.Timestamp(v) for v in (lo, hi)]
    return tuple(t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC") for t in ts)  # type: ignore[return-value]


def register(app: typer.Typer) -> None:
    """Add ``batch`` and ``export`` to the ``xuncha`` Typer app."""
    app.command("batch")(batch)
    app.command("export")(export)
