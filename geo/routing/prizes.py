"""Deterministic prize post-optimisation: insert and swap unvisited stops with re-sequencing.

PyVRP's local search inserts an unvisited stop only next to one of its granular neighbours and
only where it fits as the route stands. A TOP route at its duration limit often has room for one
more stop only once the route is re-sequenced around it. This pass, run on the best feasible
solution, tries for every unvisited stop ``u`` (best prize first) and every route:

* **insert** ``u`` at its cheapest position, then (for a route whose windows cannot bind) re-order
  the route by 2-opt/Or-opt (:func:`geo.routing.polish.improve_path`) to make room;
* **swap** ``u`` for a visited, optional stop ``v`` of smaller prize, the same way.

A move is kept when PyVRP's own route evaluation (integer times, windows, shift) finds the new
route on time: the pass never makes a solution infeasible, and every kept move raises the summed
prize. Candidates are screened by the cheapest-insertion duration against the route's slack, and
the work is bounded by :data:`MAX_TRIES` exact evaluations, so the pass is fast and, having no
randomness and no clock, gives the same result every time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from geo.routing.polish import improve_path

__all__ = ["MAX_TRIES", "improve_prizes"]

IntArray = npt.NDArray[np.int64]
#: Exact route evaluations (re-sequencing included) per pass; bounds the pass's cost.
MAX_TRIES = 1500
#: Candidates per stop whose screened excess over the slack exceeds this share of the shift are
#: not tried (re-sequencing rarely saves more).
MAX_EXCESS_SHARE = 0.08


class _Routes:
    """The mutable state of the pass: client sequences per vehicle type and the model arrays."""

    def __init__(self, data: Any, m: Any, sol: Any) -> None:
        self.data, self.m = data, m
        clients = data.clients()
        self.loc = np.array([c.location for c in clients], dtype=np.int64)
        self.prize = np.array([c.prize for c in clients], dtype=np.int64)
        self.service = np.array([c.service_duration for c in clients], dtype=np.int64)
        self.optional = np.array([not c.required and c.group is None for c in clients], dtype=bool)
        self.early = np.array([c.tw_early for c in clients], dtype=np.int64)
        self.late = np.array([c.tw_late for c in clients], dtype=np.int64)
        self.seq: dict[int, list[int]] = {}
        for vt in range(data.num_vehicle_types):
            self.seq[vt] = []
        for route in sol.routes():
            self.seq[route.vehicle_type()] = [a.idx for a in route.schedule() if a.is_client()]
        self.tries = 0

    def visited(self) -> set[int]:
        return {c for seq in self.seq.values() for c in seq}

    def free(self, vt: int, seq: list[int]) -> bool:
        """Whether the windows of ``seq`` cannot bind (every window covers the shift)."""
        idx = np.asarray(seq, dtype=np.int64)
        lo, hi = int(self.m.shift[vt, 0]), int(self.m.shift[vt, 1])
        return bool((self.early[idx] <= lo).all() and (self.late[idx] >= hi).all())

    def nodes(self, vt: int, seq: list[int]) -> IntArray:
        p = self.m.p
        return np.r_[int(p.team_start[vt]), self.loc[np.asarray(seq, dtype=np.int64)],
                     int(p.team_end[vt])].astype(np.int64)

    def dur(self, vt: int) -> IntArray:
        return np.asarray(self.m.durations[int(self.m.profile[vt])])

    def used(self, vt: int, seq: list[int]) -> int:
        """Travel plus service time of ``seq`` (no waiting)."""
        path = self.nodes(vt, seq)
        d = self.dur(vt)
        return int(d[path[:-1], path[1:]].sum() + self.service[np.asarray(seq, dtype=np.int64)].sum())

    def cheapest(self, vt: int, seq: list[int], u: int) -> tuple[int, int]:
        """(added duration, position) of the cheapest insertion of ``u`` into ``seq``."""
        path, d, x = self.nodes(vt, seq), self.dur(vt), int(self.loc[u])
        add = d[path[:-1], x] + d[x, path[1:]] - d[path[:-1], path[1:]]
        k = int(np.argmin(add))
        return int(add[k]) + int(self.service[u]), k

    def try_route(self, vt: int, seq: list[int]) -> list[int] | None:
        """``seq`` (re-sequenced if its order is free) when it is on time, else None."""
        import pyvrp

        self.tries += 1
        if len(seq) >= 3 and self.free(vt, seq):
            by_node = {int(self.loc[c]): c for c in seq}
            order = [by_node[int(x)] for x in improve_path(self.m.cost, self.nodes(vt, seq))[1:-1]]
            for cand in (order, seq):
                if pyvrp.Route(self.data, cand, vt).is_feasible():
                    return cand
            return None
        return seq if pyvrp.Route(self.data, seq, vt).is_feasible() else None


def _moves(st: _Routes, u: int) -> list[tuple[int, int, int, int | None, list[int]]]:
    """Screened moves for ``u``: (prize loss, excess, vt, removed stop, new sequence)."""
    out: list[tuple[int, int, int, int | None, list[int]]] = []
    for vt, seq in st.seq.items():
        shift = int(st.m.shift[vt, 1] - st.m.shift[vt, 0])
        cap = MAX_EXCESS_SHARE * shift
        slack = shift - st.used(vt, seq)
        add, k = st.cheapest(vt, seq, u)
        if add - slack <= cap:
            out.append((0, add - slack, vt, None, [*seq[:k], u, *seq[k:]]))
        for j, v in enumerate(seq):
            if not st.optional[v] or st.prize[v] >= st.prize[u]:
                continue
            rest = seq[:j] + seq[j + 1:]
            add, k = st.cheapest(vt, rest, u)
            excess = add - (shift - st.used(vt, rest))
            if excess <= cap:
                out.append((int(st.prize[v]), excess, vt, v, [*rest[:k], u, *rest[k:]]))
    out.sort(key=lambda t: (t[0], t[1], t[2], -1 if t[3] is None else t[3]))
    return out


def improve_prizes(data: Any, m: Any, sol: Any) -> Any:
    """Insert and swap in unvisited optional stops (see the module docstring).

    Parameters
    ----------
    data : pyvrp.ProblemData
    m : IntModel
    sol : pyvrp.Solution
        A feasible solution.

    Returns
    -------
    pyvrp.Solution
        ``sol`` itself when nothing improved, else a feasible solution with a larger summed prize.
    """
    import pyvrp

    if not sol.is_feasible():
        return sol
    st = _Routes(data, m, sol)
    changed, improved = False, True
    while improved and st.tries < MAX_TRIES:
        improved = False
        seen = st.visited()
        pool = [c for c in np.argsort(-st.prize, kind="stable").tolist()
                if c not in seen and st.optional[c] and st.prize[c] > 0]
        for u in pool:
            for _, _, vt, _, seq in _moves(st, u):
                if st.tries >= MAX_TRIES:
                    break
                new = st.try_route(vt, seq)
                if new is not None:
                    st.seq[vt] = new
                    changed = improved = True
                    break
            if improved:
                break
    if not changed:
        return sol
    routes = [pyvrp.Route(data, seq, vt) for vt, seq in st.seq.items() if seq]
    out = pyvrp.Solution(data, routes)
    return out if out.is_feasible() and out.prizes() > sol.prizes() else sol
