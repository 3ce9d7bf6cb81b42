"""Intra-route improvement for the patrol router: exact 2-opt and Or-opt on one path.

PyVRP's local search has no intra-route 2-opt (its operators relocate and swap short chains),
so long single routes — a TSP-like day of one team — stay a few per cent above optimal. This
module improves the *order* of one route with fixed first and last nodes (start and end site),
best-improvement over the full neighbourhood, vectorised with numpy:

* 2-opt: reverse a sub-path (asymmetric costs handled through prefix sums of both directions);
* Or-opt: move a chain of 1–3 stops elsewhere in the path, forwards or reversed.

The caller decides when an order change is allowed (only routes whose time windows cannot bind,
see :func:`geo.routing.pyvrp.solve_pyvrp`) and re-checks the route's duration afterwards.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_MAX_CHAIN = 3
_MAX_MOVES = 100_000


def _best_two_opt(c: FloatArray) -> tuple[float, int, int]:
    """Best 2-opt move on the path 0..P-1 with costs ``c`` in path order: (delta, i, j)."""
    n = c.shape[0]
    edge = c[np.arange(n - 1), np.arange(1, n)]
    back = c[np.arange(1, n), np.arange(n - 1)]
    fwd_pre = np.concatenate([[0.0], np.cumsum(edge)])
    rev_pre = np.concatenate([[0.0], np.cumsum(back)])
    # reverse positions i+1..j (0 <= i, j <= n-2, j >= i+2)
    d = c[: n - 1, : n - 1] + c[1:, 1:] - edge[:, None] - edge[None, :]
    d += (rev_pre[None, : n - 1] - rev_pre[1:n, None]) - (fwd_pre[None, : n - 1] - fwd_pre[1:n, None])
    d[np.tril_indices(n - 1, 1)] = np.inf
    k = int(np.argmin(d))
    i, j = divmod(k, n - 1)
    return float(d[i, j]), i, j


def _best_or_opt(c: FloatArray) -> tuple[float, int, int, int, bool]:
    """Best chain move: (delta, s, length, p, reversed) — chain s..s+L-1 goes between p, p+1."""
    n = c.shape[0]
    edge = c[np.arange(n - 1), np.arange(1, n)]
    back = c[np.arange(1, n), np.arange(n - 1)]
    best: tuple[float, int, int, int, bool] = (np.inf, 0, 0, 0, False)
    fwd_pre = np.concatenate([[0.0], np.cumsum(edge)])
    rev_pre = np.concatenate([[0.0], np.cumsum(back)])
    p = np.arange(n - 1)
    for length in range(1, _MAX_CHAIN + 1):
        s = np.arange(1, n - length)  # chain s..e with e = s+L-1 <= n-2
        if s.size == 0:
            break
        e = s + length - 1
        inner_f = fwd_pre[e] - fwd_pre[s]
        inner_r = rev_pre[e] - rev_pre[s]
        gain = c[s - 1, s] + c[e, e + 1] - c[s - 1, e + 1]
        base = -edge[None, :] - gain[:, None]
        fwd = base + c[p[None, :], s[:, None]] + c[e[:, None], p[None, :] + 1]
        rev = base + c[p[None, :], e[:, None]] + c[s[:, None], p[None, :] + 1]
        rev += (inner_r - inner_f)[:, None]
        bad = (p[None, :] >= s[:, None] - 1) & (p[None, :] <= e[:, None])
        fwd[bad] = np.inf
        rev[bad] = np.inf
        for arr, flipped in ((fwd, False), (rev, True)):
            k = int(np.argmin(arr))
            a, b = divmod(k, n - 1)
            if arr[a, b] < best[0]:
                best = (float(arr[a, b]), int(s[a]), length, b, flipped)
    return best


def improve_path(cost: FloatArray | IntArray, path: IntArray, *, tol: float = 1e-9) -> IntArray:
    """Locally optimal order (2-opt + Or-opt) of ``path`` whose first and last nodes stay fixed.

    Parameters
    ----------
    cost : ndarray, shape (N, N)
        Travel cost between nodes (need not be symmetric).
    path : ndarray of int
        Node indices into ``cost``: start, the stops, end.

    Returns
    -------
    ndarray of int
        The same nodes, reordered, with a total cost no higher than the input's.
    """
    order = np.asarray(path, dtype=np.int64)
    if order.size < 4:
        return order
    c = np.asarray(cost, dtype=np.float64)[np.ix_(order, order)]
    perm = np.arange(order.size)
    for _ in range(_MAX_MOVES):
        d2, i, j = _best_two_opt(c)
        d3, s, length, p, flipped = _best_or_opt(c)
        if min(d2, d3) >= -tol:
            break
        if d2 <= d3:
            step = np.r_[np.arange(i + 1), np.arange(j, i, -1), np.arange(j + 1, c.shape[0])]
        else:
            chain = np.arange(s, s + length)
            chain = chain[::-1] if flipped else chain
            rest = np.r_[np.arange(s), np.arange(s + length, c.shape[0])]
            at = int(np.searchsorted(rest, p)) + 1  # insert after position p
            step = np.r_[rest[:at], chain, rest[at:]]
        c = c[np.ix_(step, step)]
        perm = perm[step]
    return order[perm]


def path_cost(cost: FloatArray | IntArray, path: IntArray) -> float:
    """Summed cost of consecutive legs of ``path``."""
    path = np.asarray(path, dtype=np.int64)
    return float(np.asarray(cost)[path[:-1], path[1:]].sum())

