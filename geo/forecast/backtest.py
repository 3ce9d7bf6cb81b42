"""Rolling-origin backtests of cell forecasts: hit rate and PAI at coverage fractions.

Definitions (the same for every method, so comparisons are fair):

- The study area is a fixed set of grid cells (``mask``); ``n_cells`` of them.
- At coverage ``f`` the method flags its ``k = max(1, round(f · n_cells))`` highest-scoring
  cells of the study area; ties are broken by ascending ``cell_id`` (a stable sort), so a method
  that cannot tell cells apart gets no lucky tie-breaking.
- Hit rate = events of the test window in flagged cells ÷ events of the test window in the study
  area (events outside the study area are not counted).
- PAI (predictive accuracy index, Chainey et al. 2008) = hit rate ÷ (k / n_cells).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter

import numpy as np
import numpy.typing as npt

from geo.forecast.models import EventHistory, FloatArray

COVERAGES: tuple[float, ...] = (0.01, 0.05, 0.10)


def top_cells(scores: FloatArray, mask: npt.NDArray[np.bool_], k: int) -> npt.NDArray[np.int64]:
    """Ids of the ``k`` highest-scoring cells inside ``mask`` (ties: lower id first)."""
    ids = np.flatnonzero(mask.ravel())
    order = np.argsort(-scores.ravel()[ids], kind="stable")
    return ids[order[:k]]


def hit_rate_pai(
    scores: FloatArray,
    mask: npt.NDArray[np.bool_],
    test_cells: npt.ArrayLike,
    *,
    coverages: Sequence[float] = COVERAGES,
) -> dict[str, float]:
    """Hit rate and PAI of one forecast against the events of its test window.

    Parameters
    ----------
    scores : ndarray, shape (n_rect,)
        Score per cell of the grid rectangle.
    mask : ndarray of bool, shape (ny, nx) or (n_rect,)
        Study-area cells.
    test_cells : array_like of int
        Rectangle cell id of each test event (-1 or outside the mask: ignored).
    coverages : sequence of float
        Shares of the study area flagged.

    Returns
    -------
    dict
        ``hit@1%``, ``pai@1%``, … and ``n_test`` (events counted). Hit rate and PAI are NaN when
        there is no test event in the area.
    """
    m = mask.ravel()
    tc = np.asarray(test_cells, dtype=np.int64)
    tc = tc[(tc >= 0) & (tc < m.size)]
    tc = tc[m[tc]]
    n_area = int(m.sum())
    out: dict[str, float] = {"n_test": float(tc.size)}
    counts = np.bincount(tc, minlength=m.size)
    for f in coverages:
        k = max(1, round(f * n_area))
        flagged = top_cells(scores, m, k)
        hits = float(counts[flagged].sum())
        hr = hits / tc.size if tc.size else float("nan")
        label = f"{round(f * 100):g}%"
        out[f"hit@{label}"] = hr
        out[f"pai@{label}"] = hr / (k / n_area) if tc.size else float("nan")
    return out


@dataclass
class BacktestResult:
    """Per-origin metrics of one method on one dataset."""

    method: str
    rows: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """Mean and standard deviation over origins of every metric (``<metric>_mean/_sd``)."""
        keys = [k for k in self.rows[0] if k != "origin"] if self.rows else []
        out: dict[str, float] = {"n_origins": float(len(self.rows))}
        for k in keys:
            v = np.array([r[k] for r in self.rows], dtype=float)
            v = v[np.isfinite(v)]
            out[f"{k}_mean"] = float(v.mean()) if v.size else float("nan")
            out[f"{k}_sd"] = float(v.std(ddof=1)) if v.size > 1 else 0.0
        return out


def rolling_origin(
    history: EventHistory,
    mask: npt.NDArray[np.bool_],
    origins: Sequence[float],
    methods: dict[str, Callable[[EventHistory, float, float], FloatArray]],
    *,
    horizon_days: float = 7.0,
    coverages: Sequence[float] = COVERAGES,
) -> dict[str, BacktestResult]:
    """Evaluate each method at each origin, training only on events before the origin.

    Each method is called as ``method(history.before(t0), t0, horizon_days)``: it never sees an
    event at or after the origin. The test events are those in ``[t0, t0 + horizon_days)``.
    Fit+predict wall time is recorded as ``time_s``.
    """
    results = {name: BacktestResult(name) for name in methods}
    for t0 in origins:
        past = history.before(t0)
        test = (history.t_days >= t0) & (history.t_days < t0 + horizon_days)
        test_cells = history.cell[test]
        for name, fn in methods.items():
            start = perf_counter()
            scores = fn(past, t0, horizon_days)
            elapsed = perf_counter() - start
            row = hit_rate_pai(scores, mask, test_cells, coverages=coverages)
            row["time_s"] = elapsed
            row["origin"] = float(t0)
            results[name].rows.append(row)
    return results
