"""Exact siting models solved with HiGHS (via ``highspy``), built as sparse matrices.

* p-median: the closest-assignment ("radius") formulation of Elloumi (2010) in its chain form:
  per demand row the distinct costs ``D_0 < D_1 < …``, a variable ``z_k`` (= 1 when no open site
  lies within ``D_k``) and rows ``z_0 + Σ_{d_ij = D_0} y_j ≥ 1``,
  ``z_k − z_{k−1} + Σ_{d_ij = D_k} y_j ≥ 0``. Levels are truncated at the incumbent's cost and
  extended only where a solution needs more (García, Labbé & Marín 2011), so the model stays small.
* MCLP (Church & ReVelle 1974) and LSCP (Toregas et al. 1971) on a reduced coverage matrix.
* Capacitated variants with single-source assignment variables ``x_ij``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from geo.errors import SolverError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


_BANNER_LOCK = threading.Lock()
_banner_shown = False


def _new_highs() -> highspy.Highs:
    """A silent ``Highs``. Its C++ constructor prints a copyright banner on standard output the
    first time in a process (before any option can be set); that one time file descriptor 1 is
    pointed at the null device, so ``xuncha`` and the service print only their own lines."""
    global _banner_shown
    with _BANNER_LOCK:
        if _banner_shown:
            h = highspy.Highs()
        else:
            sys.stdout.flush()
            saved = os.dup(1)
            try:
                with open(os.devnull, "wb") as null:
                    os.dup2(null.fileno(), 1)
                    h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            _banner_shown = True
    h.setOptionValue("output_flag", False)
    return h


@dataclass
class MilpOutcome:
    """Result of one HiGHS run: status, values, objective and the proven bound."""

    status: str  # "optimal", "time_limit", "infeasible" or "error"
    x: FloatArray | None
    objective: float
    bound: float


def solve_milp(
    c: FloatArray,
    A: sp.csr_matrix,
    row_lo: FloatArray,
    row_hi: FloatArray,
    col_lo: FloatArray,
    col_hi: FloatArray,
    integer: BoolArray,
    *,
    maximize: bool = False,
    offset: float = 0.0,
    time_limit_s: float = 60.0,
    start: FloatArray | None = None,
    integral_objective: bool = False,
) -> MilpOutcome:
    """Solve ``min/max c·x + offset`` s.t. ``row_lo ≤ A x ≤ row_hi``, bounds, integrality.

    Returns
    -------
    MilpOutcome
        ``x`` is ``None`` when no feasible solution was found.
    """
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = int(A.shape[1]), int(A.shape[0])
    lp.col_cost_ = np.asarray(c, dtype=np.float64)
    lp.col_lower_ = np.asarray(col_lo, dtype=np.float64)
    lp.col_upper_ = np.where(np.isinf(col_hi), inf, col_hi).astype(np.float64)
    lp.row_lower_ = np.where(np.isinf(row_lo), -inf, row_lo).astype(np.float64)
    lp.row_upper_ = np.where(np.isinf(row_hi), inf, row_hi).astype(np.float64)
    lp.offset_ = float(offset)
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    A = sp.csr_matrix(A)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = lp.num_col_, lp.num_row_
    is_mip = bool(integer.any())
    if is_mip:
        kint, kcont = highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous
        lp.integrality_ = [kint if b else kcont for b in integer]
    h = _new_highs()
    h.setOptionValue("time_limit", max(float(time_limit_s), 0.05))
    h.setOptionValue("mip_rel_gap", 1e-9)
    h.setOptionValue("mip_abs_gap", 1.0 - 1e-6 if integral_objective else 1e-9)
    h.passModel(lp)
    if start is not None and is_mip:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_x else None
    if ms == highspy.HighsModelStatus.kOptimal:
        status = "optimal"
    elif ms == highspy.HighsModelStatus.kInfeasible:
        status = "infeasible"
    elif ms in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt):
        status = "time_limit"
    else:
        status = "error"
    obj = float(info.objective_function_value) if has_x else float("nan")
    bound = float(info.mip_dual_bound) if is_mip else obj
    if status == "optimal":
        bound = obj if not is_mip else bound
    return MilpOutcome(status, x, obj, bound)


# ----------------------------------------------------------------------------------- p-median
@dataclass
class PMedianExact:
    """Result of :func:`pmedian_exact`: open columns, their cost, lower bound, proof flag."""

    open_: IntArray | None
    cost: float
    bound: float
    optimal: bool


def _levels(W: FloatArray, p: int, fixed_in: BoolArray) -> list[FloatArray]:
    """Distinct costs per demand row up to the largest cost any solution can force on it."""
    m = W.shape[1]
    cap = np.partition(W, m - p, axis=1)[:, m - p]
    if fixed_in.any():
        cap = np.minimum(cap, W[:, fixed_in].min(axis=1))
    return [np.unique(W[i][W[i] <= cap[i]]) for i in range(len(W))]


def _build_levels(
    W: FloatArray, p: int, D: list[FloatArray], L: IntArray, fixed_in: BoolArray
) -> tuple[FloatArray, sp.csr_matrix, FloatArray, FloatArray, float, IntArray]:
    """Assemble the truncated chain model; returns cost, A, row bounds, offset, z offsets."""
    n, m = W.shape
    zstart = np.concatenate([[0], np.cumsum(L)]).astype(np.intp)
    nz = int(zstart[-1])
    rows, cols, vals = [], [], []
    for i in range(n):
        li = int(L[i])
        if li == 0:
            continue
        base = m + zstart[i]  # z columns; the row index of level k is zstart[i] + k
        hit = np.flatnonzero(W[i] <= D[i][li - 1])
        lvl = np.searchsorted(D[i], W[i, hit])
        rows += [zstart[i] + lvl, zstart[i] + np.arange(li), zstart[i] + np.arange(1, li)]
        cols += [hit, base + np.arange(li), base + np.arange(li - 1)]
        vals += [np.ones(len(hit)), np.ones(li), -np.ones(li - 1)]
    r = np.concatenate([*rows, np.full(m, nz)]).astype(np.intp)
    c = np.concatenate([*cols, np.arange(m)]).astype(np.intp)
    v = np.concatenate([*vals, np.ones(m)])
    A = sp.csr_matrix((v, (r, c)), shape=(nz + 1, m + nz))
    row_lo = np.zeros(nz + 1)
    row_lo[zstart[:-1][L > 0]] = 1.0
    row_lo[nz] = p
    row_hi = np.full(nz + 1, np.inf)
    row_hi[nz] = p
    cost = np.zeros(m + nz)
    for k in np.flatnonzero(L):
        cost[m + zstart[k] : m + zstart[k + 1]] = np.diff(D[k][: L[k] + 1])
    offset = float(sum(d[0] for d in D))
    return cost, A, row_lo, row_hi, offset, zstart


def _start_vector(
    W: FloatArray, D: list[FloatArray], L: IntArray, zstart: IntArray, open_: IntArray
) -> FloatArray:
    m = W.shape[1]
    x = np.zeros(m + int(zstart[-1]))
    x[open_] = 1.0
    best = W[:, open_].min(axis=1)
    for i in np.flatnonzero(L):
        x[m + zstart[i] : m + zstart[i + 1]] = best[i] > D[i][: L[i]]
    return x


def pmedian_exact(
    W: FloatArray,
    p: int,
    *,
    deadline: float,
    incumbent: IntArray | None = None,
    fixed_in: BoolArray | None = None,
    integral: bool = False,
    max_levels: int = 1_500_000,
) -> PMedianExact:
    """Solve the uncapacitated p-median on ``W`` to optimality (or until ``deadline``)."""
    n, m = W.shape
    fin = np.zeros(m, dtype=bool) if fixed_in is None else fixed_in
    D = _levels(W, p, fin)
    top = np.array([len(d) - 1 for d in D], dtype=np.intp)
    L = top.copy()
    if int(L.sum()) > max_levels:  # truncate at the incumbent's levels, extend where needed
        ref = W[:, incumbent].min(axis=1) if incumbent is not None else np.array(
            [d[min(3, len(d) - 1)] for d in D])
        L = np.minimum(top, [np.searchsorted(D[i], ref[i]) for i in range(n)])
    best_open, best_cost, bound = incumbent, np.inf, -np.inf
    if incumbent is not None:
        best_cost = float(W[:, incumbent].min(axis=1).sum())
    while True:
        cost, A, lo, hi, off, zstart = _build_levels(W, p, D, L, fin)
        col_lo = np.zeros(A.shape[1])
        col_lo[:m] = fin
        start = None
        if best_open is not None and fin[best_open].sum() == fin.sum():
            start = _start_vector(W, D, L, zstart, best_open)
        res = solve_milp(
            cost, A, lo, hi, col_lo, np.ones(A.shape[1]), np.arange(A.shape[1]) < m,
            offset=off, time_limit_s=deadline - time.perf_counter(), start=start,
            integral_objective=integral,
        )
        if res.x is None:
            return PMedianExact(best_open, best_cost, max(bound, res.bound), False)
        open_ = np.flatnonzero(res.x[:m] > 0.5)
        true = W[:, open_].min(axis=1)
        tc = float(true.sum())
        if tc < best_cost:
            best_open, best_cost = open_, tc
        counted = np.array([D[i][min(L[i], top[i])] if L[i] < top[i] else true[i]
                            for i in range(n)])
        under = (true > counted + 1e-9) & (top > L)
        if res.status != "optimal":
            return PMedianExact(best_open, best_cost, max(bound, res.bound), False)
        bound = max(bound, res.objective)
        if not under.any() or time.perf_counter() > deadline:
            ok = best_cost <= bound + (1.0 - 1e-6 if integral else 1e-9 * max(bound, 1.0))
            return PMedianExact(best_open, best_cost, bound, bool(ok and not under.any()))
        L[under] = np.minimum(
            top[under], [np.searchsorted(D[i], true[i]) for i in np.flatnonzero(under)]
        )


# ---------------------------------------------------------------------- MCLP / LSCP / capacity
def mclp_model(B: sp.csc_matrix, w: FloatArray, p: int, *, time_limit_s: float,
               start: IntArray | None = None, fixed_in: BoolArray | None = None) -> MilpOutcome:
    """Maximal covering: columns ``y`` (m, binary) then ``u`` (n, continuous in [0, 1]).

    At most ``p`` sites are opened (the caller tops up to ``p``; coverage cannot drop).
    """
    n, m = B.shape
    A = sp.vstack([
        sp.hstack([-B.tocsr(), sp.identity(n, format="csr")]),
        sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n))]),
    ]).tocsr()
    lo = np.concatenate([np.full(n, -np.inf), [0.0]])  # ≤ p: extra sites never lower coverage
    hi = np.concatenate([np.zeros(n), [p]])
    c = np.concatenate([np.zeros(m), w])
    x0 = None
    if start is not None:
        x0 = np.zeros(m + n)
        x0[start] = 1.0
        x0[m:] = np.asarray(B[:, start].sum(axis=1)).ravel() > 0
    col_lo = np.zeros(m + n)
    if fixed_in is not None:
        col_lo[:m] = fixed_in
    return solve_milp(c, A, lo, hi, col_lo, np.ones(m + n), np.arange(m + n) < m,
                      maximize=True, time_limit_s=time_limit_s, start=x0,
                      integral_objective=bool(np.all(w == np.round(w))))


def lscp_model(B: sp.csc_matrix, *, time_limit_s: float, start: IntArray | None = None
               ) -> MilpOutcome:
    """Set covering: minimise the number of open columns covering every row of ``B``."""
    n, m = B.shape
    x0 = None
    if start is not None:
        x0 = np.zeros(m)
        x0[start] = 1.0
    return solve_milp(np.ones(m), B.tocsr().astype(np.float64), np.ones(n), np.full(n, np.inf),
                      np.zeros(m), np.ones(m), np.ones(m, dtype=bool), time_limit_s=time_limit_s,
                      start=x0, integral_objective=True)


def capacitated_model(
    C: FloatArray, w: FloatArray, cap: FloatArray, *, model: str, p: int, radius_m: float,
    time_limit_s: float, max_pairs: int = 2_000_000,
) -> tuple[MilpOutcome, IntArray, IntArray]:
    """Single-source capacitated p-median / MCLP / LSCP with pair variables ``x_ij``.

    Returns the outcome and the (demand, candidate) index of every pair column; the first ``m``
    columns are the sites ``y``.
    """
    n, m = C.shape
    ok = np.ones_like(C, dtype=bool) if model == "pmedian" else radius_m >= C
    pi, pj = np.nonzero(ok)
    k = len(pi)
    if k > max_pairs:
        raise SolverError(f"带容量的模型太大（{k} 个需求-候选配对，上限 {max_pairs}）；请减少需求点或候选点。")
    col = m + np.arange(k)
    rows_assign = sp.csr_matrix((np.ones(k), (pi, col)), shape=(n, m + k))
    link = sp.csr_matrix(
        (np.concatenate([np.ones(k), -np.ones(k)]),
         (np.concatenate([np.arange(k), np.arange(k)]), np.concatenate([col, pj]))),
        shape=(k, m + k))
    capr = sp.csr_matrix(
        (np.concatenate([w[pi], -cap]), (np.concatenate([pj, np.arange(m)]),
                                         np.concatenate([col, np.arange(m)]))), shape=(m, m + k))
    count = sp.csr_matrix(np.concatenate([np.ones(m), np.zeros(k)])[None, :])
    blocks = [rows_assign, link, capr] + ([count] if model != "lscp" else [])
    A = sp.vstack(blocks).tocsr()
    if model == "pmedian":
        alo, ahi = np.ones(n), np.ones(n)
    elif model == "mclp":
        alo, ahi = np.full(n, -np.inf), np.ones(n)
    else:
        need = ok.any(axis=1) & (w > 0)
        alo, ahi = need.astype(float), np.ones(n)
    lo = np.concatenate([alo, np.full(k, -np.inf), np.full(m, -np.inf)])
    hi = np.concatenate([ahi, np.zeros(k), np.zeros(m)])
    if model != "lscp":
        lo, hi = np.append(lo, p), np.append(hi, p)
    if model == "pmedian":
        c = np.concatenate([np.zeros(m), w[pi] * C[pi, pj]])
    elif model == "mclp":
        c = np.concatenate([np.zeros(m), w[pi]])
    else:
        c = np.concatenate([np.ones(m), np.zeros(k)])
    out = solve_milp(c, A, lo, hi, np.zeros(m + k), np.ones(m + k), np.ones(m + k, dtype=bool),
                     maximize=model == "mclp", time_limit_s=time_limit_s,
                     integral_objective=model == "lscp")
    return out, pi, pj
