"""The prize post-optimisation (geo.routing.prizes): insertions that need a re-sequenced route."""

from __future__ import annotations

import pyvrp

from geo.routing import check_solution, parse_patrol_problem, solve_patrol
from geo.routing.intmodel import IntModel
from geo.routing.prizes import improve_prizes
from geo.routing.pyvrp import _problem_data

# one team from the origin; A, B, C are three corners of a 100 m square, E the middle of its top
_XY = {"A": (100.0, 0.0), "B": (100.0, 100.0), "C": (0.0, 100.0), "E": (50.0, 100.0)}


def _problem(shift_s: float = 500.0) -> dict:
    stops = [{"id": k, "x": x, "y": y, "priority": 10 if k == "E" else 1}
             for k, (x, y) in _XY.items()]
    return {"teams": [{"id": "T", "start": "S", "end": "S", "shift_s": [0, shift_s],
                       "speed_mps": 1.0}],
            "sites": [{"id": "S", "x": 0.0, "y": 0.0}], "stops": stops, "objective": "priority"}


def _solution(m: IntModel, order: list[str]) -> tuple[object, pyvrp.Solution]:
    data, _ = _problem_data(m)
    idx = [m.p.stop_ids.index(s) for s in order]
    return data, pyvrp.Solution(data, [pyvrp.Route(data, idx, 0)])


def _ids(m: IntModel, sol: pyvrp.Solution) -> list[str]:
    (route,) = sol.routes()
    return [m.p.stop_ids[a.idx] for a in route.schedule() if a.is_client()]


def test_inserts_a_stop_that_fits_only_after_resequencing() -> None:
    """S→C→A→B→S is 482.8 m of a 500 m shift; E costs ≥ 20.4 m more in any position of that
    order, but in the order S→A→B→E→C→S all four stops take 400 m."""
    m = IntModel(parse_patrol_problem(_problem()))
    data, sol = _solution(m, ["C", "A", "B"])
    assert sol.is_feasible()
    out = improve_prizes(data, m, sol)
    assert out.is_feasible()
    assert sorted(_ids(m, out)) == ["A", "B", "C", "E"]
    assert out.prizes() == sol.prizes() + 10 * m.prize_unit
    assert _ids(m, improve_prizes(data, m, sol)) == _ids(m, out)  # no randomness


def test_swaps_a_small_prize_for_a_large_one() -> None:
    """With a 350 m shift A and B fit (341.4 m) but not with E (361.8 m); E (prize 10) replaces a corner (prize 1)."""
    m = IntModel(parse_patrol_problem(_problem(shift_s=350.0)))
    data, sol = _solution(m, ["A", "B"])
    assert sol.is_feasible()
    out = improve_prizes(data, m, sol)
    assert out.is_feasible()
    assert "E" in _ids(m, out)
    assert out.prizes() > sol.prizes()


def test_leaves_a_solution_it_cannot_improve() -> None:
    m = IntModel(parse_patrol_problem(_problem()))
    data, sol = _solution(m, ["A", "B", "E", "C"])
    assert improve_prizes(data, m, sol) is sol


def test_solver_result_stays_feasible() -> None:
    problem = parse_patrol_problem(_problem())
    sol = solve_patrol(problem, time_limit_s=2.0, seed=0)
    assert check_solution(problem, sol) == []
    assert sol["priority_total"] == 13.0
