"""Routing benchmark: TSPLIB (distance), Chao TOP (priority), Solomon as TOPTW (PyVRP vs OR-Tools).

Run ``python benchmarks/routing.py --quick`` (subsets) or without ``--quick`` (everything; long);
``--parts chao --chao-all --solvers pyvrp --out benchmarks/results/routing_chao_all.json`` runs all
387 Chao instances once (about 25 min of CPU); ``--seeds 0,1,2,3,4`` repeats every run per seed
and reports each instance's spread; ``--chao-shard 0/2`` and ``--chao-shard 1/2`` split a run over
two processes and ``--join a.json,b.json --out c.json`` writes their Chao rows as one result
(with ``--merge``, into an existing result whose TSPLIB and Solomon parts are kept). Every
solution is checked with :func:`geo.routing.check_solution`; a violation counts as a failure.
Results: a table on stdout and ``benchmarks/results/routing.json``.
Each PyVRP row records how its search ended (``search``: iterations, or kicks of the free-path
search, and ``budget``/``stall``/``time``): a run ended by its budget or stall is reproducible,
one ended by the clock may not be. The limits are CPU seconds of the solving process
(:class:`geo.routing.ils.Deadline`; the machine is shared, so wall-clock limits measured the
load, not the solver); ``--wall-guard`` (default 10) sets how many times the limit a run may
take in wall-clock seconds before it is cut. Rows record both ``time_s`` (wall) and ``cpu_s``.

* TSPLIB: 12 symmetric instances, EUC_2D nint-rounded matrix, ``distance`` objective with a
  matrix (the depot is city 1). Gap to the proven optimum. One team visiting every stop in any
  order: PyVRP's back-end hands it to the free-path search (:mod:`geo.routing.tsp`).
* Chao TOP (sets 1–7, 2–4 teams): first point = start, last = end, budget tmax = shift length at
  speed 1, score = priority. Score / best known score (instances with best known 0 count 100%
  when the score is 0). ``bks.csv`` holds Chao et al.'s 1996 scores; some are not reachable with
  unrounded Euclidean distances (:data:`BKS_NOTES`), so their ratio stays below 100 %.
* Solomon (C/R/RC, 1 and 2) as TOPTW: priority = demand, capacity dropped, 2 or 4 teams leaving
  the depot within its horizon; both solvers at the same time limit, side by side.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import machine_info  # noqa: E402

from geo.errors import InfeasibleError, XunchaError  # noqa: E402
from geo.routing import check_solution, parse_patrol_problem, solve_patrol  # noqa: E402
from geo.routing import ils as routing_ils  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench"
LIMITS = ("CPU seconds of the solving process; PyVRP's searches end by their iteration or move "
          "budget, with a cap at 1.5× the limit")
OUT = ROOT / "benchmarks" / "results" / "routing.json"
#: Chao instances whose bks.csv score is out of reach with unrounded distances.
#: CP-SAT (OR-Tools) on the model with every distance rounded *down* to 1e-4 — a relaxation,
#: so its proven optimum bounds the true one from above.
#: ``exact``: every maximal stop set one route can serve, enumerated with unrounded distances, and
#: a MILP over them (``python benchmarks/_routing_exact.py --sets NAME``); it gives bks.csv's score
#: on p1.3.n, p1.3.q, p1.4.o, p2.3.k, p5.3.h, p6.4.j and p6.4.l.
BKS_NOTES = {
    "p1.3.h": "optimum 70 (CP-SAT proof on the relaxation; exact: 70); bks.csv has Chao's 75",
    "p1.3.o": "optimum 205 (exact route sets + MILP); bks.csv has Chao's 215",
    "p2.3.h": "optimum 165 (CP-SAT proof on the relaxation; exact: 165); bks.csv has Chao's 170",
    "p5.3.e": "optimum 95 (CP-SAT proof on the relaxation; exact: 95); bks.csv has Chao's 110",
    "p6.4.k": "optimum 528 (exact route sets + MILP); bks.csv has Chao's 546",
}
#: The proven optima of those instances: rows also carry ``ref`` (this, else bks.csv's score) and
#: ``ratio_ref`` = score / ref; the summary gives both ratios.
OPTIMA = {"p1.3.h": 70.0, "p1.3.o": 205.0, "p2.3.h": 165.0, "p5.3.e": 95.0, "p6.4.k": 528.0}


def _ref_fields(row: dict[str, Any]) -> dict[str, Any]:
    """``ref``, ``ratio_ref`` and ``bks_note`` of a Chao row (see :data:`OPTIMA`)."""
    name = row["instance"]
    ref = OPTIMA.get(name, float(row["bks"]))
    ratio = (1.0 if ref == 0 else float(row["priority"]) / ref) if row["ok"] else 0.0
    return {"ref": ref, "ratio_ref": ratio} | (
        {"bks_note": BKS_NOTES[name]} if name in BKS_NOTES else {})


class _LastSearch(logging.Handler):
    """Keeps the router's last 'N iterations (kicks), stopped by X' debug message."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.last = record.getMessage()


_SEARCH = _LastSearch()
logging.getLogger("geo.routing").addHandler(_SEARCH)
logging.getLogger("geo.routing").setLevel(logging.DEBUG)


def _run(problem: dict[str, Any], solver: str, limit: float, seed: int = 0) -> dict[str, Any]:
    t, cpu = time.perf_counter(), time.process_time()
    _SEARCH.last = ""
    try:
        parsed = parse_patrol_problem(problem)
        sol = solve_patrol(parsed, solver=solver, time_limit_s=limit, seed=seed)
    except XunchaError as exc:
        return {"ok": False, "infeasible": isinstance(exc, InfeasibleError),
                "error": str(exc)[:200], "time_s": time.perf_counter() - t,
                "cpu_s": time.process_time() - cpu, "priority": 0.0, "seed": seed}
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    errors = check_solution(parsed, sol)
    return {"ok": not errors, "errors": errors[:3], "time_s": elapsed, "cpu_s": cpu,
            "priority": sol["priority_total"], "distance": sol["distance_total_m"], "seed": seed,
            "search": _SEARCH.last.removeprefix("PyVRP search: ").removeprefix("path search: ")}


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def read_tsp(path: Path) -> np.ndarray:
    """Node coordinates of a TSPLIB EUC_2D file."""
    lines = path.read_text().splitlines()
    start = next(i for i, x in enumerate(lines) if x.strip().startswith("NODE_COORD_SECTION"))
    pts = []
    for line in lines[start + 1:]:
        if line.strip() in ("EOF", ""):
            break
        _, x, y = line.split()[:3]
        pts.append((float(x), float(y)))
    return np.array(pts)


def tsp_problem(xy: np.ndarray) -> dict[str, Any]:
    """TSPLIB instance as a ``distance`` patrol problem with an nint-rounded matrix."""
    diff = xy[:, None, :] - xy[None, :, :]
    mat = np.floor(np.hypot(diff[..., 0], diff[..., 1]) + 0.5)
    ids = ["depot"] + [f"c{i}" for i in range(1, len(xy))]
    return {"teams": [{"id": "T", "start": "depot", "end": "depot", "shift_s": [0, 1e8],
                       "speed_mps": 1.0}],
            "sites": [{"id": "depot"}], "stops": [{"id": i} for i in ids[1:]],
            "travel": {"metric": "matrix", "ids": ids, "seconds": mat.tolist()},
            "objective": "distance"}


def bench_tsplib(solvers: list[str], limit: float, seeds: list[int]) -> list[dict[str, Any]]:
    optima = {r["instance"]: float(r["optimum"])
              for r in _csv(BENCH / "tsplib" / "known_optima.csv")}
    rows = []
    for name, opt in sorted(optima.items(), key=lambda kv: kv[1]):
        problem = tsp_problem(read_tsp(BENCH / "tsplib" / f"{name}.tsp"))
        for solver, seed in ((a, b) for a in solvers for b in seeds):
            r = _run(problem, solver, limit, seed)
            gap = (r["distance"] - opt) / opt * 100 if r["ok"] else None
            rows.append({"instance": name, "solver": solver, "optimum": opt, "gap_pct": gap, **r})
            print(f"tsplib {name:9s} {solver:8s} opt {opt:9.0f} got {r.get('distance', 0):9.0f} "
                  f"gap {gap if gap is None else round(gap, 3)}% {r['time_s']:.1f}s", flush=True)
    return rows


def chao_problem(path: Path) -> dict[str, Any]:
    """Chao TOP instance: first point start, last point end, tmax = shift length at speed 1."""
    lines = path.read_text().split("\n")
    m = int(lines[1].split()[1])
    tmax = float(lines[2].split()[1])
    pts = np.array([[float(v) for v in ln.split()] for ln in lines[3:] if ln.strip()])
    teams = [{"id": f"T{k}", "start": "S", "end": "E", "shift_s": [0, tmax], "speed_mps": 1.0}
             for k in range(m)]
    sites = [{"id": "S", "x": pts[0, 0], "y": pts[0, 1]}, {"id": "E", "x": pts[-1, 0], "y": pts[-1, 1]}]
    stops = [{"id": f"p{i}", "x": x, "y": y, "priority": s} for i, (x, y, s) in enumerate(pts[1:-1])]
    return {"teams": teams, "sites": sites, "stops": stops, "objective": "priority"}


def bench_chao(solvers: list[str], limit: float, every: int,
               extra: tuple[str, ...] = (), seeds: tuple[int, ...] = (0,),
               only: tuple[str, ...] = (), shard: tuple[int, int] = (0, 1)) -> list[dict[str, Any]]:
    bks = {r["instance"]: float(r["bks_score"])
           for r in _csv(BENCH / "top_chao" / "bks.csv")}
    files = sorted(BENCH.glob("top_chao/Set_*_234/*.txt"))
    rows = []
    for k, path in enumerate(files):
        name = path.name.removesuffix(".txt")
        if (k % every and name not in extra) or name not in bks or (only and name not in only):
            continue
        if k % shard[1] != shard[0]:
            continue
        problem = chao_problem(path)
        for solver, seed in ((a, b) for a in solvers for b in seeds):
            r = _run(problem, solver, limit, seed)
            best = bks[name]
            if best == 0 and r.get("infeasible"):
                r["ok"] = True  # no team can even go start -> end within tmax: score 0 is right
            ratio = (1.0 if best == 0 else r["priority"] / best) if r["ok"] else 0.0
            row = {"instance": name, "solver": solver, "bks": best, "ratio": ratio, **r}
            rows.append(row | _ref_fields(row))
            print(f"chao {name:9s} {solver:8s} seed {seed} bks {best:5.0f} "
                  f"got {r.get('priority', 0):5.0f} {ratio * 100:6.2f}% {r['time_s']:.1f}s "
                  f"{r.get('search', '')}", flush=True)
    return rows


def solomon_problem(path: Path, teams: int) -> dict[str, Any]:
    """Solomon VRPTW as TOPTW: priority = demand, no capacity, depot horizon = shift."""
    rows = [ln.split() for ln in path.read_text().splitlines()]
    data = np.array([[float(v) for v in r] for r in rows if len(r) == 7 and r[0].isdigit()])
    depot = data[0]
    shift = [float(depot[4]), float(depot[5])]
    return {"teams": [{"id": f"T{k}", "start": "D", "end": "D", "shift_s": shift, "speed_mps": 1.0}
                      for k in range(teams)],
            "sites": [{"id": "D", "x": depot[1], "y": depot[2]}],
            "stops": [{"id": f"c{int(r[0])}", "x": r[1], "y": r[2], "priority": r[3],
                       "windows_s": [[r[4], r[5]]], "service_s": r[6]} for r in data[1:]],
            "objective": "priority"}


def bench_solomon(solvers: list[str], limit: float, names: list[str],
                  team_counts: list[int]) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        for m in team_counts:
            problem = solomon_problem(BENCH / "solomon" / f"{name}.txt", m)
            for solver in solvers:
                r = _run(problem, solver, limit)
                rows.append({"instance": name, "teams": m, "solver": solver, **r})
                print(f"solomon {name:6s} m={m} {solver:8s} prio {r.get('priority', 0):6.0f} "
                      f"dist {r.get('distance', 0):8.1f} {r['time_s']:.1f}s ok={r['ok']}", flush=True)
    return rows


def _summary(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for solver in sorted({r["solver"] for r in rows}):
        sub = [r for r in rows if r["solver"] == solver]
        vals = [r[key] for r in sub if r.get(key) is not None]
        per: dict[str, list[float]] = {}
        for r in sub:
            per.setdefault(r["instance"], []).append(float(r.get(key) or 0.0))
        spread = max((max(v) - min(v) for v in per.values()), default=0.0)
        scale = 100.0 if key == "ratio" else 1.0
        below = sum(min(v) < 0.97 for v in per.values()) if key == "ratio" else 0
        out[solver] = {"n": len(sub), "instances": len(per), "failed": sum(not r["ok"] for r in sub),
                       "max_spread_points": spread * scale, "instances_below_97pct": below,
                       "clock_stopped": sum("time" in str(r.get("search", "")) for r in sub),
                       f"mean_{key}": float(np.mean(vals)) if vals else float("nan"),
                       f"worst_{key}": float(max(vals) if key == "gap_pct" else min(vals)) if vals else float("nan"),
                       "mean_time_s": float(np.mean([r["time_s"] for r in sub])),
                       "mean_cpu_s": float(np.nanmean([r.get("cpu_s", np.nan) for r in sub]))}
        if key == "ratio" and all("ratio_ref" in r for r in sub):
            ref: dict[str, list[float]] = {}
            for r in sub:
                ref.setdefault(r["instance"], []).append(float(r["ratio_ref"]))
            out[solver] |= {"mean_ratio_ref": float(np.mean([r["ratio_ref"] for r in sub])),
                            "worst_ratio_ref": float(min(r["ratio_ref"] for r in sub)),
                            "instances_below_97pct_ref": sum(min(v) < 0.97 for v in ref.values())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="representative subsets")
    ap.add_argument("--parts", default="tsplib,chao,solomon")
    ap.add_argument("--solvers", default="pyvrp,ortools")
    ap.add_argument("--chao-every", type=int, default=None, help="run every k-th Chao instance")
    ap.add_argument("--chao-extra", default="", help="Chao instances to run besides every k-th")
    ap.add_argument("--chao-solvers", default=None, help="solvers for Chao (default --solvers)")
    ap.add_argument("--chao-all", action="store_true", help="every Chao instance (387)")
    ap.add_argument("--chao-only", default="", help="only these Chao instances (comma list)")
    ap.add_argument("--chao-shard", default="0/1",
                    help="i/n: only the Chao instances whose file index is i modulo n (parallel runs; "
                         "join their JSON files with --join)")
    ap.add_argument("--join", default="",
                    help="comma list of result files of shards: write their Chao rows together to --out")
    ap.add_argument("--seeds", default="0", help="seeds, comma list (spread per instance)")
    ap.add_argument("--out", default=str(OUT), help="JSON output path")
    ap.add_argument("--merge", action="store_true",
                    help="keep the parts of an existing --out file that this run (or --join) "
                         "does not redo")
    ap.add_argument("--wall-guard", type=float, default=10.0,
                    help="a run may take this many times its CPU limit in wall-clock seconds")
    args = ap.parse_args()
    if args.join:
        _join([Path(x) for x in args.join.split(",")], Path(args.out), merge=args.merge)
        return
    routing_ils.WALL_GUARD = args.wall_guard
    solvers = args.solvers.split(",")
    parts = args.parts.split(",")
    every = 1 if args.chao_all else args.chao_every or (6 if args.quick else 1)
    seeds = [int(x) for x in args.seeds.split(",")]
    only = tuple(x for x in args.chao_only.split(",") if x)
    extra = tuple(x for x in args.chao_extra.split(",") if x)
    chao_solvers = args.chao_solvers.split(",") if args.chao_solvers else solvers
    result: dict[str, Any] = {"machine": machine_info(), "quick": args.quick,
                              "solvers": solvers, "chao_every": every, "chao_extra": list(extra),
                              "chao_solvers": chao_solvers, "seeds": seeds,
                              "chao_only": list(only), "load_before": _load(),
                              "limits": LIMITS,
                              "wall_guard": args.wall_guard}
    started = time.perf_counter()
    if "tsplib" in parts:
        rows = bench_tsplib(solvers, 5.0, seeds)
        result["tsplib"] = {"time_limit_s": 5.0, "rows": rows, "summary": _summary(rows, "gap_pct")}
    if "chao" in parts:
        i, n = (int(x) for x in args.chao_shard.split("/"))
        rows = bench_chao(chao_solvers, 10.0, every, extra, tuple(seeds), only, (i, n))
        result["chao"] = {"time_limit_s": 10.0, "rows": rows, "summary": _summary(rows, "ratio")}
    if "solomon" in parts:
        names = (["c101", "c201", "r101", "r201", "rc101", "rc201"] if args.quick else
                 sorted(p.stem for p in (BENCH / "solomon").glob("[cr]*.txt")))
        counts = [2, 4] if args.quick else [2, 3, 4]
        rows = bench_solomon(solvers, 5.0, names, counts)
        result["solomon"] = {"time_limit_s": 5.0, "rows": rows, "compare": _compare(rows)}
    result["load_after"] = _load()
    result["wall_s"] = time.perf_counter() - started
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for part in ("tsplib", "chao", "solomon"):
        if part in result:
            result[part]["run"] = {"machine": result["machine"], "seeds": seeds,
                                   "wall_s": result["wall_s"], "load": result["load_before"]}
    if args.merge and out.exists():
        kept = {k: v for k, v in json.loads(out.read_text()).items()
                if k in ("tsplib", "chao", "solomon") and k not in result}
        result = kept | result
    out.write_text(json.dumps(result, indent=1, default=float))
    _print_table(result)
    print(f"written {out}")


def _join(paths: list[Path], out: Path, *, merge: bool = False) -> None:
    """One result file from the Chao shards in ``paths`` (rows joined, summary recomputed).

    With ``merge``, the TSPLIB and Solomon parts of an existing ``out`` are kept.
    """
    parts = [json.loads(p.read_text()) for p in paths]
    result = dict(parts[0])
    if merge and out.exists():
        result |= {k: v for k, v in json.loads(out.read_text()).items()
                   if k in ("tsplib", "solomon")}
    rows = sorted((r | _ref_fields(r) for d in parts for r in d["chao"]["rows"]),
                  key=lambda r: (r["instance"], r["solver"], r["seed"]))
    run = dict(parts[0]["chao"]["run"])
    run["wall_s"] = max(d["chao"]["run"]["wall_s"] for d in parts)
    if len(parts) > 1:
        run["note"] = f"{len(parts)} shards run side by side; wall = the longest shard"
    result["chao"] = {"time_limit_s": parts[0]["chao"]["time_limit_s"], "rows": rows,
                      "summary": _summary(rows, "ratio"), "run": run}
    result["wall_s"] = run["wall_s"]
    result["load_after"] = parts[-1].get("load_after", [])
    out.write_text(json.dumps(result, indent=1, default=float))
    _print_table(result)
    print(f"written {out}")


def _load() -> list[float]:
    """1/5/15-minute load averages (the machine is shared; wall-clock limits feel the load)."""
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def _compare(rows: list[dict[str, Any]]) -> dict[str, float]:
    by = {(r["instance"], r["teams"], r["solver"]): r for r in rows}
    keys = {(r["instance"], r["teams"]) for r in rows}
    a_wins = b_wins = ties = 0
    ratios = []
    for key in keys:
        a, b = by.get((*key, "pyvrp")), by.get((*key, "ortools"))
        if not a or not b or not a["ok"] or not b["ok"]:
            continue
        ratios.append(b["priority"] / a["priority"] if a["priority"] else 1.0)
        a_wins += a["priority"] > b["priority"]
        b_wins += b["priority"] > a["priority"]
        ties += a["priority"] == b["priority"]
    return {"pairs": len(ratios), "pyvrp_better": a_wins, "ortools_better": b_wins, "ties": ties,
            "mean_ortools_over_pyvrp": float(np.mean(ratios)) if ratios else float("nan")}


def _print_table(result: dict[str, Any]) -> None:
    print("\n== summary ==")
    for part, key in (("tsplib", "gap_pct"), ("chao", "ratio")):
        if part in result:
            for solver, s in result[part]["summary"].items():
                print(f"{part:8s} {solver:8s} n={s['n']:4d} failed={s['failed']} "
                      f"mean_{key}={s[f'mean_{key}']:.4f} worst={s[f'worst_{key}']:.4f} "
                      f"mean_time={s['mean_time_s']:.2f}s cpu={s['mean_cpu_s']:.2f}s "
                      f"spread={s['max_spread_points']:.2f} below97={s['instances_below_97pct']} "
                      f"clock_stopped={s['clock_stopped']}")
                if "mean_ratio_ref" in s:
                    print(f"{'':8s} {'':8s} against proven optima where bks.csv is out of reach: "
                          f"mean={s['mean_ratio_ref']:.4f} worst={s['worst_ratio_ref']:.4f} "
                          f"below97={s['instances_below_97pct_ref']}")
    if "solomon" in result:
        print("solomon ", result["solomon"]["compare"])
    print(f"wall time {result.get('wall_s', 0.0):.0f} s, load {result['load_before']} -> "
          f"{result['load_after']}")


if __name__ == "__main__":
    main()
