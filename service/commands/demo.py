"""``xuncha demo``: run the main job on the embedded Xiaonan default and say where everything is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from geo.errors import XunchaError
from service.settings import Settings

console = Console()


def demo_command(
    out: Annotated[Path, typer.Option(help="输出目录")] = Path("xuncha-demo"),
    day: Annotated[str | None, typer.Option("--date", help="计划日期 YYYY-MM-DD（默认明天）")] = None,
    db: Annotated[str | None, typer.Option(help="数据库 URL（默认在输出目录新建 SQLite 文件）")] = None,
    roads: Annotated[Path | None, typer.Option(
        help="道路文件（.osm.pbf/.osm/.graphml/.gpkg 等）：路线沿街道规划；默认用已导入的路网，没有则按直线距离 ×1.3")] = None,
) -> None:
    """演示：模拟一年案件、导入、找热点、预测、选疏导点、为五个中队规划路线并输出地图和路线单。"""
    from datetime import date

    from service.demo import Demo, default_day

    settings = Settings()
    try:
        plan_day = date.fromisoformat(day) if day else default_day(settings.timezone)
    except ValueError as exc:
        console.print(f"[red]日期「{day}」无法识别；请用 YYYY-MM-DD。[/red]")
        raise typer.Exit(1) from exc
    demo = Demo(out, day=plan_day, db_url=db, tz=settings.timezone,
                working_crs=settings.working_crs, roads=roads)
    steps = [("模拟一年案件（模拟数据）", "simulate", demo.simulate),
             ("导入案件", "import", demo.import_cases),
             ("查找热点", "hotspots", demo.find_hotspots),
             ("预测下周热点网格", "forecast", demo.forecast_week),
             ("疏导点选址", "siting", demo.site_relocation)]
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task("准备", total=len(steps) + 5 + 1)
            for label, key, step in steps:
                bar.update(task, description=label)
                with demo.timed(key):
                    step()
                bar.advance(task)

            def advance(label: str) -> None:
                bar.update(task, description=label)
                bar.advance(task)

            with demo.timed("plans"):
                demo.plan_squads(advance)
            bar.update(task, description="写出索引页")
            demo.write_index()
            bar.advance(task)
    except XunchaError as exc:
        console.print(f"[red]演示失败：{exc}[/red]")
        raise typer.Exit(1) from exc
    _report(demo)


def _report(demo: object) -> None:
    from rich.table import Table

    result = demo.result  # type: ignore[attr-defined]
    table = Table("中队", "地图", "路线单 PDF", "巡查点", "路程", title=f"{result.day} 巡查计划（模拟数据）")
    for s in result.squads:
        table.add_row(s["name"], s["map"], s["pdf"], str(s["stops"]), f"{s['distance_km']} 公里")
    console.print(table)
    total = sum(result.timings.values())
    console.print(f"热点 {result.counts.get('hotspots', 0)} 个 → {result.files['hotspots']}")
    console.print(f"{result.squads_note} → {result.files['relocation']}")
    if result.travel:
        console.print(f"路线距离：{result.travel}")
    console.print(f"总用时 {total:.1f} 秒。打开 {result.files['index'].resolve()} 查看全部结果。")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command("demo")(demo_command)
