"""PyVRP back-end of the patrol router (the default; see benchmarks/routing.py for why).

Mapping: every site is a depot; every team is a vehicle type with one vehicle, its own start and
end depot, its shift as ``tw_early``/``tw_late`` and a routing profile per distinct speed. A stop
with one window is one client (``required`` for must-visit stops, else optional with a prize); a
stop with several windows becomes one client per window in a mutually exclusive client group,
required when the stop is.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from geo.errors import SolverError
from geo.routing_solvers import IntModel, infeasible

MAX_PENALTY_FACTOR = 0.0  # 0: PyVRP default max penalty (benchmarked best on Chao TOP)


def solve_pyvrp(m: IntModel, *, time_limit_s: float, seed: int) -> list[list[int]]:
    """Solve with PyVRP's iterated local search; return visited stop indices per team."""
    import pyvrp
    from pyvrp import PenaltyParams, SolveParams
    from pyvrp.exceptions import PenaltyBoundWarning
    from pyvrp.stop import MaxRuntime, MultipleCriteria, NoImprovement

    data, owner = _problem_data(m)
    n = m.p.n_stops
    stop = MultipleCriteria([MaxRuntime(time_limit_s), NoImprovement(max(20_000, 400 * n))])
    # time-warp penalties (per ms) must be able to outweigh the largest prize
    max_prize = float(m.prize.max()) if len(m.prize) else 0.0
    params = SolveParams(penalty=PenaltyParams(max_penalty=max(1e5, MAX_PENALTY_FACTOR * max_prize)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PenaltyBoundWarning)
            result = pyvrp.solve(
                data, stop, seed=seed, collect_stats=False, display=False, params=params
            )
    except Exception as exc:  # the C++ core raises plain RuntimeError/ValueError
        raise SolverError(f"PyVRP 求解失败：{exc}") from exc
    best = result.best
    routes: list[list[int]] = [[] for _ in m.p.team_ids]
    visited: set[int] = set()
    for route in best.routes():
        seq = [owner[a.idx] for a in route.schedule() if a.is_client()]
        routes[route.vehicle_type()] = seq
        visited.update(seq)
    if not best.is_feasible():
        late = {s for r in best.routes() if r.has_time_warp() for s in routes[r.vehicle_type()]}
        missing = [int(s) for s in np.flatnonzero(m.must) if s not in visited or s in late]
        raise infeasible(m.p, missing)
    return routes


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
