"""Space-time cube, Mann–Kendall and the emerging-hot-spot categories."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.analysis.trends import classify, emerging_hotspots, mann_kendall, space_time_cube
from geo.errors import InputError

CRS = "EPSG:4547"
X0, Y0 = 500_000.0, 3_400_000.0
START = pd.Timestamp("2024-01-01", tz="Asia/Shanghai")


def cube_cases(counts_at_spot: list[int], seed: int = 0, n_bg: int = 150) -> gpd.GeoDataFrame:
    """Per weekly period: ``n_bg`` uniform background cases plus ``counts_at_spot[t]`` at one spot."""
    rng = np.random.default_rng(seed)
    xs, ys, ts = [], [], []
    for t, k in enumerate(counts_at_spot):
        n = n_bg + k
        x = np.r_[rng.uniform(X0, X0 + 3000, n_bg), X0 + 1500 + rng.normal(0, 20, k)]
        y = np.r_[rng.uniform(Y0, Y0 + 3000, n_bg), Y0 + 1500 + rng.normal(0, 20, k)]
        xs.append(x)
        ys.append(y)
        ts.append(START + pd.Timedelta(days=7 * t) + pd.to_timedelta(rng.uniform(0, 6.9, n), "D"))
    return gpd.GeoDataFrame({"reported_at": np.concatenate(ts)},
                            geometry=gpd.points_from_xy(np.concatenate(xs), np.concatenate(ys)),
                            crs=CRS)


def pattern_at_spot(result: gpd.GeoDataFrame) -> str:
    return str(result[result.contains(shapely.Point(X0 + 1501, Y0 + 1501))]["pattern"].iloc[0])


def test_rising_cell_is_intensifying() -> None:
    res = emerging_hotspots(cube_cases([6 + 3 * t for t in range(12)]), cell_m=100)
    assert pattern_at_spot(res) == "intensifying_hot"
    row = res[res["pattern"] == "intensifying_hot"].iloc[0]
    assert row["pattern_zh"] == "加剧热点" and row["trend_z"] > 0 and row["trend_p"] < 0.05
    assert row["n_periods"] == 12


def test_steady_cell_is_persistent_and_new_cell_is_new() -> None:
    assert pattern_at_spot(emerging_hotspots(cube_cases([20] * 12), cell_m=100)) == (
        "persistent_hot")
    assert pattern_at_spot(emerging_hotspots(cube_cases([0] * 11 + [30]), cell_m=100)) == "new_hot"
    assert pattern_at_spot(emerging_hotspots(cube_cases([0] * 8 + [30] * 4), cell_m=100)) == (
        "consecutive_hot")
    assert pattern_at_spot(emerging_hotspots(cube_cases([30] * 11 + [0]), cell_m=100)) == (
        "historical_hot")


def test_uniform_noise_has_no_pattern() -> None:
    res = emerging_hotspots(cube_cases([0] * 12, n_bg=400), cell_m=100)
    assert (res["pattern"] == "no_pattern").mean() > 0.99


def test_classification_rules_directly() -> None:
    t = 10
    hot = np.zeros((6, t), bool)
    cold = np.zeros((6, t), bool)
    hot[0] = True  # all hot, trend up
    hot[1] = True  # all hot, trend down
    hot[2, [2, 5, 9]] = True  # on and off, never cold
    hot[3, [4, 9]] = True
    cold[3, 1] = True  # was cold before
    cold[4, -1] = True  # new cold spot
    tz = np.array([3.0, -3.0, 0, 0, 0, 0])
    tp = np.array([0.001, 0.001, 1, 1, 1, 1])
    got = classify(hot, cold, tz, tp).tolist()
    assert got == ["intensifying_hot", "diminishing_hot", "sporadic_hot", "oscillating_hot",
                   "new_cold", "no_pattern"]


def test_mann_kendall_matches_pymannkendall() -> None:
    mk = pytest.importorskip("pymannkendall")
    x = np.random.default_rng(0).integers(0, 4, (6, 15)).astype(float)
    s, z, p = mann_kendall(x)
    for i in range(6):
        ref = mk.original_test(x[i])
        assert (s[i], z[i], p[i]) == pytest.approx((ref.s, ref.z, ref.p))


def test_cube_shape_and_bad_input() -> None:
    cases = cube_cases([5] * 6)
    cube = space_time_cube(cases, cell_m=500, period_days=7)
    assert cube.counts.shape[1] == 6 and cube.counts.sum() == len(cases)
    with pytest.raises(InputError, match="至少需要"):
        space_time_cube(cases, period_days=30)
    with pytest.raises(InputError, match="上报时间"):
        emerging_hotspots(cases.drop(columns="reported_at"))
    no_time = cases.assign(reported_at=pd.NaT)
    with pytest.raises(InputError, match="没有上报时间"):
        emerging_hotspots(no_time)
