"""``xuncha forecast``: score grid cells by expected cases in the next days (design.md §5).

Input: a case table (CSV/XLSX/GeoJSON) with columns ``case_id, category, reported_at, lon, lat``
(WGS84), read by :func:`geo.cases.analysis_cases` — the one case reader, with the importer's
header names (案件编号, 问题类型, 上报时间, 经度, 纬度 and the 数字城管/12345 export names), time
formats (ISO, ``2026/3/5 7:30``, ``2026年3月5日 7时30分``, Excel serial days) and coordinate
systems (``--coords``). Works for any city on Earth; ``category`` may be any text.
``reported_at`` with a UTC offset (``+08:00``, ``Z``) is converted to ``--tz`` (default
Asia/Shanghai); without one it is wall-clock time in ``--tz``. A case is used when its
``reported_at`` is before ``--at`` 00:00 in ``--tz``.

Output: one RFC 7946 Polygon Feature (WGS84) per grid cell with ``cell_id``, ``score`` and
``rank`` (1 = highest), sorted by rank; the collection's ``ranking``/``ranking_label`` members
say how it was ranked. Exit 0 on success, 1 on bad input (message in Chinese).

``--effort FILE|auto`` (patrol effort records, or the database's confirmed visits / stored
plans): the model is run on the patrol-found cases (来源 巡查发现) and on the others apart, and
the patrol part of each cell is weighed by the patrol-hours of its 500 m zone
(:func:`geo.analysis.effort_zones.rank_cells_by_exposure`); the zone factors come from the cases
and effort of the records' days (all training cases when the records carry no date). Unknown
sources count as complaints (said so); a record without a duration is an error unless
``--effort-default-minutes``; no record at all keeps the plain forecast and says so.

Wiring: ``from service.commands import forecast; forecast.register(app)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import pandas as pd
import typer

from geo.case_columns import parse_map
from geo.cases import analysis_cases
from geo.errors import InputError, XunchaError
from geo.forecast.cells import DEFAULT_METHOD, METHODS, forecast_cells
from geo.io.tables import read_geofile, read_table
from service.commands.common import CoordsOpt, MapOpt
from service.commands.effort_option import (
    DbOpt,
    DefaultMinOpt,
    EffortOpt,
    cli_message,
    echo_ranking,
    load_effort,
)
from service.effort import Ranked, patrol_mask, period_cases, rank_cells


def _parse_cases(df: pd.DataFrame, *, tz: str = "Asia/Shanghai", coords: str | None = None,
                 columns: dict[str, str] | None = None) -> gpd.GeoDataFrame:
    """Validate the table (collecting every problem) and build the cases GeoDataFrame."""
    gdf, _ = analysis_cases(df, required=("reported_at", "lon", "lat"), times_required=True,
                            tz=tz, coords=coords, columns=columns)
    return gdf


def _parse_at(at: str, tz: str = "Asia/Shanghai") -> pd.Timestamp:
    try:
        ts = pd.Timestamp(pd.to_datetime(at, format="%Y-%m-%d"))
    except (TypeError, ValueError):
        raise InputError(f"--at「{at}」不是 YYYY-MM-DD 格式的日期，例如 2024-05-20。") from None
    return ts.tz_localize(tz)


def _read_area(path: Path) -> gpd.GeoDataFrame:
    area = read_geofile(path)
    if area.crs is None:
        area = area.set_crs("EPSG:4326")  # RFC 7946 GeoJSON has no CRS member: WGS84
    return area


def forecast(
    cases: Annotated[Path, typer.Option("--cases", help="案件表（CSV/XLSX/GeoJSON），经纬度为 WGS84")],
    at: Annotated[str, typer.Option("--at", help="预测起点日期 YYYY-MM-DD（只用此前上报的案件）")],
    out: Annotated[Path, typer.Option("--out", help="输出 GeoJSON 文件")],
    horizon_days: Annotated[float, typer.Option("--horizon-days", help="预测天数")] = 7.0,
    cell_m: Annotated[float, typer.Option("--cell-m", help="网格边长（米）")] = 150.0,
    area: Annotated[
        Path | None, typer.Option("--area", help="研究区域多边形文件；默认用案件范围（凸包）")
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help=f"预测方法：{', '.join(METHODS)}")
    ] = DEFAULT_METHOD,
    tz: Annotated[str, typer.Option("--tz", help="时区：不带时区的时间按此解读，--at 也按此时区")
                  ] = "Asia/Shanghai",
    coords: CoordsOpt = None,
    map_: MapOpt = None,
    effort: EffortOpt = None,
    db: DbOpt = None,
    effort_default_minutes: DefaultMinOpt = None,
) -> None:
    """预测下一时段各网格的案件热度：每个网格一个多边形，含 cell_id、score、rank（1 为最高）。"""
    try:
        t_at = _parse_at(at, tz)
        gdf = _parse_cases(read_table(cases), tz=tz, coords=coords, columns=parse_map(map_ or []))
        area_gdf = _read_area(area) if area is not None else None
        patrol = patrol_mask(gdf) if effort is not None else None
        result = forecast_cells(
            gdf, at=t_at, horizon_days=horizon_days, cell_m=cell_m, area=area_gdf, method=method,
            patrol=patrol,
        )
        ranked = _ranked(result, gdf, t_at, effort, db=db, minutes=effort_default_minutes)
        result = ranked.frame
        _write(result[["cell_id", "score", "rank", "geometry"]], ranked, out)
    except XunchaError as exc:
        typer.echo(f"错误：{cli_message(exc)}", err=True)
        raise typer.Exit(code=1) from None
    except OSError as exc:
        typer.echo(f"错误：无法写入 {out}：{exc.strerror}", err=True)
        raise typer.Exit(code=1) from None
    if effort is not None:
        echo_ranking(ranked)
    top = result.iloc[0]
    typer.echo(
        f"已用 {result.attrs['n_training']} 条 {t_at.date()} 之前的案件（方法 {method}）"
        f"预测 {len(result)} 个 {cell_m:g} 米网格，最高分网格 {int(top['cell_id'])}"
        f"（score={float(top['score']):.3g}）；已写入 {out}"
    )


def _ranked(cells: gpd.GeoDataFrame, cases: gpd.GeoDataFrame, at: pd.Timestamp,
            effort: str | None, *, db: str | None, minutes: float | None) -> Ranked:
    if effort is None:
        return Ranked(cells, "counts")
    train = cases[cases["reported_at"] < at]
    records, source, notes = load_effort(effort, db=db, start=train["reported_at"].min().date(),
                                         end=(at - pd.Timedelta(days=1)).date())
    return rank_cells(cells, period_cases(train, records, at), records, effort=source,
                      notes=notes, default_duration_s=None if minutes is None else minutes * 60.0)


def _write(cells: gpd.GeoDataFrame, ranked: Ranked, out: Path) -> None:
    fc = json.loads(cells.to_crs(4326).to_json(drop_id=True, ensure_ascii=False))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**fc, **ranked.members()}, ensure_ascii=False), encoding="utf-8")


def register(app: typer.Typer) -> None:
    """Add ``forecast`` to the ``xuncha`` Typer app."""
    app.command("forecast")(forecast)
