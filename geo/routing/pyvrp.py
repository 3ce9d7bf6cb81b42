"""PyVRP back-end of the patrol router (the default; see benchmarks/routing.py for why).

Mapping: every site is a depot; every team is a vehicle type with one vehicle, its own start and
end depot, its shift as ``tw_early``/``tw_late`` and a routing profile per distinct speed. A stop
with one window is one client (``required`` for must-visit stops, else optional with a prize); a
stop with several windows becomes one client per window in a mutually exclusive client group,
required when the stop is.

The search is :func:`geo.routing.ils.iterated_search` (PyVRP's local search inside a loop with
repair and 2-opt polish) with a deterministic effort: the same data, seed and time limit give the
same routes unless the clock ends the search first (see :mod:`geo.routing.ils`). The search
ends with two deterministic steps: the best combination of the on-time routes it met
(:mod:`geo.routing.pool`) and, for the ``priority`` objective, the prize post-optimisation of
:mod:`geo.routing.prizes` (insert or swap in unvisited stops, re-sequencing a route to make
room). ``pyvrp`` is imported inside the functions, so that ``import geo.routing``
stays light.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from geo.errors import SolverError
from geo.routing.ils import Deadline, iterated_search, iteration_budget, move_budget
from geo.routing.intmodel import IntModel, infeasible

__all__ = ["PENALTY_RANGE", "solve_pyvrp"]

_log = logging.getLogger(__name__)

#: priority objective: penalty range per ms of time warp, in units of the break-even penalty
#: (median prize / typical time to reach and serve a stop). Low on purpose: the search crosses
#: late solutions to swap stops, and every promising late candidate is repaired (geo.routing.ils).
PENALTY_RANGE = (0.1, 1.0)


def solve_pyvrp(
    m: IntModel, *, time_limit_s: float, seed: int, iterations: int | None = None
) -> list[list[int]]:
    """Solve with PyVRP's local search in :func:`~geo.routing.ils.iterated_search`.

    The effort is ``iterations`` (default :func:`~geo.routing.ils.iteration_budget` of the time
    limit, with the work budget :func:`~geo.routing.ils.move_budget`), capped at
    ``CPU_GUARD × time_limit_s`` CPU seconds and a wall-clock guard
    (:class:`~geo.routing.ils.Deadline`).
    Both budgets are deterministic; give ``iterations`` (then no move budget) with a generous
    ``time_limit_s`` for exactly that many iterations. While no feasible solution is found the
    search continues once more, from the best one, with PyVRP's wide default penalty range.
    A feasible solution is finished by route recombination and, for ``priority``, the prize pass.
    """
    from pyvrp.exceptions import PenaltyBoundWarning

    data, owner = _problem_data(m)
    params, wide = _params(m)
    deadline = Deadline(time_limit_s)
    budget = iteration_budget(time_limit_s) if iterations is None else max(1, int(iterations))
    work = move_budget(time_limit_s) if iterations is None else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PenaltyBoundWarning)
            best, stats = iterated_search(
                data, m, params, seed=seed, iterations=budget, deadline=deadline, moves=work
            )
            if not best.is_feasible() and params is not wide:
                best, stats = iterated_search(
                    data, m, wide, seed=seed + 1, iterations=budget, deadline=deadline,
                    initial=best, moves=work,
                )
    except Exception as exc:  # the C++ core raises plain RuntimeError/ValueError
        raise SolverError(f"PyVRP 求解失败：{exc}") from exc
    _log.debug("PyVRP search: %d iterations, %d moves, %d restarts, stopped by %s",
               stats.iterations, stats.moves, stats.restarts, stats.stop)
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
    wide = SolveParams(penalty=PenaltyParams(max_penalty=max(1e5, 3.0 * even)))
    return SolveParams(penalty=PenaltyParams(min_penalty=lo * even, max_penalty=hi * even)), wide


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
