"""``forecast_cells(patrol=...)``: the model also run on the patrol-found cases and on the rest."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo.errors import InputError
from geo.forecast.cells import forecast_cells


def _cases(n: int = 400, seed: int = 2) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2024-01-01", tz="Asia/Shanghai") + pd.to_timedelta(
        rng.uniform(0, 60, n), unit="D")
    lon = 113.92 + rng.uniform(0, 0.02, n)
    lat = 30.93 + rng.uniform(0, 0.02, n)
    return gpd.GeoDataFrame({"reported_at": t}, geometry=gpd.points_from_xy(lon, lat), crs=4326)


def test_patrol_and_other_parts_add_up_for_counts() -> None:
    cases = _cases()
    patrol = np.arange(len(cases)) % 3 == 0
    out = forecast_cells(cases, at="2024-02-20", method="naive_all", cell_m=500, patrol=patrol)
    assert {"score_patrol", "score_other"} <= set(out.columns)
    assert out.columns[-1] == "geometry"
    np.testing.assert_allclose(out["score_patrol"] + out["score_other"], out["score"])
    before = (cases["reported_at"] < pd.Timestamp("2024-02-20", tz="Asia/Shanghai")).to_numpy()
    assert out["score_patrol"].sum() == pytest.approx((patrol & before).sum())
    plain = forecast_cells(cases, at="2024-02-20", method="naive_all", cell_m=500)
    assert "score_patrol" not in plain.columns
    np.testing.assert_allclose(plain["score"], out["score"])


def test_all_patrol_gives_a_zero_other_part_and_bad_lengths_are_refused() -> None:
    cases = _cases()
    out = forecast_cells(cases, at="2024-02-20", cell_m=500, patrol=np.ones(len(cases), bool))
    assert (out["score_other"] == 0).all() and out["score_patrol"].sum() > 0
    with pytest.raises(InputError, match="patrol 的长度"):
        forecast_cells(cases, at="2024-02-20", cell_m=500, patrol=np.ones(3, bool))
