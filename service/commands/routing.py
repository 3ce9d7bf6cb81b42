"""``xuncha solve-patrol``: the routing core on a generic patrol problem (design.md §5).

Exit codes: 0 solved (solution written); 1 invalid or infeasible problem, or solver failure
(message in Chinese on stderr); 2 the problem file cannot be read or is not JSON.

Wiring: ``from service.commands import routing; routing.register(app)`` (add
``"service.commands.routing"`` to ``COMMAND_MODULES`` in ``service/cli.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geo.errors import XunchaError
from geo.routing.solve import DEFAULT_SOLVER, SOLVERS, solve_patrol
from service.commands.common import read_json, write_json


def solve_patrol_command(
    problem: Annotated[Path, typer.Argument(help="巡查问题 JSON 文件（design.md §5 格式）")],
    out: Annotated[Path, typer.Option("--out", help="输出的路线方案 JSON 文件")],
    time_limit_s: Annotated[
        float | None, typer.Option("--time-limit-s", help="求解时间上限（秒）；默认取问题中的值或 5 秒")
    ] = None,
    solver: Annotated[
        str, typer.Option("--solver", help=f"求解器：{' 或 '.join(SOLVERS)}")
    ] = DEFAULT_SOLVER,
    seed: Annotated[int, typer.Option("--seed", help="随机种子")] = 0,
) -> None:
    """求解巡查路线问题（团队定向 + 时间窗），写出路线方案 JSON。"""
    data = read_json(problem, what="巡查问题")
    try:
        solution = solve_patrol(data, time_limit_s=time_limit_s, solver=solver, seed=seed)
    except XunchaError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(1) from exc
    write_json(out, solution)
    n_visits = sum(len(r["visits"]) for r in solution["routes"])
    typer.echo(
        f"已写出 {out}：{len(solution['routes'])} 条路线，访问 {n_visits} 个点，"
        f"优先级合计 {solution['priority_total']:g}，总距离 {solution['distance_total_m']:.0f} 米，"
        f"未访问 {len(solution['unvisited'])} 个点。"
    )


def register(app: typer.Typer) -> None:
    """Add ``solve-patrol`` to ``app``."""
    app.command("solve-patrol")(solve_patrol_command)
