"""Lagrangian branch-and-bound for the uncapacitated p-median (Beasley 1993 style).

At every node the assignment constraints are relaxed with multipliers ``λ`` (warm-started from
the parent) and improved by a few subgradient steps; each Lagrangian solution is also evaluated
as a p-median solution (an upper bound), and candidates are fixed in or out by the usual
reduced-cost tests. Branching is on the most used site of the Lagrangian solution, "open" first,
depth first. On small-p instances, whose LP relaxations leave a gap of about 1 %, this proves
optimality far faster than LP-based branch-and-bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


BRANCH = "use"


@dataclass
class BnbResult:
    """Best sites found, their cost, the proven lower bound, whether optimality is proven."""

    open_: IntArray
    cost: float
    bound: float
    optimal: bool
    nodes: int = 0


@dataclass
class _Node:
    f_in: BoolArray
    f_out: BoolArray
    lam: FloatArray
    bound: float
    theta: float = 1.0
    extra: dict[str, float] = field(default_factory=dict)


class _Search:
    """Mutable state of one branch-and-bound run."""

    def __init__(self, W: FloatArray, p: int, open_: IntArray, slack: float) -> None:
        self.W, self.p, self.slack = W, p, slack
        self.best = np.array(open_, dtype=np.intp)
        self.ub = float(W[:, self.best].min(axis=1).sum())

    def offer(self, sel: IntArray) -> None:
        c = float(self.W[:, sel].min(axis=1).sum())
        if c < self.ub - 1e-9:
            self.best, self.ub = np.array(sel, dtype=np.intp), c

    def leaf(self, node: _Node) -> float | None:
        """Cost of a node whose sites are all decided (inf if infeasible); None otherwise."""
        q = self.p - int(node.f_in.sum())
        free = ~node.f_in & ~node.f_out
        if q < 0 or int(free.sum()) < q:
            return np.inf
        if q == 0 or int(free.sum()) == q:
            sel = np.flatnonzero(node.f_in | free) if q else np.flatnonzero(node.f_in)
            self.offer(sel)
            return float(self.W[:, sel].min(axis=1).sum())
        return None

    def bound(self, node: _Node, iters: int) -> tuple[float, IntArray | None]:
        """Improve ``node`` in place; return its bound and a branching column (None = leaf)."""
        W, p = self.W, self.p
        lam, theta = node.lam, node.theta
        best_l, best_lam, sel_free, stall = -np.inf, lam, np.zeros(0, dtype=np.intp), 0
        for _ in range(iters):
            leaf = self.leaf(node)
            if leaf is not None:
                return leaf, None
            fin, fout = node.f_in, node.f_out
            q = p - int(fin.sum())
            free = ~fin & ~fout
            rho = np.minimum(W - lam[:, None], 0.0).sum(axis=0)
            rf = np.where(free, rho, np.inf)
            order = np.argsort(rf, kind="stable")
            sel_free = order[:q]
            sel = np.concatenate([np.flatnonzero(fin), sel_free])
            L = float(lam.sum() + rho[fin].sum() + rf[sel_free].sum())
            self.offer(sel)
            if best_l + 1e-9 < L:
                best_l, best_lam, stall = L, lam, 0
            else:
                stall += 1
            if best_l > self.ub - self.slack:
                node.lam = best_lam
                return best_l, None
            lim = self.ub - self.slack
            kth = rf[order[q - 1]]
            nxt = rf[order[q]] if np.isfinite(rf[order[q]]) else np.inf
            outs = free & (L + rho - kth > lim)
            outs[sel_free] = False
            ins = np.zeros_like(free)
            ins[sel_free] = L - rho[sel_free] + nxt > lim
            node.f_out, node.f_in = fout | outs, fin | ins
            g = 1.0 - (W[:, sel] < lam[:, None]).sum(axis=1)
            norm = float(g @ g)
            if norm == 0.0:  # the Lagrangian solution is feasible, hence optimal for the node
                node.lam = lam
                return L, None
            lam = lam + theta * (self.ub - L) / norm * g
            if stall >= 10:
                theta, stall = theta * 0.5, 0
        node.lam, node.theta = best_lam, max(theta, 0.05)
        leaf = self.leaf(node)
        if leaf is not None:
            return leaf, None
        if BRANCH == "use":
            use = (W[:, sel_free] < best_lam[:, None]).sum(axis=0)
            return best_l, sel_free[int(np.argmax(use))]
        rho = np.minimum(W - best_lam[:, None], 0.0).sum(axis=0)
        free = ~node.f_in & ~node.f_out
        rf = np.where(free, rho, np.inf)
        order = np.argsort(rf, kind="stable")
        q = p - int(node.f_in.sum())
        sf = order[:q]
        nxt = rf[order[q]] if q < len(order) else np.inf
        est = -rho[sf] + nxt
        return best_l, sf[int(np.argmax(est))]


def pmedian_bnb(
    W: FloatArray,
    p: int,
    incumbent: IntArray,
    *,
    deadline: float,
    integral: bool,
    fixed_in: BoolArray | None = None,
    root_iters: int = 400,
    node_iters: int = 60,
) -> BnbResult:
    """Solve the uncapacitated p-median on ``W`` exactly by Lagrangian branch-and-bound.

    Parameters
    ----------
    W : ndarray (n, m)
        Weighted cost matrix (usually after Lagrangian fixing at the root).
    p : int
        Number of sites.
    incumbent : ndarray of int
        A starting solution (p columns of ``W``).
    deadline : float
        ``time.perf_counter()`` value; when reached the best solution and the smallest open
        bound are returned with ``optimal = False``.
    integral : bool
        True when all costs are integers (bounds are then rounded up).

    Returns
    -------
    BnbResult
    """
    m = W.shape[1]
    slack = (1.0 - 1e-6) if integral else 1e-9 * max(float(W.sum()), 1.0)
    st = _Search(W, p, incumbent, slack)
    lam0 = 0.5 * (W.min(axis=1) + np.partition(W, min(1, m - 1), axis=1)[:, min(1, m - 1)])
    fin = np.zeros(m, dtype=bool) if fixed_in is None else fixed_in.copy()
    stack = [_Node(fin, np.zeros(m, dtype=bool), lam0, -np.inf, theta=2.0)]
    nodes, first = 0, True
    while stack:
        if time.perf_counter() > deadline:
            lb = min(min(nd.bound for nd in stack), st.ub)
            return BnbResult(st.best, st.ub, lb, st.ub <= lb + slack, nodes)
        node = stack.pop()
        if node.bound > st.ub - slack:
            continue
        nodes += 1
        lb, j = st.bound(node, root_iters if first else node_iters)
        first = False
        if j is None or lb > st.ub - slack:
            continue
        out_child = _Node(node.f_in.copy(), node.f_out.copy(), node.lam, lb, node.theta)
        out_child.f_out[j] = True
        in_child = _Node(node.f_in.copy(), node.f_out.copy(), node.lam, lb, node.theta)
        in_child.f_in[j] = True
        stack += [out_child, in_child]
    return BnbResult(st.best, st.ub, st.ub, True, nodes)


@dataclass
class CoverBound:
    """Lagrangian upper bound of the MCLP and the candidates it fixes out / in."""

    bound: float
    fixed_out: BoolArray
    fixed_in: BoolArray


def mclp_lagrangian(
    B: sp.csc_matrix, w: FloatArray, p: int, lower: float, *, deadline: float, integral: bool,
    max_iter: int = 800,
) -> CoverBound:
    """Lagrangian relaxation of ``u_i ≤ Σ_{j covers i} y_j`` (multipliers ``μ ≥ 0``).

    ``L(μ) = Σ_i max(0, w_i − μ_i) + Σ_{p largest} s_j`` with ``s = Bᵀμ``. A candidate whose bound
    when forced in (out) cannot beat ``lower`` (the incumbent's covered weight) is fixed out (in).
    """
    m = B.shape[1]
    BT = B.T.tocsr()
    mu = 0.5 * w
    slack = (1.0 - 1e-6) if integral else 1e-9 * max(float(w.sum()), 1.0)
    best = np.inf
    f_out = np.zeros(m, dtype=bool)
    f_in = np.zeros(m, dtype=bool)
    theta, stall = 1.0, 0
    for _ in range(max_iter):
        s = BT @ mu
        order = np.argsort(-s, kind="stable")
        sel = order[:p]
        u = w > mu
        L = float((w - mu)[u].sum() + s[sel].sum())
        if best - 1e-12 > L:
            best, stall = L, 0
        else:
            stall += 1
        if p < m:
            f_out |= L - s[order[p - 1]] + s < lower + slack
            f_in[sel] |= L - s[sel] + s[order[p]] < lower + slack
        if best < lower + slack or time.perf_counter() > deadline:
            break
        g = np.asarray(B[:, sel].sum(axis=1)).ravel() - u
        norm = float(g @ g)
        if norm == 0.0:
            break
        mu = np.maximum(mu - theta * (L - lower) / norm * g, 0.0)
        if stall >= 20:
            theta, stall = theta / 2.0, 0
            if theta < 1e-4:
                break
    return CoverBound(float(best), f_out & ~f_in, f_in)
