"""Multi-scale Poisson scan of a count grid against its background, with round windows.

A weak hotspot is a disc of a few times the background density 60–120 m across; a square
window wider than the disc adds background to the count and a narrower one loses cases, and at
the tail probabilities a scan over a whole district needs (``1e-8``), a 90 m square over an
84 m disc costs four orders of magnitude. The windows here are therefore discs of several
diameters (:func:`disc_sum`, exact cell counts by row-wise cumulative sums, linear in the grid)
plus the single cell (a stall frontage, a market gate).

* :func:`window_diameters` — the windows, metres to cells;
* :func:`disc_sum` — sum over the cells whose centres lie in the disc around each cell;
* :func:`scan_pvalues` — Poisson upper tails of the window counts, Bonferroni over the windows,
  and the best window of each cell (the scale a weak hotspot's polygon is drawn at);
* :func:`component_bounds` — the family-wise bound of each candidate hotspot;
* :func:`keep_hotspots` — which candidates to keep (Benjamini–Hochberg or family-wise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["KeepRule", "Scan", "component_bounds", "disc_sum", "keep_hotspots", "scan_pvalues",
           "window_diameters"]

F32Array = npt.NDArray[np.float32]
F64Array = npt.NDArray[np.float64]
KeepRule = Literal["fdr", "fwer"]


def window_diameters(scan_windows_m: Sequence[float], cell_m: float) -> list[float]:
    """Window diameters in cells (1 = the single cell), sorted, without repeats.

    A window narrower than 1.5 cells is the single cell.
    """
    out = sorted({1.0 if w / cell_m < 1.5 else round(w / cell_m, 3) for w in scan_windows_m})
    return out


def disc_sum(a: F32Array, diameter_cells: float) -> F64Array:
    """Sum of ``a`` over the cells whose centres are within ``diameter / 2`` cells of each cell.

    Zeros outside the grid. ``diameter_cells <= 1``: ``a`` itself. Costs one pass over the grid
    per row of the disc (about ``diameter_cells`` passes).
    """
    r = diameter_cells / 2.0
    src = np.asarray(a, dtype=np.float64)
    if r < 1.0:
        return src.copy()
    nx, ny = src.shape
    cs = np.zeros((nx, ny + 1))
    np.cumsum(src, axis=1, out=cs[:, 1:])
    out = np.zeros((nx, ny))
    y = np.arange(ny)
    for dx in range(-int(r), int(r) + 1):
        w = int(np.floor(np.sqrt(max(r * r - dx * dx, 0.0)) + 1e-9))
        hi = np.minimum(y + w + 1, ny)
        lo = np.maximum(y - w, 0)
        xs = slice(max(0, -dx), nx - max(0, dx))  # rows of `out` ...
        xr = slice(max(0, dx), nx - max(0, -dx))  # ... fed by rows x + dx
        out[xs] += cs[xr][:, hi] - cs[xr][:, lo]
    return out


@dataclass(frozen=True)
class Scan:
    """Result of :func:`scan_pvalues` (arrays of the grid's shape).

    Attributes
    ----------
    p_cell : ndarray, float32
        ``min p`` over the windows times their number (Bonferroni), at most 1.
    p_spot_cell : ndarray, float32
        The family-wise bound (``p * windows * n_tests``, at most 1) of the single-cell window
        alone (all 1 without it).
    best : ndarray, float32
        Diameter (cells) of the window with the smallest ``p`` at each cell, 0 where no window
        is above the background: the scale at which a cell is significant.
    """

    p_cell: F32Array
    p_spot_cell: F32Array
    best: F32Array


def scan_pvalues(counts: F32Array, bg: F32Array, diameters: Sequence[float],
                 n_tests: int) -> Scan:
    """Cell p-values of the scan windows, with the best window of each cell.

    For each window (diameter in cells; 1 = the cell) the count ``C`` in the window centred on
    a cell is tested against the background expected in it, ``E``: ``p = P(X >= C)``,
    ``X ~ Poisson(E)``. Only cells with ``C >= E + 1.5 sqrt(E)`` and ``C >= 1`` are evaluated
    (the tail is above 5 % below that; the others keep 1). See :class:`Scan`.
    """
    p = np.ones(counts.shape, np.float32)
    q1 = np.ones(counts.shape, np.float32)
    best = np.zeros(counts.shape, np.float32)
    s = float(len(diameters))
    m = float(max(n_tests, 1))
    flat = p.ravel()
    for d in diameters:
        c = np.rint(disc_sum(counts, d)).ravel()
        e = disc_sum(bg, d).ravel()
        cand = np.flatnonzero((c >= e + 1.5 * np.sqrt(e)) & (c >= 1.0))
        if len(cand) == 0:
            continue
        pk = (stats.poisson.sf(c[cand] - 1.0, e[cand]) * s).astype(np.float32)
        better = pk < flat[cand]
        best.ravel()[cand[better]] = np.float32(d)
        flat[cand] = np.minimum(flat[cand], pk)
        if d <= 1.0:
            q1.ravel()[cand] = np.minimum(pk.astype(np.float64) * m, 1.0).astype(np.float32)
    return Scan(np.minimum(p, np.float32(1.0)), q1, best)


def component_bounds(counts: F32Array, bg: F32Array, labels: npt.NDArray[np.int64],
                     diameters: Sequence[float], n_tests: int, *,
                     reach: float) -> F64Array:
    """Family-wise bound of each component from the windows no wider than its own extent.

    For component ``h`` (label ``1..k`` of ``labels``, ``n_h`` cells, equivalent diameter
    ``2 sqrt(n_h / pi)`` cells) only windows of diameter at most ``reach`` times that (and the
    single cell) count: a small patch of background cases beside a market would otherwise
    inherit the market's cases through a wide window centred on it. The bound is
    ``min p * windows * n_tests`` over those windows and the component's cells (uncapped,
    ``inf`` where no window is above the background).
    """
    k = int(labels.max())
    out = np.full(k + 1, np.inf)
    if k == 0:
        return out[1:]
    flat = labels.ravel()
    cells = np.flatnonzero(flat)
    lab = flat[cells]
    extent = 2.0 * np.sqrt(np.bincount(lab, minlength=k + 1) / np.pi)
    scale = float(len(diameters)) * float(max(n_tests, 1))
    for d in diameters:
        ok = (d <= 1.0) | (d <= reach * extent[lab])
        if not ok.any():
            continue
        c = np.rint(disc_sum(counts, d).ravel()[cells[ok]])
        e = disc_sum(bg, d).ravel()[cells[ok]]
        hit = c >= e + 1.5 * np.sqrt(e)
        pk = stats.poisson.sf(c[hit] - 1.0, e[hit]) * scale
        np.minimum.at(out, lab[ok][hit], pk)
    return out[1:]


def keep_hotspots(count: npt.ArrayLike, bound: npt.NDArray[np.float64], *,
                  min_cases: int, alpha: float, rule: KeepRule) -> npt.NDArray[np.int64]:
    """Indices of the candidate hotspots to keep.

    Parameters
    ----------
    count : ndarray of shape (k,)
        Cases in each candidate's cells.
    bound : ndarray of shape (k,)
        The smallest family-wise bound ``p * windows * study cells`` of the candidate's cells
        (uncapped).
    min_cases, alpha
        Fewest cases in a hotspot; the error rate.
    rule : {"fdr", "fwer"}
        ``"fwer"``: keep a candidate when its bound is at most ``alpha`` (at most ``alpha``
        chance of any false hotspot on the map). ``"fdr"``: Benjamini–Hochberg over the
        candidates holding ``min_cases``: sorted by bound, the first ``r`` are kept, ``r`` the
        largest rank with ``bound <= alpha * r`` (at most about ``alpha`` of the hotspots false;
        each study cell and window counts as a test, so a false hotspot — a group of cells —
        is rarer than this bound allows).
    """
    big = np.flatnonzero(np.asarray(count) >= min_cases)
    if rule == "fwer":
        return big[bound[big] <= alpha]
    order = big[np.argsort(bound[big], kind="stable")]
    passed = np.flatnonzero(bound[order] <= alpha * np.arange(1, len(order) + 1))
    return order[: int(passed[-1]) + 1] if len(passed) else order[:0]
