"""Load test of ``xuncha serve`` on loopback: a realistic mix of leaders, officers and analysts.

Usage (from a fresh clone, after ``bash scripts/setup.sh``)::

    .venv/bin/python benchmarks/service_load.py            # SQLite, 22k cases, 2 workers, 10/50 clients
    .venv/bin/python benchmarks/service_load.py --backend postgis --workers 4 --cases 1000000
    .venv/bin/python benchmarks/service_load.py --full     # the whole matrix (quiet machine: ~30 min)

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
   tree). Optional: ``--soak S`` (50 clients of the mix for S seconds, RSS sampled) and
   ``--import-rows N`` (a CSV upload while 10 clients read; lost rows, slowest read).

Targets (issues 6, 14): p99 < 100 ms at 50 clients for the case list (bbox + month), squad + month
and OGC items, PostGIS with 4 workers and SQLite with 2, at 22k and 1M cases; no errors; sheet
PDF p99 < 1 s. Results are merged into ``benchmarks/results/service_load.json`` (one entry per
backend/cases/workers/client). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info

RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "service-load-benchmark-secret-key-0123456789"
PASSWORD = "bench-password-1"
TZ = "Asia/Shanghai"
SQUADS = ("shuyuan", "xinhua", "guangchang", "chezhan", "nanda")
TARGET_ENDPOINTS = ("cases_bbox_month", "cases_squad_month", "ogc_items")
TARGETS = {"p99_ms_at_50_clients": 100.0, "sheet_pdf_p99_ms": 1000.0, "errors": 0}
POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# persona → endpoint weights (relative request shares of one client of that persona)
PERSONAS: dict[str, dict[str, int]] = {
    "leader": {"dashboard": 2, "cases_bbox_month": 4, "cases_squad_month": 3, "sheet_pdf": 1},
    "officer": {"route_sheet_html": 3, "cases_bbox_month": 2},
    "analyst": {"ogc_items": 4, "cases_bbox_month": 2, "cases_squad_month": 1},
}
PATTERN = ("leader", "officer", "leader", "officer", "analyst")  # client i → PATTERN[i % 5]
CASE_COLUMNS = ["case_id", "category", "reported_at", "lon", "lat", "description", "address",
                "source", "status", "closed_at", "community"]
Pick = Callable[[random.Random], str]


# ----------------------------------------------------------------------------- database, server
@contextmanager
def database(backend: str, folder: Path, postgis_url: str) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file in ``folder`` or a new PostGIS database."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'load.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(postgis_url), isolation_level="AUTOCOMMIT")
    name = f"xuncha_load_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgis_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str, n_cases: int, today: dt.date, folder: Path) -> dict[str, Any]:
    """Simulated cases up to ``today`` and the benchmark users; returns counts and timings."""
    from geo.boundaries import load_default
    from geo.simulate.generator import simulate_cases
    from service.auth import create_user
    from service.importer import import_file, import_table
    from service.storage import Storage

    storage = Storage(url, tz=TZ)
    storage.init()
    area, start = load_default(), (today - dt.timedelta(days=364)).isoformat()
    t0 = time.perf_counter()
    stored, path, sim_s = 0, "import_file (CSV, as xuncha demo)", 0.0
    if n_cases <= 50_000:
        cases, _ = simulate_cases(area, start=start, days=365)
        sim_s = time.perf_counter() - t0
        csv = folder / "cases_simulated.csv"
        cases[CASE_COLUMNS].to_csv(csv, index=False)
        stored = import_file(storage, csv, actor="bench").inserted
    else:
        path, k = "import_table, 100k-row transactions (bulk)", 0
        chunk: list[pd.DataFrame] = []
        while stored + sum(len(c) for c in chunk) < n_cases:
            s0 = time.perf_counter()
            cases, _ = simulate_cases(area, start=start, days=365, seed=20261128 + k)
            sim_s += time.perf_counter() - s0
            cases["case_id"] = f"B{k:02d}-" + cases["case_id"].astype(str)
            chunk.append(cases[CASE_COLUMNS].astype(str).replace({"NaT": "", "None": ""}))
            k += 1
            pending = sum(len(c) for c in chunk)
            if pending >= 100_000 or stored + pending >= n_cases:
                table = pd.concat(chunk, ignore_index=True).iloc[:n_cases - stored]
                stored += import_table(storage, table, filename=f"bulk{k}.csv", actor="bench").inserted
                chunk = []
                print(f"  seeded {stored:,} cases …", flush=True)
    seed_s = time.perf_counter() - t0
    create_user(storage, "analyst", PASSWORD, role="admin")
    for sq in SQUADS:
        create_user(storage, f"leader_{sq}", PASSWORD, role="squad_leader", squad=sq)
        create_user(storage, f"officer_{sq}", PASSWORD, role="officer", squad=sq)
    boxes = {sq: [tuple(g.bounds) for g in storage.communities(squads=(sq,)).geometry]
             for sq in SQUADS}
    storage.engine.dispose()
    print(f"seeded {stored:,} simulated cases in {seed_s:.1f} s ({path})", flush=True)
    return {"cases": stored, "seconds": round(seed_s, 1), "simulate_s": round(sim_s, 1),
            "import_path": path, "boxes": boxes}


def start_server(url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    """``xuncha serve`` on 127.0.0.1:port; returns once /health answers (and workers are up)."""
    env = {**os.environ, "XUNCHA_DATABASE_URL": url, "XUNCHA_SECRET_KEY": SECRET,
           "XUNCHA_TIMEZONE": TZ, "XUNCHA_MAX_UPLOAD_MB": "200"}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--host",
                                 "127.0.0.1", "--port", str(port), "--workers", str(workers)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"服务未能启动；请查看日志 {log}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                time.sleep(1.0 if workers > 1 else 0.0)  # let every worker come up
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"服务 120 秒内未响应 /health；请查看日志 {log}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server we started (its workers follow) and wait for it."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def server_cpu(proc: psutil.Process) -> float:
    """CPU seconds (user + system) of the server and its worker processes."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def server_rss_mb(proc: psutil.Process) -> float:
    """Resident memory (MB) of the server and its worker processes."""
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def sign_in(base: str, user: str) -> tuple[str, float]:
    """A bearer token for ``user`` and how long the sign-in took (s)."""
    t0 = time.perf_counter()
    resp = httpx.post(f"{base}/api/auth/token", data={"username": user, "password": PASSWORD},
                      timeout=60)
    resp.raise_for_status()
    return str(resp.json()["access_token"]), time.perf_counter() - t0


def auth_headers(token: str) -> dict[str, str]:
    """The token as a bearer header (API) and as the session cookie (the web pages read only that)."""
    return {"Authorization": f"Bearer {token}", "Cookie": f"xuncha_session={token}"}


# ----------------------------------------------------------------------------- the mix
def endpoints(boxes: dict[str, list[Any]], today: dt.date) -> dict[str, Callable[[str], Pick]]:
    """Endpoint name → (squad → random path) for one client of that squad."""
    day = today.isoformat()
    months = [(pd.Timestamp(today) - pd.DateOffset(months=i)).strftime("%Y-%m") for i in range(12)]
    every = [b for bs in boxes.values() for b in bs]

    def pan(rng: random.Random, pool: list[Any]) -> str:  # a map view of 0.5–3 km around a community
        x0, y0, x1, y1 = rng.choice(pool)
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        hw = rng.uniform(0.0025, 0.015)
        return f"{cx - hw:.6f},{cy - hw * 0.8:.6f},{cx + hw:.6f},{cy + hw * 0.8:.6f}"

    def q(path: str, **params: Any) -> str:
        return f"{path}?{urlencode(params)}"

    return {
        "dashboard": lambda sq: lambda r: f"/squad/{sq}",
        "cases_bbox_month": lambda sq: lambda r: q("/api/cases", bbox=pan(r, boxes.get(sq, every)),
                                                   month=r.choice(months)),
        "cases_squad_month": lambda sq: lambda r: q("/api/cases", squad=sq, month=r.choice(months)),
        "ogc_items": lambda sq: lambda r: q("/ogc/collections/cases/items", limit=100,
                                            bbox=pan(r, every)),
        "route_sheet_html": lambda sq: lambda r: f"/api/plans/{sq}/{day}/sheet.html",
        "sheet_pdf": lambda sq: lambda r: f"/api/plans/{sq}/{day}/sheet.pdf",
    }


def clients_of(n: int) -> list[tuple[str, str, str]]:
    """Client i → (persona, squad, username); analysts are district-wide (squad varies)."""
    out = []
    for i in range(n):
        persona, squad = PATTERN[i % 5], SQUADS[(i + i // 5) % 5]
        out.append((persona, squad, "analyst" if persona == "analyst" else f"{persona}_{squad}"))
    return out


def summary(lat_s: list[float], errors: int, seconds: float) -> dict[str, Any]:
    """Requests, errors, p50/p95/p99/max (ms) and req/s of one endpoint at one level."""
    lat = np.array(lat_s) * 1000
    pct = {f"p{p}_ms": round(float(np.percentile(lat, p)), 1) if lat_s else None
           for p in (50, 95, 99)}
    return {"requests": len(lat_s), "errors": errors, **pct,
            "max_ms": round(float(lat.max()), 1) if lat_s else None,
            "rps": round(len(lat_s) / seconds, 1) if seconds else 0.0}


# ----------------------------------------------------------------------------- python client
class Http:
    """A minimal keep-alive HTTP/1.1 GET client (Content-Length or chunked bodies)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode())
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        hdrs: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            k, _, v = line.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if hdrs.get("transfer-encoding") == "chunked":
            while (size := int((await self.reader.readline()).split(b";")[0], 16)) > 0:
                await self.reader.readexactly(size + 2)
            await self.reader.readline()
        else:
            await self.reader.readexactly(int(hdrs.get("content-length", "0")))
        if hdrs.get("connection") == "close":
            await self.close()
        return int(status_line.split()[1])

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _python_client(port: int, token: str, mix: list[tuple[str, int, Pick]], stop: float,
                         lat: dict[str, list[float]], err: dict[str, int], seed_: int) -> None:
    rng, http = random.Random(seed_), Http(port)
    names, weights = [m[0] for m in mix], [m[1] for m in mix]
    picks = {m[0]: m[2] for m in mix}
    headers = auth_headers(token)
    try:
        while time.perf_counter() < stop:
            name = rng.choices(names, weights)[0]
            path, t0 = picks[name](rng), time.perf_counter()
            try:
                ok = await asyncio.wait_for(http.get(path, headers), 60) == 200
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
                await http.close()
            lat.setdefault(name, []).append(time.perf_counter() - t0)
            err[name] = err.get(name, 0) + (0 if ok else 1)
    finally:
        await http.close()


def run_python(port: int, plan: list[tuple[str, list[tuple[str, int, Pick]]]], seconds: float
               ) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Every client (token, mix) for ``seconds``; in-flight requests finish."""
    lat: dict[str, list[float]] = {}
    err: dict[str, int] = {}

    async def go() -> None:
        stop = time.perf_counter() + seconds
        await asyncio.gather(*[_python_client(port, tok, mix, stop, lat, err, i)
                               for i, (tok, mix) in enumerate(plan)])

    asyncio.run(go())
    return lat, err


# ----------------------------------------------------------------------------- wrk
WRK_LUA = """
local lines, i, threads = {}, 0, {}
bad = 0
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body) if status ~= 200 then bad = bad + 1 end end
function init(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  math.randomseed(tonumber(args[2]))
  i = math.random(#lines)
end
function request()
  i = i % #lines + 1
  local tok, path = lines[i]:match("([^\\t]*)\\t(.*)")
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. tok,
                                   ["Cookie"] = "xuncha_session=" .. tok})
end
function done(summary, latency, requests)
  local e, non200 = summary.errors, 0
  for _, t in ipairs(threads) do non200 = non200 + t:get("bad") end
  io.write(string.format("RESULT %d %d %d %d %f %f %f %f\\n", summary.requests,
    non200 + e.connect + e.read + e.write, e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def split_connections(plan: list[tuple[str, list[tuple[str, int, Pick]]]]) -> dict[str, int]:
    """Clients per endpoint in proportion to the mix's request shares (each endpoint ≥ 1)."""
    share: dict[str, float] = {}
    for _tok, mix in plan:
        total = sum(w for _n, w, _p in mix)
        for n, w, _p in mix:
            share[n] = share.get(n, 0.0) + w / total
    conns = {n: max(1, int(s)) for n, s in share.items()}
    for n in sorted(share, key=lambda n: int(share[n]) - share[n]):  # largest remainders first
        if sum(conns.values()) >= len(plan):
            break
        conns[n] += 1
    return conns


def run_wrk(port: int, plan: list[tuple[str, list[tuple[str, int, Pick]]]], seconds: float,
            folder: Path) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """One ``wrk`` per endpoint at once, with pre-drawn (token, path) lines of the clients."""
    (folder / "mix.lua").write_text(WRK_LUA)
    conns, procs = split_connections(plan), {}
    rng = random.Random(len(plan))
    for name, c in conns.items():
        users = [(tok, p) for tok, mix in plan for n, _w, p in mix if n == name]
        lines = [f"{tok}\t{p(rng)}" for tok, p in (rng.choice(users) for _ in range(5000))]
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
        procs[name] = subprocess.Popen(
            ["wrk", "-t1", f"-c{c}", f"-d{seconds:.0f}s", "--timeout", "30s", "-s",
             str(folder / "mix.lua"), f"http://127.0.0.1:{port}", "--", str(folder / f"{name}.txt"),
             str(rng.randrange(1, 10**6))], stdout=subprocess.PIPE, text=True)
    rows = {}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=seconds + 120)
        line = next((ln for ln in out.splitlines() if ln.startswith("RESULT")), None)
        if line is None:
            raise RuntimeError(f"wrk 未输出结果（{name}）:\n{out}")
        n, errs, tmo, dur, p50, p95, p99, mx = (float(v) for v in line.split()[1:])
        ms = {k: round(v / 1e3, 1) if n else None
              for k, v in (("p50_ms", p50), ("p95_ms", p95), ("p99_ms", p99), ("max_ms", mx))}
        rows[name] = {"requests": int(n), "errors": int(errs + tmo), **ms,
                      "rps": round(n / (dur / 1e6), 1)}
    return rows, conns


# ----------------------------------------------------------------------------- one level, one run
def run_level(base: str, port: int, n: int, eps: dict[str, Callable[[str], Pick]], seconds: float,
              client: str, sproc: psutil.Process, folder: Path) -> dict[str, Any]:
    """``n`` clients sign in once, then send their mix for ``seconds``; stats per endpoint."""
    plan, signs = [], []
    for persona, squad, user in clients_of(n):
        tok, s = sign_in(base, user)
        signs.append(s)
        plan.append((tok, [(name, w, eps[name](squad)) for name, w in PERSONAS[persona].items()]))
    c0, p0, t0 = server_cpu(sproc), time.process_time(), time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    conns: dict[str, int] | None = None
    if client == "wrk":
        rows, conns = run_wrk(port, plan, seconds, folder)
        elapsed = time.perf_counter() - t0
    else:
        lat, err = run_python(port, plan, seconds)
        elapsed = time.perf_counter() - t0
        rows = {k: summary(lat[k], err.get(k, 0), elapsed) for k in sorted(lat)}
    cpu = server_cpu(sproc) - c0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (time.process_time() - p0) + (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    total = sum(r["requests"] for r in rows.values())
    return {"clients": n, "seconds": round(elapsed, 1), "endpoints": rows, "requests": total,
            "errors": sum(r["errors"] for r in rows.values()),
            "server_cpu_s": round(cpu, 1),
            "server_cpu_ms_per_request": round(cpu / max(total, 1) * 1000, 2),
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


def soak(base: str, port: int, eps: dict[str, Callable[[str], Pick]], seconds: float,
         client: str, sproc: psutil.Process, folder: Path) -> dict[str, Any]:
    """50 clients of the mix for ``seconds`` while the server's RSS is sampled every 2 s."""
    import threading

    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(server_rss_mb(sproc))
            done.wait(2.0)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    level = run_level(base, port, 50, eps, seconds, client, sproc, folder)
    done.set()
    th.join()
    k = max(1, len(samples) // 5)
    return {"seconds": seconds, "requests": level["requests"], "errors": level["errors"],
            "rss_start_mb": round(float(np.mean(samples[:k])), 1),
            "rss_end_mb": round(float(np.mean(samples[-k:])), 1),
            "rss_max_mb": round(max(samples), 1), "endpoints": level["endpoints"]}


def import_under_load(base: str, port: int, eps: dict[str, Callable[[str], Pick]], rows: int,
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


def warm_up(base: str, eps: dict[str, Callable[[str], Pick]]) -> dict[str, float]:
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
    with tempfile.TemporaryDirectory() as tmp, database(backend, Path(tmp), args.postgis_url) as url:
        folder = Path(tmp)
        info = seed(url, n_cases, today, folder)
        eps = endpoints(info.pop("boxes"), today)
        t0 = time.perf_counter()
        server = start_server(url, args.port, workers, folder / "server.log")
        run: dict[str, Any] = {"machine": machine_info(), "backend": backend, "cases": info["cases"],
                               "workers": workers, "client": client, "seed": info,
                               "server_start_s": round(time.perf_counter() - t0, 1),
                               "seconds_per_level": args.seconds, "day": today.isoformat(),
                               "command": " ".join(["python", *sys.argv]), "levels": {}}
        try:
            sproc, base = psutil.Process(server.pid), f"http://127.0.0.1:{args.port}"
            auth = auth_headers(sign_in(base, "analyst")[0])
            t0 = time.perf_counter()
            for sq in SQUADS:  # today's plans, as the first morning visit makes them
                httpx.get(f"{base}/api/plans/{sq}/{today}", headers=auth, timeout=600).raise_for_status()
            run["plans_s"] = round(time.perf_counter() - t0, 1)
            run["first_requests_s"] = warm_up(base, eps)
            for n in levels_n:
                level = run_level(base, args.port, n, eps, args.seconds, client, sproc, folder)
                run["levels"][str(n)] = level
                print_level(f"{backend} {info['cases']:,} cases, {workers} workers, {client}", level)
            if args.soak:
                run["soak"] = soak(base, args.port, eps, args.soak, client, sproc, folder)
                print("soak", {k: v for k, v in run["soak"].items() if k != "endpoints"})
            if args.import_rows:
                run["import_under_load"] = import_under_load(base, args.port, eps,
                                                             args.import_rows, today)
                print("import under load", run["import_under_load"])
        finally:
            stop_server(server)
    run["targets_met"] = check(run["levels"])
    return run


def print_level(title: str, level: dict[str, Any]) -> None:
    """The endpoint table of one level."""
    print(f"\n{title} — {level['clients']} clients, {level['seconds']:.0f} s, server CPU "
          f"{level['server_cpu_ms_per_request']:.2f} ms/request, load {level['load_avg']:.1f}")
    print(f"  {'endpoint':20s} {'requests':>8s} {'errors':>6s} {'p50':>7s} {'p95':>7s} "
          f"{'p99':>7s} {'max':>7s} {'req/s':>7s}  (ms)")
    def ms(v: float | None) -> str:
        return f"{v:7.1f}" if v is not None else f"{'–':>7s}"

    rows = [*level["endpoints"].items(), ("(sign-in, once)", level["sign_in"])]
    for name, r in rows:
        print(f"  {name:20s} {r['requests']:8d} {r['errors']:6d} "
              + " ".join(ms(r[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
              + f" {r['rps']:7.1f}", flush=True)


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
    ap.add_argument("--clients", default="10,50", help="comma-separated client levels")
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
        configs = [(args.backend, args.cases, workers)]
        levels = [int(v) for v in args.clients.split(",") if v.strip()]
    for backend, n_cases, workers in configs:
        run = run_config(args, backend, n_cases, workers, levels, client)
        key = f"{backend}/{n_cases}/w{workers}/{client}"
        save(args.out, key, run)
        print(f"\n{key}: targets {run['targets_met']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
