"""``xuncha plan``: the daily patrol plan of every squad (or one), stored, with sheets and maps.

For each squad: stops from the last four weeks' hotspots, due re-inspections, relocation points
(``--relocation``) and the revisit rule (:mod:`geo.planning.stops`), routes for the available
teams (:func:`geo.planning.day.plan_day`), an independent feasibility check, the plan stored in the
database (so tomorrow's "days since last visit" is real), and in ``OUT/<squad>/``:
``plan.json``, one route sheet per team as PDF, XLSX and HTML, and ``map.html``.

Travel: the deployment's stored road network (``xuncha roads import``) when there is one, or
``--roads FILE`` directly; else the straight line × 1.3, and the summary says which. A station or
stop that no street reaches stops the plan with its name, unless ``--allow-straight-line``.

Exit codes: 0 every plan made and feasible; 1 bad input (unknown squad or team, unreadable
relocation or road file, a stop no street reaches) or a plan failing its feasibility check.

Wiring: add ``"service.commands.plan"`` to ``COMMAND_MODULES`` in ``service/cli.py``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from geo.errors import XunchaError
from geo.planning.clock import as_date
from geo.planning.model import DailyPlan
from service.demo_outputs import FORMATS, write_plan_files
from service.settings import Settings

console = Console()


def _read_points(path: Path | None) -> gpd.GeoDataFrame | None:
    if path is None:
        return None
    try:
        g = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several unrelated types
        console.print(f"[red]无法读取疏导点文件 {path}：{exc}[/red]")
        raise typer.Exit(1) from exc
    if g.crs is None:
        g = g.set_crs("EPSG:4326")
    return g


def _pick_squads(all_squads: list[dict[str, Any]], squad: str | None,
                 unavailable: list[str]) -> list[dict[str, Any]]:
    picked = [s for s in all_squads if squad is None or s["id"] == squad]
    if not picked:
        console.print(f"[red]没有编号为「{squad}」的中队；可用：{'、'.join(s['id'] for s in all_squads)}[/red]")
        raise typer.Exit(1)
    teams = {t.get("id") for s in picked for t in s.get("teams", [])}
    unknown = [u for u in unavailable if u not in teams]
    if unknown:
        console.print(f"[red]未知的队伍 {'、'.join(unknown)}；可用：{'、'.join(sorted(map(str, teams)))}[/red]")
        raise typer.Exit(1)
    return picked


def _summary(plans: list[DailyPlan]) -> Table:
    table = Table("中队", "队伍", "巡查点", "已安排", "必访", "优先级（安排/全部）", "路程", "距离", "检查",
                  title="巡查计划")
    for p in plans:
        table.add_row(str(p.squad.get("name", p.squad_id)), str(len(p.routes)), str(len(p.stops)),
                      str(len(p.visits())), str(int(p.stops["required"].sum()) if len(p.stops) else 0),
                      f"{p.priority_total:.0f} / {p.priority_offered:.0f}",
                      f"{p.distance_m / 1000:.1f} 公里", str(p.travel.get("label", "")),
                      "[green]可行[/green]" if p.feasible else f"[red]{len(p.violations)} 处问题[/red]")
    return table


def plan_command(
    day: Annotated[str, typer.Option("--date", help="计划日期 YYYY-MM-DD")],
    out: Annotated[Path, typer.Option(help="输出目录（每个中队一个子目录）")],
    squad: Annotated[str | None, typer.Option(help="只规划这个中队（编号，如 shuyuan）")] = None,
    db: Annotated[str | None, typer.Option(help="数据库 URL（默认 XUNCHA_DATABASE_URL）")] = None,
    unavailable: Annotated[list[str] | None, typer.Option(help="今天不在岗的队伍编号，可重复")] = None,
    revisit_days: Annotated[int | None, typer.Option(help="每个社区至少每 N 天巡查一次（默认 XUNCHA_REVISIT_DAYS）")] = None,
    relocation: Annotated[Path | None, typer.Option(help="疏导点文件（GeoJSON 等点图层，WGS84）")] = None,
    time_limit: Annotated[float, typer.Option(help="每个中队的求解时间上限（秒）")] = 1.0,
    sheets: Annotated[bool, typer.Option(help="生成路线单（PDF、XLSX、HTML）")] = True,
    map_: Annotated[bool, typer.Option("--map/--no-map", help="生成中队地图")] = True,
    roads: Annotated[Path | None, typer.Option(help="直接使用这个道路文件（.osm.pbf/.osm/.graphml/.gpkg 等），不用已导入的路网")] = None,
    allow_straight_line: Annotated[bool, typer.Option(
        "--allow-straight-line", help="路网无法使用（读不了、某个点附近没有相连道路）时改按直线距离 ×1.3 规划")] = False,
) -> None:
    """生成每日巡查计划：路线、路线单和地图，并保存到数据库。"""
    from service.plans import make_plan, plan_inputs
    from service.storage import Storage

    settings = Settings()
    try:
        d: date = as_date(day)
    except XunchaError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    storage = Storage(db or settings.database_url, boundaries_dir=settings.boundaries_dir,
                      tz=settings.timezone)
    off = list(unavailable or [])
    picked = _pick_squads(storage.squads(), squad, off)
    points = _read_points(relocation)
    n_days = revisit_days or settings.revisit_days
    plans: list[DailyPlan] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("读取案件、计算热点、载入路网", total=len(picked) + 1)
        try:
            inputs = plan_inputs(storage, d, squads=[s["id"] for s in picked],
                                 working_crs=settings.working_crs, roads=roads,
                                 stored_roads=settings.roads_path(),
                                 allow_straight_line=allow_straight_line)
        except XunchaError as exc:
            console.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(1) from exc
        bar.advance(task)
        for sq in picked:
            bar.update(task, description=f"规划 {sq.get('name', sq['id'])}")
            try:
                plan = make_plan(storage, sq, inputs, revisit_days=n_days, unavailable_teams=off,
                                 relocation_points=points, time_limit_s=time_limit,
                                 working_crs=settings.working_crs,
                                 allow_straight_line=allow_straight_line)
            except XunchaError as exc:
                console.print(f"[red]{sq.get('name', sq['id'])}：无法生成计划：{exc}[/red]")
                raise typer.Exit(1) from exc
            write_plan_files(plan, out / sq["id"], communities=inputs.communities,
                             stations=inputs.stations, hotspots=inputs.hotspots,
                             data_label=inputs.data_label, formats=FORMATS if sheets else (),
                             with_map=map_)
            plans.append(plan)
            bar.advance(task)
    _report(plans, out, inputs.recent_cases, n_days)


def _report(plans: list[DailyPlan], out: Path, n_recent: int, n_days: int) -> None:
    console.print(_summary(plans))
    console.print(f"热点依据：计划日前 28 天的 {n_recent} 起案件；每个社区至少每 {n_days} 天巡查一次。")
    for label in dict.fromkeys(str(p.travel.get("label", "")) for p in plans):
        if label:
            console.print(f"距离模型：{label}")
    for p in plans:
        for w in p.warnings:
            console.print(f"[yellow]{p.squad.get('name', p.squad_id)}：{w}[/yellow]")
        for v in p.violations:
            console.print(f"[red]{p.squad.get('name', p.squad_id)} 可行性检查未通过：{v}[/red]")
    console.print(f"计划、路线单和地图已写入 {out.resolve()}（每个中队一个子目录），计划已保存到数据库。")
    if any(not p.feasible for p in plans):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``plan`` to ``app``."""
    app.command("plan")(plan_command)
