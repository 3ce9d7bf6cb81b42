"""Intra-route 2-opt/Or-opt (geo.routing.polish)."""

from __future__ import annotations

import numpy as np

from geo.routing import polish as rp


def _circle(n: int) -> np.ndarray:
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xy = np.column_stack([np.cos(ang), np.sin(ang)]) * 100
    return np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))


def test_improve_path_finds_circle_order() -> None:
    cost = _circle(30)
    rng = np.random.default_rng(0)
    path = np.r_[0, rng.permutation(np.arange(1, 30)), 0]
    out = rp.improve_path(cost, path)
    assert out[0] == 0 and out[-1] == 0
    assert sorted(out[1:-1].tolist()) == list(range(1, 30))
    perimeter = 30 * cost[0, 1]
    assert rp.path_cost(cost, out) == np.float64(rp.path_cost(cost, out))
    assert abs(rp.path_cost(cost, out) - perimeter) < 1e-6


def test_move_deltas_are_exact_on_asymmetric_costs(monkeypatch) -> None:
    monkeypatch.setattr(rp, "_MAX_MOVES", 1)
    rng = np.random.default_rng(3)
    for trial in range(150):
        n = int(rng.integers(4, 14))
        cost = rng.random((n, n)) * 10
        if trial % 2:
            cost = cost + cost.T
        path = rng.permutation(n)
        sub = cost[np.ix_(path, path)]
        delta = min(rp._best_two_opt(sub)[0], rp._best_or_opt(sub)[0])
        out = rp.improve_path(cost, path)
        real = rp.path_cost(cost, out) - rp.path_cost(cost, path)
        assert sorted(out.tolist()) == list(range(n))
        assert out[0] == path[0] and out[-1] == path[-1]
        if delta < -1e-9:
            assert abs(real - delta) < 1e-9
        else:
            assert real == 0


def test_short_paths_unchanged() -> None:
    cost = _circle(5)
    path = np.array([0, 2, 1])
    assert rp.improve_path(cost, path).tolist() == [0, 2, 1]
