"""Backtest metrics (hit rate, PAI, ties), the mixture fit, and the rolling-origin cut-off."""

from __future__ import annotations

import numpy as np
import pytest

from geo.forecast.backtest import hit_rate_pai, rolling_origin
from geo.forecast.models import EventHistory, fit_mixture, naive_4w, prohot


def test_hit_rate_and_pai_by_hand() -> None:
    mask = np.ones(100, dtype=bool)
    scores = np.zeros(100)
    scores[[7, 3, 50, 9, 11]] = [5.0, 4.0, 3.0, 2.0, 1.0]
    test = np.array([7, 7, 3, 50, 60, 61, 62, 63, 64, 65])  # 10 events
    m = hit_rate_pai(scores, mask, test)
    assert m["n_test"] == 10
    assert m["hit@1%"] == pytest.approx(0.2)  # cell 7 only
    assert m["pai@1%"] == pytest.approx(0.2 / 0.01)
    assert m["hit@5%"] == pytest.approx(0.4)  # 7, 3, 50, 9, 11
    assert m["pai@5%"] == pytest.approx(8.0)
    # 10 %: the 5 scored cells then ties at 0 broken by lowest id (0, 1, 2, 4, 5): no more hits
    assert m["hit@10%"] == pytest.approx(0.4)


def test_mask_restricts_area_and_events() -> None:
    mask = np.zeros(100, dtype=bool)
    mask[:20] = True
    scores = np.arange(100, dtype=float)  # the highest scores lie outside the area
    m = hit_rate_pai(scores, mask, np.array([19, 19, 0, 99]))
    assert m["n_test"] == 3  # cell 99 is outside the area
    assert m["hit@5%"] == pytest.approx(2 / 3)  # k = 1 cell of 20: cell 19
    assert m["pai@5%"] == pytest.approx((2 / 3) / (1 / 20))


def test_fit_mixture_recovers_weights() -> None:
    rng = np.random.default_rng(0)
    f = rng.dirichlet(np.ones(400), size=3)  # three densities over 400 cells
    w_true = np.array([300.0, 0.0, 700.0])
    y = rng.poisson(np.tile(w_true @ f, 20)).astype(float)
    w = fit_mixture(np.tile(f, 20), y, n_iter=2000, tol=1e-10)
    assert np.all(w >= 0)
    assert w.sum() == pytest.approx(y.sum() / 20, rel=1e-3)  # one window of 20 replicates
    assert w / w.sum() == pytest.approx(w_true / w_true.sum(), abs=0.03)


def test_prohot_weights_follow_bowers() -> None:
    # one event in cell (5, 5) 10 days before t0 (week 1): weight 1/2; neighbour at 150 m: 1/4
    h = EventHistory(np.array([5 * 11 + 5]), np.array([-10.0]), (11, 11), 150.0)
    s = prohot(h, 0.0).reshape(11, 11)
    assert s[5, 5] == pytest.approx(0.5)
    assert s[5, 6] == pytest.approx(0.25)
    assert s[5, 8] == 0.0  # 450 m > 400 m
    assert prohot(h, 60.0).sum() == 0.0  # older than 8 weeks


def test_rolling_origin_never_shows_the_future() -> None:
    seen: list[float] = []

    def spy(h: EventHistory, t0: float, hz: float) -> np.ndarray:
        seen.append(float(h.t_days.max()))
        assert np.all(h.t_days < t0)
        return naive_4w(h, t0, hz)

    t = np.arange(0.0, 100.0, 0.5)
    h = EventHistory(np.zeros(t.size, dtype=np.int64), t, (2, 2), 150.0)
    res = rolling_origin(h, np.ones((2, 2), dtype=bool), [50.0, 57.0], {"spy": spy})
    assert seen == [49.5, 56.5]
    rows = res["spy"].rows
    assert rows[0]["n_test"] == 14 and rows[0]["hit@1%"] == 1.0
    summary = res["spy"].summary()
    assert summary["n_origins"] == 2 and summary["pai@1%_mean"] == pytest.approx(4.0)
