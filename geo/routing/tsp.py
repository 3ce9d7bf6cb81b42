"""A dedicated path for one free-order route: iterated 2-opt / Or-opt on neighbour lists.

PyVRP's operators move and swap short chains between and within routes but have no intra-route
2-opt, so a single long route (a TSP-like day of one team; TSPLIB a280 in the benchmark) stays a
few per cent above optimal. For a problem that *is* a path problem — one team, every stop a
must-visit (``distance`` objective), one window per stop that cannot bind — the router uses
this module instead (:func:`geo.routing.backends.solve_routes`):

* **Local search**: 2-opt (reverse a sub-path) and Or-opt (move a chain of 1–3 stops, forwards or
  reversed) between each node and its :data:`NEIGHBOURS` nearest nodes, first and last node
  fixed, asymmetric costs exact (a reversed sub-path is costed through prefix sums of both
  directions). Each step evaluates the moves of all *active* nodes in one numpy pass, applies
  the best one and re-activates the nodes at its changed edges; a node without an improving
  move goes inactive ("don't-look bits", Bentley 1992).
* **Perturbation**: a double bridge (two random adjacent sub-paths swap places; Martin, Otto &
  Felten 1991), then the local search from the six touched nodes. A kick that leaves the path
  at most :data:`ACCEPT_WORSE` of an average edge longer is kept (the allowance falls to 0 over
  the search; the best path is kept apart), else undone. Measured on TSPLIB a280: with a local
  window for the kick, or with a 3-opt segment move in the local search, the search undid
  almost every kick and stayed 2–3 % above optimal; as here it reaches the optimum.
* **A fixed effort**: :func:`kick_budget` kicks per second of time limit, seeded; the time
  limit (CPU seconds, :class:`geo.routing.ils.Deadline`) only stops a search on a machine far
  slower than assumed. The same data, seed and limit give the same route.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from geo.routing.ils import Deadline
from geo.routing.model import TIME_TOL_S, PatrolProblem

__all__ = [
    "ACCEPT_WORSE", "KICKS_PER_S", "NEIGHBOURS", "TspStats", "is_free_path", "kick_budget",
    "solve_free_path", "solve_path",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_log = logging.getLogger(__name__)

#: Neighbour-list length of the local search.
NEIGHBOURS = 10
#: Perturbations per second of time limit (a kick and its local search cost about 0.5–0.9 ms of
#: CPU for 50–280 stops, so the budget, not the clock, ends a search on an unloaded machine).
KICKS_PER_S = 800
_TOL = 1e-9
#: Acceptance: a kick that makes the path at most this share of an average edge longer is kept
#: (the threshold falls linearly to 0 over the search), so the search can leave a local optimum.
ACCEPT_WORSE = 0.3
_MAX_CHAIN = 3
# Or-opt variants per chain length L: a starts the chain (forward after b, reversed before b)
# or ends it (forward before b, reversed after b): chain start = pos(a) + DS, p = pos(b) + DP.
_OR_LEN = np.repeat(np.arange(_MAX_CHAIN), 4)
_OR_DS = np.where(np.tile([0, 0, 1, 1], _MAX_CHAIN) == 1, -_OR_LEN, 0)
_OR_DP = np.tile([0, -1, -1, 0], _MAX_CHAIN)
_OR_FLIP = np.tile([False, True, False, True], _MAX_CHAIN)


def kick_budget(time_limit_s: float) -> int:
    """Perturbations for a time limit: ``KICKS_PER_S × time_limit_s`` (at least 50)."""
    return max(50, round(time_limit_s * KICKS_PER_S))


class TspStats:
    """How :func:`solve_path` ended: ``kicks`` run and ``stop`` ("budget" or "time")."""

    def __init__(self, kicks: int, stop: str) -> None:
        self.kicks, self.stop = kicks, stop


class _Path:
    """A path over local nodes ``0..P-1`` (first and last fixed) with positions and prefix sums."""

    def __init__(self, c: FloatArray, order: IntArray) -> None:
        self.c = c
        self.t = order.copy()
        self.pos = np.empty_like(self.t)
        self.refresh()

    def refresh(self) -> None:
        t, c = self.t, self.c
        self.pos[t] = np.arange(t.size)
        self.fwd = np.concatenate([[0.0], np.cumsum(c[t[:-1], t[1:]])])
        self.rev = np.concatenate([[0.0], np.cumsum(c[t[1:], t[:-1]])])

    def cost(self) -> float:
        return float(self.fwd[-1])

    def two_opt(self, a: IntArray, b: IntArray) -> tuple[FloatArray, IntArray, IntArray, IntArray]:
        """Deltas of reversing ``t[i+1..j]`` for the pairs whose new edges join a and b (and a)."""
        t, c, n = self.t, self.c, self.t.size
        pa, pb = self.pos[a], self.pos[b]
        lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
        i = np.concatenate([lo, lo - 1])
        j = np.concatenate([hi, hi - 1])
        ok = (i >= 0) & (j >= i + 2) & (j <= n - 2)
        i, j, src = i[ok], j[ok], np.concatenate([a, a])[ok]
        d = (c[t[i], t[j]] + c[t[i + 1], t[j + 1]] - c[t[i], t[i + 1]] - c[t[j], t[j + 1]]
             + (self.rev[j] - self.rev[i + 1]) - (self.fwd[j] - self.fwd[i + 1]))
        return d, i, j, src

    def or_opt(
        self, a: IntArray, b: IntArray
    ) -> tuple[FloatArray, IntArray, IntArray, IntArray, BoolArray, IntArray]:
        """Deltas of moving chain ``s..e`` between ``p`` and ``p+1`` (``flip``: reversed), and a.

        The new edge joins a (the chain's first or last stop) and b (the insertion point).
        """
        t, c, n = self.t, self.c, self.t.size
        pa, pb = self.pos[a], self.pos[b]
        s = (pa[None, :] + _OR_DS[:, None]).ravel()
        e = s + np.repeat(_OR_LEN, pa.size)
        p = (pb[None, :] + _OR_DP[:, None]).ravel()
        f = np.repeat(_OR_FLIP, pa.size)
        src = np.tile(a, _OR_LEN.size)
        ok = (s >= 1) & (e <= n - 2) & (p >= 0) & (p <= n - 2) & ((p <= s - 2) | (p >= e + 1))
        s, e, p, f, src = s[ok], e[ok], p[ok], f[ok], src[ok]
        ts, te, tp, tq = t[s], t[e], t[p], t[p + 1]
        base = c[t[s - 1], t[e + 1]] - c[t[s - 1], ts] - c[te, t[e + 1]] - c[tp, tq]
        fwd = c[tp, ts] + c[te, tq]
        rev = c[tp, te] + c[ts, tq] + (self.rev[e] - self.rev[s]) - (self.fwd[e] - self.fwd[s])
        return base + np.where(f, rev, fwd), s, e, p, f, src

    def apply_two_opt(self, i: int, j: int) -> IntArray:
        touched = self.t[[i, i + 1, j, j + 1]].copy()
        self.t[i + 1:j + 1] = self.t[i + 1:j + 1][::-1].copy()
        self.refresh()
        return touched

    def apply_or_opt(self, s: int, e: int, p: int, flip: bool) -> IntArray:
        t = self.t
        touched = t[[s - 1, s, e, e + 1, p, p + 1]].copy()
        seg = t[s:e + 1][::-1] if flip else t[s:e + 1]
        if p < s:
            new = np.concatenate([t[:p + 1], seg, t[p + 1:s], t[e + 1:]])
        else:
            new = np.concatenate([t[:s], t[e + 1:p + 1], seg, t[p + 1:]])
        self.t = new
        self.refresh()
        return touched


def _descend(path: _Path, nbr: IntArray, active: IntArray) -> None:
    """Best-improvement local search from the ``active`` nodes until none improves."""
    k = nbr.shape[1]
    act = np.unique(active)
    while act.size:
        a = np.repeat(act, k)
        b = nbr[act].ravel()
        d2, i, j, src2 = path.two_opt(a, b)
        d3, s, e, p, f, src3 = path.or_opt(a, b)
        best2 = int(np.argmin(d2)) if d2.size else -1
        best3 = int(np.argmin(d3)) if d3.size else -1
        v2 = d2[best2] if best2 >= 0 else np.inf
        v3 = d3[best3] if best3 >= 0 else np.inf
        if min(v2, v3) >= -_TOL:
            return
        # nodes whose own moves cannot improve drop out; the changed edges' ends come in
        good = np.union1d(src2[d2 < -_TOL], src3[d3 < -_TOL])
        if v2 <= v3:
            touched = path.apply_two_opt(int(i[best2]), int(j[best2]))
        else:
            touched = path.apply_or_opt(int(s[best3]), int(e[best3]), int(p[best3]),
                                        bool(f[best3]))
        act = np.union1d(np.intersect1d(act, good), touched)


def _neighbours(c: FloatArray) -> IntArray:
    n = c.shape[0]
    sym = np.minimum(c, c.T).astype(np.float64)
    np.fill_diagonal(sym, np.inf)
    k = min(NEIGHBOURS, n - 1)
    near = np.argpartition(sym, k - 1, axis=1)[:, :k]
    rows = np.arange(n)[:, None]
    return np.asarray(near[rows, np.argsort(sym[rows, near], axis=1)], dtype=np.int64)


def _nearest_neighbour(c: FloatArray) -> IntArray:
    n = c.shape[0]
    left = np.ones(n, dtype=bool)
    left[[0, n - 1]] = False
    order, node = [0], 0
    for _ in range(n - 2):
        row = np.where(left, c[node], np.inf)
        node = int(np.argmin(row))
        left[node] = False
        order.append(node)
    order.append(n - 1)
    return np.asarray(order, dtype=np.int64)


def _kick(path: _Path, rng: np.random.Generator) -> IntArray:
    """Double bridge: two random adjacent sub-paths swap places; return the touched nodes.

    The cut points are anywhere on the path (a local window made the local search undo most
    kicks). Or-opt moves chains of at most three stops, so it cannot undo a long swap at once.
    """
    n = path.t.size
    p1, p2, p3 = np.sort(rng.choice(np.arange(1, n), size=3, replace=False))
    t = path.t
    touched = t[[p1 - 1, p1, p2 - 1, p2, p3 - 1, p3]].copy()
    path.t = np.concatenate([t[:p1], t[p2:p3], t[p1:p2], t[p3:]])
    path.refresh()
    return touched


def solve_path(
    cost: FloatArray | IntArray, *, seed: int, kicks: int, deadline: Deadline
) -> tuple[IntArray, TspStats]:
    """A short path ``0 → … → P-1`` through every node of ``cost`` (first and last fixed).

    Parameters
    ----------
    cost : ndarray, shape (P, P)
        Costs between the path's nodes; node 0 is the start, node P-1 the end (they may be the
        same place: a round trip). Need not be symmetric.
    seed : int
        Seed of the perturbations (the only randomness).
    kicks : int
        Perturbations (:func:`kick_budget`).
    deadline : Deadline
        When the search stops regardless (CPU seconds, with a wall-clock guard).

    Returns
    -------
    order : ndarray of int
        The node order, starting with 0 and ending with P-1.
    stats : TspStats
    """
    c = np.asarray(cost, dtype=np.float64)
    n = c.shape[0]
    if n <= 3:
        return np.arange(n, dtype=np.int64), TspStats(0, "budget")
    nbr = _neighbours(c)
    rng = np.random.default_rng(seed)
    path = _Path(c, _nearest_neighbour(c))
    _descend(path, nbr, np.arange(1, n - 1))
    if n <= 5:
        return path.t, TspStats(0, "budget")
    best, best_cost = path.t.copy(), path.cost()
    slack = ACCEPT_WORSE * best_cost / n  # a small fraction of an average edge
    done, stop = 0, "budget"
    while done < kicks:
        if deadline.passed():
            stop = "time"
            break
        done += 1
        keep, before = path.t.copy(), path.cost()
        _descend(path, nbr, _kick(path, rng))
        if path.cost() < best_cost - _TOL:
            best, best_cost = path.t.copy(), path.cost()
        elif path.cost() > before + slack * (1.0 - done / kicks):
            path.t = keep
            path.refresh()
    return best, TspStats(done, stop)


def is_free_path(problem: PatrolProblem) -> bool:
    """Whether ``problem`` is one route through every stop in any order (a TSP path).

    One team, every stop a must-visit, one window per stop that covers the whole shift.
    """
    if len(problem.team_ids) != 1 or problem.n_stops < 1 or not problem.must_visit().all():
        return False
    t0, t1 = (float(v) for v in problem.shift_s[0])
    return all(len(w) == 1 and w[0, 0] <= t0 and w[0, 1] >= t1 for w in problem.windows_s)


def solve_free_path(
    problem: PatrolProblem, *, time_limit_s: float, seed: int, kicks: int | None = None
) -> list[list[int]] | None:
    """The stop order of a free path (:func:`is_free_path`), or None when it overruns the shift.

    The order minimises ``problem.cost``; when travel times are not proportional to that cost
    (a road network with per-edge times) the shortest order can still end after the shift:
    then None, and the caller runs the general search.
    """
    nodes = np.r_[int(problem.team_start[0]), problem.n_sites + np.arange(problem.n_stops),
                  int(problem.team_end[0])]
    cost = problem.cost[np.ix_(nodes, nodes)]
    budget = kick_budget(time_limit_s) if kicks is None else max(1, int(kicks))
    order, stats = solve_path(cost, seed=seed, kicks=budget, deadline=Deadline(time_limit_s))
    _log.debug("path search: %d kicks, stopped by %s", stats.kicks, stats.stop)
    path = nodes[order]
    t0, t1 = (float(v) for v in problem.shift_s[0])
    travel = float(problem.time_s[0][path[:-1], path[1:]].sum()) + float(problem.service_s.sum())
    if t0 + travel > t1 + TIME_TOL_S:
        return None
    return [[int(v) - problem.n_sites for v in path[1:-1]]]
