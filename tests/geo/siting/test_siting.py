"""Siting core: exact answers against brute force, the independent checker, bad input."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from geo.errors import InfeasibleError, InputError
from geo.siting.heuristics import pmedian_greedy, pmedian_swap
from geo.siting.lagrange import pmedian_bnb
from geo.siting.problem import parse_problem
from geo.siting.solve import evaluate_siting, solve_matrix, solve_siting


def _instance(seed: int, n: int = 14, m: int = 9, *, integer: bool = False) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    dxy = rng.uniform(0, 1000, (n, 2))
    cxy = rng.uniform(0, 1000, (m, 2))
    w = rng.integers(1, 6, n).astype(float) if integer else rng.uniform(0.5, 3, n).round(3)
    return {
        "demand": [{"id": f"d{i}", "x": float(x), "y": float(y), "weight": float(w[i])}
                   for i, (x, y) in enumerate(dxy)],
        "candidates": [{"id": f"c{j}", "x": float(x), "y": float(y)}
                       for j, (x, y) in enumerate(cxy)],
        "cost": {"metric": "euclidean"},
    }


def _brute(C: np.ndarray, w: np.ndarray, p: int, model: str, r: float) -> float:
    best = -np.inf if model == "mclp" else np.inf
    for S in itertools.combinations(range(C.shape[1]), p):
        d = C[:, list(S)].min(axis=1)
        if model == "mclp":
            best = max(best, float(w[d <= r].sum()))
        else:
            best = min(best, float((w * d).sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_pmedian_and_mclp_match_brute_force(seed: int, p: int) -> None:
    prob = _instance(seed)
    C = parse_problem({**prob, "model": "pmedian", "sites": 1}).cost
    w = np.array([d["weight"] for d in prob["demand"]])
    for model in ("pmedian", "mclp"):
        sol = solve_siting({**prob, "model": model, "sites": p, "radius_m": 300.0},
                           time_limit_s=10)
        assert sol["optimal"] is True and sol["gap"] == 0.0
        assert len(sol["chosen"]) == p
        want = _brute(C, w, p, model, 300.0)
        got = sol["total_weighted_cost"] if model == "pmedian" else sol["covered_weight"]
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_lscp_is_the_smallest_full_cover(seed: int) -> None:
    prob = {**_instance(seed, n=12, m=8), "model": "lscp", "radius_m": 450.0}
    C = parse_problem(prob).cost
    if not (C <= 450.0).any(axis=1).all():
        with pytest.raises(InputError, match="集合覆盖无解"):
            solve_siting(prob)
        return
    sol = solve_siting(prob, time_limit_s=10)
    k_min = next(k for k in range(1, 9) for S in itertools.combinations(range(8), k)
                 if (C[:, list(S)] <= 450.0).any(axis=1).all())
    assert len(sol["chosen"]) == k_min and sol["optimal"]
    assert sol["uncovered"] == [] and all(v is not None for v in sol["assignment"].values())


def test_capacitated_pmedian_matches_brute_force() -> None:
    n, m, p = 6, 4, 2
    prob = _instance(11, n=n, m=m, integer=True)
    cap = 0.6 * sum(d["weight"] for d in prob["demand"])  # binding: one site cannot serve all
    for c in prob["candidates"]:
        c["capacity"] = cap
    prob.update(model="pmedian", sites=p)
    sp_ = parse_problem(prob)
    C, w = sp_.cost, sp_.weights
    best = np.inf
    for S in itertools.combinations(range(m), p):
        for a in itertools.product(S, repeat=n):
            load = np.bincount(a, weights=w, minlength=m)
            if (load <= cap + 1e-9).all():
                best = min(best, float((w * C[np.arange(n), a]).sum()))
    sol = solve_siting(prob, time_limit_s=20)
    ev = evaluate_siting(prob, sol["chosen"], assignment=sol["assignment"])
    assert sol["optimal"] and ev["capacity_ok"]
    assert sol["total_weighted_cost"] == pytest.approx(best, rel=1e-9)
    assert max(ev["load"].values()) <= cap + 1e-9
    uncapped = solve_siting({**prob, "candidates": [{**c, "capacity": None}
                                                    for c in prob["candidates"]]})
    assert uncapped["total_weighted_cost"] <= sol["total_weighted_cost"] + 1e-9
    tight = {**prob, "candidates": [{**c, "capacity": 1.0} for c in prob["candidates"]]}
    with pytest.raises(InfeasibleError, match="容量不足"):
        solve_siting(tight)


def test_checker_recomputes_by_hand() -> None:
    # demand on a line at 0, 100, 400 m; candidates at 0 and 500 m
    prob = {"demand": [{"id": "a", "x": 0.0, "y": 0.0, "weight": 2.0},
                       {"id": "b", "x": 100.0, "y": 0.0, "weight": 1.0},
                       {"id": "c", "x": 400.0, "y": 0.0, "weight": 3.0}],
            "candidates": [{"id": "L", "x": 0.0, "y": 0.0}, {"id": "R", "x": 500.0, "y": 0.0}],
            "model": "mclp", "sites": 1, "radius_m": 150.0}
    ev = evaluate_siting(prob, ["L"])
    assert ev["covered_weight"] == 3.0  # a (0 m) and b (100 m); c is 400 m away
    assert ev["total_weighted_cost"] == pytest.approx(2 * 0 + 1 * 100)
    assert ev["uncovered"] == ["c"]
    ev_r = evaluate_siting(prob, ["R"])
    assert ev_r["covered_weight"] == 3.0 and ev_r["total_weighted_cost"] == pytest.approx(300)
    pm = evaluate_siting({**prob, "model": "pmedian"}, ["L"])
    assert pm["total_weighted_cost"] == pytest.approx(0 + 100 + 3 * 400)
    sol = solve_siting({**prob, "sites": 2})
    assert sorted(sol["chosen"]) == ["L", "R"] and sol["covered_weight"] == 6.0
    with pytest.raises(InputError, match="未选中"):
        evaluate_siting(prob, ["L"], assignment={"a": "R"})


def test_solution_agrees_with_checker_and_contract() -> None:
    prob = {**_instance(42, n=40, m=25), "model": "mclp", "sites": 3, "radius_m": 250.0}
    sol = solve_siting(prob)
    for key in ("chosen", "covered_weight", "total_weighted_cost", "assignment", "optimal",
                "gap"):
        assert key in sol
    ev = evaluate_siting(prob, sol["chosen"])
    assert ev["covered_weight"] == pytest.approx(sol["objective"])
    assert set(sol["assignment"]) == {d["id"] for d in prob["demand"]}
    assert set(v for v in sol["assignment"].values() if v) <= set(sol["chosen"])
    assert sol["method"] == "exact" and sol["bound"] == pytest.approx(sol["objective"])


def test_matrix_cost_and_lonlat() -> None:
    prob = {"demand": [{"id": "a", "weight": 1}, {"id": "b", "weight": 4}],
            "candidates": [{"id": "x"}, {"id": "y"}, {"id": "z"}],
            "cost": {"metric": "matrix", "values": [[1, 5, 9], [7, 2, 3]]},
            "model": "pmedian", "sites": 1}
    sol = solve_siting(prob)
    assert sol["chosen"] == ["y"] and sol["total_weighted_cost"] == pytest.approx(5 + 8)
    ll = {"crs": "EPSG:4326", "model": "mclp", "sites": 1, "radius_m": 500.0,
          "demand": [{"id": "a", "x": 113.92, "y": 30.92}, {"id": "b", "x": 113.9243, "y": 30.92}],
          "candidates": [{"id": "m", "x": 113.92215, "y": 30.92}]}
    # 0.0043 degrees of longitude at 30.92 N is about 411 m: both within 500 m of the midpoint
    assert solve_siting(ll)["covered_weight"] == 2.0


def test_lagrangian_bnb_proves_a_random_pmedian() -> None:
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 100, (60, 2))
    W = np.round(np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]))
    start = pmedian_swap(W, pmedian_greedy(W, 3))
    res = pmedian_bnb(W, 3, start, deadline=np.inf, integral=True)
    best = min(W[:, list(S)].min(axis=1).sum() for S in itertools.combinations(range(60), 3))
    assert res.optimal and res.cost == best and res.bound == best


BAD: list[tuple[dict[str, Any], str]] = [
    ({"demand": [], "candidates": [{"id": "c", "x": 0, "y": 0}], "sites": 1, "radius_m": 1},
     "没有需求点"),
    ({**_instance(1, n=3, m=2), "model": "mclp", "sites": 3, "radius_m": 500}, "少于要选的点数"),
    ({**_instance(1, n=3, m=2), "model": "mclp", "sites": 1, "radius_m": 0.001},
     "内没有任何需求点"),
    ({"demand": [{"id": "d", "x": 0, "y": 0, "weight": -2}], "candidates": [{"id": "c", "x": 0,
                                                                          "y": 0}],
      "model": "pmedian", "sites": 1}, "weight=-2"),
    ({"demand": [{"id": "d"}], "candidates": [{"id": "c"}, {"id": "e"}],
      "cost": {"metric": "matrix", "values": [[1, 2, 3]]}, "model": "pmedian", "sites": 1},
     r"形状为 \(1, 3\)"),
    ({**_instance(1, n=3, m=2), "model": "knapsack", "sites": 1}, "model="),
    ({**_instance(1, n=3, m=2), "model": "mclp", "sites": 1}, "需要覆盖半径"),
]


@pytest.mark.parametrize(("problem", "needle"), BAD)
def test_bad_input_names_the_problem(problem: dict[str, Any], needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        solve_siting(problem)


def test_heuristic_path_reports_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.siting.solve as siting

    monkeypatch.setattr(siting, "MAX_DENSE_CELLS", 10)
    prob = parse_problem({**_instance(2, n=30, m=20), "model": "pmedian", "sites": 3})
    res = solve_matrix(prob, time_limit_s=1.0)
    assert res.bound <= res.objective + 1e-9
    assert res.method in ("heuristic", "exact")
    assert 0.0 <= res.gap < 0.5


@pytest.mark.parametrize("seed", range(3))
def test_highs_chain_model_agrees_with_bnb(seed: int) -> None:
    from geo.siting.milp import pmedian_exact

    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (45, 2))
    W = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    W *= rng.uniform(0.5, 2.0, (45, 1))  # weighted rows, non-integer costs
    start = pmedian_swap(W, pmedian_greedy(W, 4))
    a = pmedian_bnb(W, 4, start, deadline=np.inf, integral=False)
    b = pmedian_exact(W, 4, deadline=np.inf, incumbent=start)
    assert a.optimal and b.optimal
    assert a.cost == pytest.approx(b.cost, rel=1e-9)
