"""Load test of ``xuncha serve`` on loopback with a simulated year of Xiaonan cases.

Usage: ``python benchmarks/service_load.py [--quick] [--workers N] [--wrk] [--db URL] [--port P]
[--only NAME,…] [--step S] [--soak S] [--no-soak] [--no-import] [--out FILE]``.

1. Seeds a fresh database (SQLite in a temp folder unless ``--db``) with ``geo.simulate.generator`` cases and
   two users (as ``xuncha import`` does, the planner statistics are refreshed), then starts
   ``python -m service.cli serve --workers N`` as a subprocess on 127.0.0.1.
2. For 1, 10 and 50 concurrent clients (closed loop, keep-alive) it measures p50/p99 latency,
   throughput, errors, and the CPU time the server and this client used per request, for:
   ``GET /api/cases`` bbox + month with a new bbox every request (map panning: always a cache
   miss) and with the 53 community bboxes (repeats: cache hits), month for a squad leader, OGC
   items (bbox + datetime), hotspots, a squad's map page and the squads' route-sheet PDFs.
3. Soak: 50 clients for 5 minutes (``--quick``: 30 s) of mixed GeoJSON queries, sampling the
   server's RSS (all workers).
4. Import under load: uploads a 100k-row file (``--quick``: 20k) while 10 readers query; reports
   whether every row was stored and the slowest reader request during the import.

The client is a minimal asyncio HTTP/1.1 client (a few tens of microseconds per request, reported
as ``client_cpu_ms``); ``--wrk`` adds a second opinion from ``wrk`` (C) for the GeoJSON queries.
Targets (issue 6): p99 < 100 ms for the GeoJSON queries at 50 clients, no errors, flat memory,
no lost rows, no reader blocked > 1 s. Writes ``benchmarks/results/service_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info

from geo.boundaries import load_default
from geo.simulate.generator import simulate_cases
from service.auth import create_user
from service.importer import import_table
from service.storage import Storage

RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "service-load-benchmark-secret-key-0123456789"
PASSWORD = "bench-password-1"
CONCURRENCY = (1, 10, 50)
GEOJSON = ("cases_bbox_month", "cases_bbox_month_repeat", "cases_squad_month", "ogc_items")
SQUADS = ("shuyuan", "xinhua", "guangchang", "chezhan", "nanda")


@dataclass
class Stats:
    """Latencies (s), errors and CPU seconds of one run."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = np.array(self.latencies) * 1000 if self.latencies else np.array([np.nan])
        n = max(len(self.latencies), 1)
        return {"requests": len(self.latencies), "errors": self.errors,
                "p50_ms": round(float(np.percentile(lat, 50)), 1),
                "p99_ms": round(float(np.percentile(lat, 99)), 1),
                "max_ms": round(float(lat.max()), 1),
                "rps": round(len(self.latencies) / self.elapsed_s, 1) if self.elapsed_s else 0.0,
                "server_cpu_ms": round(self.server_cpu_s / n * 1000, 2),
                "client_cpu_ms": round(self.client_cpu_s / n * 1000, 3),
                "load_avg": round(os.getloadavg()[0], 2)}


class Http:
    """A minimal keep-alive HTTP/1.1 GET client (Content-Length or chunked bodies)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{head}\r\n".encode())
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        hdrs: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            k, _, v = line.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if hdrs.get("transfer-encoding") == "chunked":
            parts = []
            while (size := int((await self.reader.readline()).split(b";")[0], 16)) > 0:
                parts.append(await self.reader.readexactly(size + 2))
            await self.reader.readline()
            body = b"".join(p[:-2] for p in parts)
        else:
            body = await self.reader.readexactly(int(hdrs.get("content-length", "0")))
        if hdrs.get("connection") == "close":
            await self.close()
        return int(status_line.split()[1]), body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def seed(url: str) -> tuple[pd.DataFrame, list[tuple[float, float, float, float]]]:
    """Fresh database with a simulated year of cases and users ``admin``, ``leader``."""
    storage = Storage(url)
    storage.init()
    cases, _ = simulate_cases(load_default())
    table = cases[["case_id", "category", "reported_at", "lon", "lat", "description", "address",
                   "source", "status", "closed_at"]].astype(str).replace({"NaT": ""})
    report = import_table(storage, table, filename="simulated.csv", actor="bench")
    storage.analyze()  # as `xuncha import` does
    print(f"seeded {report.inserted} simulated cases ({report.rejected} rejected)")
    create_user(storage, "admin", PASSWORD, role="admin")
    create_user(storage, "leader", PASSWORD, role="squad_leader", squad="guangchang")
    boxes = [tuple(g.bounds) for g in storage.communities().geometry]
    storage.engine.dispose()
    return cases, boxes  # type: ignore[return-value]


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """``xuncha serve`` (via ``python -m service.cli``) on 127.0.0.1:port; waits for /health."""
    env = {**os.environ, "XUNCHA_DATABASE_URL": url, "XUNCHA_SECRET_KEY": SECRET,
           "XUNCHA_MAX_UPLOAD_MB": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port),
                             "--workers", str(workers)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                time.sleep(1.0 if workers > 1 else 0.0)  # let every worker come up
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def server_cpu(proc: psutil.Process) -> float:
    """CPU seconds of the server and its worker processes."""
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


def token(base: str, user: str) -> str:
    resp = httpx.post(f"{base}/api/auth/token", data={"username": user, "password": PASSWORD})
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def make_requests(boxes: list[Any], months: list[str], day: str) -> dict[str, Any]:
    """Scenario name → function(rng) giving (path with query, user)."""

    def bbox(rng: random.Random, jitter: float = 0.0) -> str:
        x0, y0, x1, y1 = (v + rng.uniform(-jitter, jitter) for v in rng.choice(boxes))
        return f"{x0:.6f},{y0:.6f},{x1:.6f},{y1:.6f}"

    def q(path: str, **params: Any) -> str:
        return f"{path}?{urlencode(params)}"

    return {
        "cases_bbox_month": lambda r: (q("/api/cases", bbox=bbox(r, 2e-4), month=r.choice(months)),
                                       "admin"),
        "cases_bbox_month_repeat": lambda r: (
            q("/api/cases", bbox=bbox(r), month=r.choice(months)), "admin"),
        "cases_squad_month": lambda r: (q("/api/cases", month=r.choice(months)), "leader"),
        "ogc_items": lambda r: (q("/collections/cases/items", bbox=bbox(r, 2e-4),
                                  datetime=f"{r.choice(months)}-01/..", limit=500), "admin"),
        "hotspots": lambda r: (q("/api/hotspots", squad=r.choice(SQUADS), at=day), "admin"),
        "squad_map": lambda r: (q(f"/maps/{r.choice(SQUADS)}", date=day), "admin"),
        "sheet_pdf": lambda r: (f"/api/plans/{r.choice(SQUADS)}/{day}/sheet.pdf", "admin"),
    }


async def _client(port: int, headers: dict[str, dict[str, str]], pick: Any, stop: float,
                  stats: Stats, seed_: int) -> None:
    rng = random.Random(seed_)
    http = Http("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            path, user = pick(rng)
            t0 = time.perf_counter()
            try:
                status, _body = await asyncio.wait_for(http.get(path, headers[user]), 300)
                ok = status == 200
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
                await http.close()
            stats.latencies.append(time.perf_counter() - t0)
            stats.errors += 0 if ok else 1
    finally:
        await http.close()


async def load(port: int, headers: dict[str, dict[str, str]], pick: Any, clients: int,
               seconds: float, server: psutil.Process | None = None) -> Stats:
    """``clients`` concurrent loops of ``pick`` requests for ``seconds`` (in-flight ones finish)."""
    stats = Stats()
    t0, c0 = time.perf_counter(), time.process_time()
    s0 = server_cpu(server) if server else 0.0
    await asyncio.gather(*[_client(port, headers, pick, t0 + seconds, stats, i)
                           for i in range(clients)])
    stats.elapsed_s = time.perf_counter() - t0
    stats.client_cpu_s = time.process_time() - c0
    stats.server_cpu_s = server_cpu(server) - s0 if server else 0.0
    return stats


WRK_LUA = """
local paths, token, i = {}, "", 0
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  token = args[2]
  i = math.random(#paths)
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], {["Authorization"] = "Bearer " .. token})
end
"""


def run_wrk(port: int, headers: dict[str, dict[str, str]], pick: Any, clients: int,
            seconds: float, server: psutil.Process, folder: Path) -> dict[str, Any]:
    """The same scenario through ``wrk`` (20k pre-drawn requests, cycled)."""
    rng = random.Random(clients)
    drawn = [pick(rng) for _ in range(20_000)]
    (folder / "paths.txt").write_text("\n".join(p for p, _u in drawn) + "\n")
    (folder / "paths.lua").write_text(WRK_LUA)
    tok = headers[drawn[0][1]]["Authorization"].split()[1]
    s0 = server_cpu(server)
    out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "--timeout", "60s",
                          "--latency", "-s",
                          str(folder / "paths.lua"), f"http://127.0.0.1:{port}", "--",
                          str(folder / "paths.txt"), tok],
                         capture_output=True, text=True, timeout=seconds + 120).stdout
    n = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]

    def ms(pct: str) -> float:
        m = re.search(rf"{pct}%\s+([\d.]+)(us|ms|s)\b", out)
        assert m is not None, out
        return round(float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)], 1)

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"requests": n, "errors": (int(bad.group(1)) if bad else 0)
            + (sum(int(g) for g in errs.groups()) if errs else 0),
            "p50_ms": ms("50"), "p99_ms": ms("99"),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "server_cpu_ms": round((server_cpu(server) - s0) / max(n, 1) * 1000, 2),
            "load_avg": round(os.getloadavg()[0], 2)}


def soak(port: int, headers: dict[str, dict[str, str]], pick: Any, server: psutil.Process,
         seconds: float) -> dict[str, Any]:
    """50 clients for ``seconds`` while sampling the server's RSS every 2 s."""
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:  # every 2 s (every 10th in the result)
        while not done.is_set():
            samples.append(server_rss_mb(server))
            done.wait(2.0)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    stats = asyncio.run(load(port, headers, pick, 50, seconds, server))
    done.set()
    th.join()
    rss = np.array(samples)
    k = max(1, len(rss) // 5)
    return {"seconds": seconds, **stats.summary(), "rss_start_mb": round(float(rss[:k].mean()), 1),
            "rss_end_mb": round(float(rss[-k:].mean()), 1),
            "rss_growth_mb": round(float(rss[-k:].mean() - rss[:k].mean()), 1),
            "rss_max_mb": round(float(rss.max()), 1),
            "rss_samples_mb": [round(float(m)) for m in rss[::5]]}


def import_under_load(base: str, port: int, headers: dict[str, dict[str, str]], pick: Any,
                      cases: pd.DataFrame, rows: int) -> dict[str, Any]:
    """Upload a ``rows``-row CSV while 10 readers query; count rows, find the slowest read."""
    reps = -(-rows // len(cases))
    big = pd.concat([cases] * reps, ignore_index=True).iloc[:rows].copy()
    big["case_id"] = [f"LOAD{i:07d}" for i in range(len(big))]
    data = big[["case_id", "category", "reported_at", "lon", "lat", "description",
                "address"]].to_csv(index=False).encode()

    def total() -> int:
        return int(httpx.get(f"{base}/api/cases", params={"limit": 1},
                             headers=headers["admin"]).json()["numberMatched"])

    before = total()
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
            part = await load(port, headers, pick, 10, 2.0)
            readers.latencies += part.latencies
            readers.errors += part.errors
        readers.elapsed_s = time.perf_counter() - t0

    asyncio.run(read_while_uploading())
    th.join()
    after = total()
    slow = sum(lat > 1.0 for lat in readers.latencies)
    return {"rows": rows, "file_mb": round(len(data) / 2**20, 1), **result,
            "stored_delta": after - before, "lost_rows": rows - (after - before),
            "readers": readers.summary(), "reads_over_1s": slow}


def mixed(scenarios: dict[str, Any]) -> Any:
    """The GeoJSON queries in turn (soak and import readers)."""
    picks = [scenarios[n] for n in GEOJSON]
    return lambda r: r.choice(picks)(r)


def print_table(table: dict[str, dict[str, Any]]) -> None:
    print(f"\n{'scenario':36s} {'p50 ms':>8s} {'p99 ms':>8s} {'req/s':>8s} {'errors':>7s} "
          f"{'srv ms':>7s} {'cli ms':>7s} {'load':>5s}")
    for key, row in table.items():
        print(f"{key:36s} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} {row['rps']:8.1f} "
              f"{row['errors']:7d} {row['server_cpu_ms']:7.2f} {row.get('client_cpu_ms', 0):7.3f} "
              f"{row['load_avg']:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a few minutes in all)")
    parser.add_argument("--db", default=None, help="database URL (default: temp SQLite file)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=1, help="xuncha serve --workers")
    parser.add_argument("--wrk", action="store_true", help="also measure GeoJSON queries with wrk")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--no-soak", action="store_true")
    parser.add_argument("--no-import", action="store_true")
    parser.add_argument("--step", type=float, default=None, help="seconds per measurement")
    parser.add_argument("--soak", type=float, default=None, help="soak seconds")
    parser.add_argument("--out", default=str(RESULTS / "service_load.json"))
    args = parser.parse_args()
    step_s, soak_s, rows = (4.0, 30.0, 20_000) if args.quick else (20.0, 300.0, 100_000)
    step_s, soak_s = args.step or step_s, args.soak or soak_s
    soak_res: dict[str, Any] = {}
    imp: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'load.db'}"
        cases, boxes = seed(url)
        months = sorted(cases["reported_at"].dt.strftime("%Y-%m").unique())
        day = str(cases["reported_at"].max().date())
        server = start_server(url, args.port, args.workers)
        sproc = psutil.Process(server.pid)
        base = f"http://127.0.0.1:{args.port}"
        table: dict[str, dict[str, Any]] = {}
        try:
            headers = {u: {"Authorization": f"Bearer {token(base, u)}"} for u in ("admin", "leader")}
            scenarios = make_requests(boxes, months, day)
            for sq in SQUADS:  # make (and store) the day's plans once, as the first visit would
                httpx.get(f"{base}/api/plans/{sq}/{day}", headers=headers["admin"], timeout=600)
            names = [n for n in scenarios if not args.only or n in args.only.split(",")]
            for name in names:
                for n in CONCURRENCY:
                    res = asyncio.run(load(args.port, headers, scenarios[name], n, step_s, sproc))
                    table[f"{name}@{n}"] = res.summary()
                    print(f"{name:26s} clients={n:3d}  {table[f'{name}@{n}']}", flush=True)
                    if args.wrk and name in GEOJSON and shutil.which("wrk"):
                        table[f"{name}@{n} (wrk)"] = run_wrk(args.port, headers, scenarios[name],
                                                             n, step_s, sproc, Path(tmp))
                        print(f"{name:26s} clients={n:3d}  wrk {table[f'{name}@{n} (wrk)']}",
                              flush=True)
            if not args.no_soak:
                soak_res = soak(args.port, headers, mixed(scenarios), sproc, soak_s)
                print("soak", soak_res, flush=True)
            if not args.no_import:
                imp = import_under_load(base, args.port, headers, mixed(scenarios), cases, rows)
                print("import under load", imp, flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    out = {"machine": machine_info(), "quick": args.quick, "database": url.split(":")[0],
           "workers": args.workers, "simulated_cases": len(cases), "step_seconds": step_s,
           "command": " ".join(["python", *sys.argv]), "latency": table, "soak": soak_res,
           "import_under_load": imp}
    Path(args.out).parent.mkdir(exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print_table(table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
