"""Per-district analytics on grid counts: Gi* hot spots, forecast, weekly trends, statistics.

Everything here reads :class:`geo.batch.counts.DistrictCounts` (counts on the district's grid,
never points) and calls the library's own functions:

* Gi*: :func:`geo.analysis.significance.neighbour_matrix`, :func:`~geo.analysis.significance.gi_star`
  (all categories in one sparse product, one column each, plus ``全部`` = all) and
  :func:`~geo.analysis.significance.confidence_bins` (Benjamini–Hochberg per category).
* Forecast: the models of :mod:`geo.forecast.models` (``METHODS``) on an
  :class:`~geo.forecast.models.EventHistory` rebuilt from the daily counts (each case at the
  middle of its local day — for every model this gives the scores of the exact times, except for
  cases reported exactly at midnight), ranked with :func:`geo.forecast.cells.rank_scores`.
* Trends: Gi* z per ``period_days`` period ending at the origin and the Mann–Kendall trend of
  that z (:func:`geo.analysis.trends.mann_kendall`), as in emerging hot-spot analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from geo.analysis.significance import CLASS_ZH, confidence_bins, gi_star, neighbour_matrix
from geo.analysis.trends import MIN_PERIODS, mann_kendall
from geo.batch.counts import DistrictCounts
from geo.batch.plan import NS_PER_DAY, BatchPlan
from geo.errors import InputError
from geo.forecast.cells import METHODS, rank_scores
from geo.forecast.models import EventHistory
from geo.grid import GridSpec

FloatArray = npt.NDArray[np.float64]
ALL = "全部"


@dataclass(frozen=True)
class DistrictResult:
    """Tables of one district (cells identified by ``cell_id`` on the district's grid)."""

    district: str
    gi: pd.DataFrame
    forecast: pd.DataFrame
    trends: pd.DataFrame
    stats: pd.DataFrame
    n_cases: int


def centres(grid: GridSpec) -> FloatArray:
    """Cell centres (row-major ``cell_id = iy * nx + ix``) in the working CRS."""
    iy, ix = np.divmod(np.arange(grid.nx * grid.ny), grid.nx)
    return np.column_stack([grid.x0 + (ix + 0.5) * grid.cell_m, grid.y0 + (iy + 0.5) * grid.cell_m])


def _weights(grid: GridSpec, plan: BatchPlan) -> sparse.csr_matrix:
    return neighbour_matrix(centres(grid), band_m=plan.band_m or 2.0 * plan.cell_m)


def _gi_table(c: DistrictCounts, plan: BatchPlan, w: sparse.csr_matrix) -> pd.DataFrame:
    names = [*plan.categories, ALL]
    values = np.column_stack([c.cat_cell.T, c.cat_cell.sum(axis=0)]).astype(float)
    z = gi_star(values, w)
    frames = []
    for j, name in enumerate(names):
        p, bins = confidence_bins(z[:, j])
        keep = np.flatnonzero((values[:, j] > 0) | (bins != 0))
        if name != ALL and values[:, j].sum() == 0:
            continue
        b = bins[keep]
        conf = np.array([0, 90, 95, 99])[np.abs(b)]
        cls = np.where(b > 0, "hot_", "cold_").astype(object) + conf.astype(str)
        frames.append(pd.DataFrame({
            "district": c.district, "category": name, "cell_id": keep.astype(np.int64),
            "count": values[keep, j].astype(np.int64), "gi_z": z[keep, j], "gi_p": p[keep],
            "gi_bin": b, "gi_confidence": conf,
            "gi_class": np.where(b == 0, "not_significant", cls),
            "gi_label": pd.Series(b).map(CLASS_ZH).to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def history(c: DistrictCounts, grid: GridSpec) -> EventHistory:
    """Past cases as events at mid-day, times in days relative to the origin (``t0 = 0``)."""
    day, cell = np.nonzero(c.day_cell)
    n = c.day_cell[day, cell].astype(np.int64)
    t = (day - c.day_cell.shape[0]).astype(float) + 0.5
    return EventHistory(np.repeat(cell.astype(np.int64), n), np.repeat(t, n),
                        (grid.ny, grid.nx), float(grid.cell_m))


def _forecast_table(c: DistrictCounts, plan: BatchPlan, grid: GridSpec) -> pd.DataFrame:
    if plan.method not in METHODS:
        raise InputError(f"未知的预测方法「{plan.method}」；可用：{', '.join(METHODS)}。")
    scores = np.asarray(METHODS[plan.method](history(c, grid), 0.0, float(plan.horizon_days)),
                        dtype=float)
    ranks = rank_scores(scores)
    keep = np.flatnonzero(scores > 0)
    out = pd.DataFrame({"district": c.district, "cell_id": keep.astype(np.int64),
                        "score": scores[keep], "rank": ranks[keep]})
    return out.sort_values("rank", kind="stable").reset_index(drop=True)


def _trend_table(c: DistrictCounts, plan: BatchPlan, w: sparse.csr_matrix) -> pd.DataFrame:
    n_days = c.day_cell.shape[0]
    k = int(plan.period_days)
    n_periods = n_days // k
    cols = ["district", "cell_id", "count_total", "n_periods", "final_z", "trend_z", "trend_p",
            "count_trend_z"]
    if n_periods < MIN_PERIODS:
        return pd.DataFrame({name: [] for name in cols})
    recent = c.day_cell[n_days - n_periods * k:].astype(float)
    cube = recent.reshape(n_periods, k, -1).sum(axis=1).T  # (cells, periods), oldest first
    rows = np.flatnonzero(cube.sum(axis=1) > 0)
    z = gi_star(cube, w)
    _, tz, tp = mann_kendall(z[rows])
    _, cz, _ = mann_kendall(cube[rows])
    return pd.DataFrame({"district": c.district, "cell_id": rows.astype(np.int64),
                         "count_total": cube[rows].sum(axis=1).astype(np.int64),
                         "n_periods": n_periods, "final_z": z[rows, -1], "trend_z": tz,
                         "trend_p": tp, "count_trend_z": cz})


def _stats_table(c: DistrictCounts, plan: BatchPlan) -> pd.DataFrame:
    days = plan.day0 + np.arange(c.cat_day.shape[1])
    month = pd.to_datetime(days * NS_PER_DAY).strftime("%Y-%m").to_numpy()
    frame = pd.DataFrame(c.cat_day.T, columns=list(plan.categories))
    frame["month"] = month
    long = frame.groupby("month", sort=True).sum().stack().rename("count").reset_index()
    long.columns = ["month", "category", "count"]
    long.insert(0, "district", c.district)
    return long[long["count"] > 0].reset_index(drop=True).astype({"count": np.int64})


def analyse_district(c: DistrictCounts, plan: BatchPlan) -> DistrictResult:
    """Gi*, forecast, trends and monthly statistics of one district's counts."""
    grid = plan.grids[c.district]
    w = _weights(grid, plan)
    return DistrictResult(c.district, _gi_table(c, plan, w), _forecast_table(c, plan, grid),
                          _trend_table(c, plan, w), _stats_table(c, plan),
                          int(c.cat_cell.sum()))
