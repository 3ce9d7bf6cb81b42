"""Scale: Gi* + forecast + trends over 1M, 3M and 10M simulated cases, on one machine and on Dask.

For each size, **simulated** cases (模拟数据; a seeded numpy simulator, not ``geo.simulate``,
which builds descriptions and addresses and is far too slow at 10M) over 8 districts of about
8 km x 8 km around Xiaogan and 365 days (2025): per district 25 Gaussian hotspots (sigma
60-150 m) hold 60 % of the cases, the rest is uniform; 11 catalogue categories. One GeoParquet
file per district and month (96 partitions) is written through ``geo.io.parquet.write_case_dataset``
(timed: ``write_s``). Then, each in its own subprocess, ``geo.batch.run_batch`` at 150 m cells
(Gi* for every category, the ``blend`` forecast, weekly trends, monthly statistics):

``in-process``
    ``scheduler=None``: streaming one fragment at a time; peak memory = ``ru_maxrss`` of the
    subprocess.
``dask-local``
    ``scheduler="local"``: a ``distributed.LocalCluster`` of 2 single-threaded worker
    processes (cluster start-up included in the time); peak memory = the largest sum of the
    RSS of the subprocess (client + scheduler) and its worker processes, sampled every 0.2 s
    with psutil.

The two results are checked equal (integer columns exactly, floats to 1e-12) by comparing a
digest written by each run. Targets (issue 15): 10M in <= 120 s and <= 8 GB peak on one machine.

PostGIS (``--postgis``, default on; ``--no-postgis`` skips it): the same dataset, moved 0.20° east
(clear of the embedded 孝南区) and stored as 8 districts of 4 squads each, is imported into a scratch
database ``xuncha_scale_bench`` (created with PostGIS on ``--admin-url`` and dropped afterwards) by
``service.importer.import_file`` — the function ``xuncha import`` calls, binary ``COPY`` through a
staging table — one CSV per month, in a child process: seconds, rows/s, peak RSS of its process
tree and CPU seconds (client, reader workers, PostgreSQL backends). Then, through the app
(TestClient, an admin): p50/p95 of 16 fixed tiles per zoom (z12, z14, z16) of
``/tiles/cases/{z}/{x}/{y}.mvt`` (all cases, and one month), and of 40 distinct
``/api/cases?bbox=…&month=…`` views. Helpers: ``benchmarks/_scale_postgis.py``.

Expected durations (2026-12-01, 2 cores shared with other sessions, ``nice -n 10``; monthly
partitions, migration 0013): the 1M import took 69.9 s wall at load ~3 (146 s at load ~9) and
62 CPU s (importer 19, reader workers 6, PostgreSQL backends 37); 3M took 348 s at load 4-10
(183 CPU s). The unpartitioned schema (before 0013) used 63 and 169 CPU s for the same imports
(``results/scale_unpartitioned_baseline.json``). At ~61 CPU µs per row, 10M is ~10 CPU-minutes
of import, run one step after the other (read, parse, write): ~10 min on an idle machine, more
on a loaded one — at the issue's 10-minute target, not under it.

Usage: ``python benchmarks/scale.py [--sizes 1000000[,3000000,10000000]] [--no-postgis]
[--postgis-only] [--out FILE] [--admin-url URL] [--keep DIR]``; the default is 1M only;
``--quick``: 1M without PostGIS; ``--postgis-only``: no Gi*/forecast rows. Writes
``benchmarks/results/scale.json`` (or ``--out``), merged: rows of sizes not re-run, and sections not
re-run (``postgis`` with ``--no-postgis``), are kept.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import machine_info  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
CATEGORIES = ("09006", "09001", "09005", "09002", "06001", "08016", "06036", "06045", "06028",
              "06040", "09004")
N_DISTRICTS = 8
CELL_M = 150.0


def simulate(n: int, root: Path, *, seed: int = 15) -> float:
    """Write ``n`` simulated cases as a district/month GeoParquet dataset; return seconds."""
    import geopandas as gpd
    import pandas as pd

    from geo.io.parquet import write_case_dataset

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    months = pd.date_range("2025-01-01", periods=13, freq="MS", tz="Asia/Shanghai")
    span = (months[-1] - months[0]).total_seconds()
    next_id = 0
    for d in range(N_DISTRICTS):
        lon0, lat0 = 113.80 + 0.10 * (d % 4), 30.85 + 0.09 * (d // 4)
        spots = np.column_stack([lon0 + rng.uniform(0.005, 0.075, 25),
                                 lat0 + rng.uniform(0.005, 0.065, 25)])
        sigma = rng.uniform(60, 150, 25) / 100_000.0  # ~ degrees
        share = rng.dirichlet(np.ones(25))
        for m in range(12):
            lo, hi = months[m], months[m + 1]
            k = n // (N_DISTRICTS * 12) + (1 if d * 12 + m < n % (N_DISTRICTS * 12) else 0)
            hot = rng.random(k) < 0.6
            which = rng.choice(25, size=k, p=share)
            lon = np.where(hot, spots[which, 0] + rng.normal(0, 1, k) * sigma[which],
                           lon0 + rng.uniform(0, 0.08, k))
            lat = np.where(hot, spots[which, 1] + rng.normal(0, 1, k) * sigma[which],
                           lat0 + rng.uniform(0, 0.07, k))
            secs = rng.uniform((lo - months[0]).total_seconds(), (hi - months[0]).total_seconds(), k)
            times = months[0] + pd.to_timedelta(np.sort(np.minimum(secs, span - 1)), unit="s")
            frame = gpd.GeoDataFrame(
                {"case_id": pd.Series(np.arange(next_id, next_id + k)).map("S{:08d}".format),
                 "category": np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), k)],
                 "reported_at": times, "lon": lon, "lat": lat, "district": f"d{d + 1:02d}",
                 "month": lo.strftime("%Y-%m"), "simulated": True},
                geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
            write_case_dataset(frame, root)
            next_id += k
    return time.perf_counter() - t0


def _digest(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("gi", "forecast", "trends", "stats"):
        frame = getattr(result, name)
        ints = [c for c in frame.columns if frame[c].dtype.kind in "iu"]
        floats = [c for c in frame.columns if frame[c].dtype.kind == "f"]
        out[name] = {"rows": len(frame), "ints": {c: int(frame[c].sum()) for c in ints},
                     "floats": {c: float(np.nansum(frame[c].to_numpy())) for c in floats}}
    return out


def child(source: str, scheduler: str | None) -> None:
    """Subprocess body: run the batch once and print timing, memory and a digest as JSON."""
    from geo.batch import run_batch

    t0 = time.perf_counter()
    res = run_batch(source, scheduler=scheduler, cell_m=CELL_M)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "cases": res.summary["cases"],
                      "districts": len(res.summary["districts"]),
                      "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "digest": _digest(res), "gi_rows": len(res.gi),
                      "forecast_rows": len(res.forecast)}))


def _tree_rss(proc: Any) -> int:
    import psutil

    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run_child(source: Path, scheduler: str | None) -> dict[str, Any]:
    """Run :func:`child` in a subprocess; add the peak RSS of its process tree."""
    cmd = [sys.executable, __file__, "--child", str(source)]
    if scheduler:
        cmd += ["--scheduler", scheduler]
    return run_tree(cmd, scheduler or "in-process")


def run_tree(cmd: list[str], what: str) -> dict[str, Any]:
    """Run ``cmd`` (prints one JSON line last); add the peak RSS of its process tree."""
    import psutil

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    ps = psutil.Process(proc.pid)

    def watch() -> None:
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], _tree_rss(ps))
            time.sleep(0.2)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    out, err = proc.communicate()
    th.join()
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({what}): {err[-2000:]}")
    row: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    row["tree_peak_rss_mb"] = peak[0] / 2**20
    return row


def measure_postgis(n: int, src: Path, work: Path, admin_url: str) -> dict[str, Any]:
    """Import the dataset ``src`` into a scratch PostGIS database and time the case layer."""
    from _scale_postgis import latency, scratch_database, store_districts, write_month_csvs

    csv_dir = work / f"csv_{n}"
    files, csv_s = write_month_csvs(src, csv_dir)
    csv_mb = sum(f.stat().st_size for f in files) / 2**20
    with scratch_database(admin_url) as url:
        t0 = time.perf_counter()
        squads = store_districts(url, N_DISTRICTS, work)
        districts_s = time.perf_counter() - t0
        imp = run_tree([sys.executable, __file__, "--pg-import", url, str(csv_dir)], "pg-import")
        print(f"  imported {imp['inserted']:,} rows in {imp['seconds']:.1f} s", flush=True)
        lat = latency(url, N_DISTRICTS)
    shutil.rmtree(csv_dir, ignore_errors=True)
    cpu = imp["client_cpu_s"] + imp["reader_workers_cpu_s"] + imp["db_backends_cpu_s"]
    return {"cases": n, "csv_files": imp["files"], "csv_mb": round(csv_mb, 1),
            "csv_write_s": round(csv_s, 1), "districts": N_DISTRICTS, "squads": len(squads),
            "districts_store_s": round(districts_s, 1),
            "import": {"seconds": round(imp["seconds"], 1),
                       "rows_per_s": round(imp["inserted"] / imp["seconds"]),
                       "inserted": imp["inserted"], "rejected": imp["rejected"],
                       "phases_s": imp.get("phases_s", {}), "layout": imp.get("layout", {}),
                       "stored": imp["stored"], "per_file_s": imp["per_file_s"],
                       "peak_rss_mb": round(imp["tree_peak_rss_mb"]),
                       "client_rss_mb": round(imp["ru_maxrss_mb"]),
                       "cpu_s": {"client": round(imp["client_cpu_s"], 1),
                                 "reader_workers": round(imp["reader_workers_cpu_s"], 1),
                                 "db_backends": round(imp["db_backends_cpu_s"], 1),
                                 "total": round(cpu, 1)}},
            **lat}


def measure(n: int, data_root: Path, admin_url: str | None = None, *,
            postgis_only: bool = False) -> dict[str, Any]:
    """Simulate, write and analyse ``n`` cases both ways (and import them into PostGIS);
    ``postgis_only``: simulate and import only (``{"postgis": …}``)."""
    src = data_root / f"cases_{n}"
    if src.exists():
        shutil.rmtree(src)
    write_s = simulate(n, src)
    size_mb = sum(f.stat().st_size for f in src.rglob("*.parquet")) / 2**20
    if postgis_only and admin_url:
        return {"postgis": measure_postgis(n, src, data_root, admin_url)}
    one = run_child(src, None)
    dask = run_child(src, "local")
    same = one["digest"] == dask["digest"]
    pg = measure_postgis(n, src, data_root, admin_url) if admin_url else None
    return {"postgis": pg, "cases": n, "write_s": round(write_s, 1), "dataset_mb": round(size_mb, 1),
            "in_process": {"seconds": round(one["seconds"], 1),
                           "peak_rss_mb": round(one["ru_maxrss_mb"])},
            "dask_local_2_workers": {"seconds": round(dask["seconds"], 1),
                                     "peak_rss_mb": round(dask["tree_peak_rss_mb"]),
                                     "client_scheduler_rss_mb": round(dask["ru_maxrss_mb"])},
            "results_equal": same, "cases_counted": one["cases"],
            "gi_rows": one["gi_rows"], "forecast_rows": one["forecast_rows"]}


def _merge(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows by size: the new ones replace the old of the same size; the others are kept."""
    by = {r["cases"]: r for r in old}
    by.update({r["cases"]: r for r in new})
    return [by[k] for k in sorted(by)]


def write_results(rows: list[dict[str, Any]], pg_rows: list[dict[str, Any]],
                  args: argparse.Namespace) -> None:
    """Merge into ``scale.json``: sizes and sections not re-run stay as they were."""
    out: Path = args.out
    old = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    for r in old.get("rows", []):  # rows of the former layout: run with the file's machine date
        r.setdefault("run_utc", str(old.get("machine", {}).get("date", "?"))[:16])
    stamp = str(machine_info()["date"])[:16]
    for r in [*rows, *pg_rows]:
        r["run_utc"] = stamp
    old.pop("quick_run", None)  # the former layout's side entry (rows now merge by size)
    report = {**old, "benchmark": "scale", "data": "simulated (模拟数据), seeded numpy simulator",
              "districts": N_DISTRICTS, "days": 365, "cell_m": CELL_M, "method": "blend",
              "targets": {"cases": 10_000_000, "seconds": 120, "peak_gb": 8,
                          "import_10m_minutes": 10},
              "machine": machine_info(), "quick": False,
              "rows": _merge(old.get("rows", []), rows)}
    if pg_rows:
        report["postgis"] = {
            "machine": machine_info(), "import_path": "service.importer.import_file "
            "(xuncha import), binary COPY via staging tables, one CSV per month; cases "
            "partitioned by month (migration 0013) where import.layout.partitioned",
            "tiles": "16 fixed tiles per zoom (z12: the distinct ones, 15), "
            "/tiles/cases/{z}/{x}/{y}.mvt via TestClient",
            "case_list": "40 distinct /api/cases?bbox=…&month=… views (0.5–3 km)",
            "rows": _merge(old.get("postgis", {}).get("rows", []), pg_rows)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"wrote {out}")


def print_table(rows: list[dict[str, Any]], pg_rows: list[dict[str, Any]]) -> None:
    """The rows of this run as a plain-text table."""
    print(f"{'cases':>11} {'write s':>8} {'in-proc s':>9} {'MB':>6} {'dask(2) s':>9} {'MB':>6} "
          f"{'equal':>6}")
    for r in rows:
        one, dask = r["in_process"], r["dask_local_2_workers"]
        print(f"{r['cases']:>11,} {r['write_s']:>8.1f} {one['seconds']:>9.1f} "
              f"{one['peak_rss_mb']:>6} {dask['seconds']:>9.1f} {dask['peak_rss_mb']:>6} "
              f"{r['results_equal']!s:>6}")
    for p in pg_rows:
        imp = p["import"]
        print(f"\nPostGIS import {p['cases']:,} cases ({p['csv_files']} CSV files, "
              f"{p['csv_mb']} MB, {p['squads']} squads in {p['districts']} districts): "
              f"{imp['seconds']:.1f} s, {imp['rows_per_s']:,} rows/s, peak RSS "
              f"{imp['peak_rss_mb']} MB, CPU s {imp['cpu_s']}, rejected {imp['rejected']}")
        print(f"{'request':<24} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
              f"{'client CPU ms':>13} {'bytes':>9}")
        items = [(f"tile {k}", v) for k, v in p["tiles"].items()]
        for name, v in [*items, ("case list bbox+month", p["case_list_bbox_month"])]:
            print(f"{name:<24} {v['requests']:>4} {v['p50_ms']:>8.1f} {v['p95_ms']:>8.1f} "
                  f"{v['max_ms']:>8.1f} {v['client_cpu_ms_mean']:>13.1f} {v['bytes_mean']:>9,}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1M only, without PostGIS")
    ap.add_argument("--sizes", default="1000000", help="comma-separated, e.g. 1000000,3000000,10000000")
    ap.add_argument("--no-postgis", action="store_true", help="skip the PostGIS import and latency")
    ap.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--keep", type=Path, help="keep the simulated datasets in this directory")
    ap.add_argument("--postgis-only", action="store_true",
                    help="skip the Gi*/forecast batch rows: simulate and import into PostGIS only")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON file to merge results into")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--scheduler", help=argparse.SUPPRESS)
    ap.add_argument("--pg-import", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.scheduler)
        return
    if args.pg_import:
        from _scale_postgis import import_child

        import_child(*args.pg_import)
        return
    sizes = [1_000_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    admin = None if (args.quick or args.no_postgis) else args.admin_url
    root = args.keep or Path(tempfile.mkdtemp(prefix="xuncha-scale-"))
    rows: list[dict[str, Any]] = []
    try:
        for n in sizes:
            rows.append(measure(n, root, admin, postgis_only=args.postgis_only))
            print(f"{n:,} done", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    pg_rows = [r.pop("postgis") for r in rows]
    pg_rows = [p for p in pg_rows if p]
    rows = [r for r in rows if r]  # --postgis-only: no batch rows
    print_table(rows, pg_rows)
    write_results(rows, pg_rows, args)


if __name__ == "__main__":
    main()
