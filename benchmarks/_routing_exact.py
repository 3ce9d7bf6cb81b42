"""Optima and bounds for Chao TOP instances, to tell solver weakness from unreachable bks scores.

``python benchmarks/_routing_exact.py --sets p1.3.o p5.3.e`` (exact, for instances whose routes are
short): every maximal stop set one route can serve within tmax, enumerated by label setting with
unrounded distances, then a MILP (HiGHS) choosing at most m of them for the largest summed score
of the stops they cover. It reproduces bks.csv's score on p1.3.n, p1.3.q, p1.4.o, p2.3.k, p5.3.h,
p6.4.j and p6.4.l, and gives 205 on p1.3.o (bks 215), 528 on p6.4.k (546), 70 on p1.3.h (75), 165
on p2.3.h (170) and 95 on p5.3.e (110).

``python benchmarks/_routing_exact.py p1.3.h --limit 600`` (bound): CP-SAT on a relaxation, every
leg rounded *down* to 1e-4 and the budget up, so a proven optimum bounds the real one from above.
Per team ``AddCircuit`` over start, end and the stops (a stop's self-loop = not visited; the arc
end -> start closes the circuit), the summed leg lengths within tmax, each stop served by at most
one team, team scores in decreasing order. Weak on longer routes (p1.3.o: no proof in 300 s).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench" / "top_chao"
SCALE = 10_000


def read_chao(name: str) -> tuple[int, float, np.ndarray]:
    """Teams, tmax and points (x, y, score) of a Chao instance."""
    path = next(BENCH.glob(f"Set_*_234/{name}.txt"))
    lines = path.read_text().split("\n")
    m, tmax = int(lines[1].split()[1]), float(lines[2].split()[1])
    pts = np.array([[float(v) for v in ln.split()] for ln in lines[3:] if ln.strip()])
    return m, tmax, pts


def upper_bound(name: str, limit_s: float, workers: int) -> tuple[float, float, str]:
    """(best score found, proven bound, status) of the relaxed model."""
    from ortools.sat.python import cp_model

    m, tmax, pts = read_chao(name)
    n = len(pts)
    s, e = 0, n - 1
    d = np.hypot(*(pts[:, None, :2] - pts[None, :, :2]).transpose(2, 0, 1))
    di = np.floor(d * SCALE).astype(np.int64)
    budget = int(np.ceil(tmax * SCALE))
    score = pts[:, 2].astype(np.int64)
    ok = [i for i in range(1, n - 1) if di[s, i] + di[i, e] <= budget]
    model = cp_model.CpModel()
    visit = {(k, i): model.new_bool_var(f"v{k}_{i}") for k in range(m) for i in ok}
    team_score = []
    for k in range(m):
        arcs: list[tuple[int, int, Any]] = [(e, s, model.new_constant(1))]
        length = []
        for i in ok:
            arcs.append((i, i, visit[k, i].Not()))
        nodes = [s, *ok, e]
        for a in nodes:
            for b in nodes:
                if a in (b, e) or b == s or (a == s and b == e and ok):
                    continue
                via = di[s, a] + di[a, b] + di[b, e]
                if via > budget:
                    continue
                x = model.new_bool_var(f"x{k}_{a}_{b}")
                arcs.append((a, b, x))
                length.append(int(di[a, b]) * x)
        if ok:
            x = model.new_bool_var(f"x{k}_se")  # an empty route
            arcs.append((s, e, x))
            length.append(int(di[s, e]) * x)
        model.add_circuit(arcs)
        model.add(sum(length) <= budget)
        team_score.append(sum(int(score[i]) * visit[k, i] for i in ok))
    for i in ok:
        model.add_at_most_one(visit[k, i] for k in range(m))
    for k in range(m - 1):
        model.add(team_score[k] >= team_score[k + 1])
    model.maximize(sum(team_score))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit_s
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    return solver.objective_value, solver.best_objective_bound, solver.status_name(status)


def route_sets(name: str) -> tuple[int, list[int], np.ndarray]:
    """Teams, the maximal stop sets one route can serve (bit masks) and the scores (exact lengths).

    Label setting over (visited set, last stop) with the shortest length, exact floating point:
    every feasible route's prefix is generated, so every feasible set is; a subset of a feasible
    set is feasible (Euclidean distances obey the triangle inequality), so only maximal sets are
    kept.
    """
    m, tmax, pts = read_chao(name)
    n = len(pts)
    s, e = 0, n - 1
    d = np.hypot(*(pts[:, None, :2] - pts[None, :, :2]).transpose(2, 0, 1))
    lim = tmax + 1e-9
    ok = [i for i in range(1, n - 1) if d[s, i] + d[i, e] <= lim]
    layer = {(1 << i, i): float(d[s, i]) for i in ok}
    feasible: set[int] = {0}
    while layer:
        feasible.update(mask for mask, _ in layer)
        nxt: dict[tuple[int, int], float] = {}
        for (mask, j), length in layer.items():
            for i in ok:
                if mask >> i & 1:
                    continue
                new = length + d[j, i]
                if new + d[i, e] <= lim:
                    key = (mask | 1 << i, i)
                    if new < nxt.get(key, np.inf):
                        nxt[key] = new
        layer = nxt
    covered = {mask & ~(1 << i) for mask in feasible for i in ok if mask >> i & 1}
    return m, [mask for mask in feasible if mask not in covered], pts[:, 2]


def exact_score(name: str, limit_s: float) -> tuple[float, str, int]:
    """(best, status, maximal sets): the best union of ``m`` route sets, a MILP (HiGHS).

    Variables: ``y_S`` (route set S used), ``z_i`` (stop i counted); ``z_i <= sum of y_S over the
    sets holding i``, at most ``m`` sets; maximise the summed score of the counted stops. Two sets
    may overlap: the stops they share count once, and dropping them from one route keeps it
    feasible.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    m, sets, score = route_sets(name)
    stops = [i for i in range(1, len(score) - 1)
             if score[i] > 0 and any(mask >> i & 1 for mask in sets)]
    a = np.array([[float(mask >> i & 1) for mask in sets] for i in stops]).reshape(len(stops), -1)
    k, nz = len(sets), len(stops)
    cost = np.r_[np.zeros(k), -score[stops].astype(float)]
    cons = [LinearConstraint(np.c_[-a, np.eye(nz)], -np.inf, 0.0),
            LinearConstraint(np.r_[np.ones(k), np.zeros(nz)][None, :], 0, m)]
    res = milp(cost, constraints=cons, integrality=np.ones(k + nz), bounds=Bounds(0, 1),
               options={"time_limit": limit_s})
    best = -float(res.fun) if res.fun is not None else float("nan")
    return best, "OPTIMAL" if res.status == 0 else str(res.message), k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="+")
    ap.add_argument("--limit", type=float, default=600.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--sets", action="store_true",
                    help="exact (unrounded) optimum: enumerated route sets and a MILP (HiGHS)")
    args = ap.parse_args()
    for name in args.names:
        if args.sets:
            best, status, n_sets = exact_score(name, args.limit)
            print(f"{name}: best {best:.0f} {status} ({n_sets} maximal route sets, exact "
                  "distances)", flush=True)
            continue
        best, bound, status = upper_bound(name, args.limit, args.workers)
        print(f"{name}: best {best:.0f} bound {bound:.0f} {status}", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
