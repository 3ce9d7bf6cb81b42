"""Daily patrol routing: team orienteering with time windows (TOPTW) and its distance variant.

Public entry points:

* :func:`solve_patrol` — the JSON contract of design.md §5 (problem dict in, solution dict out).
* :func:`solve_problem` — the numeric core on a :class:`PatrolProblem` (matrices + per-stop arrays).
* :func:`parse_patrol_problem` — validation (all problems collected) and reachability check.
* :func:`check_solution` — independent feasibility checker (no solver code).
* :func:`solve_patrol_gdf` — GeoDataFrame adapter with any :class:`~geo.travel.TravelModel`;
  returns the solution plus route and visit GeoDataFrames (route geometry from the travel model).

Schedules: service at a stop *starts* inside one of its windows (waiting allowed); ``arrive_s``
is that service start, ``depart_s = arrive_s + service_s``. Each route leaves its start site as
late as possible without delaying its end (so ``duration_s`` holds no avoidable waiting);
routes carry ``start_s``/``end_s`` besides the contract fields. A team without visits has an
empty route (and, when its end site differs from its start, the walk between them).

Distances: euclidean metric — metres in the working CRS (times ``circuity`` if given); matrix
metric — the matrix seconds are travel times and ``distance_m`` = seconds × team ``speed_mps``,
while the ``distance`` objective minimises the summed matrix seconds (design.md §5).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Point

from geo.crs import require_crs, require_metric
from geo.errors import InputError, SolverError
from geo.routing.backends import DEFAULT_SOLVER, SOLVERS, SolverName, as_solver, solve_routes
from geo.routing.check import check_solution
from geo.routing.model import TIME_TOL_S, Objective, PatrolProblem, check_reachability
from geo.routing.validate import parse_patrol_problem
from geo.travel import WALK_SPEED_MPS, TravelModel

__all__ = [
    "DEFAULT_SOLVER", "DEFAULT_TIME_LIMIT_S", "SOLVERS", "PatrolPlan", "PatrolProblem",
    "SolverName", "Team", "check_solution", "parse_patrol_problem", "schedule_route",
    "solve_patrol", "solve_patrol_gdf", "solve_problem", "team_time_matrices",
]

DEFAULT_TIME_LIMIT_S = 5.0


def schedule_route(problem: PatrolProblem, team: int, stops: list[int]) -> dict[str, Any]:
    """Time a route (stop indices in order) for ``team``; the route JSON of design.md §5.

    Raises
    ------
    SolverError
        If the order cannot be timed within windows and shift (a solver bug, never expected).
    """
    p, t = problem, team
    t0, t1 = (float(v) for v in p.shift_s[t])
    node, clock = int(p.team_start[t]), t0
    nodes, starts, closes, prefix = [node], [], [], [0.0]
    for s in stops:
        nxt = p.stop_node(s)
        arrive = clock + float(p.time_s[t, node, nxt])
        win = next(((lo, hi) for lo, hi in p.windows_s[s] if max(arrive, lo) <= hi + TIME_TOL_S), None)
        if win is None:
            raise SolverError(f"内部错误：队伍 {p.team_ids[t]} 无法按时到达 {p.stop_ids[s]}。")
        prefix.append(prefix[-1] + float(p.time_s[t, node, nxt]))
        starts.append(max(arrive, float(win[0])))
        closes.append(float(win[1]))
        clock = starts[-1] + float(p.service_s[s])
        prefix[-1] += float(p.service_s[s])
        node = nxt
        nodes.append(node)
    end_node = int(p.team_end[t])
    finish = clock + float(p.time_s[t, node, end_node])
    nodes.append(end_node)
    if finish > t1 + TIME_TOL_S:
        raise SolverError(f"内部错误：队伍 {p.team_ids[t]} 回到终点晚于班次结束。")
    # latest departure that delays neither the end nor any window (max-plus shift of the schedule)
    no_wait_end = prefix[-1] + float(p.time_s[t, node, end_node])
    delta = finish - t0 - no_wait_end
    for k, s in enumerate(stops):
        service_free = prefix[k + 1] - float(p.service_s[s])
        delta = min(delta, closes[k] - t0 - service_free)
    delta = max(0.0, delta)
    visits, dist = [], 0.0
    for k, s in enumerate(stops):
        service_free = prefix[k + 1] - float(p.service_s[s])
        arrive = max(starts[k], t0 + delta + service_free)
        visits.append({"id": p.stop_ids[s], "arrive_s": arrive,
                       "depart_s": arrive + float(p.service_s[s])})
    for a, b in itertools.pairwise(nodes):
        dist += float(p.dist_m[t, a, b])
    start_s = t0 + delta
    return {"team": p.team_ids[t], "visits": visits, "distance_m": dist,
            "duration_s": finish - start_s, "start_s": start_s, "end_s": finish}


def solve_problem(
    problem: PatrolProblem,
    *,
    time_limit_s: float | None = None,
    solver: str = DEFAULT_SOLVER,
    seed: int = 0,
    iterations: int | None = None,
) -> dict[str, Any]:
    """Solve a validated numeric problem; return the Solution JSON (design.md §5).

    Parameters
    ----------
    problem : PatrolProblem
        Matrices and per-stop arrays (from :func:`parse_patrol_problem` or built directly).
    time_limit_s : float, optional
        Solver time budget; default the problem's ``time_limit_s``, else 5 s. PyVRP turns it
        into a fixed effort (iterations and operator moves in proportion to the limit,
        :func:`geo.routing.ils.iteration_budget` and :func:`geo.routing.ils.move_budget`;
        kicks of the free-path search, :func:`geo.routing.tsp.kick_budget`), sized to take
        about the limit here, and stops at a cap of 1.5 times the limit in CPU seconds of this
        process with a wall-clock guard (:class:`geo.routing.ils.Deadline`), only where the
        machine is too slow for that effort.
    solver : {"pyvrp", "ortools"}
        A :data:`~geo.routing.backends.SolverName`.
    seed : int
        Random seed (PyVRP). The same problem, seed and effort give the same routes whenever
        the effort, not the clock, ends the search (see :mod:`geo.routing.ils`). OR-Tools has
        no seed and stops at the clock, so its result can depend on the machine's speed and
        load.
    iterations : int, optional
        PyVRP's search effort (iterations; for one free-order route the kicks of
        :mod:`geo.routing.tsp`); default in proportion to ``time_limit_s``. Fix it (with a
        time limit well above what it needs) for a plan that is the same on any machine: the
        time limit then only guards against a stuck machine. The limit is counted in CPU
        seconds, so other processes' load does not change the result.

    Raises
    ------
    InfeasibleError
        Required stops cannot all be visited.
    SolverError
        The solver failed (never a half result).
    """
    limit = time_limit_s if time_limit_s is not None else problem.time_limit_s
    limit = DEFAULT_TIME_LIMIT_S if limit is None else float(limit)
    if not limit > 0:
        raise InputError(f"求解时间上限 time_limit_s 须为正数，实际为 {limit}。")
    if iterations is not None and not iterations >= 1:
        raise InputError(f"搜索迭代次数 iterations 须为正整数，实际为 {iterations}。")
    name: SolverName = as_solver(solver)
    seqs = solve_routes(problem, solver=name, time_limit_s=limit, seed=seed, iterations=iterations)
    routes = [schedule_route(problem, t, seq) for t, seq in enumerate(seqs)]
    visited = {s for seq in seqs for s in seq}
    solution = {
        "routes": routes,
        "priority_total": float(sum(problem.priority[s] for s in visited)),
        "distance_total_m": float(sum(r["distance_m"] for r in routes)),
        "unvisited": [sid for s, sid in enumerate(problem.stop_ids) if s not in visited],
        "solver": name,
        "seed": int(seed),
    }
    problems = check_solution(problem, solution)
    if problems:
        raise SolverError("内部错误：求解结果未通过可行性检查：" + "；".join(problems[:5]))
    return solution


def solve_patrol(
    problem: dict[str, Any] | PatrolProblem,
    *,
    time_limit_s: float | None = None,
    solver: str = DEFAULT_SOLVER,
    seed: int = 0,
    iterations: int | None = None,
) -> dict[str, Any]:
    """Solve a patrol problem given as the JSON dict of design.md §5 (or already parsed).

    ``time_limit_s``, ``solver``, ``seed`` and ``iterations`` as in :func:`solve_problem`.

    Returns
    -------
    dict
        ``routes`` (one per team, input order: ``team``, ``visits`` [``id``, ``arrive_s``,
        ``depart_s``], ``distance_m``, ``duration_s``, ``start_s``, ``end_s``),
        ``priority_total``, ``distance_total_m``, ``unvisited``, ``solver``, ``seed`` (the
        random seed of the search: the same problem, seed and effort give the same routes).

    Raises
    ------
    ValidationError
        Malformed input (every problem listed).
    InfeasibleError
        A required stop cannot be reached in time, or required stops cannot all be visited.
    SolverError
        The solver failed.
    """
    parsed = problem if isinstance(problem, PatrolProblem) else parse_patrol_problem(problem)
    return solve_problem(parsed, time_limit_s=time_limit_s, solver=solver, seed=seed,
                         iterations=iterations)


@dataclass(frozen=True)
class Team:
    """A patrol team for :func:`solve_patrol_gdf` (times in seconds of the planning day)."""

    id: str
    start: str
    end: str
    shift_s: tuple[float, float]
    speed_mps: float = WALK_SPEED_MPS


@dataclass(frozen=True)
class PatrolPlan:
    """Result of :func:`solve_patrol_gdf`.

    Attributes
    ----------
    solution : dict
        The Solution JSON.
    routes : GeoDataFrame
        One row per team: ``team``, ``n_visits``, ``distance_m``, ``duration_s``, ``start_s``,
        ``end_s``, LineString geometry along the travel model (working CRS).
    visits : GeoDataFrame
        One row per visit: ``team``, ``order`` (1-based), ``stop_id``, ``arrive_s``,
        ``depart_s``, Point geometry (working CRS).
    """

    solution: dict[str, Any]
    routes: gpd.GeoDataFrame
    visits: gpd.GeoDataFrame


def _points(gdf: gpd.GeoDataFrame, what: str, crs: Any) -> tuple[list[str], np.ndarray]:
    require_crs(gdf, what=what)
    g = gdf.to_crs(crs)
    if not (g.geometry.geom_type == "Point").all():
        raise InputError(f"{what}的几何必须全部是点（Point）。")
    ids = [str(v) for v in (g["id"] if "id" in g.columns else g.index)]
    return ids, np.column_stack([g.geometry.x.to_numpy(), g.geometry.y.to_numpy()])


def _stop_dicts(stops: gpd.GeoDataFrame, ids: list[str]) -> list[dict[str, Any]]:
    out = []
    for k, (_, row) in enumerate(stops.iterrows()):
        d: dict[str, Any] = {"id": ids[k], "x": 0.0, "y": 0.0}
        for col in ("priority", "service_s", "required", "windows_s"):
            if col in stops.columns and not (np.isscalar(row[col]) and pd.isna(row[col])):
                val = row[col]
                d[col] = val.item() if hasattr(val, "item") else val
        if "windows_s" in d:
            d["windows_s"] = [[float(a), float(b)] for a, b in d["windows_s"]]
        out.append(d)
    return out


def solve_patrol_gdf(
    stops: gpd.GeoDataFrame,
    teams: list[Team],
    sites: gpd.GeoDataFrame,
    *,
    travel: TravelModel,
    crs: Any,
    objective: Objective = "priority",
    time_limit_s: float | None = None,
    solver: str = DEFAULT_SOLVER,
    seed: int = 0,
    iterations: int | None = None,
) -> PatrolPlan:
    """Plan patrol routes for point stops (e.g. hotspot centres) with a travel model.

    Parameters
    ----------
    stops : GeoDataFrame
        Points with optional columns ``priority``, ``service_s``, ``required`` and
        ``windows_s`` (list of ``[start, end]`` seconds); ids from column ``id`` or the index.
    teams : list of Team
    sites : GeoDataFrame
        Start/end points (stations); ids from ``id`` or the index.
    travel : TravelModel
        :class:`~geo.travel.EuclideanTravel` or :class:`~geo.travel.NetworkTravel`, in ``crs``.
        Distances (the objective and ``distance_m``) from its ``distance_matrix``; each team's
        travel times from its ``time_matrix`` at the team's own speed
        (:func:`team_time_matrices`).
    crs : str or pyproj.CRS
        Working CRS in metres (the travel model's).
    objective, time_limit_s, solver, seed, iterations
        As in :func:`solve_patrol`.
    """
    work = require_metric(crs, what="工作坐标系")
    site_ids, site_xy = _points(sites, "站点", work)
    stop_ids, stop_xy = _points(stops, "巡查点", work)
    problem = {
        "teams": [dataclasses.asdict(t) | {"shift_s": list(t.shift_s)} for t in teams],
        "sites": [{"id": s, "x": 0.0, "y": 0.0} for s in site_ids],
        "stops": _stop_dicts(stops, stop_ids), "objective": objective,
    }
    base = parse_patrol_problem(problem, check=False)
    xy = np.vstack([site_xy, stop_xy])
    dist = travel.distance_matrix(xy)
    parsed = dataclasses.replace(
        base, cost=dist, dist_m=np.broadcast_to(dist, (len(teams), *dist.shape)),
        time_s=team_time_matrices(travel, xy, base.speed_mps), xy=xy, crs=work.to_string(),
    )
    check_reachability(parsed)
    solution = solve_problem(parsed, time_limit_s=time_limit_s, solver=solver, seed=seed,
                             iterations=iterations)
    return _plan(parsed, solution, travel, work)


def team_time_matrices(travel: TravelModel, xy: np.ndarray, speeds: np.ndarray) -> np.ndarray:
    """Travel times per team, shape (T, N, N): the travel model's ``time_matrix`` at each speed.

    One matrix per distinct speed, from the model itself: on a road network the times come from
    per-edge times (steps at half speed, an e-bike pushed on footways), which a distance matrix
    divided by one speed would miss.
    """
    by_speed = {float(v): travel.time_matrix(xy, speed_mps=float(v)) for v in np.unique(speeds)}
    return np.stack([by_speed[float(v)] for v in speeds])


def _plan(p: PatrolProblem, solution: dict[str, Any], travel: TravelModel, crs: Any) -> PatrolPlan:
    assert p.xy is not None
    node_of = {sid: p.stop_node(k) for k, sid in enumerate(p.stop_ids)}
    route_rows, visit_rows = [], []
    for t, route in enumerate(solution["routes"]):
        nodes = [int(p.team_start[t]), *(node_of[v["id"]] for v in route["visits"]),
                 int(p.team_end[t])]
        coords: list[tuple[float, float]] = []
        for a, b in itertools.pairwise(nodes):
            if a != b:
                coords += list(travel.path(tuple(p.xy[a]), tuple(p.xy[b])).coords)
        if len(coords) < 2:
            coords = [tuple(p.xy[nodes[0]]), tuple(p.xy[nodes[-1]])]
        route_rows.append({"team": route["team"], "n_visits": len(route["visits"]),
                           "distance_m": route["distance_m"], "duration_s": route["duration_s"],
                           "start_s": route["start_s"], "end_s": route["end_s"],
                           "geometry": LineString(coords)})
        for k, v in enumerate(route["visits"], start=1):
            visit_rows.append({"team": route["team"], "order": k, "stop_id": v["id"],
                               "arrive_s": v["arrive_s"], "depart_s": v["depart_s"],
                               "geometry": Point(p.xy[node_of[v["id"]]])})
    cols = ["team", "order", "stop_id", "arrive_s", "depart_s", "geometry"]
    visits = gpd.GeoDataFrame(visit_rows or None, columns=cols, geometry="geometry", crs=crs)
    return PatrolPlan(solution, gpd.GeoDataFrame(route_rows, geometry="geometry", crs=crs), visits)
