"""Siting benchmark: OR-Library p-median (pmed1–pmed40) and MCLP on simulated stall demand.

Run ``python benchmarks/siting.py --quick`` (pmed1–pmed10, MCLP 1–10 sites) or without ``--quick``
(pmed1–pmed40; long: up to a minute per instance). Every solution is re-checked by
:func:`geo.siting.solve.evaluate_siting`-style recomputation from the chosen sites alone.
Results: a table on stdout and ``benchmarks/results/siting.json``.

* pmed: each file is a graph (``n m p`` then ``i j cost``, 1-based; when an edge appears twice the
  last one counts); all-pairs shortest paths give the cost matrix; every node is demand
  (weight 1) and candidate. Objective ÷ proven optimum, proven flag, time.
* MCLP: about 12,000 simulated stall cases around 25 market hotspots plus background in an
  8 × 6 km district, aggregated on a 50 m grid (weights = case counts); 2,120 candidates on a
  150 m grid; radius 500 m; 1…10 sites. Exact covered weight beside the plain greedy's.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import machine_info  # noqa: E402

from geo.siting.heuristics import mclp_greedy  # noqa: E402
from geo.siting.problem import SitingProblem  # noqa: E402
from geo.siting.solve import solve_matrix  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench" / "pmed"
OUT = ROOT / "benchmarks" / "results" / "siting.json"


def read_pmed(path: Path) -> tuple[np.ndarray, int]:
    """Cost matrix (all-pairs shortest paths) and p of one OR-Library pmed file."""
    tok = path.read_text().split()
    n, e, p = (int(t) for t in tok[:3])
    edges = np.array(tok[3: 3 + 3 * e], dtype=float).reshape(-1, 3)
    M = np.zeros((n, n))
    for i, j, c in edges:  # in file order: the last occurrence of an edge wins
        M[int(i) - 1, int(j) - 1] = M[int(j) - 1, int(i) - 1] = c
    return shortest_path(sp.csr_matrix(M), directed=False), p


def _problem(C: np.ndarray, w: np.ndarray, model: str, p: int, r: float | None) -> SitingProblem:
    n, m = C.shape
    return SitingProblem([str(i) for i in range(n)], [str(j) for j in range(m)], w,
                         np.full(m, np.inf), C, model, p, r)


def run_pmed(names: list[str], limit: float) -> list[dict[str, Any]]:
    """Solve each pmed instance and compare with the proven optimum."""
    with open(BENCH / "known_optima.csv", newline="") as fh:
        opt = {r["instance"]: float(r["optimum"]) for r in csv.DictReader(fh)}
    rows = []
    for name in names:
        C, p = read_pmed(BENCH / f"{name}.txt")
        res = solve_matrix(_problem(C, np.ones(len(C)), "pmedian", p, None), time_limit_s=limit)
        check = float(C[:, res.chosen].min(axis=1).sum())  # independent recomputation
        row = {"instance": name, "n": len(C), "p": p, "objective": check,
               "optimum": opt[name], "ratio": check / opt[name], "proven": res.optimal,
               "bound": res.bound, "gap": res.gap, "solver": res.solver,
               "time_s": round(res.time_s, 3), "check_ok": abs(check - res.objective) < 1e-6
               and len(set(res.chosen.tolist())) == p}
        rows.append(row)
        print(f"{name:7s} n={row['n']:4d} p={p:4d} obj={check:8.0f} opt={opt[name]:8.0f} "
              f"ratio={row['ratio']:.5f} proven={res.optimal!s:5s} {res.time_s:6.2f}s "
              f"{res.solver}", flush=True)
    return rows


def simulated_stalls(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Xiaonan-like stall demand (50 m cells, weights = counts) and a 150 m candidate grid."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform([0, 0], [8000, 6000], size=(25, 2))
    sizes = rng.pareto(1.2, 25) * 80 + 40
    pts = [c + rng.normal(0, rng.uniform(80, 300), (int(s * 3), 2)) for c, s in zip(centres, sizes,
                                                                                 strict=True)]
    pts.append(rng.uniform([0, 0], [8000, 6000], (800, 2)))
    P = np.vstack(pts)
    P = P[(P[:, 0] >= 0) & (P[:, 0] < 8000) & (P[:, 1] >= 0) & (P[:, 1] < 6000)]
    cells, counts = np.unique(np.floor(P / 50).astype(int), axis=0, return_counts=True)
    gx, gy = np.meshgrid(np.arange(75, 8000, 150), np.arange(75, 6000, 150))
    return (cells + 0.5) * 50.0, counts.astype(float), np.column_stack([gx.ravel(), gy.ravel()])


def run_mclp(k_max: int, limit: float, radius_m: float = 500.0) -> dict[str, Any]:
    """MCLP for 1…k_max sites on the simulated district; exact vs greedy covered weight."""
    D, w, Cxy = simulated_stalls()
    C = np.hypot(D[:, None, 0] - Cxy[None, :, 0], D[:, None, 1] - Cxy[None, :, 1])
    B = sp.csc_matrix(radius_m >= C)
    rows = []
    for p in range(1, k_max + 1):
        res = solve_matrix(_problem(C, w, "mclp", p, radius_m), time_limit_s=limit)
        covered = float(w[C[:, res.chosen].min(axis=1) <= radius_m].sum())  # recomputed
        g = mclp_greedy(B, w, p)
        greedy = float(w[np.asarray(B[:, g].sum(axis=1)).ravel() > 0].sum())
        rows.append({"sites": p, "covered": covered, "share": covered / float(w.sum()),
                     "greedy_covered": greedy, "proven": res.optimal, "bound": res.bound,
                     "solver": res.solver, "time_s": round(res.time_s, 3),
                     "check_ok": abs(covered - res.objective) < 1e-6})
        print(f"MCLP p={p:2d} covered={covered:8.0f} ({covered / w.sum():6.1%}) "
              f"greedy={greedy:8.0f} proven={res.optimal!s:5s} {res.time_s:6.2f}s {res.solver}",
              flush=True)
    return {"demand_points": len(D), "cases": float(w.sum()), "candidates": len(Cxy),
            "radius_m": radius_m, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="pmed1–pmed10 only")
    ap.add_argument("--time-limit-s", type=float, default=60.0)
    ap.add_argument("--only", nargs="*", help="pmed instance names to run (e.g. pmed16)")
    args = ap.parse_args()
    if not BENCH.exists():
        sys.exit(f"../shared/bench/pmed not found at {BENCH}")
    names = args.only or [f"pmed{k}" for k in range(1, 11 if args.quick else 41)]
    t0 = time.perf_counter()
    pmed = run_pmed(names, args.time_limit_s)
    mclp = run_mclp(10, args.time_limit_s)
    small = [r for r in pmed if r["n"] <= 400]
    big = [r for r in pmed if r["n"] > 400]
    summary = {
        "pmed_instances": len(pmed),
        "pmed_le400_proven_optimal": sum(r["proven"] and r["ratio"] <= 1 + 1e-9 for r in small),
        "pmed_le400": len(small),
        "pmed_gt400_within_0_5pct": sum(r["ratio"] <= 1.005 for r in big),
        "pmed_gt400": len(big),
        "pmed_max_ratio": max(r["ratio"] for r in pmed),
        "pmed_max_time_s": max(r["time_s"] for r in pmed),
        "mclp_all_proven": all(r["proven"] for r in mclp["rows"]),
        "mclp_max_time_s": max(r["time_s"] for r in mclp["rows"]),
        "all_checks_ok": all(r["check_ok"] for r in pmed + mclp["rows"]),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(summary, indent=1))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine_info(), "quick": args.quick, "time_limit_s": args.time_limit_s,
              "summary": summary, "pmed": pmed, "mclp": mclp}
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
