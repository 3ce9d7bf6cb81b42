"""``xuncha solve-patrol``: the routing core on a generic patrol problem (design.md §5).

``"travel": {"metric": "network", "file": "roads.osm.pbf"}`` plans on that road file (a path
relative to the problem file, read whole: import a large extract once with ``xuncha roads
import`` instead), and
``{"metric": "network"}`` on the deployment's stored network (``xuncha roads import``). Network
problems need a ``crs`` (``EPSG:4326`` for lon/lat, or the projected CRS of ``x``/``y``); teams
may give ``"mode": "walk"|"ebike"`` (e-bikes obey one-way streets). Distances and times come from
the network (times per team speed); a site or stop that no street reaches is an error naming it,
unless ``--allow-straight-line`` (then the straight line × 1.3). The solution's ``travel`` says
which model was used.

Exit codes: 0 solved (solution written); 1 invalid or infeasible problem, an unusable road
network, or solver failure (message in Chinese on stderr); 2 the problem file cannot be read or
is not JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from geo.errors import InputError, XunchaError
from geo.routing.model import PatrolProblem, check_reachability
from geo.routing.solve import DEFAULT_SOLVER, SOLVERS, solve_patrol
from geo.routing.validate import parse_patrol_problem
from geo.travel import DEFAULT_CIRCUITY
from service.commands.common import read_json, write_json
from service.settings import Settings


def _road_file(travel: dict[str, Any], problem_path: Path) -> Path:
    given = travel.get("file")
    if given:
        path = Path(str(given))
        return path if path.is_absolute() else problem_path.parent / path
    stored = Settings().roads_path()
    if not stored.is_file():
        raise InputError(f"巡查问题要求按路网计算（metric: network），但没有给出道路文件 file，"
                         f"也没有已导入的道路网络（{stored}）；请先运行 xuncha roads import，"
                         "或在 travel 中写明 file。")
    return stored


def _network_problem(data: dict[str, Any], problem_path: Path) -> tuple[PatrolProblem, dict[str, Any]]:
    """The parsed problem with every team's distances and times on the road network."""
    from geo.planning.travel import with_travel
    from service.plans import load_network

    travel = data["travel"]
    path = _road_file(travel, problem_path)
    parsed = parse_patrol_problem({**data, "travel": {"metric": "euclidean"}}, check=False)
    if parsed.crs is None or parsed.xy is None:
        raise InputError("按路网计算（metric: network）时巡查问题须给出坐标系 crs：经纬度写 "
                         "\"crs\": \"EPSG:4326\"，投影坐标写其 EPSG（如 EPSG:4547）。")
    if not path.is_file():
        raise InputError(f"找不到道路网络文件：{path}（travel.file 相对于巡查问题文件所在的文件夹）。")
    try:
        models = load_network(path, working_crs=parsed.crs)
    except InputError as exc:
        raise InputError(f"道路网络 {path.name} 无法用于求解：{exc}") from exc
    modes = [str(t.get("mode", "walk")) if isinstance(t, dict) else "walk" for t in data["teams"]]
    names = [f"站点 {s}" for s in parsed.site_ids] + [f"巡查点 {s}" for s in parsed.stop_ids]
    out = with_travel(parsed, models, modes, names)
    return out, {"model": "network", "file": path.name}


def _straight_problem(data: dict[str, Any], note: str) -> tuple[PatrolProblem, dict[str, Any]]:
    plain = {**data, "travel": {"metric": "euclidean", "circuity": DEFAULT_CIRCUITY}}
    return (parse_patrol_problem(plain, check=False),
            {"model": "euclidean", "circuity": DEFAULT_CIRCUITY, "note": note})


def prepare(data: Any, problem_path: Path, *, allow_straight_line: bool = False
            ) -> tuple[dict[str, Any] | PatrolProblem, dict[str, Any] | None]:
    """The problem to solve and what the solution says about its travel model.

    A problem without ``"metric": "network"`` is returned as it is (the routing core parses
    it); a network problem comes back parsed with its network matrices.
    """
    travel = data.get("travel") if isinstance(data, dict) else None
    if not (isinstance(travel, dict) and travel.get("metric") == "network"):
        return data, None
    try:
        parsed, info = _network_problem(data, problem_path)
    except InputError as exc:
        if not allow_straight_line or not isinstance(data.get("teams"), list):
            raise
        parsed, info = _straight_problem(data, f"路网无法使用（{exc}），已按直线距离 ×{DEFAULT_CIRCUITY:g} 求解。")
        typer.echo(f"警告：{info['note']}", err=True)
    check_reachability(parsed)
    return parsed, info


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
    allow_straight_line: Annotated[bool, typer.Option(
        "--allow-straight-line", help="路网无法使用（读不了、某个点附近没有相连道路）时改按直线距离 ×1.3 求解")] = False,
) -> None:
    """求解巡查路线问题（团队定向 + 时间窗），写出路线方案 JSON。"""
    data = read_json(problem, what="巡查问题")
    try:
        prepared, info = prepare(data, problem, allow_straight_line=allow_straight_line)
        solution = solve_patrol(prepared, time_limit_s=time_limit_s, solver=solver, seed=seed)
    except XunchaError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(1) from exc
    if info is not None:
        solution["travel"] = info
    write_json(out, solution)
    n_visits = sum(len(r["visits"]) for r in solution["routes"])
    typer.echo(
        f"已写出 {out}：{len(solution['routes'])} 条路线，访问 {n_visits} 个点，"
        f"优先级合计 {solution['priority_total']:g}，总距离 {solution['distance_total_m']:.0f} 米，"
        f"未访问 {len(solution['unvisited'])} 个点"
        + ("（路网距离）" if info and info["model"] == "network" else "") + "。"
    )


def register(app: typer.Typer) -> None:
    """Add ``solve-patrol`` to ``app``."""
    app.command("solve-patrol")(solve_patrol_command)
