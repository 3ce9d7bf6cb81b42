"""Route-pool recombination (geo.routing.pool): on-time routes of different solutions, combined."""

from __future__ import annotations

from typing import Any

import pyvrp

from geo.routing import check_solution, parse_patrol_problem, solve_patrol
from geo.routing.intmodel import IntModel
from geo.routing.pool import RoutePool
from geo.routing.pyvrp import _problem_data

# west pair 100 m from the start, east pair 100 m the other way; S→W1→W2→S is 210.5 m and fits
# a 250 s shift at 1 m/s, one team cannot do both sides (≥ 400 m)
_XY = {"W1": (-100.0, 0.0), "W2": (-100.0, 10.0), "E1": (100.0, 0.0), "E2": (100.0, 10.0)}


def _problem(*, prio: dict[str, float], second_start: str = "S",
             required: tuple[str, ...] = ()) -> IntModel:
    stops = [{"id": k, "x": x, "y": y, "priority": prio[k], "required": k in required}
             for k, (x, y) in _XY.items()]
    teams = [{"id": "T0", "start": "S", "end": "S", "shift_s": [0, 250], "speed_mps": 1.0},
             {"id": "T1", "start": second_start, "end": second_start, "shift_s": [0, 250],
              "speed_mps": 1.0}]
    sites = [{"id": "S", "x": 0.0, "y": 0.0}, {"id": "F", "x": 5000.0, "y": 0.0}]
    return IntModel(parse_patrol_problem(
        {"teams": teams, "sites": sites, "stops": stops, "objective": "priority"}))


def _solution(m: IntModel, data: Any, routes: dict[int, list[str]]) -> pyvrp.Solution:
    return pyvrp.Solution(data, [pyvrp.Route(data, [m.p.stop_ids.index(s) for s in seq], vt)
                                 for vt, seq in routes.items()])


def _visits(m: IntModel, sol: pyvrp.Solution) -> dict[int, list[str]]:
    return {r.vehicle_type(): sorted(m.p.stop_ids[a.idx] for a in r.schedule() if a.is_client())
            for r in sol.routes()}


_PRIO = {"W1": 5.0, "W2": 5.0, "E1": 6.0, "E2": 6.0}


def test_routes_of_two_solutions_make_one_better_plan() -> None:
    """Solution A serves the west with T0, B the east with T0: together both teams are busy."""
    m = _problem(prio=_PRIO)
    data, _ = _problem_data(m)
    a = _solution(m, data, {0: ["W1", "W2"]})
    b = _solution(m, data, {0: ["E1", "E2"]})
    assert a.is_feasible() and b.is_feasible()
    pool = RoutePool(data)
    pool.add(b)
    mixed = pool.recombine(a)
    assert mixed is not None and mixed.is_feasible()
    assert sorted(_visits(m, mixed).values()) == [["E1", "E2"], ["W1", "W2"]]
    assert mixed.prizes() == 22 * m.prize_unit
    again = RoutePool(data)
    again.add(b)
    assert _visits(m, again.recombine(a)) == _visits(m, mixed)  # no randomness


def test_a_route_serves_only_teams_with_the_same_start_and_shift() -> None:
    """T1 starts 5 km away: the routes T0 was seen on cannot be given to it, so only one side."""
    m = _problem(prio=_PRIO, second_start="F")
    data, _ = _problem_data(m)
    pool = RoutePool(data)
    pool.add(_solution(m, data, {0: ["E1", "E2"]}))
    mixed = pool.recombine(_solution(m, data, {0: ["W1", "W2"]}))
    assert mixed is not None
    assert _visits(m, mixed) == {0: ["E1", "E2"]}
    assert mixed.prizes() == 12 * m.prize_unit


def test_late_routes_are_not_pooled() -> None:
    m = _problem(prio=_PRIO)
    data, _ = _problem_data(m)
    late = _solution(m, data, {0: ["W1", "W2", "E1", "E2"]})
    assert late.routes()[0].has_time_warp()
    pool = RoutePool(data)
    pool.add(late)
    assert len(pool) == 0


def test_a_required_stop_is_never_dropped_for_a_larger_prize() -> None:
    """W1 is required: the east route (12) cannot replace the west one (10) on T0, and T1 is
    too far away to take either."""
    m = _problem(prio=_PRIO, second_start="F", required=("W1",))
    data, _ = _problem_data(m)
    pool = RoutePool(data)
    pool.add(_solution(m, data, {0: ["E1", "E2"]}))
    assert pool.recombine(_solution(m, data, {0: ["W1", "W2"]})) is None


def test_the_solver_plans_both_sides_the_same_way_every_time() -> None:
    problem = parse_patrol_problem(
        {"teams": [{"id": f"T{k}", "start": "S", "end": "S", "shift_s": [0, 250],
                    "speed_mps": 1.0} for k in range(2)],
         "sites": [{"id": "S", "x": 0.0, "y": 0.0}],
         "stops": [{"id": k, "x": x, "y": y, "priority": _PRIO[k]} for k, (x, y) in _XY.items()],
         "objective": "priority"})
    first = solve_patrol(problem, time_limit_s=1.0, seed=3)
    assert check_solution(problem, first) == []
    assert first["priority_total"] == 22.0
    assert solve_patrol(problem, time_limit_s=1.0, seed=3)["routes"] == first["routes"]
