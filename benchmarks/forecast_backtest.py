"""Rolling-origin backtest of the cell forecasts (``xuncha forecast``) on real and simulated data.

For each dataset: 150 m cells, 7-day horizon, a new origin every week (26 in full mode, 8 with
``--quick``), each method trained only on events before its origin. The study area is fixed per
dataset: the cells intersecting the convex hull of every event before the FIRST origin (no
future data decides the area; for the simulated Xiaonan cases: the 53 communities' polygons);
test events outside it are not counted. Every method is scored
on that same grid with the same tie rule (geo.forecast.backtest).

Reports hit rate and PAI at 1/5/10 % of the area (mean ± sd over origins), fit+predict time,
the ratio of the default model's PAI@5% to the best baseline's, an in-sample "oracle" bound
(counts over all data except the test week, future included) showing the headroom, and the
fit+predict time for 100k training cases (array core and end-to-end ``forecast_cells``).

    python benchmarks/forecast_backtest.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import machine_info  # noqa: E402

from geo.crs import WGS84, working_crs  # noqa: E402
from geo.forecast.backtest import COVERAGES, rolling_origin  # noqa: E402
from geo.forecast.cells import DEFAULT_METHOD, forecast_cells  # noqa: E402
from geo.forecast.models import BASELINES, METHODS, EventHistory, FloatArray  # noqa: E402
from geo.grid import GridSpec, grid_spec  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "real"
EPOCH = pd.Timestamp("2000-01-01")
CELL_M = 150.0
HORIZON = 7.0
CHICAGO_TYPES = ["THEFT", "BATTERY", "CRIMINAL DAMAGE", "NARCOTICS", "BURGLARY",
                 "MOTOR VEHICLE THEFT"]
QUICK_TYPES = ["THEFT", "BURGLARY"]


def _days(t: pd.Series) -> np.ndarray:
    return ((t - EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype=float)


def _prepare(lon: np.ndarray, lat: np.ndarray, t: pd.Series, first: pd.Timestamp,
             area: gpd.GeoSeries | None = None) -> tuple[EventHistory, GridSpec]:
    crs = working_crs(lon, lat)
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=WGS84).to_crs(crs)
    x, y, td = pts.x.to_numpy(), pts.y.to_numpy(), _days(t)
    before = td < _days(pd.Series([first]))[0]
    if area is not None:
        spec = grid_spec(area.to_crs(crs), cell_m=CELL_M)
    else:
        hull = shapely.MultiPoint(np.column_stack([x[before], y[before]])).convex_hull
        spec = grid_spec(hull, cell_m=CELL_M, crs=crs)
    cell = spec.cell_index(x, y)
    ok = cell >= 0
    return EventHistory(cell[ok], td[ok], (spec.ny, spec.nx), CELL_M), spec


def load_datasets(quick: bool) -> dict[str, tuple[EventHistory, GridSpec, pd.Timestamp]]:
    """Each dataset: its history, its study grid and its first origin (a Monday)."""
    out: dict[str, tuple[EventHistory, GridSpec, pd.Timestamp]] = {}
    chi = pd.read_csv(SHARED / "chicago_crimes_2017_2018.csv",
                      usecols=["datetime", "primary_type", "latitude", "longitude"])
    first = pd.Timestamp("2018-07-02")
    for typ in QUICK_TYPES if quick else CHICAGO_TYPES:
        d = chi[chi["primary_type"] == typ]
        h, spec = _prepare(d["longitude"].to_numpy(), d["latitude"].to_numpy(),
                           pd.to_datetime(d["datetime"]), first)
        out[f"chicago:{typ}"] = (h, spec, first)
    nyc = pd.read_csv(SHARED / "nyc_vehicle_thefts_2014_2017.csv",
                      usecols=["date_single", "longitude", "latitude"])
    first = pd.Timestamp("2017-07-03")
    h, spec = _prepare(nyc["longitude"].to_numpy(), nyc["latitude"].to_numpy(),
                       pd.to_datetime(nyc["date_single"]), first)
    out["nyc:vehicle_theft"] = (h, spec, first)
    sim = _simulated()
    if sim is not None:
        out["xiaonan:simulated"] = sim
    return out


def _simulated() -> tuple[EventHistory, GridSpec, pd.Timestamp] | None:
    """A year of simulated Xiaonan cases; study area = the 53 communities (a real --area)."""
    try:
        from geo.boundaries import load_default
        from geo.simulate.generator import simulate_cases
    except ImportError:
        print("注意：geo.simulate.generator 尚不存在，跳过模拟孝南数据集。")
        return None
    default = load_default()
    cases, _ = simulate_cases(default)
    t = pd.to_datetime(cases["reported_at"]).dt.tz_localize(None)
    start = t.min().normalize()
    n_weeks = int((t.max() - start) / pd.Timedelta(days=7))
    first = start + pd.Timedelta(days=7 * max(4, n_weeks - 26))
    area = default.communities.geometry
    h, spec = _prepare(cases["lon"].to_numpy(float), cases["lat"].to_numpy(float), t, first, area)
    return h, spec, first


def _methods(spec: GridSpec, history: EventHistory) -> dict[str, Any]:
    ms: dict[str, Any] = {name: METHODS[name] for name in BASELINES}
    ms["blend"] = partial(METHODS["blend"], mask=spec.mask)

    def oracle(_: EventHistory, t0: float, hz: float) -> FloatArray:
        keep = (history.t_days < t0) | (history.t_days >= t0 + hz)
        return np.bincount(history.cell[keep], minlength=history.n_cells).astype(float)

    ms["oracle*"] = oracle
    return ms


def run_dataset(h: EventHistory, spec: GridSpec, first: pd.Timestamp, n_origins: int
                ) -> dict[str, Any]:
    t_first = _days(pd.Series([first]))[0]
    origins = [t_first + 7.0 * i for i in range(n_origins)]
    res = rolling_origin(h, spec.mask, origins, _methods(spec, h), horizon_days=HORIZON)
    summary = {name: r.summary() for name, r in res.items()}
    n_train = int((h.t_days < t_first).sum())
    return {"n_events": int(h.t_days.size), "n_train_at_first_origin": n_train,
            "n_cells": spec.n_cells, "first_origin": str(first.date()),
            "n_origins": n_origins, "methods": summary}


def time_100k() -> dict[str, float]:
    """Fit+predict time for 100k training cases (Chicago, all types, city-wide grid)."""
    chi = pd.read_csv(SHARED / "chicago_crimes_2017_2018.csv",
                      usecols=["datetime", "latitude", "longitude"])
    chi["t"] = pd.to_datetime(chi["datetime"])
    at = pd.Timestamp("2018-07-02")
    d = chi[chi["t"] < at].sort_values("t").tail(100_000)
    h, spec = _prepare(d["longitude"].to_numpy(), d["latitude"].to_numpy(), d["t"], at)
    t0 = _days(pd.Series([at]))[0]
    out: dict[str, float] = {"n_train": float(h.t_days.size), "n_cells": float(spec.n_cells)}
    for name in METHODS:
        fn = partial(METHODS[name], mask=spec.mask) if name == "blend" else METHODS[name]
        start = time.perf_counter()
        fn(h, t0, HORIZON)
        out[f"core_{name}_s"] = time.perf_counter() - start
    cases = gpd.GeoDataFrame({"reported_at": d["t"].to_numpy()},
                             geometry=gpd.points_from_xy(d["longitude"], d["latitude"]),
                             crs=WGS84)
    start = time.perf_counter()
    forecast_cells(cases, at=at, cell_m=CELL_M, method=DEFAULT_METHOD)
    out[f"forecast_cells_{DEFAULT_METHOD}_s"] = time.perf_counter() - start
    return out


def _fmt(s: dict[str, float], key: str) -> str:
    return f"{s[key + '_mean']:.3f}±{s[key + '_sd']:.3f}"


def print_tables(results: dict[str, Any]) -> None:
    labels = [f"{round(c * 100)}%" for c in COVERAGES]
    for ds, r in results["datasets"].items():
        print(f"\n== {ds}: {r['n_events']} events, {r['n_cells']} cells, "
              f"{r['n_origins']} origins from {r['first_origin']}")
        head = "method      " + "".join(f"{'hit@' + lb:>16}" for lb in labels)
        head += "".join(f"{'pai@' + lb:>16}" for lb in labels) + f"{'time_s':>9}"
        print(head)
        for m, s in r["methods"].items():
            row = f"{m:12s}" + "".join(f"{_fmt(s, 'hit@' + lb):>16}" for lb in labels)
            row += "".join(f"{_fmt(s, 'pai@' + lb):>16}" for lb in labels)
            print(row + f"{s['time_s_mean']:9.3f}")
        t = r["target"]
        print(f"default {DEFAULT_METHOD} PAI@5% / best baseline ({t['best_baseline']}) = "
              f"{t['ratio']:.3f} (target 1.2: {'met' if t['ratio'] >= 1.2 else 'MISSED'}); "
              f"oracle*/best baseline = {t['oracle_ratio']:.3f}")


def _target(methods: dict[str, dict[str, float]]) -> dict[str, Any]:
    best = max(BASELINES, key=lambda m: methods[m]["pai@5%_mean"])
    base = methods[best]["pai@5%_mean"]
    return {"best_baseline": best, "best_baseline_pai5": base,
            "default_pai5": methods[DEFAULT_METHOD]["pai@5%_mean"],
            "ratio": methods[DEFAULT_METHOD]["pai@5%_mean"] / base,
            "oracle_ratio": methods["oracle*"]["pai@5%_mean"] / base}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="2 Chicago types, 8 origins")
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"../shared 不存在（{SHARED}），无法运行基准。")
        return
    n_origins = 8 if args.quick else 26
    results: dict[str, Any] = {"machine": machine_info(), "quick": args.quick,
                               "cell_m": CELL_M, "horizon_days": HORIZON,
                               "default_method": DEFAULT_METHOD, "datasets": {}}
    for name, (h, spec, first) in load_datasets(args.quick).items():
        r = run_dataset(h, spec, first, n_origins)
        r["target"] = _target(r["methods"])
        results["datasets"][name] = r
        print(f"{name}: done", flush=True)
    wins = {m: 0.0 for m in [*BASELINES, "blend"]}
    for r in results["datasets"].values():
        for m in wins:
            wins[m] += r["methods"][m]["pai@5%_mean"] / r["target"]["best_baseline_pai5"]
    results["mean_pai5_relative_to_best_baseline"] = {
        m: v / len(results["datasets"]) for m, v in wins.items()}
    results["winner"] = max(wins, key=lambda m: wins[m])
    results["timing_100k"] = time_100k()
    print_tables(results)
    print(f"\nmean PAI@5% relative to each dataset's best baseline: "
          f"{ {m: round(v, 3) for m, v in results['mean_pai5_relative_to_best_baseline'].items()} }")
    print(f"winner: {results['winner']} (default: {DEFAULT_METHOD})")
    print(f"100k training cases: {results['timing_100k']}")
    out = ROOT / "benchmarks" / "results" / "forecast_backtest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"written {out}")


if __name__ == "__main__":
    main()
