"""Route-pool recombination: the best set of on-time routes the search has met, by a set-packing MILP.

The local search (:mod:`geo.routing.ils`) meets thousands of solutions, most of them late as a
whole but made of routes that are each on time. A route's feasibility depends on that route
alone (its stops, its team's start, end, shift and speed), so any choice of on-time routes that
visit no stop twice, one per team, is a feasible plan. :class:`RoutePool` keeps the cheapest
order of every distinct stop set per team class it sees; :meth:`RoutePool.recombine` picks the
best combination with a set-packing MILP (SCIP, through OR-Tools' ``pywraplp``):

* one binary variable per pooled route, cost = travel cost − prizes (the search's objective);
* each stop at most once (exactly once when it is required), a group of alternative windows at
  most once (exactly once when required);
* at most as many routes of a team class as it has teams; teams with the same start, end, shift
  and speed form one class, so a route found for one of them serves any.

The pool always holds the routes of the best solution, so the MILP can only match or improve
it. Combining the routes of solutions from different moments of one trajectory is what a
single trajectory cannot do: measured on Chao's two-team instances (see :mod:`geo.routing.ils`).
SCIP runs single-threaded and is deterministic; the work is bounded by :data:`MAX_COLUMNS` and a
node limit, not by the clock, so the result does not depend on the machine. Why SCIP and not
HiGHS (``scipy.optimize.milp``): on the pool of a Solomon rc201 four-team search HiGHS spent
34.5 s in root cut rounds, which none of its options bounds by work; SCIP proves the same
optimum in 1.0 s, and 0.5 s on the 4,000-route pools of Chao p7.2.m and p4.2.f.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MAX_COLUMNS", "RoutePool"]

#: Routes given to the MILP; a larger pool keeps those with the best objective per stop. Chao's
#: 100-stop instances pool 1,000-5,000 routes in a 10-s search.
MAX_COLUMNS = 8000
#: Branch-and-bound node limit of one MILP (a work bound, not a clock).
NODE_LIMIT = 2000
#: A safety limit in CPU seconds of SCIP (``timing/clocktype = 1``), far above what the MILP takes
#: (0.1-0.9 s measured on 500-5,000-route pools). Not wall-clock seconds: a search running at low
#: priority on a loaded machine got its MILP cut by a 10-s wall-clock limit, and its routes
#: changed with the load.
SAFETY_LIMIT_S = 30.0
#: SCIP without cutting planes: on the pools of Xiaonan's daily plans (500-1,300 routes, 4-8 team
#: classes, stops with alternative windows) cuts took 3-27 s and changed no optimum; without
#: them 0.1-1.6 s, and with the gap below 0.1-0.6 s.
SCIP_SETTINGS = "separating/maxroundsroot = 0\nseparating/maxrounds = 0\ntiming/clocktype = 1\n"


class RoutePool:
    """On-time routes met during a search, keyed by (team class, stop set).

    Parameters
    ----------
    data : pyvrp.ProblemData
        The problem the routes belong to.
    """

    def __init__(self, data: Any) -> None:
        self.data = data
        key: dict[tuple[Any, ...], int] = {}
        self.cls = np.empty(data.num_vehicle_types, dtype=np.int64)
        for t, v in enumerate(data.vehicle_types()):
            sig = (v.start_depot, v.end_depot, v.tw_early, v.tw_late, v.profile,
                   v.max_duration, v.max_distance, v.shift_duration)
            self.cls[t] = key.setdefault(sig, len(key))
        self.members = [np.flatnonzero(self.cls == c) for c in range(len(key))]
        clients = data.clients()
        self.required = np.array([c.required for c in clients], dtype=bool)
        self.group = np.array([-1 if c.group is None else c.group for c in clients], dtype=np.int64)
        self.group_required = np.array([g.required for g in data.groups()], dtype=bool)
        # (class, sorted stops) -> (objective, visits in order)
        self.routes: dict[tuple[int, tuple[int, ...]], tuple[int, list[int]]] = {}

    def __len__(self) -> int:
        return len(self.routes)

    def add(self, sol: Any) -> None:
        """Keep every on-time, non-empty route of ``sol`` (the cheapest order per stop set)."""
        for route in sol.routes():
            if route.num_clients() and route.is_feasible():
                self._keep(route, [a.idx for a in route.schedule() if a.is_client()])

    def _keep(self, route: Any, visits: list[int]) -> None:
        k = (int(self.cls[route.vehicle_type()]), tuple(sorted(visits)))
        obj = int(route.distance_cost()) - int(route.prizes())
        old = self.routes.get(k)
        if old is None or obj < old[0]:
            self.routes[k] = (obj, visits)

    def recombine(self, best: Any, *, gap: float = 0.0) -> Any | None:
        """The best feasible solution made of pooled routes, or None if it does not beat ``best``.

        ``best`` must be feasible; its routes are added to the pool first. ``gap`` is the
        absolute optimality gap of the MILP in objective units (0: proven optimal). With
        prizes, a hundredth of a prize unit settles every prize and leaves at most that much
        travel cost on the table.
        """
        import pyvrp

        self.add(best)
        cols = self._columns()
        chosen = _solve(self, cols, gap)
        if chosen is None:
            return None
        free = {c: list(self.members[c]) for c in range(len(self.members))}
        routes = []
        for (c, _), (_, visits) in (cols[j] for j in chosen):
            routes.append(pyvrp.Route(self.data, visits, int(free[c].pop(0))))
        sol = pyvrp.Solution(self.data, routes)
        if not sol.is_feasible():
            return None
        obj = int(sol.distance_cost()) - int(sol.prizes())
        return sol if obj < int(best.distance_cost()) - int(best.prizes()) else None

    def _columns(self) -> list[tuple[tuple[int, tuple[int, ...]], tuple[int, list[int]]]]:
        items = list(self.routes.items())
        if len(items) > MAX_COLUMNS:
            items.sort(key=lambda kv: (kv[1][0] / len(kv[0][1]), kv[0]))
            items = items[:MAX_COLUMNS]
        items.sort(key=lambda kv: kv[0])  # a fixed column order: the MILP sees the same model
        return items


def _solve(pool: RoutePool, cols: list[Any], gap: float) -> list[int] | None:
    """Indices of the chosen columns (None if SCIP finds no solution within its limits)."""
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:  # an OR-Tools build without SCIP
        return None
    solver.SetNumThreads(1)
    solver.SetTimeLimit(int(SAFETY_LIMIT_S * 1000))
    settings = f"limits/totalnodes = {NODE_LIMIT}\nlimits/absgap = {float(gap)!r}\n{SCIP_SETTINGS}"
    if not solver.SetSolverSpecificParametersAsString(settings):
        return None  # a SCIP that does not know these limits could run long: leave the plan as is
    stop_rows = [solver.Constraint(float(r), 1.0) for r in pool.required]
    group_rows = [solver.Constraint(float(r), 1.0) for r in pool.group_required]
    team_rows = [solver.Constraint(0.0, float(len(m))) for m in pool.members]
    objective = solver.Objective()
    x = []
    for (c, stops), (obj, _) in cols:
        var = solver.BoolVar("")
        x.append(var)
        objective.SetCoefficient(var, float(obj))
        team_rows[c].SetCoefficient(var, 1.0)
        for s in stops:
            stop_rows[s].SetCoefficient(var, 1.0)
            if pool.group[s] >= 0:
                group_rows[int(pool.group[s])].SetCoefficient(var, 1.0)
    objective.SetMinimization()
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)
    status = solver.Solve(params)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None
    return [j for j, var in enumerate(x) if var.solution_value() > 0.5]
