"""Hotspot speed and accuracy on simulated cases, ``background`` (default) against HDBSCAN.

Sections (``--sections``, default all; each size/method runs in its own subprocess so that the
peak resident memory, ru_maxrss, is that run's):

``district`` (issue 13)
    An 8 km x 6 km district in EPSG:4547 (around Xiaogan). Background cases (``--shares``: 50,
    80, 90 % of all) are uneven: density grows 2.5-fold west to east and a dense core (sigma
    1.2 km) adds up to 3 times more. 60 hotspots at least 400 m apart: 20 compact (a market
    gate: Gaussian, sigma 8-25 m), 20 street-shaped (stalls along a lane 150-300 m long and
    10-20 m wide, any direction, cases uniform in it) and 20 weak (uniform discs 60-120 m wide
    at 3-5 times the local background density, so their case counts follow the background).
    Compact and street hotspots share the remaining cases (lognormal shares). For each method
    of ``find_hotspots`` (``background``, the default, and ``hdbscan``), timed end to end from a WGS84 GeoDataFrame (projection, detection,
    polygons, time profile, Gi* tagging): recall per kind (share of planted centres inside a
    polygon), precision (share of polygons that meet a planted footprint — compact: 3 sigma
    disc, street: the lane buffered 10 m, weak: the disc buffered 10 m), merged (polygons holding
    two or more planted centres), share of the district covered, seconds, peak RSS.
``real``
    Chicago crimes 2017-2018 and NYC vehicle thefts 2014-2017 from ``../shared/data/real``
    (skipped with a message where absent), lon/lat projected to their UTM zone: hotspots, share
    of cases inside them, share of the study area (occupied 250 m cells) they cover, and the
    predictive accuracy index PAI = case share / area share, per method.
``legacy``
    The earlier benchmark: a 12 km x 10 km city with 40 round/strip hotspots holding 60 % of
    the cases, HDBSCAN at 10k/100k/1M and a comparison with plain ``sklearn.cluster.HDBSCAN``.
``cli`` (only with ``--cli``)
    THE WHOLE-COMMAND TIMING: writes the district cases as CSV to a temp dir and times
    ``python -m service.cli hotspots --cases X.csv --out Y.geojson --method M`` (the ``xuncha``
    console script is ``service.cli:app``) for both methods, side by side, at 100k and 1M.
    Where the CLI refuses ``--method background`` (not wired yet) the same code path is timed
    as ``python -c`` instead (read_cases → find_hotspots → hotspots_to_geojson → write) and the
    row says so (``via``).

Usage: ``python benchmarks/hotspot_speed.py [--quick] [--cli] [--sections district,real]``;
``--quick`` (< 1 minute): district at 100k with 80 % background, NYC only, no legacy. Writes
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


# ---------------------------------------------------------------- district (issue 13) --------
DX0, DY0, DW, DH = 500_000.0, 3_418_000.0, 8_000.0, 6_000.0
CORE = np.array([DX0 + 0.6 * DW, DY0 + 0.55 * DH])
KINDS = ("compact", "street", "weak")
N_EACH = 20


def bg_weight(xy: np.ndarray) -> np.ndarray:
    """Relative background density: a west-east gradient plus a dense core."""
    r2 = ((xy - CORE) ** 2).sum(axis=1)
    return 1.0 + 1.5 * (xy[:, 0] - DX0) / DW + 3.0 * np.exp(-r2 / (2 * 1200.0**2))


def sample_background(rng: np.random.Generator, n: int) -> np.ndarray:
    out, got = [], 0
    while got < n:
        c = rng.uniform([DX0, DY0], [DX0 + DW, DY0 + DH], (int((n - got) * 2.5) + 100, 2))
        c = c[rng.random(len(c)) * 5.5 < bg_weight(c)]
        out.append(c)
        got += len(c)
    return np.vstack(out)[:n]


def simulate_district(n: int, bg_share: float, seed: int = 1) -> dict[str, Any]:
    """Points, truth label (-1 background), centres, kinds and footprints of the hotspots."""
    import shapely

    rng = np.random.default_rng(seed)
    n_bg = int(n * bg_share)
    mean_w = bg_weight(rng.uniform([DX0, DY0], [DX0 + DW, DY0 + DH], (200_000, 2))).mean()
    dens0 = n_bg / (DW * DH * mean_w)  # background cases per m2 at weight 1
    cen: list[np.ndarray] = []
    while len(cen) < 3 * N_EACH:
        c = rng.uniform([DX0 + 300, DY0 + 300], [DX0 + DW - 300, DY0 + DH - 300])
        if all(np.hypot(*(c - d)) >= 400 for d in cen):
            cen.append(c)
    centres = np.array(cen)
    kind = np.repeat(np.array(KINDS), N_EACH)
    rng.shuffle(kind)
    pts: list[np.ndarray] = []
    foot: list[Any] = [None] * len(centres)
    n_weak = 0
    for i in np.flatnonzero(kind == "weak"):
        d, ratio = rng.uniform(60, 120), rng.uniform(3, 5)
        m = rng.poisson((ratio - 1) * dens0 * bg_weight(centres[i:i + 1])[0] * np.pi * d * d / 4)
        r, a = d / 2 * np.sqrt(rng.random(m)), rng.uniform(0, 2 * np.pi, m)
        pts.append(centres[i] + np.c_[r * np.cos(a), r * np.sin(a)])
        foot[i] = shapely.Point(centres[i]).buffer(d / 2 + 10)
        n_weak += m
    strong = np.flatnonzero(kind != "weak")
    share = rng.lognormal(0, 0.5, len(strong))
    share /= share.sum()
    n_rest = max(0, n - n_bg - n_weak)
    for i, sh in zip(strong, share, strict=True):
        m = round(n_rest * sh)
        if kind[i] == "compact":
            sig = rng.uniform(8, 25)
            pts.append(centres[i] + rng.normal(0, sig, (m, 2)))
            foot[i] = shapely.Point(centres[i]).buffer(3 * sig)
        else:
            length, width, ang = rng.uniform(150, 300), rng.uniform(10, 20), rng.uniform(0, np.pi)
            u, v = rng.uniform(-length / 2, length / 2, m), rng.uniform(-width / 2, width / 2, m)
            cs, sn = np.cos(ang), np.sin(ang)
            pts.append(centres[i] + np.c_[u * cs - v * sn, u * sn + v * cs])
            end = np.array([cs, sn]) * length / 2
            foot[i] = shapely.LineString([centres[i] - end, centres[i] + end]).buffer(width / 2 + 10)
    hot = np.vstack(pts)
    xy = np.vstack([hot, sample_background(rng, n_bg)])
    hours = np.r_[np.where(rng.random(len(hot)) < 0.5, rng.uniform(6, 9, len(hot)),
                           rng.uniform(18, 22, len(hot))), rng.uniform(0, 24, n_bg)]
    return {"xy": xy[:n], "hours": hours[:n], "centres": centres, "kind": kind, "foot": foot}


def district_accuracy(polys: list[Any], sim: dict[str, Any]) -> dict[str, Any]:
    import shapely

    kind, cen = sim["kind"], sim["centres"]
    out: dict[str, Any] = {"hotspots": len(polys)}
    if not polys:
        return out | {f"recall_{k}": 0.0 for k in KINDS} | {"precision": 0.0, "merged": 0,
                                                           "area_share": 0.0}
    tree = shapely.STRtree(polys)
    p_idx, _ = tree.query(shapely.points(cen), predicate="within")
    found = np.zeros(len(cen), bool)
    found[p_idx] = True
    for k in KINDS:
        out[f"recall_{k}"] = round(float(found[kind == k].mean()), 3)
    hit = np.zeros(len(polys), bool)
    hit[tree.query(np.array(sim["foot"], dtype=object), predicate="intersects")[1]] = True
    out["precision"] = round(float(hit.mean()), 3)
    out["merged"] = int((np.bincount(p_idx, minlength=len(polys)) >= 2).sum())
    out["area_share"] = round(float(shapely.union_all(polys).area / (DW * DH)), 4)
    return out


def district_worker(n: int, share: float, method: str) -> dict[str, Any]:
    from geo.analysis.hotspots import find_hotspots

    sim = simulate_district(n, share)
    cases = to_cases(sim["xy"], sim["hours"])
    t0 = time.perf_counter()
    hs = find_hotspots(cases, method=method, working_crs=CRS)  # type: ignore[arg-type]
    row = {"n": n, "background_share": share, "method": method,
           "time_s": round(time.perf_counter() - t0, 3)}
    row |= district_accuracy(list(hs.geometry), sim)
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


def _timed(cmd: list[str]) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run ``cmd`` under ``/usr/bin/time -v`` when present: result, seconds, peak RSS (MB)."""
    gnu_time = Path("/usr/bin/time")
    full = [str(gnu_time), "-v", *cmd] if gnu_time.exists() else cmd
    t0 = time.perf_counter()
    res = subprocess.run(full, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    peak = float("nan")
    for line in res.stderr.splitlines():
        if "Maximum resident set size" in line:
            peak = int(line.split(":")[-1]) / 1024
    return res, elapsed, peak


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
            res, elapsed, peak = _timed(cmd)
            via = "xuncha hotspots"
            refused = res.returncode != 0
            if refused:
                lines = res.stderr.split("\tCommand being timed")[0].strip().splitlines()
                note = lines[-1][:200] if lines else ""
                res, elapsed, peak = _timed([sys.executable, "-c", CLI_EQUIVALENT, str(csv),
                                             str(out), method])
                via = f"python -c (CLI refused: {note})"
            row: dict[str, Any] = {"n": n, "background_share": share, "method": method,
                                   "via": via, "exit_code": res.returncode,
                                   "time_s": round(elapsed, 3), "peak_rss_mb": round(peak, 1)}
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
    print(f"{r['n']:>9,d} bg {r['background_share']:.0%} {r['method']:10s} "
          f"{r['time_s']:7.2f} s {r['peak_rss_mb']:7.0f} MB  polys {r['hotspots']:3d}  recall "
          f"compact {r['recall_compact']:.2f} street {r['recall_street']:.2f} weak "
          f"{r['recall_weak']:.2f}  precision {r['precision']:.2f}  merged {r['merged']:2d}  "
          f"area {r['area_share']:.2%}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="< 1 minute: 100k, 80 %%, NYC only")
    ap.add_argument("--cli", action="store_true", help="also time the whole xuncha command")
    ap.add_argument("--sections", default=None, help="comma list of district,real,legacy")
    ap.add_argument("--shares", default="0.5,0.8,0.9", help="background shares (district)")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--compare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--district", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--share", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--method", help=argparse.SUPPRESS)
    ap.add_argument("--real", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.compare)))
        return
    if args.district:
        print(json.dumps(district_worker(args.district, args.share, args.method)))
        return
    if args.real:
        print(json.dumps(real_worker(args.real, args.method)))
        return
    default = "district,real" if args.quick else "district,real,legacy"
    sections = set((args.sections or default).split(","))
    shares = [0.8] if args.quick else [float(s) for s in args.shares.split(",")]
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    methods = ("background", "hdbscan")
    result: dict[str, Any] = {
        "benchmark": "hotspot_speed", "machine": machine_info(), "quick": args.quick,
        "targets": {"recall_each_kind": 0.9, "precision": 0.8, "area_share": 0.05,
                    "1M_s": 20.0, "1M_s_moonshot": 5.0, "1M_peak_mb": 4096,
                    "legacy_100k_s": 2.0, "legacy_1M_s": 15.0}}
    if "district" in sections:
        result["district"] = []
        for n in sizes:
            for share in shares:
                for method in methods:
                    r = _sub(["--district", str(n), "--share", str(share), "--method", method])
                    result["district"].append(r)
                    _print_district(r)
    if "real" in sections:
        result["real"] = []
        if not SHARED_REAL.is_dir():
            print(f"real data skipped: {SHARED_REAL} is absent (a fresh clone without ../shared)")
        for name in (["nyc"] if args.quick else list(REAL)) if SHARED_REAL.is_dir() else []:
            for method in (("background",) if args.quick else methods):
                r = _sub(["--real", name, "--method", method])
                result["real"].append(r)
                print(f"{name:8s} {r['method']:10s} {r['cases']:>8,d} cases {r['time_s']:7.2f} s "
                      f"polys {r['hotspots']:4d}  cases inside {r['case_share']:.1%}  area "
                      f"{r['area_share']:.3%}  PAI {r['pai']}", flush=True)
    if "legacy" in sections:
        result["rows"] = legacy_rows(args.quick)
    if args.cli:  # the whole `xuncha hotspots` command (after wiring --method background)
        result["cli"] = []
        for n in [100_000] if args.quick else [100_000, 1_000_000]:
            for r in cli_rows(n, 0.8):
                result["cli"].append(r)
                print(f"CLI {r['n']:>9,d} {r['method']:10s} exit {r['exit_code']} "
                      f"{r['time_s']:6.2f} s {r['peak_rss_mb']:7.0f} MB  recall "
                      f"{r.get('recall_compact', 0):.2f}/{r.get('recall_street', 0):.2f}/"
                      f"{r.get('recall_weak', 0):.2f} precision {r.get('precision', 0):.2f} "
                      f"area {r.get('area_share', 0):.2%}  via {r['via']}", flush=True)
    path = ROOT / "benchmarks" / "results" / "hotspot_speed.json"
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
