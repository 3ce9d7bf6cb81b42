"""Heuristics and bounds for the siting models (numeric, no solver needed).

* p-median: greedy addition, then best-improvement vertex substitution (Teitz & Bart 1968) with
  the gain/loss/extra bookkeeping of Resende & Werneck (2007), so one sweep over all swaps costs
  one dense product; a Lagrangian relaxation of the assignment constraints (subgradient
  optimisation, Beasley 1993) gives a lower bound and fixes candidates that cannot be in a better
  solution.
* MCLP: greedy addition and the same substitution on a sparse coverage matrix.
* LSCP: greedy set cover (Chvátal 1979) followed by removal of redundant sites.

All functions take a weighted cost matrix ``W`` (demand × candidates, ``W[i, j] = w_i * d_ij``)
or a boolean coverage matrix, and return candidate column indices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


def _closest_two(W: FloatArray, open_: IntArray) -> tuple[FloatArray, IntArray, FloatArray]:
    """Closest and second-closest open site per demand row: (d1, c1 position in ``open_``, d2)."""
    sub = W[:, open_]
    if sub.shape[1] == 1:
        return sub[:, 0].copy(), np.zeros(len(W), dtype=np.intp), np.full(len(W), np.inf)
    part = np.argpartition(sub, 1, axis=1)[:, :2]
    rows = np.arange(len(W))
    a, b = sub[rows, part[:, 0]], sub[rows, part[:, 1]]
    first = np.where(a <= b, part[:, 0], part[:, 1])
    return np.minimum(a, b), first.astype(np.intp), np.maximum(a, b)


def pmedian_greedy(W: FloatArray, p: int) -> IntArray:
    """Greedy addition for the p-median: add the site that lowers the total cost most, p times."""
    col = W.sum(axis=0)
    chosen = [int(np.argmin(col))]
    cur = W[:, chosen[0]].copy()
    for _ in range(p - 1):
        gain = np.maximum(cur[:, None] - W, 0.0).sum(axis=0)
        gain[chosen] = -1.0
        j = int(np.argmax(gain))
        chosen.append(j)
        np.minimum(cur, W[:, j], out=cur)
    return np.array(chosen, dtype=np.intp)


def pmedian_swap(
    W: FloatArray, open_: IntArray, *, deadline: float = np.inf, forbid: BoolArray | None = None
) -> IntArray:
    """Best-improvement vertex substitution from ``open_`` until no swap lowers the cost.

    Parameters
    ----------
    W : ndarray (n, m)
        Weighted cost matrix.
    open_ : ndarray of int
        Starting sites (p column indices).
    deadline : float, optional
        ``time.perf_counter()`` value after which the search stops with the current solution.
    forbid : ndarray of bool (m,), optional
        Columns that may not be opened.

    Returns
    -------
    ndarray of int
        A local optimum (no single swap improves it).
    """
    open_ = np.array(open_, dtype=np.intp)
    p = len(open_)
    m = W.shape[1]
    if p >= m:
        return open_
    tol = 1e-9 * max(float(W.max(initial=0.0)), 1.0)
    while time.perf_counter() < deadline:
        if p == 1:
            delta = (W.sum(axis=0) - W[:, open_[0]].sum())[:, None]
        else:
            d1, c1, d2 = _closest_two(W, open_)
            gain = np.maximum(d1[:, None] - W, 0.0).sum(axis=0)
            loss = np.bincount(c1, weights=d2 - d1, minlength=p)
            A = np.maximum(d2[:, None] - np.maximum(W, d1[:, None]), 0.0)
            H = np.zeros((len(W), p))
            H[np.arange(len(W)), c1] = 1.0
            delta = -gain[:, None] + loss[None, :] - A.T @ H
        delta[open_, :] = np.inf
        if forbid is not None:
            delta[forbid, :] = np.inf
        j, r = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if delta[j, r] >= -tol:
            break
        open_[r] = j
    return open_


def pmedian_cost(W: FloatArray, open_: IntArray) -> float:
    """Total weighted cost of serving every demand row from its closest open site."""
    return float(W[:, open_].min(axis=1).sum())


def pmedian_ils(
    W: FloatArray, p: int, *, deadline: float, seed: int = 0, forbid: BoolArray | None = None,
    start: IntArray | None = None, max_fail: int = 30,
) -> IntArray:
    """Greedy + substitution (or ``start``), then iterated local search (random 2-swaps)."""
    rng = np.random.default_rng(seed)
    first = pmedian_greedy(W, p) if start is None else start
    best = pmedian_swap(W, first, deadline=deadline, forbid=forbid)
    best_cost = pmedian_cost(W, best)
    m = W.shape[1]
    allowed = np.flatnonzero(~forbid) if forbid is not None else np.arange(m)
    fails = 0
    while time.perf_counter() < deadline and len(allowed) > p and fails < max_fail:
        cand = best.copy()
        k = min(2, p)
        outside = np.setdiff1d(allowed, cand)
        cand[rng.choice(p, size=k, replace=False)] = rng.choice(outside, size=k, replace=False)
        cand = pmedian_swap(W, cand, deadline=deadline, forbid=forbid)
        c = pmedian_cost(W, cand)
        if c < best_cost - 1e-9:
            best, best_cost, fails = cand, c, 0
        else:
            fails += 1
    return best


@dataclass
class LagrangianResult:
    """Outcome of :func:`pmedian_lagrangian`: bound, candidates fixed out / in, iterations."""

    bound: float
    fixed_out: BoolArray
    fixed_in: BoolArray
    iterations: int


def pmedian_lagrangian(
    W: FloatArray, p: int, upper: float, *, deadline: float, integral: bool, max_iter: int = 600
) -> LagrangianResult:
    """Lagrangian bound for the p-median (assignment constraints relaxed) with variable fixing.

    ``L(λ) = Σ λ_i + Σ_{p smallest} ρ_j`` with ``ρ_j = Σ_i min(0, W_ij − λ_i)``. A candidate whose
    bound when forced in (out) reaches ``upper`` cannot be part of a strictly better solution and is
    fixed out (in). With ``integral`` costs a bound above ``upper − 1`` suffices.
    """
    m = W.shape[1]
    lam = W.min(axis=1) + np.partition(W, min(1, m - 1), axis=1)[:, min(1, m - 1)]
    lam *= 0.5
    slack = (1.0 - 1e-6) if integral else 1e-9 * max(abs(upper), 1.0)
    best = -np.inf
    fixed_out = np.zeros(m, dtype=bool)
    fixed_in = np.zeros(m, dtype=bool)
    theta, stall, it = 2.0, 0, 0
    for it in range(1, max_iter + 1):  # noqa: B007
        red = W - lam[:, None]
        np.minimum(red, 0.0, out=red)
        rho = red.sum(axis=0)
        order = np.argsort(rho, kind="stable")
        sel = order[:p]
        L = float(lam.sum() + rho[sel].sum())
        if best + 1e-12 < L:
            best, stall = L, 0
        else:
            stall += 1
        if p < m:
            fixed_out |= L + rho - rho[order[p - 1]] > upper - slack
            fixed_in[sel] |= L - rho[sel] + rho[order[p]] > upper - slack
        if best > upper - slack or time.perf_counter() > deadline:
            break
        g = 1.0 - (W[:, sel] < lam[:, None]).sum(axis=1)
        norm = float(g @ g)
        if norm == 0.0:
            break
        lam = lam + theta * (upper - L) / norm * g
        if stall >= 25:
            theta, stall = theta / 2.0, 0
            if theta < 1e-5:
                break
    fixed_out &= ~fixed_in
    return LagrangianResult(float(best), fixed_out, fixed_in, it)


def mclp_greedy(B: sp.csc_matrix, w: FloatArray, p: int) -> IntArray:
    """Greedy addition for the MCLP on coverage matrix ``B`` (demand × candidates, 0/1)."""
    BT = B.T.tocsr()
    uncovered = w.copy()
    chosen: list[int] = []
    for _ in range(p):
        gain = BT @ uncovered
        gain[chosen] = -1.0
        j = int(np.argmax(gain))
        chosen.append(j)
        uncovered[B[:, j].indices] = 0.0
    return np.array(chosen, dtype=np.intp)


def mclp_swap(B: sp.csc_matrix, w: FloatArray, open_: IntArray, *, deadline: float) -> IntArray:
    """Best-improvement substitution for the MCLP (maximise covered weight)."""
    open_ = np.array(open_, dtype=np.intp)
    m = B.shape[1]
    if len(open_) >= m:
        return open_
    BT = B.T.tocsr()
    tol = 1e-9 * max(float(w.sum()), 1.0)
    while time.perf_counter() < deadline:
        cnt = np.asarray(B[:, open_].sum(axis=1)).ravel()
        gain = BT @ (w * (cnt == 0))
        once = w * (cnt == 1)
        loss = B[:, open_].T @ once
        extra = (BT @ sp.diags(once) @ B[:, open_]).toarray()
        delta = gain[:, None] - loss[None, :] + extra
        delta[open_, :] = -np.inf
        j, r = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if delta[j, r] <= tol:
            break
        open_[r] = j
    return open_


def lscp_greedy(B: sp.csc_matrix) -> IntArray:
    """Greedy set cover of every row of ``B`` that some column covers, then drop redundant sites."""
    BT = B.T.tocsr()
    need = np.asarray(B.sum(axis=1)).ravel() > 0
    todo = need.astype(float)
    chosen: list[int] = []
    while todo.any():
        gain = BT @ todo
        j = int(np.argmax(gain))
        chosen.append(j)
        todo[B[:, j].indices] = 0.0
    for j in sorted(chosen, key=lambda c: B[:, c].nnz):
        rest = [c for c in chosen if c != j]
        if rest and (np.asarray(B[:, rest].sum(axis=1)).ravel() > 0)[need].all():
            chosen = rest
    return np.array(chosen, dtype=np.intp)
