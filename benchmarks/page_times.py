"""Cold and warm times of the web pages on the demo database (issue 12).

Usage: ``.venv/bin/python benchmarks/page_times.py [--warm 5] [--workers 1] [--demo DIR]``.

1. Builds the demo (``xuncha demo --out DIR``: a simulated year, hotspots, forecast, siting and
   the plans of the demo day, i.e. tomorrow) in a temp folder, unless ``--demo`` names an existing
   demo output, and adds the users ``leader`` (书院中队 squad leader), ``planner`` and ``admin``.
2. For each page it copies that pristine database, starts ``xuncha serve`` fresh on 127.0.0.1,
   signs in (``POST /api/auth/token``, timed apart) and times the first request (cold), then the
   median of ``--warm`` more (warm); then the server is stopped. So every cold time is the first
   request after a server start on the unchanged demo database.
3. Pages: the squad dashboard for today (not planned by the demo: the plan is made on the
   request), for the demo day (planned), for today + 3 days (not planned), the planner page and
   the statistics page when the service has one (``/stats`` and a few likely paths are probed
   without signing in; absent → skipped with a note).

Target (issue 12): the dashboard for today and for any date under 1.5 s cold. Prints a table and
writes ``benchmarks/results/page_times.json`` with machine information.
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
from _machine import machine_info
from service_load import PASSWORD, TZ, auth_headers, sign_in, start_server, stop_server

RESULTS = Path(__file__).resolve().parent / "results"
SQUAD = "shuyuan"
TARGET_COLD_S = 1.5
STATS_CANDIDATES = ("/stats", "/statistics", f"/squad/{SQUAD}/stats", "/planner/stats",
                    "/admin/stats")
DB_NAME = "xuncha-demo.db"


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


def find_stats(base: str) -> str | None:
    """The statistics page's path: the first candidate a signed-out visitor is not told is absent."""
    for path in STATS_CANDIDATES:
        if httpx.get(base + path, timeout=30).status_code != 404:
            return path
    return None


def measure(pristine: Path, folder: Path, page: dict[str, Any], *, port: int, workers: int,
            warm: int) -> dict[str, Any]:
    """Fresh database copy, fresh server: sign in, the cold request, then ``warm`` more."""
    url = f"sqlite:///{copy_db(pristine, folder)}"
    t0 = time.perf_counter()
    server = start_server(url, port, workers, folder / "server.log")
    row: dict[str, Any] = {**page, "server_start_s": round(time.perf_counter() - t0, 2)}
    base = f"http://127.0.0.1:{port}"
    try:
        if page["path"] is None:
            row["path"] = find_stats(base)
            if row["path"] is None:
                return {**row, "skipped": "统计页面尚未提供（已探测：" + "、".join(STATS_CANDIDATES)
                        + "）；该页面完成后重新运行本基准。"}
        token, sign_s = sign_in(base, page["user"])
        row["sign_in_s"] = round(sign_s, 3)
        headers = auth_headers(token)
        times, statuses = [], []
        for _ in range(1 + warm):
            t = time.perf_counter()
            resp = httpx.get(base + row["path"], headers=headers, timeout=600)
            times.append(time.perf_counter() - t)
            statuses.append(resp.status_code)
        row.update(cold_s=round(times[0], 3), warm_median_s=round(statistics.median(times[1:]), 3),
                   warm_s=[round(v, 3) for v in times[1:]], statuses=sorted(set(statuses)),
                   bytes=len(resp.content))
        if page.get("target_s") is not None:
            row["meets_target"] = times[0] < page["target_s"]
        return row
    finally:
        stop_server(server)


def pages(today: dt.date, demo_day: dt.date) -> list[dict[str, Any]]:
    """The pages to time: name, path (None: probe the statistics page), user, note, target."""
    new = today + dt.timedelta(days=3)
    dash = f"/squad/{SQUAD}"
    return [
        {"page": "dashboard_today", "path": dash, "user": "leader", "target_s": TARGET_COLD_S,
         "note": f"今天 {today}（演示未规划，首个请求时规划）"},
        {"page": "dashboard_demo_day", "path": f"{dash}?date={demo_day}", "user": "leader",
         "target_s": TARGET_COLD_S, "note": f"演示日 {demo_day}（已规划）"},
        {"page": "dashboard_new_date", "path": f"{dash}?date={new}", "user": "leader",
         "target_s": TARGET_COLD_S, "note": f"今天 + 3 天 {new}（未规划）"},
        {"page": "planner", "path": "/planner", "user": "planner", "target_s": None,
         "note": "规划页面（选址方案）"},
        {"page": "statistics", "path": None, "user": "admin", "target_s": None,
         "note": "统计页面"},
    ]


def print_table(rows: list[dict[str, Any]]) -> None:
    """One line per page."""
    print(f"\n{'page':20s} {'cold s':>7s} {'warm s':>7s} {'start s':>8s} {'sign-in s':>9s}  path")
    for r in rows:
        if "skipped" in r:
            print(f"{r['page']:20s} {'–':>7s} {'–':>7s} {r['server_start_s']:8.2f} {'–':>9s}  "
                  f"skipped: {r['skipped']}")
            continue
        met = r.get("meets_target")
        mark = "" if met is None else " ✓" if met else " ✗"
        print(f"{r['page']:20s} {r['cold_s']:7.2f} {r['warm_median_s']:7.2f} "
              f"{r['server_start_s']:8.2f} {r['sign_in_s']:9.2f}  {r['path']}{mark}")


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
        for i, page in enumerate(pages(today, dt.date.fromisoformat(summary["day"]))):
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
