"""Cold and warm times of the web pages on the demo database (issue 12 item 10).

One command from a fresh clone (setup, then the benchmark; it builds its own demo)::

    bash scripts/setup.sh && .venv/bin/python benchmarks/page_times.py

Options: ``--warm 5`` (warm requests per page), ``--workers 1`` (``xuncha serve --workers``),
``--demo DIR`` (reuse an existing ``xuncha demo --out DIR`` output instead of building one).

1. Builds the demo (``xuncha demo``: a simulated year of cases, hotspots, forecast, siting and
   the plans of the demo day, i.e. tomorrow) in a temp folder, unless ``--demo`` names one, and
   adds the users ``leader`` (书院中队 squad leader), ``planner`` and ``admin``.
2. For each row it copies that pristine database, starts ``xuncha serve`` fresh on 127.0.0.1
   (which prepares today's and tomorrow's plans of every squad in the background,
   :mod:`service.plan_prep`), signs in (``POST /api/auth/token``, timed apart) and times the
   first request (cold), then the median of ``--warm`` more (warm); then the server is stopped.
   ``wait`` says when the cold request is sent: ``up`` — as soon as ``/health`` answers, the
   start-up preparation still running; ``prepared`` — once the server is idle after it (its CPU
   time grows by < 50 ms in a second; ``prepare_s`` is how long that took from ``/health``).
3. Pages (paths from ``service/routers/pages.py`` and ``stats.py``): the squad dashboard
   ``/squad/shuyuan`` for today (both waits), for today + 3 days (within the plan window: its
   plan made ahead by the start-up preparation, its dashboard never opened before), the
   planner (siting) page ``/planner`` (with
   ``?scenario=`` of the first stored scenario when the demo has one) and the statistics page
   ``/stats``.

Target (issue 12): the dashboard for today and for any date under 1.5 s cold. Prints a table
and writes ``benchmarks/results/page_times.json`` with machine information and the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load_setup import (
    PASSWORD,
    TZ,
    auth_headers,
    process_tree_cpu_s,
    sign_in,
    start_server,
    stop_server,
)
from _machine import machine_info

RESULTS = Path(__file__).resolve().parent / "results"
SQUAD = "shuyuan"
TARGET_COLD_S = 1.5
DB_NAME = "xuncha-demo.db"
IDLE_CPU_S = 0.05
"""The server counts as idle when its CPU time grows by less than this in a second."""


def build_demo(out: Path) -> float:
    """``xuncha demo --out out`` (time zone Asia/Shanghai); returns its wall time (s)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "service.cli", "demo", "--out", str(out)], check=True,
                   env={**os.environ, "XUNCHA_TIMEZONE": TZ}, stdout=subprocess.DEVNULL,
                   timeout=1800)
    return time.perf_counter() - t0


def add_users(db: Path) -> None:
    """The benchmark's users in the demo database (a demo run has none)."""
    from service.auth import create_user
    from service.storage import Storage

    storage = Storage(f"sqlite:///{db}", tz=TZ)
    for name, role, squad in (("leader", "squad_leader", SQUAD), ("planner", "planner", None),
                              ("admin", "admin", None)):
        create_user(storage, name, PASSWORD, role=role, squad=squad)
    with storage.engine.begin() as conn:  # everything in the main file, so a copy is complete
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    storage.engine.dispose()


def copy_db(src: Path, dst_dir: Path) -> Path:
    """A copy of the SQLite database (with its -wal/-shm files, if any) in ``dst_dir``."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            shutil.copy2(f"{src}{suffix}", dst_dir / f"{DB_NAME}{suffix}")
    return dst_dir / DB_NAME


def wait_idle(proc: subprocess.Popen[bytes], *, timeout_s: float = 600.0) -> float:
    """Wait until the server has been idle for two seconds in a row; the seconds waited."""
    t0 = time.perf_counter()
    quiet, last = 0, process_tree_cpu_s(proc)
    while quiet < 2 and time.perf_counter() - t0 < timeout_s:
        time.sleep(1.0)
        now = process_tree_cpu_s(proc)
        quiet = quiet + 1 if now - last < IDLE_CPU_S else 0
        last = now
    return time.perf_counter() - t0 - 2.0


def first_scenario(db: Path) -> int | None:
    """The id of the first stored siting scenario in the demo database, if any."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        try:
            row = conn.execute("SELECT min(id) FROM siting_scenarios").fetchone()
        except sqlite3.Error:
            return None
    return None if row is None or row[0] is None else int(row[0])


def measure(pristine: Path, folder: Path, page: dict[str, Any], *, port: int, workers: int,
            warm: int) -> dict[str, Any]:
    """Fresh database copy, fresh server: sign in, the cold request, then ``warm`` more."""
    url = f"sqlite:///{copy_db(pristine, folder)}"
    t0 = time.perf_counter()
    server = start_server(url, port, workers, folder / "server.log")
    row: dict[str, Any] = {**page, "server_start_s": round(time.perf_counter() - t0, 2)}
    base = f"http://127.0.0.1:{port}"
    try:
        if page["wait"] == "prepared":
            row["prepare_s"] = round(wait_idle(server), 1)
        token, sign_s = sign_in(base, page["user"])
        row["sign_in_s"] = round(sign_s, 3)
        headers = auth_headers(token)
        times, statuses = [], []
        for _ in range(1 + warm):
            t = time.perf_counter()
            resp = httpx.get(base + row["path"], headers=headers, timeout=600)
            times.append(time.perf_counter() - t)
            statuses.append(resp.status_code)
        row.update(cpu_total_s=round(process_tree_cpu_s(server), 1),
                   cold_s=round(times[0], 3), warm_median_s=round(statistics.median(times[1:]), 3),
                   warm_s=[round(v, 3) for v in times[1:]], statuses=sorted(set(statuses)),
                   bytes=len(resp.content))
        if page.get("target_s") is not None:
            row["meets_target"] = times[0] < page["target_s"]
        return row
    finally:
        stop_server(server)


def pages(today: dt.date, scenario: int | None) -> list[dict[str, Any]]:
    """The rows to time: name, path, user, when to send the cold request, note, target."""
    new = today + dt.timedelta(days=3)
    dash = f"/squad/{SQUAD}"
    planner = "/planner" + (f"?scenario={scenario}" if scenario is not None else "")
    return [
        {"page": "dashboard_today", "path": dash, "user": "leader", "wait": "up",
         "target_s": TARGET_COLD_S, "note": f"今天 {today}，服务刚启动（后台仍在提前规划）"},
        {"page": "dashboard_today", "path": dash, "user": "leader", "wait": "prepared",
         "target_s": TARGET_COLD_S, "note": f"今天 {today}，启动时的提前规划完成后"},
        {"page": "dashboard_new_date", "path": f"{dash}?date={new}", "user": "leader",
         "wait": "prepared", "target_s": TARGET_COLD_S,
         "note": f"今天 + 3 天 {new}（窗口内，计划已提前生成，首次打开）"},
        {"page": "planner", "path": planner, "user": "planner", "wait": "prepared",
         "target_s": None, "note": "规划页面（选址方案）" + ("" if scenario else "，演示库无已存方案")},
        {"page": "statistics", "path": "/stats", "user": "admin", "wait": "prepared",
         "target_s": None, "note": "统计页面（默认统计期）"},
    ]


def print_table(rows: list[dict[str, Any]]) -> None:
    """One line per row: cold, warm median, the wait before the cold request, sign-in."""
    print(f"\n{'page':20s} {'wait':9s} {'cold s':>7s} {'warm s':>7s} {'prep s':>7s} "
          f"{'start s':>8s} {'sign-in s':>9s}  path")
    for r in rows:
        met = r.get("meets_target")
        mark = "" if met is None else " ✓" if met else " ✗"
        prep = f"{r['prepare_s']:7.1f}" if "prepare_s" in r else f"{'–':>7s}"
        print(f"{r['page']:20s} {r['wait']:9s} {r['cold_s']:7.2f} {r['warm_median_s']:7.2f} "
              f"{prep} {r['server_start_s']:8.2f} {r['sign_in_s']:9.2f}  {r['path']}{mark}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--demo", type=Path, default=None, help="已有的演示输出目录（默认新建）")
    ap.add_argument("--warm", type=int, default=5, help="warm requests after the cold one")
    ap.add_argument("--workers", type=int, default=1, help="xuncha serve --workers")
    ap.add_argument("--port", type=int, default=8772)
    ap.add_argument("--out", type=Path, default=RESULTS / "page_times.json")
    args = ap.parse_args()
    today = dt.datetime.now(ZoneInfo(TZ)).date()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        demo_dir, build_s = args.demo, None
        if demo_dir is None:
            demo_dir = folder / "demo"
            build_s = build_demo(demo_dir)
            print(f"demo built in {build_s:.1f} s", flush=True)
        summary = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
        pristine = copy_db(demo_dir / DB_NAME, folder / "pristine")
        add_users(pristine)
        rows = []
        for i, page in enumerate(pages(today, first_scenario(pristine))):
            rows.append(measure(pristine, folder / f"run{i}", page, port=args.port,
                                workers=args.workers, warm=args.warm))
            print(rows[-1], flush=True)
    print_table(rows)
    out = {"machine": machine_info(), "target_cold_s": TARGET_COLD_S, "workers": args.workers,
           "warm_requests": args.warm, "today": today.isoformat(),
           "demo": {"day": summary["day"], "build_s": round(build_s, 1) if build_s else None,
                    "counts": summary.get("counts", {})},
           "load_avg": round(os.getloadavg()[0], 2),
           "command": " ".join(["python", *sys.argv]), "pages": rows}
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
