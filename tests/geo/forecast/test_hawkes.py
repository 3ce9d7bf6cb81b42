"""Grid Hawkes process (geo.forecast.hawkes) on processes simulated in code."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.forecast.backtest import hit_rate_pai
from geo.forecast.cells import forecast_cells
from geo.forecast.hawkes import (
    HawkesFit,
    fit_hawkes,
    hawkes,
    hawkes_expected,
    simulate_hawkes,
    spatial_kernel,
)
from geo.forecast.models import METHODS, EventHistory, naive_all

SHAPE = (30, 30)
Q = float(np.exp(-1 / 5))  # mean lag 1 / (1 - q) = 5.5 days


def background(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).gamma(0.5, 0.04, SHAPE[0] * SHAPE[1])


@pytest.fixture(scope="module")
def process() -> tuple[EventHistory, HawkesFit]:
    mu = background()
    truth = HawkesFit(mu, 0.5, Q, np.array([0.6, 0.4]), SHAPE)
    h = simulate_hawkes(mu, SHAPE, theta=truth.theta, q=Q, eta=truth.eta, n_days=900, seed=2)
    return h, truth


def test_spatial_kernel_rings_sum_to_eta() -> None:
    k = spatial_kernel(np.array([0.5, 0.3, 0.2]))
    assert k.shape == (5, 5) and k.sum() == pytest.approx(1.0)
    assert k[2, 2] == pytest.approx(0.5) and k[1, 1] == pytest.approx(0.3 / 8)
    assert k[0, 4] == pytest.approx(0.2 / 16)


def test_em_recovers_the_parameters(process: tuple[EventHistory, HawkesFit]) -> None:
    h, truth = process
    fit = fit_hawkes(h, 900.0, rings=1, max_days=None)
    assert not fit.fallback and fit.n_iter > 1
    assert fit.theta == pytest.approx(truth.theta, abs=0.1)
    assert fit.mean_lag_days == pytest.approx(truth.mean_lag_days, abs=1.0)
    assert fit.eta == pytest.approx(truth.eta, abs=0.1)
    assert np.corrcoef(fit.mu, truth.mu)[0, 1] > 0.9
    # the background share is not taken by the triggering, nor the reverse
    assert fit.mu.sum() == pytest.approx(truth.mu.sum(), rel=0.2)


def test_no_excitation_gives_theta_near_zero() -> None:
    mu = background(3)
    h = simulate_hawkes(mu, SHAPE, theta=0.0, q=Q, eta=np.array([1.0, 0.0]), n_days=600, seed=4)
    fit = fit_hawkes(h, 600.0, rings=1, max_days=None)
    assert fit.theta < 0.05


def test_forecast_ranks_the_true_intensity_cells_high(
        process: tuple[EventHistory, HawkesFit]) -> None:
    h, truth = process
    mask = np.ones(SHAPE[0] * SHAPE[1], bool)
    own, true, naive = [], [], []
    for t0 in np.arange(700.0, 900.0, 7.0):
        past = h.before(t0)
        test = h.cell[(h.t_days >= t0) & (h.t_days < t0 + 7)]
        s = hawkes(past, t0, 7.0, rings=1, max_days=None)
        s_true = hawkes_expected(truth, past, t0, 7.0)
        top = np.argsort(-s)[:45]
        top_true = np.argsort(-s_true)[:45]
        assert len(np.intersect1d(top, top_true)) >= 30  # 5 % of the cells, mostly the same
        own.append(hit_rate_pai(s, mask, test)["pai@5%"])
        true.append(hit_rate_pai(s_true, mask, test)["pai@5%"])
        naive.append(hit_rate_pai(naive_all(past, t0), mask, test)["pai@5%"])
    assert np.mean(own) >= 0.95 * np.mean(true)
    assert np.mean(own) > np.mean(naive)


def test_burst_right_before_the_origin_is_ranked_first() -> None:
    rng = np.random.default_rng(5)
    n = SHAPE[0] * SHAPE[1]
    cell = rng.integers(0, n, 3000)
    t = rng.uniform(0, 400, 3000)
    burst = np.full(25, 17 * SHAPE[1] + 4)  # a quiet cell, 25 cases in the last 3 days
    h = EventHistory(np.r_[cell, burst], np.r_[t, rng.uniform(397, 400, 25)], SHAPE, 150.0)
    s = hawkes(h, 400.0, 1.0)
    assert int(np.argmax(s)) == burst[0]
    assert s.sum() > 0


def test_too_few_cases_fall_back_to_counts() -> None:
    h = EventHistory(np.array([3, 3, 7]), np.array([-5.0, -2.0, -1.0]), (4, 4), 150.0)
    fit = fit_hawkes(h, 0.0)
    assert fit.fallback and fit.theta == 0.0
    s = hawkes(h, 0.0, 7.0)
    assert np.argsort(-s, kind="stable")[:2].tolist() == [3, 7]
    empty = EventHistory(np.array([], np.int64), np.array([]), (2, 2), 150.0)
    assert hawkes(empty, 0.0, 7.0).tolist() == [0.0] * 4


def test_registered_and_usable_through_forecast_cells() -> None:
    assert "hawkes" in METHODS
    rng = np.random.default_rng(6)
    t = pd.Timestamp("2024-01-01", tz="Asia/Shanghai") + pd.to_timedelta(
        rng.uniform(0, 90, 400), unit="D")
    lon = 114.0 + rng.uniform(0, 0.02, 400)
    lat = 30.9 + rng.uniform(0, 0.02, 400)
    lon[:100], lat[:100] = 114.01, 30.91  # a recurring address
    cases = gpd.GeoDataFrame({"reported_at": t}, geometry=gpd.points_from_xy(lon, lat),
                             crs="EPSG:4326")
    out = forecast_cells(cases, at="2024-04-01", method="hawkes")
    hot = gpd.GeoSeries([shapely.Point(114.01, 30.91)], crs=4326).to_crs(out.crs).iloc[0]
    assert out.geometry.iloc[0].intersects(hot)
    # a study area smaller than one cell: one cell, documented, not an error
    tiny = shapely.Point(114.01, 30.91).buffer(0.0001)
    one = forecast_cells(cases, at="2024-04-01", method="hawkes", area=tiny)
    assert len(one) == 1 and one["score"].iloc[0] > 0
