"""Density-hotspot speed and accuracy on simulated city-sized case sets (10k, 100k, 1M cases).

Simulation (seeded): a 12 km x 10 km city in EPSG:4547 (around downtown Xiaogan), 40 planted
hotspots at least 500 m apart — 28 round markets (Gaussian, sigma 20–60 m) and 12 street-stall
strips (sigma 80 m along a random direction, 12 m across) — holding 60 % of the cases with
lognormal shares, and 40 % uniform background. Report times have morning/evening peaks.

Each size runs in its own subprocess so that the peak resident memory (ru_maxrss) is that
size's. Timed: ``find_hotspots`` end to end from a WGS84 GeoDataFrame (projection, grid-weighted
HDBSCAN, merge, polygons, time profile, Gi* tagging), and the clustering step alone.
Accuracy: recall = share of planted centres inside a reported polygon; precision = share of
reported polygons containing a planted centre.

On 100k (20k with --quick) the grid-weighted HDBSCAN is compared with plain
``sklearn.cluster.HDBSCAN`` (same min_cluster_size and min_samples): time ratio and adjusted
Rand index (ARI) of the point labels, both without the density floor (same semantics) and with
it (the default), and sklearn's own recall/precision.

Usage: ``python benchmarks/hotspot_speed.py [--quick]``; writes
``benchmarks/results/hotspot_speed.json``.
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

from _machine import machine_info  # noqa: E402

CRS = "EPSG:4547"
X0, Y0 = 495_000.0, 3_418_000.0  # south-west corner, near downtown Xiaogan in EPSG:4547
W, H = 12_000.0, 10_000.0
N_HOT, N_STRIPS = 40, 12
HOT_SHARE = 0.6


def simulate(n: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points (n, 2), true hotspot of each point (-1 background), centres (40, 2), hours."""
    rng = np.random.default_rng(seed)
    centres: list[np.ndarray] = []
    while len(centres) < N_HOT:
        c = rng.uniform([X0 + 500, Y0 + 500], [X0 + W - 500, Y0 + H - 500])
        if all(np.hypot(*(c - d)) >= 500 for d in centres):
            centres.append(c)
    cen = np.array(centres)
    share = rng.lognormal(0, 0.5, N_HOT)
    share /= share.sum()
    n_hot = int(n * HOT_SHARE)
    lab = rng.choice(N_HOT, n_hot, p=share)
    sig = rng.uniform(20, 60, N_HOT)
    z = rng.normal(0, 1, (n_hot, 2))
    pts = cen[lab] + z * sig[lab, None]
    strip = lab < N_STRIPS  # street-stall strips: long along a random direction
    ang = rng.uniform(0, np.pi, N_STRIPS)[lab[strip]]
    along, across = z[strip, 0] * 80.0, z[strip, 1] * 12.0
    pts[strip] = cen[lab[strip]] + np.column_stack(
        [along * np.cos(ang) - across * np.sin(ang), along * np.sin(ang) + across * np.cos(ang)])
    bg = rng.uniform([X0, Y0], [X0 + W, Y0 + H], (n - n_hot, 2))
    hours = np.r_[np.where(rng.random(n_hot) < 0.5, rng.uniform(6, 9, n_hot),
                           rng.uniform(18, 22, n_hot)), rng.uniform(0, 24, n - n_hot)]
    return np.vstack([pts, bg]), np.r_[lab, np.full(n - n_hot, -1)], cen, hours


def to_cases(xy: np.ndarray, hours: np.ndarray, seed: int = 0) -> Any:
    import geopandas as gpd
    import pandas as pd

    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2024-01-01", tz="Asia/Shanghai") + pd.to_timedelta(
        rng.integers(0, 365, len(xy)), "D")
    g = gpd.GeoDataFrame({"case_id": np.arange(len(xy)).astype(str), "category": "09006",
                          "reported_at": day + pd.to_timedelta(hours, "h")},
                         geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS)
    return g.to_crs("EPSG:4326")


def accuracy(polys: Any, centres: np.ndarray) -> tuple[float, float]:
    import shapely

    if len(polys) == 0:
        return 0.0, 0.0
    pts = shapely.points(centres)
    inside = np.array([[p.contains(c) for c in pts] for p in polys])
    return float(inside.any(axis=0).mean()), float(inside.any(axis=1).mean())


def label_polygons(xy: np.ndarray, labels: np.ndarray, buffer_m: float = 20.0) -> list[Any]:
    import shapely

    ok = np.flatnonzero(labels >= 0)
    ok = ok[np.argsort(labels[ok], kind="stable")]
    if len(ok) == 0:
        return []
    hulls = shapely.convex_hull(shapely.multipoints(xy[ok], indices=labels[ok]))
    return list(shapely.buffer(hulls, buffer_m))


def worker(n: int, compare: bool) -> dict[str, Any]:
    """Run one size (in a subprocess) and return its measurements."""
    from geo.crs import to_working
    from geo.hotspots import _auto_min_cases, find_hotspots, label_points

    xy, truth, cen, hours = simulate(n)
    cases = to_cases(xy, hours)
    t0 = time.perf_counter()
    hs = find_hotspots(cases, working_crs=CRS)
    t_total = time.perf_counter() - t0
    work = to_working(cases, crs=CRS)
    t0 = time.perf_counter()
    labels = label_points(work)
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

    from geo.clustering import density_labels
    from geo.hotspots import _auto_min_cases

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k and 100k only, sklearn on 20k")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--compare", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.compare)))
        return
    sizes = [(10_000, False), (20_000, True), (100_000, False)] if args.quick else [
        (10_000, False), (100_000, True), (1_000_000, False)]
    rows = []
    for n, compare in sizes:
        cmd = [sys.executable, __file__, "--worker", str(n)] + (["--compare"] if compare else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{r['n']:>9,d} cases  total {r['time_total_s']:7.2f} s  cluster "
              f"{r['time_cluster_s']:6.2f} s  peak RSS {r['peak_rss_mb']:7.0f} MB  hotspots "
              f"{r['hotspots']:3d}  recall {r['recall']:.3f}  precision {r['precision']:.3f}",
              flush=True)
        if "sklearn" in r:
            s = r["sklearn"]
            print(f"   vs sklearn HDBSCAN on {s['n']:,d}: sklearn {s['sklearn_time_s']:.2f} s, grid "
                  f"{s['grid_time_s']:.2f} s (x{s['speedup']}), ARI {s['ari_grid_vs_sklearn']:.3f}"
                  f" (with density floor {s['ari_grid_floor_vs_sklearn']:.3f}); sklearn recall "
                  f"{s['sklearn_recall']:.3f} precision {s['sklearn_precision']:.3f}", flush=True)
    result = {"benchmark": "hotspot_speed", "machine": machine_info(), "quick": args.quick,
              "targets": {"100k_s": 2.0, "1M_s": 15.0, "1M_peak_mb": 4096, "recall": 0.9,
                          "precision": 0.8},
              "rows": rows}
    path = ROOT / "benchmarks" / "results" / "hotspot_speed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"written {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
