"""The PyVRP back-end is reproducible: the same data and seed give the same routes.

The search effort is an iteration budget (geo.routing.ils), not the wall clock, so two runs agree
exactly whenever the budget ends the search; the clock only caps it.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from geo.errors import InputError
from geo.routing import parse_patrol_problem, solve_patrol
from geo.routing.intmodel import IntModel
from geo.routing.pyvrp import _params, _problem_data

REPO = Path(__file__).resolve().parents[3]


def _problem(n_stops: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 2000, size=(n_stops, 2))
    stops = []
    for k, (x, y) in enumerate(xy):
        stop = {"id": f"s{k}", "x": float(x), "y": float(y), "priority": int(rng.integers(1, 10)),
                "service_s": 120.0}
        if k % 4 == 0:  # some stops only in a window, so the order is not free everywhere
            lo = float(rng.uniform(0, 5000))
            stop["windows_s"] = [[lo, lo + 1800.0]]
        stops.append(stop)
    teams = [{"id": t, "start": "S", "end": "S", "shift_s": [0, 7200], "speed_mps": 1.2}
             for t in ("A", "B")]
    return {"teams": teams, "sites": [{"id": "S", "x": 1000.0, "y": 1000.0}], "stops": stops,
            "objective": "priority"}


def _routes(sol: dict) -> list[list[str]]:
    return [[v["id"] for v in r["visits"]] for r in sol["routes"]]


def _pyvrp_routes(sol) -> list[tuple[int, list[int]]]:
    return [(r.vehicle_type(), [a.idx for a in r.schedule() if a.is_client()]) for r in sol.routes()]


def test_search_loop_is_deterministic_for_a_seed() -> None:
    """iterated_search with a fixed iteration budget: identical solutions, whatever the load."""
    from geo.routing.ils import iterated_search

    m = IntModel(parse_patrol_problem(_problem(40, seed=1)))
    data, _ = _problem_data(m)
    params, _ = _params(m)
    runs = [iterated_search(data, m, params, seed=7, iterations=600, deadline=float("inf"))
            for _ in range(2)]
    (a, sa), (b, sb) = runs
    assert sa.iterations == sb.iterations == 600 or sa.stop == sb.stop == "stall"
    assert _pyvrp_routes(a) == _pyvrp_routes(b)
    assert a.distance() == b.distance() and a.prizes() == b.prizes()
    other, _ = iterated_search(data, m, params, seed=8, iterations=600, deadline=float("inf"))
    assert other.is_feasible()  # another seed is another (feasible) run, not necessarily equal


def test_solve_patrol_same_seed_same_routes(caplog: pytest.LogCaptureFixture) -> None:
    problem = _problem(14, seed=3)
    with caplog.at_level(logging.DEBUG, logger="geo.routing.pyvrp"):
        t0 = time.perf_counter()
        first = solve_patrol(problem, solver="pyvrp", time_limit_s=2.0, seed=5)
        second = solve_patrol(problem, solver="pyvrp", time_limit_s=2.0, seed=5)
        elapsed = time.perf_counter() - t0
    stops = [r.getMessage() for r in caplog.records if "stopped by" in r.getMessage()]
    assert len(stops) == 2 and not any(s.endswith("time") for s in stops), stops
    assert elapsed < 4.0  # ended by the budget, before the 2 s cap of either run
    assert _routes(first) == _routes(second)
    assert first["priority_total"] == second["priority_total"]
    assert first["distance_total_m"] == second["distance_total_m"]
    assert first["routes"] == second["routes"]  # times too


def test_fixed_iterations_give_the_same_plan_under_any_load() -> None:
    """With ``iterations`` fixed and a generous time limit, the clock never decides."""
    problem = _problem(40, seed=11)
    plans = [solve_patrol(problem, solver="pyvrp", time_limit_s=60.0, seed=2, iterations=150)
             for _ in range(2)]
    assert plans[0]["routes"] == plans[1]["routes"]
    assert plans[0]["priority_total"] > 0
    with pytest.raises(InputError):
        solve_patrol(problem, solver="pyvrp", time_limit_s=1.0, iterations=0)


def test_import_geo_routing_loads_no_solver_package() -> None:
    code = ("import sys, geo.routing; "
            "print(sorted(m for m in ('pyvrp', 'ortools') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_back_ends_never_import_the_dispatcher() -> None:
    import ast

    for name in ("pyvrp", "ortools", "intmodel", "ils"):
        tree = ast.parse((REPO / "geo" / "routing" / f"{name}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not imported & {"geo.routing.backends", "geo.routing.solve", "geo.routing"}, name


def _chao(path: Path) -> dict:
    lines = path.read_text().split("\n")
    m, tmax = int(lines[1].split()[1]), float(lines[2].split()[1])
    pts = [[float(v) for v in ln.split()] for ln in lines[3:] if ln.strip()]
    teams = [{"id": f"T{k}", "start": "S", "end": "E", "shift_s": [0, tmax], "speed_mps": 1.0}
             for k in range(m)]
    sites = [{"id": "S", "x": pts[0][0], "y": pts[0][1]}, {"id": "E", "x": pts[-1][0], "y": pts[-1][1]}]
    stops = [{"id": f"p{i}", "x": x, "y": y, "priority": s} for i, (x, y, s) in enumerate(pts[1:-1])]
    return {"teams": teams, "sites": sites, "stops": stops, "objective": "priority"}


@pytest.mark.shared
def test_chao_p2_3_h_reaches_its_optimum(shared_dir: Path) -> None:
    """p2.3.h: 19 stops, 3 teams; 165 is optimal (CP-SAT proof, see benchmarks/routing.py)."""
    problem = _chao(shared_dir / "bench" / "top_chao" / "Set_21_234" / "p2.3.h.txt")
    scores = {solve_patrol(problem, solver="pyvrp", time_limit_s=1.0, seed=s)["priority_total"]
              for s in range(3)}
    assert scores == {165.0}
