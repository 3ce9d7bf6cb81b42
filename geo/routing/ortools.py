"""OR-Tools routing back-end of the patrol router (the alternative to :mod:`geo.routing.pyvrp`).

Every team is a vehicle with its own start and end node; the time dimension carries travel plus
service, per-vehicle transit callbacks give each speed its own matrix, windows are cumul ranges
with the gaps between several windows removed, and optional stops are disjunctions whose penalty
is the stop's prize. Guided local search from a cheapest-arc first solution, stopped by the time
limit only: with a wall-clock stop the result can depend on the machine's speed and load.
``ortools`` is imported inside :func:`solve_ortools` so that ``import geo.routing`` stays light.
"""

from __future__ import annotations

import numpy as np

from geo.errors import SolverError
from geo.routing.intmodel import IntModel, infeasible

__all__ = ["solve_ortools"]


def solve_ortools(m: IntModel, *, time_limit_s: float, seed: int) -> list[list[int]]:
    """Solve with OR-Tools guided local search; return visited stop indices per team.

    ``seed`` is ignored: OR-Tools routing search has no random seed (it is deterministic for a
    fixed amount of search, which a wall-clock limit does not fix).
    """
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
    del seed
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
