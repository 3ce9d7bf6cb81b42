"""PyVRP back-end of the patrol router (the default; see benchmarks/routing.py for why).

Mapping: every site is a depot; every team is a vehicle type with one vehicle, its own start and
end depot, its shift as ``tw_early``/``tw_late`` and a routing profile per distinct speed. A stop
with one window is one client (``required`` for must-visit stops, else optional with a prize); a
stop with several windows becomes one client per window in a mutually exclusive client group,
required when the stop is.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from geo.errors import SolverError
from geo.routing.backends import IntModel, infeasible
from geo.routing.polish import improve_path

#: The time budget is spent in this many PyVRP runs, each warm-started from the best solution
#: so far after an intra-route polish (2-opt/Or-opt, which PyVRP's operators lack).
SEARCH_ROUNDS = 4
#: priority objective: penalty range per ms of time warp, in units of the break-even penalty
#: (median prize / typical time to reach and serve a stop), so that the penalty manager starts
#: near a sensible value instead of spending the run adapting from PyVRP's defaults.
PENALTY_RANGE = (0.1, 3.0)


def solve_pyvrp(m: IntModel, *, time_limit_s: float, seed: int) -> list[list[int]]:
    """Solve with PyVRP's iterated local search; return visited stop indices per team.

    The whole wall-clock budget is used: ``SEARCH_ROUNDS`` runs with consecutive seeds, each
    started from the polished best solution of the previous ones (no early stop).
    """
    import pyvrp
    from pyvrp.exceptions import PenaltyBoundWarning
    from pyvrp.stop import MaxRuntime

    data, owner = _problem_data(m)
    params, wide = _params(m)
    deadline = time.perf_counter() + time_limit_s
    best = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PenaltyBoundWarning)
            for k in range(SEARCH_ROUNDS):
                left = deadline - time.perf_counter()
                if left <= 0 and best is not None:
                    break
                budget = max(left, 0.0) / (SEARCH_ROUNDS - k)
                # no feasible solution yet: fall back to PyVRP's wide penalty range
                use = params if best is None or best.is_feasible() else wide
                result = pyvrp.solve(
                    data, MaxRuntime(budget), seed=seed + k, collect_stats=False,
                    display=False, params=use, initial_solution=best,
                )
                cand = _polish(data, m, result.best)
                if best is None or _better(cand, best):
                    best = cand
    except Exception as exc:  # the C++ core raises plain RuntimeError/ValueError
        raise SolverError(f"PyVRP 求解失败：{exc}") from exc
    assert best is not None
    routes: list[list[int]] = [[] for _ in m.p.team_ids]
    visited: set[int] = set()
    for route in best.routes():
        seq = [owner[a.idx] for a in route.schedule() if a.is_client()]
        routes[route.vehicle_type()] = seq
        visited.update(seq)
    if not best.is_feasible() and not m.must.any():
        # only optional stops: every route that is on time stands alone; empty the late ones
        for r in best.routes():
            if r.has_time_warp():
                routes[r.vehicle_type()] = []
        return routes
    if not best.is_feasible():
        late = {s for r in best.routes() if r.has_time_warp() for s in routes[r.vehicle_type()]}
        missing = [int(s) for s in np.flatnonzero(m.must) if s not in visited or s in late]
        raise infeasible(m.p, missing)
    return routes


def _params(m: IntModel) -> tuple[Any, Any]:
    """Solve parameters: (scaled to the problem, PyVRP's wide default penalty range)."""
    from pyvrp import PenaltyParams, SolveParams

    if m.p.objective != "priority" or not (m.prize > 0).any():
        return SolveParams(), SolveParams()
    ns = m.p.n_sites
    d = m.durations[0][ns:, ns:].astype(np.float64)
    np.fill_diagonal(d, np.inf)
    reach = d.min(axis=1) if d.shape[0] > 1 else np.zeros(d.shape[0])
    typical = float(np.median(np.where(np.isfinite(reach), reach, 0.0)) + np.median(m.service))
    even = float(np.median(m.prize[m.prize > 0])) / max(typical, 1.0)
    lo, hi = PENALTY_RANGE
    wide = SolveParams(penalty=PenaltyParams(max_penalty=max(1e5, hi * even)))
    return SolveParams(penalty=PenaltyParams(min_penalty=lo * even, max_penalty=hi * even)), wide


def _better(a: Any, b: Any) -> bool:
    if a.is_feasible() != b.is_feasible():
        return bool(a.is_feasible())
    return bool(_objective(a) < _objective(b))


def _objective(sol: Any) -> int:
    return int(sol.distance_cost()) - int(sol.prizes())


def _polish(data: Any, m: IntModel, sol: Any) -> Any:
    """Re-order each route whose windows cannot bind by 2-opt/Or-opt; keep it if still on time."""
    import pyvrp

    clients = data.clients()
    loc = np.array([c.location for c in clients], dtype=np.int64)
    routes, changed = [], False
    for route in sol.routes():
        vt = route.vehicle_type()
        visits = [a.idx for a in route.schedule() if a.is_client()]
        lo, hi = int(m.shift[vt, 0]), int(m.shift[vt, 1])
        free = len(visits) >= 3 and all(
            clients[c].tw_early <= lo and clients[c].tw_late >= hi and clients[c].group is None
            for c in visits
        )
        if free:
            path = np.r_[int(m.p.team_start[vt]), loc[visits], int(m.p.team_end[vt])]
            by_node = {int(loc[c]): c for c in visits}
            order = [by_node[int(x)] for x in improve_path(m.cost, path)[1:-1]]
            new = pyvrp.Route(data, order, vt)
            if order != visits and not new.has_time_warp() and new.distance() < route.distance():
                routes.append(new)
                changed = True
                continue
        routes.append(pyvrp.Route(data, visits, vt))
    return pyvrp.Solution(data, routes) if changed else sol


def _problem_data(m: IntModel) -> tuple[Any, list[int]]:
    from pyvrp import Client, ClientGroup, Depot, Location, ProblemData, VehicleType

    p = m.p
    xy = p.xy if p.xy is not None else np.zeros((p.cost.shape[0], 2))
    locations = [Location(x=float(x), y=float(y)) for x, y in xy]
    depots = [Depot(location=k) for k in range(p.n_sites)]
    clients: list[Client] = []
    groups: list[ClientGroup] = []
    owner: list[int] = []
    for s, wins in enumerate(m.windows):
        node, must, prize = p.stop_node(s), bool(m.must[s]), int(m.prize[s])
        group = None
        if len(wins) > 1:
            group = len(groups)
            groups.append(ClientGroup(required=must))
        members = []
        for lo, hi in wins:
            members.append(len(clients))
            clients.append(
                Client(
                    location=node, service_duration=int(m.service[s]), tw_early=int(lo),
                    tw_late=int(hi), prize=prize, required=must and group is None, group=group,
                )
            )
            owner.append(s)
        if group is not None:
            groups[group] = ClientGroup(clients=members, required=must)
    vehicle_types = [
        VehicleType(
            num_available=1, start_depot=int(p.team_start[t]), end_depot=int(p.team_end[t]),
            tw_early=int(m.shift[t, 0]), tw_late=int(m.shift[t, 1]), profile=int(m.profile[t]),
            name=p.team_ids[t],
        )
        for t in range(len(p.team_ids))
    ]
    data = ProblemData(
        locations, clients, depots, vehicle_types,
        [m.cost for _ in m.durations], list(m.durations), groups,  # type: ignore[misc]
    )
    return data, owner
