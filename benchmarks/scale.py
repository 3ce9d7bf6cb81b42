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

Usage: ``python benchmarks/scale.py [--quick] [--sizes 1000000,3000000,10000000] [--keep DIR]``;
``--quick`` (< 1 minute): 1M only. Writes ``benchmarks/results/scale.json``.
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
    import psutil

    cmd = [sys.executable, __file__, "--child", str(source)]
    if scheduler:
        cmd += ["--scheduler", scheduler]
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
        raise RuntimeError(f"child failed ({scheduler}): {err[-2000:]}")
    row: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    row["tree_peak_rss_mb"] = peak[0] / 2**20
    return row


def measure(n: int, data_root: Path) -> dict[str, Any]:
    """Simulate, write and analyse ``n`` cases both ways."""
    src = data_root / f"cases_{n}"
    if src.exists():
        shutil.rmtree(src)
    write_s = simulate(n, src)
    size_mb = sum(f.stat().st_size for f in src.rglob("*.parquet")) / 2**20
    one = run_child(src, None)
    dask = run_child(src, "local")
    same = one["digest"] == dask["digest"]
    return {"cases": n, "write_s": round(write_s, 1), "dataset_mb": round(size_mb, 1),
            "in_process": {"seconds": round(one["seconds"], 1),
                           "peak_rss_mb": round(one["ru_maxrss_mb"])},
            "dask_local_2_workers": {"seconds": round(dask["seconds"], 1),
                                     "peak_rss_mb": round(dask["tree_peak_rss_mb"]),
                                     "client_scheduler_rss_mb": round(dask["ru_maxrss_mb"])},
            "results_equal": same, "cases_counted": one["cases"],
            "gi_rows": one["gi_rows"], "forecast_rows": one["forecast_rows"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1M only (< 1 minute)")
    ap.add_argument("--sizes", default="1000000,3000000,10000000")
    ap.add_argument("--keep", type=Path, help="keep the simulated datasets in this directory")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--scheduler", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.scheduler)
        return
    sizes = [1_000_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    root = args.keep or Path(tempfile.mkdtemp(prefix="xuncha-scale-"))
    rows = []
    try:
        for n in sizes:
            row = measure(n, root)
            rows.append(row)
            print(f"{n:>11,}  write {row['write_s']:6.1f} s  in-process "
                  f"{row['in_process']['seconds']:6.1f} s {row['in_process']['peak_rss_mb']:6d} MB"
                  f"  dask(2) {row['dask_local_2_workers']['seconds']:6.1f} s "
                  f"{row['dask_local_2_workers']['peak_rss_mb']:6d} MB  equal={row['results_equal']}",
                  flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    report = {"benchmark": "scale", "data": "simulated (模拟数据), seeded numpy simulator",
              "districts": N_DISTRICTS, "days": 365, "cell_m": CELL_M, "method": "blend",
              "targets": {"cases": 10_000_000, "seconds": 120, "peak_gb": 8},
              "machine": machine_info(), "quick": args.quick, "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if args.quick and RESULTS.exists():  # keep the full run; add the quick one beside it
        old = json.loads(RESULTS.read_text(encoding="utf-8"))
        old["quick_run"] = report
        report = old
    RESULTS.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
