"""Forecast models over arrays: event cells and times in, a score per grid cell out.

Every model sees an :class:`EventHistory` (the dense-rectangle cell id and the time in days of
each past event, on a grid of ``shape = (ny, nx)``) and an origin ``t0`` (days); it uses only
events with ``t < t0`` and returns a float score per cell of the rectangle (``ny * nx``), higher
meaning more expected events in ``[t0, t0 + horizon)``.

Baselines
    ``naive_all`` (counts over all history), ``naive_4w`` (counts over the last 28 days),
    ``kde`` (Gaussian kernel density of all history, bandwidth 300 m), ``prohot`` (prospective
    hotspotting, Bowers, Johnson & Pease 2004: weight ``1/(1+d) · 1/(1+w)`` for past events
    within 400 m (``d`` in cells) and 8 weeks (``w`` in whole weeks)).
Own model
    ``blend``: a non-negative mixture of multi-scale, time-decayed kernel densities
    (spatial bandwidths 0/1/2/4 cells × half-lives 7/30/120/365 days/∞, plus a uniform floor);
    the mixture weights are fitted by EM (Poisson likelihood, identity link) on the weeks just
    before the origin, each feature built only from events before that week — no peeking.
    Short half-lives capture near-repeat (self-exciting) bursts in the spirit of Mohler et al.
    (2011); long ones the stable background.
``hawkes``
    A self-exciting point process on the grid (background rate per cell, geometric lag and
    ring-shaped spatial triggering) fitted by EM; see :mod:`geo.forecast.hawkes`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.ndimage import convolve, gaussian_filter

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LN2 = float(np.log(2.0))


@dataclass(frozen=True)
class EventHistory:
    """Past events on a dense grid rectangle.

    Attributes
    ----------
    cell : ndarray of int, shape (n,)
        Row-major cell id in the rectangle (``iy * nx + ix``).
    t_days : ndarray of float, shape (n,)
        Event time in days since any fixed epoch.
    shape : (int, int)
        ``(ny, nx)`` of the rectangle.
    cell_m : float
        Cell side in metres (kernels are given in metres).
    """

    cell: IntArray
    t_days: FloatArray
    shape: tuple[int, int]
    cell_m: float

    @property
    def n_cells(self) -> int:
        """Number of cells in the rectangle."""
        return int(self.shape[0] * self.shape[1])

    def before(self, t0: float) -> EventHistory:
        """Events with ``t < t0`` only."""
        keep = self.t_days < t0
        return EventHistory(self.cell[keep], self.t_days[keep], self.shape, self.cell_m)

    def counts(self, weights: FloatArray | None = None) -> FloatArray:
        """(Weighted) event count per cell."""
        return np.bincount(self.cell, weights=weights, minlength=self.n_cells).astype(float)


def naive_all(h: EventHistory, t0: float, horizon_days: float = 7.0) -> FloatArray:
    """Counts over all history before ``t0``."""
    return h.before(t0).counts()


def naive_4w(h: EventHistory, t0: float, horizon_days: float = 7.0) -> FloatArray:
    """Counts over the 28 days before ``t0``."""
    keep = (h.t_days < t0) & (h.t_days >= t0 - 28.0)
    return np.bincount(h.cell[keep], minlength=h.n_cells).astype(float)


def _smooth(counts: FloatArray, shape: tuple[int, int], sigma_cells: float) -> FloatArray:
    if sigma_cells <= 0:
        return counts
    grid = gaussian_filter(counts.reshape(shape), sigma=sigma_cells, mode="constant", truncate=3.0)
    return np.asarray(grid, dtype=float).ravel()


def kde(
    h: EventHistory, t0: float, horizon_days: float = 7.0, *, bandwidth_m: float = 300.0
) -> FloatArray:
    """Gaussian kernel density of all history before ``t0`` (bandwidth in metres)."""
    return _smooth(h.before(t0).counts(), h.shape, bandwidth_m / h.cell_m)


def prohot(
    h: EventHistory,
    t0: float,
    horizon_days: float = 7.0,
    *,
    bandwidth_m: float = 400.0,
    weeks: int = 8,
) -> FloatArray:
    """Prospective hotspotting (Bowers, Johnson & Pease 2004).

    Score of a cell = Σ over past events within ``bandwidth_m`` and ``weeks`` of
    ``1 / (1 + d) · 1 / (1 + w)``, with ``d`` the distance between cell centres in cells and
    ``w`` the whole weeks elapsed before ``t0``.
    """
    keep = (h.t_days < t0) & (h.t_days >= t0 - 7.0 * weeks)
    w = np.floor((t0 - h.t_days[keep]) / 7.0)
    counts = np.bincount(h.cell[keep], weights=1.0 / (1.0 + w), minlength=h.n_cells)
    r = int(np.floor(bandwidth_m / h.cell_m))
    oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
    d = np.hypot(ox, oy)
    kernel = np.where(d * h.cell_m <= bandwidth_m, 1.0 / (1.0 + d), 0.0)
    out = convolve(counts.reshape(h.shape), kernel, mode="constant", cval=0.0)
    return np.asarray(out, dtype=float).ravel()


# ---------------------------------------------------------------- blend of multi-scale KDEs

BLEND_SIGMAS_CELLS: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)
BLEND_HALF_LIVES_DAYS: tuple[float, ...] = (7.0, 30.0, 120.0, 365.0, np.inf)


def _daily_matrix(h: EventHistory, t_end: float, n_days: int) -> sparse.csr_matrix:
    """Sparse (day-before-t_end × cell) counts: row k = events in [t_end-k-1, t_end-k)."""
    age = t_end - h.t_days
    keep = (age > 0) & (age <= n_days)
    k = np.floor(age[keep]).astype(np.int64)
    k = np.minimum(k, n_days - 1)
    data = np.ones(k.size)
    return sparse.csr_matrix((data, (k, h.cell[keep])), shape=(n_days, h.n_cells))


def blend_features(
    h: EventHistory,
    t0: float,
    *,
    sigmas_cells: tuple[float, ...] = BLEND_SIGMAS_CELLS,
    half_lives_days: tuple[float, ...] = BLEND_HALF_LIVES_DAYS,
    daily: sparse.csr_matrix | None = None,
    t_end: float | None = None,
) -> FloatArray:
    """Feature surfaces at origin ``t0``: each normalised to sum 1 over the rectangle.

    Returns
    -------
    ndarray, shape (n_features, n_cells)
        One row per (half-life, bandwidth), then a uniform row.
    """
    if daily is None or t_end is None:
        span = max(1, int(np.ceil(t0 - h.t_days.min())) + 1) if h.t_days.size else 1
        daily, t_end = _daily_matrix(h, t0, span), t0
    shift = round(t_end - t0)
    n_days = daily.shape[0]
    ages = np.arange(n_days, dtype=float) - shift + 0.5  # age of day-row k at origin t0
    valid = np.arange(n_days) >= shift
    rows: list[FloatArray] = []
    for hl in half_lives_days:
        decay = np.ones(n_days) if np.isinf(hl) else np.exp(-LN2 * ages / hl)
        w = np.where(valid, decay, 0.0)
        base = np.asarray(daily.T @ w, dtype=float).ravel()
        for s in sigmas_cells:
            rows.append(_smooth(base, h.shape, s))
    rows.append(np.ones(h.n_cells))
    feats = np.vstack(rows)
    tot = feats.sum(axis=1, keepdims=True)
    feats /= np.where(tot > 0, tot, 1.0)
    return feats


def fit_mixture(
    feats: FloatArray, y: FloatArray, *, n_iter: int = 150, tol: float = 1e-6
) -> FloatArray:
    """Non-negative weights maximising the Poisson likelihood of ``y`` under ``w @ feats``.

    EM for mixture proportions (identity link): ``w_k ← w_k · Σ_c f_kc y_c / λ_c / Σ_c f_kc``.
    Only cells with ``y > 0`` enter the ratio term, so one product per iteration over those
    cells suffices; the log-likelihood is checked every 10 iterations.

    Parameters
    ----------
    feats : ndarray, shape (n_features, n_obs)
    y : ndarray, shape (n_obs,)
        Observed counts.
    """
    k = feats.shape[0]
    colsum = feats.sum(axis=1)
    colsum = np.where(colsum > 0, colsum, 1.0)
    w = np.full(k, max(float(y.sum()), 1.0) / float(colsum.sum()))
    pos = y > 0
    fp = np.ascontiguousarray(feats[:, pos], dtype=np.float32)
    yp = y[pos].astype(np.float32)
    prev = -np.inf
    for it in range(n_iter):
        lam = np.maximum(w.astype(np.float32) @ fp, np.float32(1e-30))
        if it % 10 == 0:
            ll = float(yp @ np.log(lam)) - float(w @ colsum)
            if abs(ll - prev) <= tol * max(1.0, abs(ll)):
                break
            prev = ll
        w = w * (fp @ (yp / lam)).astype(float) / colsum
    return w


def blend(
    h: EventHistory,
    t0: float,
    horizon_days: float = 7.0,
    *,
    n_train: int = 8,
    mask: npt.NDArray[np.bool_] | None = None,
) -> FloatArray:
    """Multi-scale time-decayed KDE mixture, weights fitted on the ``n_train`` prior windows."""
    past = h.before(t0)
    if past.t_days.size == 0:
        return np.zeros(h.n_cells)
    span = int(np.ceil(t0 - past.t_days.min())) + 1
    daily = _daily_matrix(past, t0, span)
    hz = max(1, round(horizon_days))
    sel = np.ones(h.n_cells, dtype=bool) if mask is None else mask.ravel()
    fs: list[FloatArray] = []
    ys: list[FloatArray] = []
    for j in range(1, n_train + 1):
        tj = t0 - j * hz
        if tj - hz <= t0 - span:
            break
        target = np.asarray(daily[(j - 1) * hz : j * hz].sum(axis=0), dtype=float).ravel()
        f = blend_features(past, tj, daily=daily, t_end=t0)
        fs.append(f[:, sel])
        ys.append(target[sel])
    f_now = blend_features(past, t0, daily=daily, t_end=t0)
    if not fs:
        return f_now[len(BLEND_SIGMAS_CELLS)]  # recent-ish density with 1-cell smoothing
    w = fit_mixture(np.hstack(fs), np.concatenate(ys))
    return np.asarray(w @ f_now, dtype=float)


def hawkes(h: EventHistory, t0: float, horizon_days: float = 7.0, **options: object) -> FloatArray:
    """Self-exciting point process fitted by EM (:func:`geo.forecast.hawkes.hawkes`)."""
    from geo.forecast.hawkes import hawkes as _hawkes  # hawkes.py builds on this module

    return _hawkes(h, t0, horizon_days, **options)  # type: ignore[arg-type]


Model = Callable[..., FloatArray]

METHODS: dict[str, Model] = {
    "naive_all": naive_all,
    "naive_4w": naive_4w,
    "kde": kde,
    "prohot": prohot,
    "blend": blend,
    "hawkes": hawkes,
}
BASELINES: tuple[str, ...] = ("naive_all", "naive_4w", "kde", "prohot")
