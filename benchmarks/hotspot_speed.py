"""Hotspot speed and accuracy on simulated cases, ``background`` (default) against HDBSCAN.

Sections (``--sections``, default all; each size/method runs in its own subprocess so that the
peak resident memory, ru_maxrss, is that run's; sections not run keep their previous rows in
the JSON, with the date they ran in ``section_dates``; in ``district`` the rows of sizes, shares
or methods not run this time are kept too, each row with its ``date``). Simulations: ``_hotspot_sim.py``.

``district`` (issue 13)
    An 8 km x 6 km district (EPSG:4547) with an uneven background (``--shares``: 50, 80, 90 % of
    the cases; 2.5-fold west-east gradient and a dense core) and 60 hotspots at least 400 m
    apart: 20 compact (Gaussian, sigma 8-25 m), 20 street-shaped (lanes 150-300 m x 10-20 m)
    and 20 weak (discs 60-120 m wide at 3-5 times the local background). Methods side by side
    (:data:`DISTRICT_METHODS`, ``--methods``): ``background`` (the default),
    ``background-cells`` (the default before weak hotspots were drawn at the scale of their
    windows), ``background-fwer`` (family-wise keep rule, 10/50/90 m windows) and ``hdbscan``,
    timed end to end from a WGS84 GeoDataFrame (wall and CPU seconds): recall per kind (the
    headline: planted centres inside a polygon; ``_overlap``: centre inside or at least 30 % of
    the planted footprint covered), ``weak_cover`` (median share of a found weak disc its
    polygon covers), precision (polygons meeting a planted footprint), merged, share of the
    district covered, peak RSS, and ``weak_ceiling``: the share of weak hotspots whose own
    count is significant at the level a district-wide scan needs even at their true place and
    size.
``real``
    Chicago crimes 2017-2018 and NYC vehicle thefts 2014-2017 from ``../shared/data/real``
    (skipped where absent): share of cases inside the hotspots, share of the study area
    (occupied 250 m cells) they cover, PAI = case share / area share, per method.
``legacy``
    The earlier benchmark: a 12 km x 10 km city with 40 round/strip hotspots holding 60 % of
    the cases, HDBSCAN at 10k/100k/1M and a comparison with plain ``sklearn.cluster.HDBSCAN``.
``cli`` (only with ``--cli``)
    THE WHOLE-COMMAND TIMING: ``python -m service.cli hotspots --cases X.csv --out Y.geojson
    --method M`` (``xuncha`` is ``service.cli:app``) on the district cases (80 %) written as
    CSV, per method, at ``--sizes``: wall and CPU seconds and peak RSS (``/usr/bin/time -v``).
    Should the CLI refuse a method, the same path runs as ``python -c`` (column ``via``).

Usage: ``python benchmarks/hotspot_speed.py [--quick] [--cli] [--sections district,real]
[--sizes 100000,1000000] [--methods background,background-cells]``; ``--quick`` (< 1 minute): district at 100k with 80 % background,
NYC only, no legacy. Writes ``benchmarks/results/hotspot_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _hotspot_sim import (  # noqa: E402
    CRS,
    accuracy,
    district_accuracy,
    label_polygons,
    simulate,
    simulate_district,
    to_cases,
    weak_ceiling,
)
from _machine import machine_info  # noqa: E402

# District methods: name -> (find_hotspots method, extra options). "background-cells" is the
# default before weak hotspots were drawn at the scale of their windows (grow_weak=False: the
# concave hull of the cases in the cells that pass the density floor); "background-fwer" the
# one before that (family-wise keep rule, 10/50/90 m windows).
DISTRICT_METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "background": ("background", {}),
    "background-cells": ("background", {"grow_weak": False}),
    "background-fwer": ("background", {"keep_rule": "fwer", "scan_windows_m": (10, 50, 90)}),
    "hdbscan": ("hdbscan", {}),
}

def worker(n: int, compare: bool) -> dict[str, Any]:
    """Run one size (in a subprocess) and return its measurements."""
    from geo.analysis.hotspots import _auto_min_cases, find_hotspots, label_points
    from geo.crs import to_working

    xy, truth, cen, hours = simulate(n)
    cases = to_cases(xy, hours)
    t0 = time.perf_counter()
    hs = find_hotspots(cases, method="hdbscan", working_crs=CRS)
    t_total = time.perf_counter() - t0
    work = to_working(cases, crs=CRS)
    t0 = time.perf_counter()
    labels = label_points(work, method="hdbscan")
    t_cluster = time.perf_counter() - t0
    recall, precision = accuracy(list(hs.geometry), cen)
    row: dict[str, Any] = {
        "n": n, "time_total_s": round(t_total, 3), "time_cluster_s": round(t_cluster, 3),
        "hotspots": len(hs), "recall": round(recall, 3), "precision": round(precision, 3),
        "min_cases": _auto_min_cases(n),
        "share_of_hotspot_cases_labelled": round(float((labels[truth >= 0] >= 0).mean()), 3),
        "share_of_background_labelled": round(float((labels[truth < 0] >= 0).mean()), 3),
    }
    if compare:
        row["sklearn"] = compare_sklearn(work, truth, cen)
    row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return row


def compare_sklearn(work: Any, truth: np.ndarray, cen: np.ndarray) -> dict[str, Any]:
    import shapely
    from sklearn.cluster import HDBSCAN
    from sklearn.metrics import adjusted_rand_score

    from geo.analysis.clustering import density_labels
    from geo.analysis.hotspots import _auto_min_cases

    xy = shapely.get_coordinates(work.geometry.to_numpy())
    mc = _auto_min_cases(len(xy))
    t0 = time.perf_counter()
    ref = HDBSCAN(min_cluster_size=mc, min_samples=10, copy=True).fit_predict(xy)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    raw = density_labels(xy, min_cluster_size=mc, min_samples=10, min_density_ratio=None)
    t_raw = time.perf_counter() - t0
    t0 = time.perf_counter()
    floor = density_labels(xy, min_cluster_size=mc, min_samples=10)
    t_floor = time.perf_counter() - t0
    r_rec, r_prec = accuracy(label_polygons(xy, ref), cen)
    return {
        "n": len(xy), "sklearn_time_s": round(t_ref, 3),
        "grid_time_s": round(t_raw, 3), "grid_floor_time_s": round(t_floor, 3),
        "speedup": round(t_ref / t_raw, 1),
        "ari_grid_vs_sklearn": round(float(adjusted_rand_score(ref, raw)), 4),
        "ari_grid_floor_vs_sklearn": round(float(adjusted_rand_score(ref, floor)), 4),
        "sklearn_clusters": int(ref.max()) + 1, "grid_clusters": int(raw.max()) + 1,
        "sklearn_recall": round(r_rec, 3), "sklearn_precision": round(r_prec, 3),
        "ari_sklearn_vs_truth": round(float(adjusted_rand_score(truth, ref)), 4),
        "ari_grid_floor_vs_truth": round(float(adjusted_rand_score(truth, floor)), 4),
    }


def district_worker(n: int, share: float, name: str) -> dict[str, Any]:
    """One district run of the method ``name`` (:data:`DISTRICT_METHODS`), in a subprocess."""
    from geo.analysis.background import find_background_hotspots
    from geo.analysis.hotspots import find_hotspots

    method, options = DISTRICT_METHODS[name]
    sim = simulate_district(n, share)
    cases = to_cases(sim["xy"], sim["hours"])
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "background":  # what find_hotspots runs, with the variant's options
        hs = find_background_hotspots(cases, working_crs=CRS, **options)
    else:
        hs = find_hotspots(cases, method=method, working_crs=CRS)  # type: ignore[arg-type]
    row = {"n": n, "background_share": share, "method": name,
           "time_s": round(time.perf_counter() - t0, 3),
           "cpu_s": round(time.process_time() - c0, 3)}
    row |= district_accuracy(list(hs.geometry), sim) | weak_ceiling(sim)
    row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return row


# ---------------------------------------------------------------- real data ------------------
REAL = {"nyc": ("nyc_vehicle_thefts_2014_2017.csv", "EPSG:32618"),
        "chicago": ("chicago_crimes_2017_2018.csv", "EPSG:32616")}
SHARED_REAL = ROOT.parent / "shared" / "data" / "real"


def real_worker(name: str, method: str) -> dict[str, Any]:
    import geopandas as gpd
    import pandas as pd
    import shapely

    from geo.analysis.hotspots import find_hotspots

    fname, crs = REAL[name]
    df = pd.read_csv(SHARED_REAL / fname, usecols=["longitude", "latitude"]).dropna()
    cases = gpd.GeoDataFrame(geometry=gpd.points_from_xy(df["longitude"], df["latitude"]),
                             crs="EPSG:4326")
    t0 = time.perf_counter()
    hs = find_hotspots(cases, method=method, working_crs=crs, gi_cell_m=None)  # type: ignore[arg-type]
    t = time.perf_counter() - t0
    xy = shapely.get_coordinates(cases.to_crs(crs).geometry.to_numpy())
    cells = np.unique(np.floor(xy / 250.0), axis=0)
    study = len(cells) * 250.0**2
    area = float(shapely.union_all(hs.geometry.to_numpy()).area) if len(hs) else 0.0
    inside = int(hs["case_count"].sum()) if len(hs) else 0
    case_share, area_share = inside / len(xy), area / study
    return {"dataset": name, "method": method, "cases": len(xy), "time_s": round(t, 3),
            "hotspots": len(hs), "case_share": round(case_share, 4),
            "area_share": round(area_share, 5),
            "pai": round(case_share / area_share, 2) if area_share else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


# ---------------------------------------------------------------- whole CLI command ----------
CLI_EQUIVALENT = """
import json, sys
from pathlib import Path
from service.commands.hotspots import read_cases
from geo.analysis.hotspots import find_hotspots, hotspots_to_geojson
gdf, _ = read_cases(Path(sys.argv[1]))
fc = hotspots_to_geojson(find_hotspots(gdf, method=sys.argv[3]))
Path(sys.argv[2]).write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
"""


def _timed(cmd: list[str]) -> tuple[subprocess.CompletedProcess[str], dict[str, float]]:
    """Run ``cmd`` under ``/usr/bin/time -v`` when present: result, and wall seconds
    (``time_s``), CPU seconds (``cpu_s``, user + system: what the command costs on a machine
    shared by other jobs) and peak RSS in MB (``peak_rss_mb``)."""
    gnu_time = Path("/usr/bin/time")
    full = [str(gnu_time), "-v", *cmd] if gnu_time.exists() else cmd
    t0 = time.perf_counter()
    res = subprocess.run(full, capture_output=True, text=True, cwd=ROOT)
    out = {"time_s": round(time.perf_counter() - t0, 3), "cpu_s": float("nan"),
           "peak_rss_mb": float("nan")}
    cpu = 0.0
    for line in res.stderr.splitlines():
        if "Maximum resident set size" in line:
            out["peak_rss_mb"] = round(int(line.split(":")[-1]) / 1024, 1)
        elif "User time (seconds)" in line or "System time (seconds)" in line:
            cpu += float(line.split(":")[-1])
            out["cpu_s"] = round(cpu, 2)
    return res, out


def cli_rows(n: int, share: float) -> list[dict[str, Any]]:
    """Time ``python -m service.cli hotspots`` (the ``xuncha`` console script) per method."""
    import tempfile

    import pandas as pd

    sim = simulate_district(n, share)
    cases = to_cases(sim["xy"], sim["hours"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "cases.csv"
        pd.DataFrame({"case_id": cases["case_id"], "category": cases["category"],
                      "reported_at": cases["reported_at"].astype(str),
                      "lon": cases.geometry.x.round(7), "lat": cases.geometry.y.round(7)}
                     ).to_csv(csv, index=False)
        for method in ("background", "hdbscan"):
            out = Path(tmp) / f"{method}.geojson"
            cmd = [sys.executable, "-m", "service.cli", "hotspots", "--cases", str(csv),
                   "--out", str(out), "--method", method]
            res, timing = _timed(cmd)
            via = "xuncha hotspots"
            if res.returncode != 0:
                lines = res.stderr.split("\tCommand being timed")[0].strip().splitlines()
                note = lines[-1][:200] if lines else ""
                res, timing = _timed([sys.executable, "-c", CLI_EQUIVALENT, str(csv),
                                      str(out), method])
                via = f"python -c (CLI refused: {note})"
            row: dict[str, Any] = {"n": n, "background_share": share, "method": method,
                                   "via": via, "exit_code": res.returncode} | timing
            if res.returncode == 0:
                import geopandas as gpd

                polys = list(gpd.read_file(out).to_crs(CRS).geometry)
                row |= district_accuracy(polys, sim)
            else:
                row["note"] = res.stderr.strip()[-300:]
            rows.append(row)
    return rows


# ---------------------------------------------------------------- driver ---------------------
def _sub(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                         text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def _print_district(r: dict[str, Any]) -> None:
    print(f"{r['n']:>9,d} bg {r['background_share']:.0%} {r['method']:16s} "
          f"{r['time_s']:7.2f} s (cpu {r['cpu_s']:6.2f}) {r['peak_rss_mb']:6.0f} MB  polys "
          f"{r['hotspots']:3d}  recall compact {r['recall_compact']:.2f} street "
          f"{r['recall_street']:.2f} weak {r['recall_weak']:.2f} (overlap "
          f"{r['recall_weak_overlap']:.2f}, ceiling {r['weak_ceiling']:.2f}, cover "
          f"{r['weak_cover']:.2f})  precision {r['precision']:.2f}  merged {r['merged']:2d}  "
          f"area {r['area_share']:.2%}", flush=True)


def run_district(sizes: list[int], shares: list[float],
                 methods: list[str]) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        for share in shares:
            for name in methods:
                rows.append(_sub(["--district", str(n), "--share", str(share), "--method", name]))
                _print_district(rows[-1])
    return rows


def run_real(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if not SHARED_REAL.is_dir():
        print(f"real data skipped: {SHARED_REAL} is absent (a fresh clone without ../shared)")
        return rows
    for name in ["nyc"] if quick else list(REAL):
        for method in ("background",) if quick else ("background", "hdbscan"):
            rows.append(_sub(["--real", name, "--method", method]))
            r = rows[-1]
            print(f"{name:8s} {r['method']:10s} {r['cases']:>8,d} cases {r['time_s']:7.2f} s "
                  f"polys {r['hotspots']:4d}  cases inside {r['case_share']:.1%}  area "
                  f"{r['area_share']:.3%}  PAI {r['pai']}", flush=True)
    return rows


def run_cli(sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        for r in cli_rows(n, 0.8):
            rows.append(r)
            print(f"CLI {r['n']:>9,d} {r['method']:10s} exit {r['exit_code']} "
                  f"{r['time_s']:6.2f} s (cpu {r['cpu_s']:6.2f}) {r['peak_rss_mb']:7.0f} MB  "
                  f"recall {r.get('recall_compact', 0):.2f}/{r.get('recall_street', 0):.2f}/"
                  f"{r.get('recall_weak', 0):.2f} (weak overlap "
                  f"{r.get('recall_weak_overlap', 0):.2f}) precision {r.get('precision', 0):.2f} "
                  f"area {r.get('area_share', 0):.2%}  via {r['via']}", flush=True)
    return rows


def _merge_district(fresh: list[dict[str, Any]], old: dict[str, Any],
                    date: str) -> list[dict[str, Any]]:
    """This run's district rows (dated) plus the previous rows of sizes, shares or methods not
    run this time (keeping their own date, else their section's), ordered by size, share and
    :data:`DISTRICT_METHODS`."""
    def key(r: dict[str, Any]) -> tuple[int, float, str]:
        return r["n"], r["background_share"], r["method"]

    ran = {key(r) for r in fresh}
    was = old.get("section_dates", {}).get("district", "?")
    kept = [r | {"date": r.get("date", was)} for r in old.get("district", []) if key(r) not in ran]
    rank = {m: i for i, m in enumerate(DISTRICT_METHODS)}
    rows = [r | {"date": date} for r in fresh] + kept
    return sorted(rows, key=lambda r: (r["n"], r["background_share"],
                                       rank.get(r["method"], len(rank))))


def _worker_mode(args: argparse.Namespace) -> bool:
    """Run one subprocess job when asked to (printing its JSON row); False otherwise."""
    if args.worker:
        print(json.dumps(worker(args.worker, args.compare)))
    elif args.district:
        print(json.dumps(district_worker(args.district, args.share, args.method)))
    elif args.real:
        print(json.dumps(real_worker(args.real, args.method)))
    else:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="< 1 minute: 100k, 80 %%, NYC only")
    ap.add_argument("--cli", action="store_true", help="also time the whole xuncha command")
    ap.add_argument("--sections", default=None, help="comma list of district,real,legacy")
    ap.add_argument("--shares", default="0.5,0.8,0.9", help="background shares (district)")
    ap.add_argument("--sizes", default="100000,1000000", help="district and CLI sizes")
    ap.add_argument("--methods", default=",".join(DISTRICT_METHODS),
                    help="comma list of district methods (%(default)s)")
    for hidden in ("--worker", "--district"):
        ap.add_argument(hidden, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--compare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--share", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--method", help=argparse.SUPPRESS)
    ap.add_argument("--real", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if _worker_mode(args):
        return
    default = "district,real" if args.quick else "district,real,legacy"
    sections = set((args.sections or default).split(","))
    shares = [0.8] if args.quick else [float(s) for s in args.shares.split(",")]
    sizes = [100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    methods = args.methods.split(",")
    unknown = sorted(set(methods) - set(DISTRICT_METHODS))
    if unknown:
        ap.error(f"unknown --methods {unknown}; choose from {list(DISTRICT_METHODS)}")
    path = ROOT / "benchmarks" / "results" / "hotspot_speed.json"
    # sections not run this time are kept from the previous result, with the date they ran
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    result: dict[str, Any] = {
        "benchmark": "hotspot_speed", "machine": machine_info(), "quick": args.quick,
        "targets": {"recall_each_kind": 0.9, "precision": 0.8, "area_share": 0.05,
                    "1M_s": 20.0, "1M_s_moonshot": 5.0, "1M_peak_mb": 4096,
                    "legacy_100k_s": 2.0, "legacy_1M_s": 15.0},
        "section_dates": dict(old.get("section_dates", {}))}
    ran = {"district": "district" in sections, "real": "real" in sections,
           "rows": "legacy" in sections, "cli": args.cli}
    for key, fresh in ran.items():
        if fresh:
            result[key] = {"district": lambda: run_district(sizes, shares, methods),
                           "real": lambda: run_real(args.quick),
                           "rows": lambda: legacy_rows(args.quick),
                           "cli": lambda: run_cli(sizes)}[key]()
            result["section_dates"][key] = result["machine"]["date"]
            if key == "district":
                result[key] = _merge_district(result[key], old, result["machine"]["date"])
        elif key in old:
            result[key] = old[key]
            result["section_dates"].setdefault(key, old.get("machine", {}).get("date", "?"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"written {path.relative_to(ROOT)}")


def legacy_rows(quick: bool) -> list[dict[str, Any]]:
    """The earlier section: HDBSCAN on the 12 km x 10 km city, with the sklearn comparison."""
    sizes = [(10_000, False), (20_000, True), (100_000, False)] if quick else [
        (10_000, False), (100_000, True), (1_000_000, False)]
    rows = []
    for n, compare in sizes:
        r = _sub(["--worker", str(n)] + (["--compare"] if compare else []))
        rows.append(r)
        print(f"legacy {r['n']:>9,d} cases  total {r['time_total_s']:7.2f} s  cluster "
              f"{r['time_cluster_s']:6.2f} s  peak RSS {r['peak_rss_mb']:7.0f} MB  hotspots "
              f"{r['hotspots']:3d}  recall {r['recall']:.3f}  precision {r['precision']:.3f}",
              flush=True)
        if "sklearn" in r:
            s = r["sklearn"]
            print(f"   vs sklearn HDBSCAN on {s['n']:,d}: sklearn {s['sklearn_time_s']:.2f} s, grid "
                  f"{s['grid_time_s']:.2f} s (x{s['speedup']}), ARI {s['ari_grid_vs_sklearn']:.3f}"
                  f" (with density floor {s['ari_grid_floor_vs_sklearn']:.3f}); sklearn recall "
                  f"{s['sklearn_recall']:.3f} precision {s['sklearn_precision']:.3f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
