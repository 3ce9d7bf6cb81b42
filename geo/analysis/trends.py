"""Emerging hot spots: a space-time cube, per-period Gi*, Mann–Kendall trends, ArcGIS categories.

The cube counts cases per grid cell (squares or hexagons of ``cell_m``, as in
:mod:`geo.analysis.significance`) and per period of ``period_days`` days. Periods are laid back from the
end (the day after the latest report, or ``end``), so the final period is always complete.

For every period, Gi* z-scores are computed over all cells (spatial neighbourhood only: centres
within ``band_m``, default ``2 * cell_m``; no temporal neighbours, unlike ArcGIS's default),
and a cell-period is a significant hot (cold) spot when Benjamini–Hochberg at false-discovery
rate ``alpha`` (10 %) rejects it within its period and z > 0 (z < 0). A Mann–Kendall test
(with the tie correction, vectorised) on each cell's series of z-scores measures the trend of
the clustering intensity; on the counts it gives ``count_trend_z``.

Classification (ArcGIS *Emerging Hot Spot Analysis*), with ``hot`` the significant hot
periods, ``T`` the number of periods, "trend up/down" a Mann–Kendall p < ``trend_alpha``
(0.05) on the z-scores — checked in this order:

======================  ===============================================================
new_hot                 the final period is hot and no earlier one is
consecutive_hot         one uninterrupted run of >= 2 hot periods ending at the final one,
                        never hot before it, and hot in < 90 % of the periods
intensifying_hot        hot in >= 90 % of the periods, the final one included; trend up
diminishing_hot         hot in >= 90 % of the periods, the final one included; trend down
persistent_hot          hot in >= 90 % of the periods, the final one included; no trend
historical_hot          the final period is not hot, but >= 90 % of the periods are
oscillating_hot         the final period is hot, < 90 % of periods hot, some earlier
                        period a significant cold spot
sporadic_hot            the final period is hot, < 90 % of periods hot, on and off,
                        never a significant cold spot
======================  ===============================================================

The cold categories mirror these with cold and hot swapped (trend down = intensifying cold).
Everything else is ``no_pattern``. Only cells with at least one case are returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy import stats

from geo.analysis.significance import (
    Shape,
    _cell_polygons,
    bh_reject,
    gi_star,
    make_lattice,
    neighbour_matrix,
)
from geo.crs import require_metric
from geo.errors import InputError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MIN_PERIODS = 4
PATTERN_ZH = {
    "new": "新增", "consecutive": "连续", "intensifying": "加剧", "persistent": "持续",
    "diminishing": "减弱", "sporadic": "零星", "oscillating": "振荡", "historical": "历史",
}


@dataclass(frozen=True)
class SpaceTimeCube:
    """Counts per cell and period.

    Attributes
    ----------
    centres : ndarray (m, 2)
        Cell centres in the cases' metric CRS.
    counts : ndarray (m, T)
        Cases per cell (rows) and period (columns, oldest first).
    period_starts : DatetimeIndex
        Start of each period (length T); each lasts ``period_days``.
    cell_m, shape, crs
        Grid definition.
    """

    centres: FloatArray
    counts: FloatArray
    period_starts: pd.DatetimeIndex
    period_days: float
    cell_m: float
    shape: Shape
    crs: object


def space_time_cube(
    cases: gpd.GeoDataFrame,
    *,
    cell_m: float = 100.0,
    period_days: float = 7.0,
    end: pd.Timestamp | str | None = None,
    shape: Shape = "square",
) -> SpaceTimeCube:
    """Build the space-time cube of the cases (metric CRS, ``reported_at`` required).

    Raises
    ------
    InputError
        No cases with a report time, or fewer than 4 periods.
    """
    require_metric(cases.crs, what="案件数据")
    if "reported_at" not in cases.columns:
        raise InputError("案件数据缺少 reported_at（上报时间）列，无法分析时间趋势。")
    t = cases["reported_at"]
    if not pd.api.types.is_datetime64_any_dtype(t):
        t = pd.to_datetime(t, errors="coerce")
    ok = t.notna().to_numpy()
    if not ok.any():
        raise InputError("所有案件都没有上报时间（reported_at），无法分析时间趋势。")
    t = t[ok]
    end_ts = pd.Timestamp(end) if end is not None else t.max().normalize() + pd.Timedelta(days=1)
    if end_ts.tzinfo is None and t.dt.tz is not None:
        end_ts = end_ts.tz_localize(t.dt.tz)
    step = pd.Timedelta(days=period_days)
    age = (end_ts - t) / step  # periods before the end
    n_periods = int(np.ceil(float(age.max()))) if float(age.max()) > 0 else 1
    if n_periods < MIN_PERIODS:
        raise InputError(
            f"时间跨度只有 {n_periods} 个时段（每段 {period_days:g} 天），至少需要 "
            f"{MIN_PERIODS} 个；请缩短 period_days 或提供更长时间的案件。"
        )
    col = (n_periods - 1 - np.floor(age.to_numpy(dtype=float))).astype(np.int64)
    keep = (col >= 0) & (col < n_periods)
    xy = shapely.get_coordinates(cases.geometry.to_numpy()[ok][keep])
    centres, cell = make_lattice(xy, cell_m=cell_m, shape=shape)
    counts = np.zeros((len(centres), n_periods))
    np.add.at(counts, (cell, col[keep]), 1.0)
    starts = pd.DatetimeIndex([end_ts - step * (n_periods - i) for i in range(n_periods)])
    return SpaceTimeCube(centres, counts, starts, period_days, cell_m, shape, cases.crs)


def mann_kendall(series: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Vectorised Mann–Kendall test along the last axis, with the tie correction.

    Returns
    -------
    s, z, p : ndarray
        The S statistic, its normal score and the two-sided p-value, one per row.
    """
    x = np.atleast_2d(np.asarray(series, dtype=float))
    n = x.shape[1]
    s = np.zeros(x.shape[0])
    for lag in range(1, n):
        s += np.sign(x[:, lag:] - x[:, :-lag]).sum(axis=1)
    xs = np.sort(x, axis=1)
    ties = np.zeros(x.shape[0])
    run = np.ones(x.shape[0])
    for k in range(1, n + 1):
        same = xs[:, k] == xs[:, k - 1] if k < n else np.zeros(x.shape[0], bool)
        ended = ~same
        ties += np.where(ended, run * (run - 1) * (2 * run + 5), 0.0)
        run = np.where(same, run + 1, 1.0)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    z = np.where(np.isfinite(z), z, 0.0)
    return s, z, 2.0 * stats.norm.sf(np.abs(z))


def _significant(z: FloatArray, alpha: float, fdr: bool) -> tuple[BoolArray, BoolArray]:
    """Per period (column): significant hot and cold cells."""
    p = 2.0 * stats.norm.sf(np.abs(z))
    sig = np.zeros(z.shape, bool)
    for j in range(z.shape[1]):
        sig[:, j] = bh_reject(p[:, j], alpha) if fdr else p[:, j] <= alpha
    return sig & (z > 0), sig & (z < 0)


def _final_run(flags: BoolArray) -> npt.NDArray[np.int64]:
    """Length of the run of True at the end of each row."""
    rev = flags[:, ::-1]
    return np.where(rev.all(axis=1), flags.shape[1], np.argmin(rev, axis=1)).astype(np.int64)


def classify(hot: BoolArray, cold: BoolArray, trend_z: FloatArray, trend_p: FloatArray,
             *, trend_alpha: float = 0.05) -> npt.NDArray[np.object_]:
    """ArcGIS emerging-hot-spot categories per row (see the module docstring)."""
    out = np.full(hot.shape[0], "no_pattern", dtype=object)
    up = (trend_p < trend_alpha) & (trend_z > 0)
    down = (trend_p < trend_alpha) & (trend_z < 0)
    for kind, a, b, inc, dec in (("hot", hot, cold, up, down), ("cold", cold, hot, down, up)):
        lab = _classify_one(a, b, inc, dec)
        free = (out == "no_pattern") & (lab != "")
        out[free] = np.char.add(lab[free].astype(str), f"_{kind}")
    return out


def _classify_one(a: BoolArray, other: BoolArray, inc: BoolArray,
                  dec: BoolArray) -> npt.NDArray[np.str_]:
    t = a.shape[1]
    final = a[:, -1]
    n_a = a.sum(axis=1)
    frac = n_a / t
    run = _final_run(a)
    earlier = n_a - run  # hot periods before the final run
    mostly = frac >= 0.9
    other_before = other[:, :-1].any(axis=1)
    lab = np.full(a.shape[0], "", dtype="<U16")
    rules = [
        (final & (n_a == 1), "new"),
        (final & (run >= 2) & (earlier == 0) & ~mostly, "consecutive"),
        (final & mostly & inc, "intensifying"),
        (final & mostly & dec, "diminishing"),
        (final & mostly, "persistent"),
        (~final & mostly, "historical"),
        (final & ~mostly & other_before, "oscillating"),
        (final & ~mostly, "sporadic"),
    ]
    for cond, name in reversed(rules):  # first matching rule wins
        lab = np.where(cond, name, lab)
    return lab


def emerging_hotspots(
    cases: gpd.GeoDataFrame,
    *,
    cell_m: float = 100.0,
    band_m: float | None = None,
    period_days: float = 7.0,
    end: pd.Timestamp | str | None = None,
    shape: Shape = "square",
    alpha: float = 0.10,
    fdr: bool = True,
    trend_alpha: float = 0.05,
) -> gpd.GeoDataFrame:
    """Emerging hot-spot categories of the cells of a space-time cube.

    Parameters
    ----------
    cases : GeoDataFrame
        Case points in a metric CRS with ``reported_at``.
    cell_m, band_m, shape
        Grid and neighbourhood (see :func:`geo.analysis.significance.hotspot_grid`).
    period_days : float
        Length of a period; at least 4 periods must fit between the first and the last case.
    end : Timestamp or str, optional
        End of the last period (default: midnight after the latest report).
    alpha : float
        False-discovery rate (or raw level with ``fdr=False``) for a hot/cold cell-period.
    trend_alpha : float
        Significance level of the Mann–Kendall trend.

    Returns
    -------
    GeoDataFrame
        One row per cell with at least one case: ``cell_id``, ``pattern`` (e.g.
        ``intensifying_hot``, ``no_pattern``), ``pattern_zh`` (e.g. 加剧热点), ``count_total``,
        ``hot_periods``, ``cold_periods``, ``n_periods``, ``final_z``, ``trend_z``,
        ``trend_p`` (Mann–Kendall on Gi* z), ``count_trend_z``, polygon geometry.
    """
    cube = space_time_cube(cases, cell_m=cell_m, period_days=period_days, end=end, shape=shape)
    w = neighbour_matrix(cube.centres, band_m=band_m if band_m else 2.0 * cell_m)
    z = gi_star(cube.counts, w)
    hot, cold = _significant(z, alpha, fdr)
    _, tz, tp = mann_kendall(z)
    _, cz, _ = mann_kendall(cube.counts)
    pattern = classify(hot, cold, tz, tp, trend_alpha=trend_alpha)
    rows = np.flatnonzero(cube.counts.sum(axis=1) > 0)
    frame = pd.DataFrame({
        "cell_id": rows,
        "pattern": pattern[rows],
        "pattern_zh": [_zh(p) for p in pattern[rows]],
        "count_total": cube.counts[rows].sum(axis=1).astype(np.int64),
        "hot_periods": hot[rows].sum(axis=1), "cold_periods": cold[rows].sum(axis=1),
        "n_periods": cube.counts.shape[1], "final_z": z[rows, -1],
        "trend_z": tz[rows], "trend_p": tp[rows], "count_trend_z": cz[rows],
    })
    geom = _cell_polygons(cube.centres[rows], cube.cell_m, cube.shape)
    return gpd.GeoDataFrame(frame, geometry=geom, crs=cube.crs)


def _zh(pattern: str) -> str:
    if pattern == "no_pattern":
        return "无明显模式"
    name, kind = pattern.rsplit("_", 1)
    return PATTERN_ZH[name] + ("热点" if kind == "hot" else "冷点")
