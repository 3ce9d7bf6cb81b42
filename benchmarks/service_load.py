"""Load test of ``xuncha serve`` on loopback with a simulated year of Xiaonan cases.

Usage: ``python benchmarks/service_load.py [--quick] [--db URL] [--port 8765]``.

1. Seeds a fresh database (SQLite in a temp folder unless ``--db``) with ``geo.simulate`` cases and
   two users, then starts ``python -m service.cli serve`` as a subprocess on 127.0.0.1.
2. For 1, 10 and 50 concurrent clients it measures p50/p99 latency, throughput and errors of
   ``GET /api/cases`` (bbox + month, admin), ``GET /api/cases`` (month, squad leader) and
   ``GET /collections/cases/items`` (bbox + datetime).
3. Soak: 50 clients for 5 minutes (``--quick``: 30 s), sampling the server's RSS.
4. Import under load: uploads a 100k-row file (``--quick``: 20k) while 10 readers query; reports
   whether every row was stored and the slowest reader request during the import.

Targets (issue 6): p99 < 100 ms for the GeoJSON queries at 50 clients, no errors, flat memory,
no lost rows, no reader blocked > 1 s. The load generator runs on the same machine (2 cores here),
so client CPU competes with the server. Writes ``benchmarks/results/service_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info

from geo.boundaries import load_default
from geo.simulate import simulate_cases
from service.auth import create_user
from service.importer import import_table
from service.storage import Storage

RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "service-load-benchmark-secret-key-0123456789"
PASSWORD = "bench-password-1"
CONCURRENCY = (1, 10, 50)


@dataclass
class Stats:
    """Latencies (s) and errors of one run."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0

    def summary(self) -> dict[str, float]:
        lat = np.array(self.latencies) * 1000 if self.latencies else np.array([np.nan])
        return {"requests": len(self.latencies), "errors": self.errors,
                "p50_ms": round(float(np.percentile(lat, 50)), 1),
                "p99_ms": round(float(np.percentile(lat, 99)), 1),
                "max_ms": round(float(lat.max()), 1),
                "rps": round(len(self.latencies) / self.elapsed_s, 1) if self.elapsed_s else 0.0}


def seed(url: str) -> tuple[pd.DataFrame, list[tuple[float, float, float, float]]]:
    """Fresh database with a simulated year of cases and users ``admin``, ``leader``."""
    storage = Storage(url)
    storage.init()
    cases, _ = simulate_cases(load_default())
    table = cases[["case_id", "category", "reported_at", "lon", "lat", "description", "address",
                   "source", "status", "closed_at"]].astype(str).replace({"NaT": ""})
    report = import_table(storage, table, filename="simulated.csv", actor="bench")
    print(f"seeded {report.inserted} simulated cases ({report.rejected} rejected)")
    create_user(storage, "admin", PASSWORD, role="admin")
    create_user(storage, "leader", PASSWORD, role="squad_leader", squad="guangchang")
    boxes = [tuple(g.bounds) for g in storage.communities().geometry]
    storage.engine.dispose()
    return cases, boxes  # type: ignore[return-value]


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    """``xuncha serve`` (via ``python -m service.cli``) on 127.0.0.1:port; waits for /health."""
    env = {**os.environ, "XUNCHA_DATABASE_URL": url, "XUNCHA_SECRET_KEY": SECRET,
           "XUNCHA_MAX_UPLOAD_MB": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def token(base: str, user: str) -> str:
    resp = httpx.post(f"{base}/api/auth/token", data={"username": user, "password": PASSWORD})
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def make_requests(boxes: list[Any], months: list[str]) -> dict[str, Any]:
    """Scenario name → function(rng) giving (path, params, user)."""

    def bbox(rng: random.Random) -> str:
        x0, y0, x1, y1 = rng.choice(boxes)
        return f"{x0},{y0},{x1},{y1}"

    return {
        "cases_bbox_month": lambda r: ("/api/cases", {"bbox": bbox(r), "month": r.choice(months)},
                                       "admin"),
        "cases_squad_month": lambda r: ("/api/cases", {"month": r.choice(months)}, "leader"),
        "ogc_items_bbox_datetime": lambda r: (
            "/collections/cases/items",
            {"bbox": bbox(r), "datetime": f"{r.choice(months)}-01/..", "limit": 500}, "admin"),
    }


async def _client(base: str, headers: dict[str, dict[str, str]], pick: Any, stop: float,
                  stats: Stats, seed_: int) -> None:
    rng = random.Random(seed_)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.perf_counter() < stop:
            path, params, user = pick(rng)
            t0 = time.perf_counter()
            try:
                resp = await client.get(path, params=params, headers=headers[user])
                ok = resp.status_code == 200
            except httpx.HTTPError:
                ok = False
            stats.latencies.append(time.perf_counter() - t0)
            stats.errors += 0 if ok else 1


async def load(base: str, headers: dict[str, dict[str, str]], pick: Any, clients: int,
               seconds: float) -> Stats:
    """``clients`` concurrent loops of ``pick`` requests for ``seconds``."""
    stats = Stats()
    t0 = time.perf_counter()
    await asyncio.gather(*[_client(base, headers, pick, t0 + seconds, stats, i)
                           for i in range(clients)])
    stats.elapsed_s = time.perf_counter() - t0
    return stats


def soak(base: str, headers: dict[str, dict[str, str]], pick: Any, pid: int,
         seconds: float) -> dict[str, Any]:
    """50 clients for ``seconds`` while sampling the server's RSS every 2 s."""
    samples: list[tuple[float, float]] = []
    done = threading.Event()
    proc = psutil.Process(pid)

    def sample() -> None:
        t0 = time.perf_counter()
        while not done.is_set():
            samples.append((time.perf_counter() - t0, proc.memory_info().rss / 2**20))
            done.wait(2.0)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    stats = asyncio.run(load(base, headers, pick, 50, seconds))
    done.set()
    th.join()
    rss = np.array([m for _t, m in samples])
    k = max(1, len(rss) // 5)
    return {"seconds": seconds, **stats.summary(), "rss_start_mb": round(float(rss[:k].mean()), 1),
            "rss_end_mb": round(float(rss[-k:].mean()), 1),
            "rss_growth_mb": round(float(rss[-k:].mean() - rss[:k].mean()), 1),
            "rss_max_mb": round(float(rss.max()), 1)}


def import_under_load(base: str, headers: dict[str, dict[str, str]], pick: Any,
                      cases: pd.DataFrame, rows: int) -> dict[str, Any]:
    """Upload a ``rows``-row CSV while 10 readers query; count rows, find the slowest read."""
    reps = -(-rows // len(cases))
    big = pd.concat([cases] * reps, ignore_index=True).iloc[:rows].copy()
    big["case_id"] = [f"LOAD{i:07d}" for i in range(len(big))]
    data = big[["case_id", "category", "reported_at", "lon", "lat", "description",
                "address"]].to_csv(index=False).encode()
    before = httpx.get(f"{base}/api/cases", params={"limit": 1}, headers=headers["admin"]
                       ).json()["numberMatched"]
    result: dict[str, Any] = {}

    def upload() -> None:
        t0 = time.perf_counter()
        resp = httpx.post(f"{base}/api/cases/import", headers=headers["admin"], timeout=1800,
                          files={"file": ("load.csv", data, "text/csv")})
        result["import_s"] = round(time.perf_counter() - t0, 1)
        result["status"] = resp.status_code
        result["report"] = {k: v for k, v in resp.json().items() if k != "problems"}

    th = threading.Thread(target=upload)
    readers = Stats()

    async def read_while_uploading() -> None:
        t0 = time.perf_counter()
        th.start()
        while th.is_alive():
            part = await load(base, headers, pick, 10, 2.0)
            readers.latencies += part.latencies
            readers.errors += part.errors
        readers.elapsed_s = time.perf_counter() - t0

    asyncio.run(read_while_uploading())
    th.join()
    after = httpx.get(f"{base}/api/cases", params={"limit": 1}, headers=headers["admin"]
                      ).json()["numberMatched"]
    slow = sum(lat > 1.0 for lat in readers.latencies)
    return {"rows": rows, "file_mb": round(len(data) / 2**20, 1), **result,
            "stored_delta": after - before, "lost_rows": rows - (after - before),
            "readers": readers.summary(), "reads_over_1s": slow}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a few minutes in all)")
    parser.add_argument("--db", default=None, help="database URL (default: temp SQLite file)")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    step_s, soak_s, rows = (4.0, 30.0, 20_000) if args.quick else (20.0, 300.0, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'load.db'}"
        cases, boxes = seed(url)
        months = sorted(cases["reported_at"].dt.strftime("%Y-%m").unique())
        server = start_server(url, args.port)
        base = f"http://127.0.0.1:{args.port}"
        try:
            headers = {u: {"Authorization": f"Bearer {token(base, u)}"} for u in ("admin", "leader")}
            scenarios = make_requests(boxes, months)
            table: dict[str, dict[str, Any]] = {}
            for name, pick in scenarios.items():
                for n in CONCURRENCY:
                    table[f"{name}@{n}"] = asyncio.run(load(base, headers, pick, n, step_s)).summary()
                    print(f"{name:26s} clients={n:3d}  {table[f'{name}@{n}']}")
            soak_res = soak(base, headers, scenarios["cases_bbox_month"], server.pid, soak_s)
            print("soak", soak_res)
            imp = import_under_load(base, headers, scenarios["cases_bbox_month"], cases, rows)
            print("import under load", imp)
        finally:
            server.terminate()
            server.wait(timeout=30)
    out = {"machine": machine_info(), "quick": args.quick, "database": url.split(":")[0],
           "simulated_cases": len(cases), "step_seconds": step_s, "latency": table,
           "soak": soak_res, "import_under_load": imp}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "service_load.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(f"\n{'scenario':34s} {'p50 ms':>8s} {'p99 ms':>8s} {'req/s':>8s} {'errors':>7s}")
    for key, row in table.items():
        print(f"{key:34s} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} {row['rps']:8.1f} "
              f"{row['errors']:7d}")
    print(f"wrote {RESULTS / 'service_load.json'}")


if __name__ == "__main__":
    main()
