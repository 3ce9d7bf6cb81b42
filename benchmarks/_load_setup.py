"""Setup of ``benchmarks/service_load.py``: the database (seeded with simulated cases or an
existing one), the server, its CPU (worker processes and, on PostGIS, the database backends that
serve it), signing in, and the request mix (personas, endpoints, random map views).

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pandas as pd
import psutil

SECRET = "service-load-benchmark-secret-key-0123456789"
PASSWORD = "bench-password-1"
TZ = "Asia/Shanghai"
SQUADS = ("shuyuan", "xinhua", "guangchang", "chezhan", "nanda")
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
def database(backend: str, folder: Path, postgis_url: str, given: str = "") -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file in ``folder`` or a new PostGIS database that
    is dropped afterwards; ``given``: that database, kept as it is."""
    if given:
        yield given
        return
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
    print(f"seeded {stored:,} simulated cases in {seed_s:.1f} s ({path})", flush=True)
    return {**prepare(storage), "cases": stored, "seconds": round(seed_s, 1),
            "simulate_s": round(sim_s, 1), "import_path": path}


def prepare(storage: Any) -> dict[str, Any]:
    """The benchmark users (created where missing), the communities' boxes per squad (the map
    views are drawn around them) and the number of cases stored."""
    from service.auth import create_user, load_principal

    storage.init()
    users = [("analyst", "admin", None)] + [
        (f"{role}_{sq}", kind, sq) for sq in SQUADS
        for role, kind in (("leader", "squad_leader"), ("officer", "officer"))]
    for name, role, squad in users:
        if load_principal(storage, name) is None:
            create_user(storage, name, PASSWORD, role=role, squad=squad)
    boxes = {sq: [tuple(g.bounds) for g in storage.communities(squads=(sq,)).geometry]
             for sq in SQUADS}
    n = storage.count_cases()
    if storage.engine.dialect.name == "postgresql":  # what autovacuum does soon after an import:
        with storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE cases")  # visibility map → index-only counts
    storage.engine.dispose()
    return {"boxes": boxes, "cases": n}


def existing(url: str) -> dict[str, Any]:
    """An existing database (``--database-url``): nothing seeded, users added where missing."""
    from service.storage import Storage

    info = prepare(Storage(url, tz=TZ))
    print(f"using {info['cases']:,} stored cases ({url.split('@')[-1]})", flush=True)
    return {**info, "seconds": 0.0, "import_path": "existing database (--database-url)"}


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


def process_tree_cpu_s(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds used so far by ``proc`` and all its children (a server and its workers)."""
    try:
        p = psutil.Process(proc.pid)
        return _cpu([p, *p.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0.0


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def backend_pids(url: str) -> list[int]:
    """PostgreSQL backend processes connected to ``url``'s database (the server's pool); none
    for SQLite (its work runs inside the workers)."""
    if not url.startswith("postgresql"):
        return []
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    eng = create_engine(target.set(database="postgres"))
    try:
        with eng.connect() as c:
            rows = c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
                             {"d": target.database}).all()
    finally:
        eng.dispose()
    return [int(r[0]) for r in rows]


class ServerCpu:
    """CPU seconds (user + system) used between :meth:`start` and :meth:`stop` by the server's
    process tree and, on PostGIS, by the database backends serving it (apart)."""

    def __init__(self, proc: psutil.Process, url: str) -> None:
        self.proc, self.url = proc, url
        self._tree, self._db = 0.0, dict[int, float]()

    def _backends(self) -> dict[int, float]:
        out = {}
        for pid in backend_pids(self.url):
            with suppress(psutil.NoSuchProcess):
                out[pid] = _cpu([psutil.Process(pid)])
        return out

    def start(self) -> None:
        self._tree, self._db = _cpu([self.proc, *self.proc.children(recursive=True)]), \
            self._backends()

    def stop(self) -> tuple[float, float]:
        """(server processes, database backends) CPU seconds since :meth:`start`."""
        tree = _cpu([self.proc, *self.proc.children(recursive=True)]) - self._tree
        db = sum(v - self._db.get(pid, 0.0) for pid, v in self._backends().items())
        return tree, db


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
