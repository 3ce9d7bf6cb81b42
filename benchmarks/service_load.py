"""Load test of ``xuncha serve`` on loopback: a realistic mix of leaders, officers and analysts.

Usage (from a fresh clone, after ``bash scripts/setup.sh``)::

    .venv/bin/python benchmarks/service_load.py            # SQLite, 22k cases, 2 workers, 10/50/200
    .venv/bin/python benchmarks/service_load.py --backend postgis --workers 4 --cases 1000000
    .venv/bin/python benchmarks/service_load.py --full     # the whole matrix (quiet machine: ~1 h)
    .venv/bin/python benchmarks/service_load.py --database-url sqlite:///big.db   # an existing db

1. Seeds a fresh database (SQLite in a temp folder, or a new PostGIS database on ``--postgis-url``
   that is dropped afterwards) with a simulated year up to today (``geo.simulate``): 22k cases are
   written as a CSV and imported with ``service.importer.import_file`` as ``xuncha demo`` does;
   1M cases (45 simulated years of Xiaonan laid on the same year, ``B<k>-`` case ids) go through
   ``import_table`` in 100k-row transactions (the bulk path; its time is reported).
2. Starts ``xuncha serve --workers N`` (``python -m service.cli serve``) on 127.0.0.1 and makes
   today's plan of every squad once, as the first morning visit would.
3. For each client level (``--clients``, default 10,50) every client signs in once
   (``POST /api/auth/token``, timed apart) and then sends requests for ``--seconds`` (closed loop,
   keep-alive) drawn from its persona's weights: squad leaders (dashboard page, case pans with
   random bboxes, squad + month list, route-sheet PDF), officers (route-sheet HTML, pans) and
   analysts (OGC items with a bbox, pans, squad + month). Two load generators:
   ``wrk`` (C, when installed: the clients are split over the endpoints in proportion to the
   weights, one ``wrk`` per endpoint, all at once) or the built-in asyncio HTTP/1.1 client (each
   client draws its next request from its weights); ``--client`` chooses, the result says which.
4. Reports p50/p95/p99/max, requests and errors (any status but 200, timeouts, resets) per
   endpoint and level, and the server's CPU seconds per request (psutil over the server's process
   tree; on PostGIS also the database backends serving it, ``db_cpu``). Before the levels each
   endpoint runs alone for ``--cpu-seconds`` (4 clients): its server CPU per request, the number
   that says what the machine could serve unloaded (requests/s per core = 1 / CPU s per
   request), whatever else runs on a shared machine. Optional: ``--soak S`` (50 clients of the mix for S seconds, RSS sampled) and
   ``--import-rows N`` (a CSV upload while 10 clients read; lost rows, slowest read).

Targets (issues 6, 14): p99 < 100 ms at 50 clients for the case list (bbox + month), squad + month
and OGC items, PostGIS with 4 workers and SQLite with 2, at 22k and 1M cases; no errors; sheet
PDF p99 < 1 s. Results are merged into ``benchmarks/results/service_load.json`` (one entry per
backend/cases/workers/client); ``benchmarks/report.py`` renders it. Only 127.0.0.1 is contacted.
"""


from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load_clients import run_python, run_wrk, summary
from _load_setup import (
    CASE_COLUMNS,
    PERSONAS,
    POSTGIS_URL,
    SQUADS,
    TZ,
    Pick,
    ServerCpu,
    auth_headers,
    clients_of,
    database,
    endpoints,
    existing,
    seed,
    server_rss_mb,
    sign_in,
    start_server,
    stop_server,
)
from _machine import machine_info

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_ENDPOINTS = ("cases_bbox_month", "cases_squad_month", "ogc_items")
TARGETS = {"p99_ms_at_50_clients": 100.0, "sheet_pdf_p99_ms": 1000.0, "errors": 0}
Eps = dict[str, Callable[[str], Pick]]

# ----------------------------------------------------------------------------- one level, one run
def run_level(base: str, port: int, n: int, eps: Eps, seconds: float,
              client: str, meter: ServerCpu, folder: Path) -> dict[str, Any]:
    """``n`` clients sign in once, then send their mix for ``seconds``; stats per endpoint."""
    plan, signs = [], []
    for persona, squad, user in clients_of(n):
        tok, s = sign_in(base, user)
        signs.append(s)
        plan.append((tok, [(name, w, eps[name](squad)) for name, w in PERSONAS[persona].items()]))
    meter.start()
    p0, t0 = time.process_time(), time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    conns: dict[str, int] | None = None
    if client == "wrk":
        rows, conns = run_wrk(port, plan, seconds, folder)
        elapsed = time.perf_counter() - t0
    else:
        lat, err = run_python(port, plan, seconds)
        elapsed = time.perf_counter() - t0
        rows = {k: summary(lat[k], err.get(k, 0), elapsed) for k in sorted(lat)}
    cpu, db_cpu = meter.stop()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (time.process_time() - p0) + (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    total = sum(r["requests"] for r in rows.values())
    return {"clients": n, "seconds": round(elapsed, 1), "endpoints": rows, "requests": total,
            "errors": sum(r["errors"] for r in rows.values()),
            "server_cpu_s": round(cpu, 1), "db_cpu_s": round(db_cpu, 1),
            "server_cpu_ms_per_request": round(cpu / max(total, 1) * 1000, 2),
            "db_cpu_ms_per_request": round(db_cpu / max(total, 1) * 1000, 2),
            "client_cpu_ms_per_request": round(client_cpu / max(total, 1) * 1000, 3),
            "sign_in": summary(signs, 0, sum(signs)), "load_avg": round(os.getloadavg()[0], 2),
            **({"wrk_connections": conns} if conns else {})}


def check(levels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Issue 14's targets on these levels (the p99 target is judged at 50 clients)."""
    at50 = levels.get("50", {}).get("endpoints", {})
    def under(row: dict[str, Any] | None, limit_ms: float) -> bool | None:
        if row is None:
            return None  # level not run
        return row["p99_ms"] is not None and row["p99_ms"] < limit_ms  # no answer: not met

    out: dict[str, Any] = {f"{e}_p99_under_100ms_at_50": under(at50.get(e) if at50 else None, 100)
                           for e in TARGET_ENDPOINTS}
    out["no_errors"] = all(lv["errors"] == 0 for lv in levels.values())
    pdf = [under(lv["endpoints"].get("sheet_pdf", {"p99_ms": None}), 1000)
           for k, lv in levels.items() if int(k) <= 50]
    out["sheet_pdf_p99_under_1s"] = all(pdf) if pdf else None
    return out


def soak(base: str, port: int, eps: Eps, seconds: float,
         client: str, meter: ServerCpu, folder: Path) -> dict[str, Any]:
    """50 clients of the mix for ``seconds`` while the server's RSS is sampled every 2 s."""
    import threading

    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(server_rss_mb(meter.proc))
            done.wait(2.0)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    level = run_level(base, port, 50, eps, seconds, client, meter, folder)
    done.set()
    th.join()
    k = max(1, len(samples) // 5)
    return {"seconds": seconds, "requests": level["requests"], "errors": level["errors"],
            "rss_start_mb": round(float(np.mean(samples[:k])), 1),
            "rss_end_mb": round(float(np.mean(samples[-k:])), 1),
            "rss_max_mb": round(max(samples), 1), "endpoints": level["endpoints"]}


def import_under_load(base: str, port: int, eps: Eps, rows: int,
                      today: dt.date) -> dict[str, Any]:
    """Upload a ``rows``-row CSV while 10 clients read (python client); lost rows, slowest read."""
    import threading

    from geo.boundaries import load_default
    from geo.simulate.generator import simulate_cases

    cases, _ = simulate_cases(load_default(), start=(today - dt.timedelta(days=364)).isoformat())
    big = pd.concat([cases] * -(-rows // len(cases)), ignore_index=True).iloc[:rows].copy()
    big["case_id"] = [f"LOAD{i:07d}" for i in range(len(big))]
    data = big[CASE_COLUMNS[:7]].to_csv(index=False).encode()
    tok, _ = sign_in(base, "analyst")
    auth = {"Authorization": f"Bearer {tok}"}

    def total() -> int:
        resp = httpx.get(f"{base}/api/cases", params={"limit": 1}, headers=auth, timeout=60)
        return int(resp.json()["numberMatched"])

    before, result = total(), dict[str, Any]()

    def upload() -> None:
        t0 = time.perf_counter()
        resp = httpx.post(f"{base}/api/cases/import", headers=auth, timeout=1800,
                          files={"file": ("load.csv", data, "text/csv")})
        result.update(import_s=round(time.perf_counter() - t0, 1), status=resp.status_code)

    plan = [(sign_in(base, user)[0], [(n, w, eps[n](sq)) for n, w in PERSONAS[p].items()])
            for p, sq, user in clients_of(10)]
    th = threading.Thread(target=upload)
    th.start()
    lat: list[float] = []
    errors = 0
    while th.is_alive():
        part, err = run_python(port, plan, 2.0)
        lat += [v for vs in part.values() for v in vs]
        errors += sum(err.values())
    th.join()
    stored = total() - before
    return {"rows": rows, "file_mb": round(len(data) / 2**20, 1), **result, "stored_delta": stored,
            "lost_rows": rows - stored, "readers": summary(lat, errors, 1.0),
            "reads_over_1s": sum(v > 1.0 for v in lat)}


def settle(meter: ServerCpu, *, busy: float = 0.05, limit_s: float = 20.0) -> None:
    """Wait (at most ``limit_s``) until the server uses under ``busy`` of a core (background work
    of earlier requests done), so the next measurement is its own."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        meter.start()
        time.sleep(0.5)
        if sum(meter.stop()) < busy * 0.5:
            return


def cpu_per_endpoint(base: str, port: int, eps: Eps, seconds: float,
                     meter: ServerCpu) -> dict[str, dict[str, Any]]:
    """Each endpoint alone, 4 clients (leaders; the analyst for OGC items) for ``seconds``: the
    server's (and database's) CPU per request and the requests/s one core could serve."""
    out: dict[str, dict[str, Any]] = {}
    order = [*TARGET_ENDPOINTS, *(e for e in eps if e not in TARGET_ENDPOINTS)]
    for name, make in ((e, eps[e]) for e in order):  # heavy pages last: work they leave behind
        settle(meter)                                  # would land on the next endpoint

        users = ["analyst"] * 4 if name == "ogc_items" else \
            [f"leader_{sq}" for sq in SQUADS[:4]]
        plan = [(sign_in(base, u)[0], [(name, 1, make(SQUADS[i]))]) for i, u in enumerate(users)]
        meter.start()
        lat, err = run_python(port, plan, seconds)
        cpu, db = meter.stop()
        n = len(lat.get(name, []))
        per = (cpu + db) / max(n, 1)
        out[name] = {"requests": n, "errors": err.get(name, 0),
                     "server_cpu_ms": round(cpu / max(n, 1) * 1000, 2),
                     "db_cpu_ms": round(db / max(n, 1) * 1000, 2),
                     "requests_per_core_s": round(1 / per, 1) if n and per > 0 else None}
        print(f"  {name:20s} alone: {n:5d} requests, server CPU {out[name]['server_cpu_ms']:6.2f} "
              f"ms/req, db {out[name]['db_cpu_ms']:5.2f} ms/req → "
              f"{out[name]['requests_per_core_s']} req/s per core", flush=True)
    return out


def warm_up(base: str, eps: Eps) -> dict[str, float]:
    """Each endpoint once per squad before the levels (the first PDF of a day is rendered, later
    ones come from the sheet cache); returns the slowest first request per endpoint (s)."""
    slowest: dict[str, float] = {}
    rng = random.Random(0)
    for sq in SQUADS:
        auth = auth_headers(sign_in(base, f"leader_{sq}")[0])
        for name, make in eps.items():
            t0 = time.perf_counter()
            httpx.get(base + make(sq)(rng), headers=auth, timeout=600).raise_for_status()
            slowest[name] = max(slowest.get(name, 0.0), round(time.perf_counter() - t0, 2))
    return slowest


def run_config(args: argparse.Namespace, backend: str, n_cases: int, workers: int,
               levels_n: list[int], client: str) -> dict[str, Any]:
    """Seed, serve, warm today's plans, run every client level (and the optional extras)."""
    today = dt.datetime.now(ZoneInfo(TZ)).date()
    with tempfile.TemporaryDirectory() as tmp, database(backend, Path(tmp), args.postgis_url,
                                                        args.database_url) as url:
        folder = Path(tmp)
        info = existing(url) if args.database_url else seed(url, n_cases, today, folder)
        eps = endpoints(info.pop("boxes"), today)
        t0 = time.perf_counter()
        server = start_server(url, args.port, workers, folder / "server.log")
        run: dict[str, Any] = {"machine": machine_info(), "backend": backend, "cases": info["cases"],
                               "workers": workers, "client": client, "seed": info,
                               "server_start_s": round(time.perf_counter() - t0, 1),
                               "seconds_per_level": args.seconds, "day": today.isoformat(),
                               "command": " ".join(["python", *sys.argv]), "levels": {}}
        try:
            meter = ServerCpu(psutil.Process(server.pid), url)
            base = f"http://127.0.0.1:{args.port}"
            auth = auth_headers(sign_in(base, "analyst")[0])
            t0 = time.perf_counter()
            for sq in SQUADS:  # today's plans, as the first morning visit makes them
                httpx.get(f"{base}/api/plans/{sq}/{today}", headers=auth, timeout=600).raise_for_status()
            run["plans_s"] = round(time.perf_counter() - t0, 1)
            run["first_requests_s"] = warm_up(base, eps)
            if args.cpu_seconds:
                run["cpu_per_endpoint"] = cpu_per_endpoint(base, args.port, eps,
                                                           args.cpu_seconds, meter)
            for n in levels_n:
                level = run_level(base, args.port, n, eps, args.seconds, client, meter, folder)
                run["levels"][str(n)] = level
                print_level(f"{backend} {info['cases']:,} cases, {workers} workers, {client}", level,
                            run.get("cpu_per_endpoint"))
            if args.soak:
                run["soak"] = soak(base, args.port, eps, args.soak, client, meter, folder)
                print("soak", {k: v for k, v in run["soak"].items() if k != "endpoints"})
            if args.import_rows:
                run["import_under_load"] = import_under_load(base, args.port, eps,
                                                             args.import_rows, today)
                print("import under load", run["import_under_load"])
        finally:
            stop_server(server)
    run["targets_met"] = check(run["levels"])
    return run


def print_level(title: str, level: dict[str, Any], cpu: dict[str, Any] | None = None) -> None:
    """The endpoint table of one level (with each endpoint's CPU per request, measured alone)."""
    print(f"\n{title} — {level['clients']} clients, {level['seconds']:.0f} s, server CPU "
          f"{level['server_cpu_ms_per_request']:.2f} ms/request, load {level['load_avg']:.1f}")
    print(f"  {'endpoint':20s} {'requests':>8s} {'errors':>6s} {'p50':>7s} {'p95':>7s} "
          f"{'p99':>7s} {'max':>7s} {'req/s':>7s} {'cpu/req':>8s} {'req/s/core':>10s}  (ms)")
    def ms(v: float | None) -> str:
        return f"{v:7.1f}" if v is not None else f"{'–':>7s}"

    rows = [*level["endpoints"].items(), ("(sign-in, once)", level["sign_in"])]
    for name, r in rows:
        alone = (cpu or {}).get(name)
        per = f"{alone['server_cpu_ms'] + alone['db_cpu_ms']:8.2f} " \
              f"{alone['requests_per_core_s'] or 0:10.0f}" if alone else f"{'':8s} {'':10s}"
        print(f"  {name:20s} {r['requests']:8d} {r['errors']:6d} "
              + " ".join(ms(r[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
              + f" {r['rps']:7.1f} {per}", flush=True)


def save(out: Path, key: str, run: dict[str, Any]) -> None:
    """Merge ``run`` into the results file (an issue-6 file is kept under ``legacy_issue6``)."""
    old = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    data = old if "runs" in old else {"legacy_issue6": old} if old else {}
    data.update(machine=run["machine"], targets=TARGETS)
    data.setdefault("runs", {})[key] = run
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgis"), default="sqlite")
    ap.add_argument("--postgis-url", default=POSTGIS_URL, help="PostGIS 服务器（将新建并删除一个库）")
    ap.add_argument("--cases", type=int, default=22_000, help="22000 or 1000000 simulated cases")
    ap.add_argument("--workers", type=int, default=None, help="默认 SQLite 2、PostGIS 4")
    ap.add_argument("--database-url", default="",
                    help="an existing database (not seeded, not dropped; users added if missing)")
    ap.add_argument("--clients", default="10,50,200", help="comma-separated client levels")
    ap.add_argument("--cpu-seconds", type=float, default=3.0,
                    help="each endpoint alone this long first: CPU per request (0: skip)")
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of each level")
    ap.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                    help="load generator (auto: wrk when installed, else the asyncio client)")
    ap.add_argument("--full", action="store_true",
                    help="the matrix: SQLite (2 workers) and PostGIS (4) × 22k, 1M × 10, 50, 200")
    ap.add_argument("--soak", type=float, default=0.0, help="also a soak of this many seconds")
    ap.add_argument("--import-rows", type=int, default=0, help="also an import under load")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--out", type=Path, default=RESULTS / "service_load.json")
    args = ap.parse_args()
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    if client == "wrk" and not shutil.which("wrk"):
        sys.exit("未找到 wrk；请安装（apt-get install wrk）或改用 --client python。")
    print(f"load generator: {client}"
          + ("" if client == "wrk" else " (built-in asyncio HTTP/1.1 client; wrk not used)"))
    if args.full:
        configs = [(b, c, w) for b, w in (("sqlite", 2), ("postgis", 4)) for c in (22_000, 1_000_000)]
        levels = [10, 50, 200]
    else:
        workers = args.workers or (2 if args.backend == "sqlite" else 4)
        backend = args.backend
        if args.database_url:
            backend = "postgis" if args.database_url.startswith("postgresql") else "sqlite"
            workers = args.workers or (2 if backend == "sqlite" else 4)
        configs = [(backend, args.cases, workers)]
        levels = [int(v) for v in args.clients.split(",") if v.strip()]
    for backend, n_cases, workers in configs:
        run = run_config(args, backend, n_cases, workers, levels, client)
        size = n_cases if not args.database_url else run["cases"]
        key = f"{backend}/{size}/w{workers}/{client}"
        save(args.out, key, run)
        print(f"\n{key}: targets {run['targets_met']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
