"""``xuncha hotspots``: density hotspots of a case file as GeoJSON polygons (design.md §5).

Input: a case table (CSV/XLSX/GeoJSON) read by :func:`geo.cases.analysis_cases` — the one case
reader, with the importer's header names (``case_id, category, reported_at, lon, lat``, the
Chinese headers 案件编号, 问题类型, 上报时间, 经度, 纬度, and the 数字城管/12345 export names), time
formats (ISO, ``2026/3/5 7:30``, ``2026年3月5日 7时30分``, Excel serial days) and coordinate systems
(``--coords``, else from the headers and values; WGS84 by default). ``reported_at`` with a UTC
offset is converted to ``--tz`` (Asia/Shanghai by default); without one it is local time in
``--tz``. Rows with missing or unreadable times still count spatially; their time fields are
left out (a note says how many). Category is any text here.

Output: an RFC 7946 FeatureCollection, one Polygon feature per hotspot (WGS84) with
``hotspot_id``, ``case_count``, ``category``, ``peak_hours`` and the other properties of
:func:`geo.analysis.hotspots.find_hotspots`. No hotspot: an empty FeatureCollection, exit 0.
Bad input (unreadable file, missing columns, bad coordinates, unknown category): exit 1 with a
message in Chinese. ``--method`` takes any of :data:`geo.analysis.hotspots.METHODS`; the
default is ``background`` (significant excess over the local background,
:mod:`geo.analysis.background`), ``dbscan``/``hdbscan`` stay options.

``--effort FILE|auto`` ranks the hotspots by exposure (:mod:`geo.analysis.effort_zones`): the
patrol-found cases (来源 巡查发现) of each hotspot weigh by the patrol-hours of their zone,
complaints and every other source (and unknown sources, said so) count as they are; the features
then carry ``patrol_cases``, ``other_cases``, ``exposure_score`` and ``rank``. The collection's
``ranking``/``ranking_label`` members say which ranking was used (also without ``--effort``:
``counts``). An effort record without a duration is an error naming its row, unless
``--effort-default-minutes`` is given; no effort record at all keeps the counts and says so.

Wiring: ``from service.commands import hotspots; hotspots.register(app)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import pandas as pd
import typer

from geo.analysis.frame import as_timestamp, select_cases
from geo.analysis.hotspots import METHODS, find_hotspots, hotspots_to_geojson
from geo.case_columns import parse_map
from geo.cases import analysis_cases, parse_times
from geo.errors import XunchaError
from geo.io.tables import read_table
from service.commands.common import CoordsOpt, MapOpt
from service.commands.effort_option import (
    DbOpt,
    DefaultMinOpt,
    EffortOpt,
    cli_message,
    echo_ranking,
    load_effort,
)
from service.effort import Ranked, rank_hotspots

__all__ = ["CLI_METHOD", "hotspots", "parse_times", "read_cases", "register"]

CLI_METHOD = "background"
"""The command's default method, the library's (:func:`geo.analysis.hotspots.find_hotspots`):
hotspots as significant excess over the local background; every method of
:data:`geo.analysis.hotspots.METHODS` is accepted."""


def read_cases(path: Path, *, tz: str = "Asia/Shanghai", coords: str | None = None,
               columns: dict[str, str] | None = None) -> tuple[gpd.GeoDataFrame, int]:
    """Read and check a case file; return the cases (EPSG:4326) and the count without a time.

    Raises
    ------
    ValidationError
        Bad rows (every one listed).
    FileReadError
        The file cannot be read, or a required column (category, lon, lat) is missing.
    """
    return analysis_cases(read_table(path), required=("category", "lon", "lat"), tz=tz,
                          coords=coords, columns=columns)


def hotspots(
    cases: Annotated[Path, typer.Option("--cases", help="案件表（CSV/XLSX/GeoJSON），经纬度为 WGS84")],
    out: Annotated[Path, typer.Option("--out", help="输出 GeoJSON 文件（WGS84）")],
    category: Annotated[str | None, typer.Option(
        "--category", help="类别代码（如 09006，可逗号分隔）或类别组（stall、structures、clutter、"
        "green、noise、bollards、recycling）；默认全部")] = None,
    method: Annotated[str, typer.Option(
        "--method", help=f"热点方法：{'、'.join(METHODS)}（默认 {CLI_METHOD}）")] = CLI_METHOD,
    min_cases: Annotated[int | None, typer.Option(
        "--min-cases", help="热点最少案件数（默认 max(10, 0.2% 案件数)）")] = None,
    eps_m: Annotated[float, typer.Option("--eps-m", help="DBSCAN 邻域半径（米）")] = 50.0,
    buffer_m: Annotated[float | None, typer.Option(
        "--buffer-m", help="热点多边形外扩距离（米；默认按方法而定）")] = None,
    at: Annotated[str | None, typer.Option(
        "--at", help="参考日期 YYYY-MM-DD：只用此前的案件，近期权重从此日起算")] = None,
    half_life_days: Annotated[float, typer.Option(
        "--half-life-days", help="近期权重半衰期（天）")] = 30.0,
    gi_cell_m: Annotated[float, typer.Option(
        "--gi-cell-m", help="Gi* 显著性网格边长（米），0 表示不计算")] = 100.0,
    tz: Annotated[str, typer.Option("--tz", help="时区")] = "Asia/Shanghai",
    coords: CoordsOpt = None,
    map_: MapOpt = None,
    effort: EffortOpt = None,
    db: DbOpt = None,
    effort_default_minutes: DefaultMinOpt = None,
) -> None:
    """找出案件密集的热点：每个热点一个多边形，含 hotspot_id、case_count、category、peak_hours 等。

    默认方法 background：比周边背景显著偏多的地方（适合背景案件多的城区）；可选 hdbscan、dbscan。
    给出 --effort 时，巡查发现的案件按所在区域的巡查时长校正后排序（rank、exposure_score）。"""
    if method not in METHODS:
        typer.echo(f"错误：未知的聚类方法「{method}」；可选 {'、'.join(METHODS)}。", err=True)
        raise typer.Exit(code=1)
    try:
        gdf, no_time = read_cases(cases, tz=tz, coords=coords, columns=parse_map(map_ or []))
        extra: dict[str, Any] = {} if buffer_m is None else {"buffer_m": buffer_m}
        result = find_hotspots(
            gdf, category=category, method=method,  # type: ignore[arg-type]
            min_cases=min_cases, eps_m=eps_m, at=at,
            half_life_days=half_life_days, gi_cell_m=gi_cell_m or None, **extra,
        )
        ranked = _ranked(result, gdf, effort, db=db, at=at, category=category,
                         minutes=effort_default_minutes)
        result = ranked.frame
        fc = {**hotspots_to_geojson(result), **ranked.members()}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    except XunchaError as exc:
        typer.echo(f"错误：{cli_message(exc)}", err=True)
        raise typer.Exit(code=1) from None
    except OSError as exc:
        typer.echo(f"错误：无法写入 {out}：{exc.strerror}", err=True)
        raise typer.Exit(code=1) from None
    if no_time:
        typer.echo(f"注意：{no_time} 条案件没有可识别的上报时间，时段统计（高峰时段等）不含这些案件。")
    if effort is not None:
        echo_ranking(ranked)
    if len(result) == 0:
        typer.echo(f"未发现热点（案件太少或分布均匀）；已写入空的 GeoJSON：{out}")
        return
    top = result.iloc[0]
    score = (f"（校正后 {float(top['exposure_score']):.1f}）" if "exposure_score" in result.columns
             else "")
    typer.echo(f"发现 {len(result)} 个热点；最高分 {top['hotspot_id']}：{int(top['case_count'])} 件"
               f"{score}，高峰时段 {top['peak_hours'] or '无明显高峰'}。已写入 {out}")


def _ranked(found: gpd.GeoDataFrame, cases: gpd.GeoDataFrame, effort: str | None, *,
            db: str | None, at: str | None, category: str | None, minutes: float | None
            ) -> Ranked:
    """The hotspots ranked by exposure (``--effort``) or as found (``counts``)."""
    if effort is None:
        return Ranked(found, "counts")
    cases = select_cases(cases, category, at=as_timestamp(at, cases) if at else None)
    t = cases["reported_at"].dropna()
    end = pd.Timestamp(at).date() if at else (t.max().date() if len(t) else pd.Timestamp.now().date())
    start = t.min().date() if len(t) else end
    records, source, notes = load_effort(effort, db=db, start=start, end=end)
    return rank_hotspots(found, cases, records, effort=source, notes=notes,
                         default_duration_s=None if minutes is None else minutes * 60.0)


def register(app: typer.Typer) -> None:
    """Add ``hotspots`` to the ``xuncha`` Typer app."""
    app.command("hotspots")(hotspots)
