"""Solver back-ends for the patrol problem: PyVRP (default) and OR-Tools routing.

Both take a :class:`~geo.routing.model.PatrolProblem` and return, per team, the ordered list of
visited stop indices. Times are given to the solvers in integer milliseconds, rounded so that the
integer model is never looser than the real one (travel and service rounded up, window and shift
ends rounded down): every integer-feasible route is feasible in exact arithmetic.

Objective in integers. ``distance``: the travel cost (metres, or matrix seconds) in millimetres
(milli-seconds). ``priority``: prize-collecting; each priority unit is worth more than the
largest possible total travel cost, so the solver maximises the summed priority first and breaks
ties by shorter travel.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from geo.errors import InfeasibleError, InputError, SolverError
from geo.routing.model import PatrolProblem

IntArray = npt.NDArray[np.int64]
TIME_SCALE = 1000  # solver time unit: milliseconds
SOLVERS = ("pyvrp", "ortools")
DEFAULT_SOLVER = "pyvrp"
_EPS = 1e-6
#: priority objective: the travel-cost bound is expressed in at most this many integer units, so a
#: priority unit (worth bound + 1) stays small enough for the solvers' time-warp penalties.
PRIORITY_COST_UNITS = 1e5


class IntModel:
    """Integer data shared by both back-ends (see the module docstring for the rounding)."""

    def __init__(self, p: PatrolProblem) -> None:
        self.p = p
        s = TIME_SCALE
        self.speeds, self.profile = np.unique(p.speed_mps, return_inverse=True)
        first = [int(np.flatnonzero(self.profile == k)[0]) for k in range(len(self.speeds))]
        self.durations = [np.ceil(p.time_s[t] * s - _EPS).astype(np.int64) for t in first]
        self.service = np.ceil(p.service_s * s - _EPS).astype(np.int64)
        self.windows = [
            np.column_stack([np.ceil(w[:, 0] * s - _EPS), np.floor(w[:, 1] * s + _EPS)]).astype(
                np.int64
            )
            for w in p.windows_s
        ]
        self.shift = np.column_stack(
            [np.ceil(p.shift_s[:, 0] * s - _EPS), np.floor(p.shift_s[:, 1] * s + _EPS)]
        ).astype(np.int64)
        n_teams, n_nodes = len(p.team_ids), p.cost.shape[0]
        max_cost = float(p.cost.max()) if p.cost.size else 0.0
        if p.objective == "distance":
            self.cost_scale = 1000.0
            self.prize_unit = 0
        else:
            bound = max_cost * (n_nodes + n_teams)
            self.cost_scale = min(1000.0, PRIORITY_COST_UNITS / bound) if bound > 0 else 1000.0
            self.prize_unit = math.ceil(bound * self.cost_scale) + 1
        self.cost = np.rint(p.cost * self.cost_scale).astype(np.int64)
        integral = np.allclose(p.priority, np.rint(p.priority))
        self.prio_scale = 1 if integral else 100
        self.prize = np.rint(p.priority * self.prio_scale).astype(np.int64) * self.prize_unit
        self.must = p.must_visit()
        if int(self.prize.sum()) > 2**62:
            raise InputError("优先级或距离数值过大，无法求解；请缩小 priority 的量级。")


def solve_routes(
    problem: PatrolProblem, *, solver: str = DEFAULT_SOLVER, time_limit_s: float, seed: int = 0
) -> list[list[int]]:
    """Solve ``problem`` and return, per team, the visited stop indices in visiting order.

    Raises
    ------
    InputError
        Unknown ``solver``.
    InfeasibleError
        No solution visits every required stop within windows and shifts.
    SolverError
        The solver failed.
    """
    if solver not in SOLVERS:
        raise InputError(f"未知求解器「{solver}」；可用：{', '.join(SOLVERS)}。")
    if problem.n_stops == 0:
        return [[] for _ in problem.team_ids]
    model = IntModel(problem)
    if solver == "pyvrp":
        from geo.routing.pyvrp import solve_pyvrp

        return solve_pyvrp(model, time_limit_s=time_limit_s, seed=seed)
    return _solve_ortools(model, time_limit_s=time_limit_s, seed=seed)


def infeasible(problem: PatrolProblem, missing: list[int]) -> InfeasibleError:
    """The error for a solve that could not visit all must-visit stops together."""
    names = ", ".join(problem.stop_ids[s] for s in missing[:20]) or "（未知）"
    return InfeasibleError(
        "求解器找不到同时满足全部必访点、时间窗和班次的路线；"
        f"无法同时按时完成的必访点：{names}。每个点单独都可到达，但合在一起超出了队伍的时间；"
        "请增加队伍、延长班次、放宽时间窗，或把部分点设为非必访（required=false）。"
    )


def _solve_ortools(m: IntModel, *, time_limit_s: float, seed: int) -> list[list[int]]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    p = m.p
    n_nodes, n_teams = p.cost.shape[0], len(p.team_ids)
    starts = [int(x) for x in p.team_start]
    ends = [int(x) for x in p.team_end]
    manager = pywrapcp.RoutingIndexManager(n_nodes, n_teams, starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    cost_cb = routing.RegisterTransitMatrix(m.cost.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    service = np.concatenate([np.zeros(p.n_sites, dtype=np.int64), m.service])
    transit_cbs = [routing.RegisterTransitMatrix((d + service[:, None]).tolist()) for d in m.durations]
    horizon = int(max(m.shift[:, 1].max(), max(int(w[:, 1].max()) for w in m.windows))) + 1
    routing.AddDimensionWithVehicleTransits(
        [transit_cbs[int(k)] for k in m.profile], horizon, horizon, False, "time"
    )
    time = routing.GetDimensionOrDie("time")
    for s, w in enumerate(m.windows):
        index = manager.NodeToIndex(p.stop_node(s))
        var = time.CumulVar(index)
        var.SetRange(int(w[0, 0]), int(w[-1, 1]))
        for k in range(len(w) - 1):
            var.RemoveInterval(int(w[k, 1]) + 1, int(w[k + 1, 0]) - 1)
        if not m.must[s]:
            routing.AddDisjunction([index], int(m.prize[s]))
    for t in range(n_teams):
        lo, hi = int(m.shift[t, 0]), int(m.shift[t, 1])
        time.CumulVar(routing.Start(t)).SetRange(lo, hi)
        time.CumulVar(routing.End(t)).SetRange(lo, hi)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    del seed  # OR-Tools routing search is deterministic for a fixed time budget
    solution = routing.SolveWithParameters(params)
    if solution is None:
        if m.must.any():
            raise infeasible(p, [int(s) for s in np.flatnonzero(m.must)])
        raise SolverError(f"OR-Tools 求解失败（状态 {routing.status()}）。")
    routes: list[list[int]] = []
    for t in range(n_teams):
        idx, seq = routing.Start(t), []
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            if node >= p.n_sites:
                seq.append(node - p.n_sites)
            idx = solution.Value(routing.NextVar(idx))
        routes.append(seq)
    return routes
