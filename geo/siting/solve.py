"""Siting of stall relocation points (疏导点): the numeric core and the generic JSON problem.

Three models over a demand × candidate cost matrix (design.md §5 "Siting problem"):

* ``"mclp"`` — maximal covering: the most demand weight within ``radius_m`` of ``sites`` sites;
* ``"pmedian"`` — the least total weighted cost with ``sites`` sites;
* ``"lscp"`` — set covering: the fewest sites putting all demand within ``radius_m``.

Each is solved exactly with HiGHS (:mod:`geo.siting.milp`) after a heuristic incumbent
(:mod:`geo.siting.heuristics`); when the time limit stops the exact model, or the instance is too
large for it, the best solution found is returned with ``optimal = false``, the proven bound and
the gap, and ``method`` says which was used. :func:`evaluate_siting` recomputes coverage and cost
from the chosen ids alone, independently of the solver.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from geo.errors import InfeasibleError, InputError, SolverError
from geo.siting import heuristics as heur
from geo.siting import milp as mdl
from geo.siting.lagrange import mclp_lagrangian, pmedian_bnb
from geo.siting.problem import SitingProblem, parse_problem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

DEFAULT_TIME_LIMIT_S = 60.0
MAX_DENSE_CELLS = 30_000_000  # above this the p-median runs heuristically (memory, time)
MAX_COVER_NNZ = 20_000_000  # above this MCLP/LSCP run heuristically


@dataclass
class SitingResult:
    """Outcome of :func:`solve_matrix` (column indices into the candidate axis).

    ``assignment[i]`` is the chosen column serving demand row ``i`` or ``-1``; ``objective`` is the
    covered weight (mclp), total weighted cost (pmedian) or number of sites (lscp); ``bound`` the
    proven best possible value; ``method`` ``"exact"`` or ``"heuristic"``.
    """

    chosen: IntArray
    assignment: IntArray
    objective: float
    bound: float
    optimal: bool
    gap: float
    method: str
    solver: str
    time_s: float


def _gap(model: str, obj: float, bound: float) -> float:
    if model == "mclp":
        return max(0.0, (bound - obj) / bound) if bound > 0 else 0.0
    if model == "lscp":
        bound = math.ceil(bound - 1e-6)
    return max(0.0, (obj - bound) / obj) if obj > 0 else 0.0


def _nearest(C: FloatArray, chosen: IntArray, radius: float | None) -> IntArray:
    sub = C[:, chosen]
    k = np.argmin(sub, axis=1)
    out = chosen[k].astype(np.intp)
    if radius is not None:
        out[sub[np.arange(len(C)), k] > radius] = -1
    return out


def _pmedian(W: FloatArray, p: int, deadline: float, t0: float) -> tuple[IntArray, float, bool, str]:
    """Uncapacitated p-median: incumbent, Lagrangian bound/fixing, then the exact model."""
    m = W.shape[1]
    if p >= m:
        return np.arange(m, dtype=np.intp), heur.pmedian_cost(W, np.arange(m)), True, "trivial"
    integral = bool(np.all(np.round(W) == W))
    span = deadline - t0
    if W.size > MAX_DENSE_CELLS:
        inc = heur.pmedian_ils(W, p, deadline=t0 + 0.6 * span)
        lag = heur.pmedian_lagrangian(W, p, heur.pmedian_cost(W, inc), deadline=deadline,
                                      integral=integral)
        return inc, lag.bound, False, "greedy+swap/ils, lagrangian bound"
    inc = heur.pmedian_swap(W, heur.pmedian_greedy(W, p), deadline=t0 + 0.2 * span)
    ub = heur.pmedian_cost(W, inc)
    lag = heur.pmedian_lagrangian(W, p, ub, deadline=t0 + 0.3 * span, integral=integral)
    slack = (1.0 - 1e-6) if integral else 1e-9 * max(ub, 1.0)
    if lag.bound > ub - slack:
        return inc, lag.bound, True, "greedy+swap, lagrangian proof"
    inc = heur.pmedian_ils(W, p, deadline=min(time.perf_counter() + 0.1 * span, deadline),
                           start=inc)
    if heur.pmedian_cost(W, inc) < ub:
        ub = heur.pmedian_cost(W, inc)
        lag = heur.pmedian_lagrangian(W, p, ub, deadline=t0 + 0.5 * span, integral=integral)
    keep = np.flatnonzero(~lag.fixed_out)
    pos = {int(j): k for k, j in enumerate(keep)}
    if len(keep) < p:  # every p-set uses a site whose bound reaches the incumbent's cost
        return inc, ub, True, "greedy+swap, lagrangian proof"
    Wk = W[:, keep]
    if all(j in pos for j in inc):
        start = np.array([pos[j] for j in inc], dtype=np.intp)
    else:  # a site of the incumbent cannot be in any better solution: restart inside `keep`
        start = heur.pmedian_swap(Wk, heur.pmedian_greedy(Wk, p), deadline=deadline)
    bb = pmedian_bnb(Wk, p, start, deadline=deadline, integral=integral,
                     fixed_in=lag.fixed_in[keep])
    if bb.cost < ub:
        inc, ub = keep[bb.open_], bb.cost
    bound = min(max(bb.bound, lag.bound), ub)
    return inc, bound, bb.optimal, "lagrangian branch-and-bound"


def _reduce_cover(B: sp.csc_matrix, w: FloatArray) -> tuple[sp.csc_matrix, FloatArray, IntArray]:
    """Merge rows with identical coverage, drop empty rows and dominated columns."""
    R = B.tocsr()
    groups: dict[bytes, int] = {}
    rows: list[int] = []
    ws: list[float] = []
    for i in range(R.shape[0]):
        if w[i] <= 0 or R.indptr[i] == R.indptr[i + 1]:
            continue
        key = np.sort(R.indices[R.indptr[i]: R.indptr[i + 1]]).tobytes()
        if key in groups:
            ws[groups[key]] += w[i]
        else:
            groups[key] = len(rows)
            rows.append(i)
            ws.append(float(w[i]))
    Bu = B.tocsr()[rows].tocsc().astype(np.float64)
    size = np.asarray(Bu.sum(axis=0)).ravel()
    G = (Bu.T @ Bu).tocoo()
    dom = np.zeros(B.shape[1], dtype=bool)
    j, k, v = G.row, G.col, G.data
    hit = (j != k) & (v == size[j]) & ((size[k] > size[j]) | ((size[k] == size[j]) & (k < j)))
    dom[j[hit]] = True
    dom |= size == 0
    cols = np.flatnonzero(~dom)
    return Bu[:, cols].tocsc(), np.array(ws), cols


def _fill(chosen: IntArray, C: FloatArray, w: FloatArray, p: int) -> IntArray:
    """Add sites (least weighted cost first) until ``p`` are chosen."""
    picked = [int(j) for j in chosen]
    cur = (C[:, picked].min(axis=1) if picked else np.full(len(C), np.inf))
    cur = np.where(np.isinf(cur), C.max(initial=0.0) * 10 + 1, cur)
    while len(picked) < p:
        gain = (w[:, None] * np.maximum(cur[:, None] - C, 0.0)).sum(axis=0)
        gain[picked] = -1.0
        j = int(np.argmax(gain))
        picked.append(j)
        cur = np.minimum(cur, C[:, j])
    return np.array(picked, dtype=np.intp)


def _cover(B: sp.csc_matrix, w: FloatArray, model: str, p: int, deadline: float
           ) -> tuple[IntArray, float, float, bool, str]:
    """MCLP or LSCP on coverage matrix ``B``; returns chosen columns, objective, bound, proof."""
    Br, wr, cols = _reduce_cover(B, w)
    span = max(deadline - time.perf_counter(), 0.05)
    if model == "mclp":
        if len(cols) <= p:
            return cols, float(wr.sum()), float(wr.sum()), True, "reduction"
        inc = heur.mclp_swap(Br, wr, heur.mclp_greedy(Br, wr, p),
                             deadline=time.perf_counter() + 0.3 * span)
        val = float(wr[np.asarray(Br[:, inc].sum(axis=1)).ravel() > 0].sum())
        if Br.nnz > MAX_COVER_NNZ:
            bound = min(float(wr.sum()), float(np.sort(Br.T @ wr)[-p:].sum()))
            return cols[inc], val, bound, val >= bound, "greedy+swap"
        integral = bool(np.all(wr == np.round(wr)))
        lag = mclp_lagrangian(Br, wr, p, val, deadline=time.perf_counter() + 0.3 * span,
                              integral=integral)
        if lag.bound < val + (1.0 - 1e-6 if integral else 1e-9 * max(val, 1.0)):
            return cols[inc], val, val, True, "greedy+swap, lagrangian proof"
        keep = np.flatnonzero(~lag.fixed_out)
        rows = np.flatnonzero(np.asarray(Br[:, keep].sum(axis=1)).ravel() > 0)
        Bk = Br[rows][:, keep].tocsc()
        pos = {int(j): k for k, j in enumerate(keep)}
        start = np.array([pos[j] for j in inc]) if all(j in pos for j in inc) else None
        out = mdl.mclp_model(Bk, wr[rows], p, time_limit_s=deadline - time.perf_counter(),
                             start=start, fixed_in=lag.fixed_in[keep])
        if out.x is not None:
            cand = keep[np.flatnonzero(out.x[: len(keep)] > 0.5)]
            cv = float(wr[np.asarray(Br[:, cand].sum(axis=1)).ravel() > 0].sum())
            if cv > val:
                inc, val = cand, cv
        # infeasible: the fixings leave no solution better than the incumbent, which is optimal
        proven = out.status in ("optimal", "infeasible")
        bound = val if proven else min(lag.bound, max(val, out.bound))
        return cols[inc], val, bound, proven, "highs"
    inc = heur.lscp_greedy(Br)
    if Br.nnz > MAX_COVER_NNZ:
        return cols[inc], float(len(inc)), 1.0, len(inc) == 1, "greedy"
    out = mdl.lscp_model(Br, time_limit_s=deadline - time.perf_counter(), start=inc)
    if out.x is not None and out.objective < len(inc) - 0.5:
        inc = np.flatnonzero(out.x > 0.5)
    bound = float(len(inc)) if out.status == "optimal" else out.bound
    return cols[inc], float(len(inc)), bound, out.status == "optimal", "highs"


def _capacitated(sp_: SitingProblem, deadline: float) -> tuple[IntArray, IntArray, float, float,
                                                                 bool]:
    C, w = sp_.cost, sp_.weights
    cap = np.where(np.isfinite(sp_.capacities), sp_.capacities, float(w.sum()) + 1.0)
    radius = sp_.radius_m if sp_.radius_m is not None else np.inf
    out, pi, pj = mdl.capacitated_model(C, w, cap, model=sp_.model, p=sp_.sites, radius_m=radius,
                                        time_limit_s=deadline - time.perf_counter())
    if out.status == "infeasible":
        raise InfeasibleError("容量不足：在给定的容量和半径下无法服务全部需求；请增加候选点容量、"
                              "增大半径或增加 sites。")
    if out.x is None:
        raise SolverError("带容量的选址模型在时间限制内没有找到可行解；请放宽时间限制或缩小问题。")
    m = C.shape[1]
    chosen = np.flatnonzero(out.x[:m] > 0.5)
    on = out.x[m:] > 0.5
    assign = np.full(len(C), -1, dtype=np.intp)
    assign[pi[on]] = pj[on]
    return chosen, assign, out.objective, out.bound, out.status == "optimal"


def solve_matrix(problem: SitingProblem, *, time_limit_s: float = DEFAULT_TIME_LIMIT_S
                 ) -> SitingResult:
    """Solve a validated :class:`~geo.siting.problem.SitingProblem` (the numeric core).

    Parameters
    ----------
    problem : SitingProblem
        From :func:`geo.siting.problem.parse_problem`.
    time_limit_s : float, optional
        Wall-clock limit; the best solution found by then is returned with its bound and gap.

    Returns
    -------
    SitingResult

    Raises
    ------
    InputError
        For lscp, when some demand lies beyond ``radius_m`` of every candidate.
    InfeasibleError, SolverError
        When a capacitated model has no (found) feasible solution.
    """
    t0 = time.perf_counter()
    deadline = t0 + max(0.97 * float(time_limit_s), 0.1)  # leave room to describe the result
    C, w, model, p = problem.cost, problem.weights, problem.model, problem.sites
    r = problem.radius_m
    if problem.capacitated:
        chosen, assign, obj, bound, opt = _capacitated(problem, deadline)
        solver = "highs (capacitated)"
    elif model == "pmedian":
        pos = w > 0
        chosen, bound, opt, solver = _pmedian(w[pos, None] * C[pos], p, deadline, t0)
        assign = _nearest(C, chosen, None)
        obj = float((w * C[np.arange(len(C)), assign]).sum())
    else:
        assert r is not None  # parse_problem requires a radius for mclp and lscp
        B = sp.csc_matrix(r >= C)
        if model == "lscp":
            bad = np.flatnonzero((w > 0) & (np.asarray(B.sum(axis=1)).ravel() == 0))
            if len(bad):
                names = ", ".join(f"{problem.demand_ids[i]}（最近 {C[i].min():.0f}）" for i in bad[:10])
                raise InputError(f"集合覆盖无解：{len(bad)} 个需求点在半径 {r:g} 内没有任何候选点："
                                 f"{names}；请增大 radius_m 或增加候选点。")
        chosen, obj, bound, opt, solver = _cover(B, w, model, p, deadline)
        if model == "mclp" and len(chosen) < p:
            chosen = _fill(chosen, C, w, p)
        assign = _nearest(C, chosen, r)
    if opt:
        bound = obj
        method = "exact"
    else:
        method = "heuristic" if solver.startswith("greedy") else "exact_time_limit"
    return SitingResult(np.sort(chosen), assign, float(obj), float(bound), bool(opt),
                        0.0 if opt else _gap(model, obj, bound), method, solver,
                        time.perf_counter() - t0)


def solve_siting(problem: Mapping[str, Any], *, time_limit_s: float | None = None
                 ) -> dict[str, Any]:
    """Solve a generic siting problem (design.md §5) and return the Solution JSON as a dict.

    Parameters
    ----------
    problem : mapping
        ``{"demand": [...], "candidates": [...], "cost": {...}, "model": ..., "sites": ...,
        "radius_m": ...}``; an optional ``"time_limit_s"`` is used when the keyword is not given.
    time_limit_s : float, optional
        Wall-clock limit in seconds (default: the problem's, else 60).

    Returns
    -------
    dict
        ``chosen``, ``covered_weight``, ``total_weighted_cost``, ``assignment`` (demand id → site
        id, or ``None`` when not served within ``radius_m``), ``optimal``, ``gap``, plus ``model``,
        ``objective``, ``bound``, ``method`` (``"exact"`` or ``"heuristic"``), ``solver``,
        ``time_s`` and ``uncovered`` (demand ids not within ``radius_m`` of a chosen site).
    """
    sp_ = parse_problem(problem)
    if time_limit_s is None:
        raw = problem.get("time_limit_s", DEFAULT_TIME_LIMIT_S)
        time_limit_s = float(raw) if isinstance(raw, int | float) and raw > 0 else \
            DEFAULT_TIME_LIMIT_S
    res = solve_matrix(sp_, time_limit_s=time_limit_s)
    ids = [sp_.candidate_ids[j] for j in res.chosen]
    assignment = {sp_.demand_ids[i]: (sp_.candidate_ids[j] if j >= 0 else None)
                  for i, j in enumerate(res.assignment)}
    ev = evaluate_siting(problem, ids, assignment=assignment)
    return {
        "chosen": ids,
        "covered_weight": ev["covered_weight"],
        "total_weighted_cost": ev["total_weighted_cost"],
        "assignment": assignment,
        "optimal": res.optimal,
        "gap": res.gap,
        "model": sp_.model,
        "objective": res.objective,
        "bound": res.bound,
        "method": res.method,
        "solver": res.solver,
        "time_s": round(res.time_s, 4),
        "uncovered": ev["uncovered"],
    }


def evaluate_siting(problem: Mapping[str, Any], chosen: Sequence[str], *,
                    assignment: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """Recompute coverage and cost of a solution from the chosen ids alone.

    Independent of the solvers: it only re-reads the problem's cost (or coordinates) for the
    chosen candidates. Without ``assignment`` each demand point goes to its nearest chosen site.

    Returns
    -------
    dict
        ``covered_weight`` (weight within ``radius_m`` of its site; all weight when the problem
        has no radius), ``total_weighted_cost`` (Σ weight × cost over served demand),
        ``uncovered`` (ids), ``load`` (site id → served weight), ``capacity_ok`` (bool),
        ``sites`` (count) and ``objective`` in the model's own sense.
    """
    sp_ = parse_problem(problem)
    col = {c: j for j, c in enumerate(sp_.candidate_ids)}
    unknown = [c for c in chosen if c not in col]
    if unknown or len(set(chosen)) != len(chosen):
        raise InputError(f"所选候选点 id 无效或重复：{', '.join(map(str, unknown)) or '重复 id'}。")
    cols = [col[c] for c in chosen]
    r = sp_.radius_m
    covered = cost = 0.0
    uncovered: list[str] = []
    load = {c: 0.0 for c in chosen}
    for i, d in enumerate(sp_.demand_ids):
        if assignment is not None:
            site = assignment.get(d)
            if site is not None and site not in load:
                raise InputError(f"需求点 {d} 被分配给未选中的候选点 {site}。")
            j = col[site] if site is not None else None
        else:
            j = min(cols, key=lambda c: (sp_.cost[i, c], c)) if cols else None
            if j is not None and sp_.model != "pmedian" and r is not None and sp_.cost[i, j] > r:
                j = None
        dist = float(sp_.cost[i, j]) if j is not None else math.inf
        if j is not None and (r is None or dist <= r):
            covered += sp_.weights[i]
        else:
            uncovered.append(d)
        if j is not None:
            cost += sp_.weights[i] * dist
            load[sp_.candidate_ids[j]] += sp_.weights[i]
    cap_ok = all(load[c] <= sp_.capacities[col[c]] + 1e-9 for c in chosen)
    obj = {"mclp": covered, "pmedian": cost, "lscp": float(len(chosen))}[sp_.model]
    return {"covered_weight": float(covered), "total_weighted_cost": float(cost),
            "uncovered": uncovered, "load": load, "capacity_ok": cap_ok,
            "sites": len(chosen), "objective": float(obj)}
