"""Rolling-origin backtest of the cell forecasts (``xuncha forecast``) on real and simulated data.

For each dataset: 150 m cells, a new origin every week (26 in full mode, 8 with ``--quick``),
each method trained only on events before its origin, three horizons: ``week`` (the 7 days
from the origin), ``day`` (the day from the origin) and ``am`` (06:00–09:00 on the 7 days from
the origin; every model sees only the 06:00–09:00 history, as a category of its own). Models:
the baselines, ``blend`` and ``hawkes`` (geo.forecast.hawkes). Datasets: Chicago crime types,
NYC vehicle thefts, simulated Xiaonan cases, and a simulated self-exciting process with 500
and 1000 days of history (``sim:hawkes``, ``sim:hawkes_1000d``) whose true conditional
intensity is known (``true*``: the forecast with the true parameters; ``true_mu*`` and
``true_trig*`` swap in the true background or the true triggering to show where the gap is).
Where the history is longer than 730 days (NYC, the 1000-day simulation) ``hawkes730`` is the
fit restricted to the former 730-day window. "Chosen on Chicago": the own model (blend or hawkes) with the best mean ratio
over the Chicago datasets and horizons, then read on New York untouched (and the reverse). The study area is fixed per
dataset: the cells intersecting the convex hull of every event before the FIRST origin (no
future data decides the area; for the simulated Xiaonan cases: the 53 communities' polygons);
test events outside it are not counted. Every method is scored
on that same grid with the same tie rule (geo.forecast.backtest).

Reports hit rate and PAI at 1/5/10 % of the area (mean ± sd over origins), fit+predict time,
the ratio of the default model's PAI@5% to the best baseline's, an in-sample "oracle" bound
(counts over all data except the test week, future included) showing the headroom, and the
fit+predict time for 100k training cases (array core and end-to-end ``forecast_cells``).

    python benchmarks/forecast_backtest.py [--quick]

Prints the table dataset × horizon × model (PAI@5 %, hit@5 %, ratio to the best baseline) and
writes benchmarks/results/forecast_backtest.json.
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
from geo.forecast.backtest import rolling_origin  # noqa: E402
from geo.forecast.cells import DEFAULT_METHOD, forecast_cells  # noqa: E402
from geo.forecast.hawkes import (  # noqa: E402
    HawkesFit,
    fit_hawkes,
    hawkes_expected,
    simulate_hawkes,
)
from geo.forecast.models import BASELINES, METHODS, EventHistory, FloatArray  # noqa: E402
from geo.grid import GridSpec, grid_spec  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "real"
EPOCH = pd.Timestamp("2000-01-01")
CELL_M = 150.0
HORIZON = 7.0
HORIZONS: dict[str, tuple[float, bool]] = {"week": (7.0, False), "day": (1.0, False),
                                           "am": (7.0, True)}  # (days, 06:00-09:00 only)
OWN = ("blend", "hawkes")
WINDOW_DAYS = 730
"""The Hawkes history window before it became all history (compared where history is longer)."""
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


class CachedHawkes:
    """``hawkes`` with the fit kept per (history size, origin): the week and day horizons share
    one fit (the same events before the same origin), as a deployment refitting daily would.
    ``options`` go to :func:`fit_hawkes` (``max_days=730``: the former history window)."""

    def __init__(self, **options: Any) -> None:
        self.fits: dict[tuple[int, float], HawkesFit] = {}
        self.options = options

    def fit(self, h: EventHistory, t0: float) -> HawkesFit:
        """The (cached) fit on the events before ``t0``."""
        key = (int(h.t_days.size), float(t0))
        if key not in self.fits:
            self.fits[key] = fit_hawkes(h, t0, **self.options)
        return self.fits[key]

    def __call__(self, h: EventHistory, t0: float, hz: float) -> FloatArray:
        return hawkes_expected(self.fit(h, t0), h, t0, hz)


def _methods(spec: GridSpec, history: EventHistory, hawkes_fn: CachedHawkes,
             truth: HawkesFit | None = None, window_fn: CachedHawkes | None = None
             ) -> dict[str, Any]:
    ms: dict[str, Any] = {name: METHODS[name] for name in BASELINES}
    ms["blend"] = partial(METHODS["blend"], mask=spec.mask)
    ms["hawkes"] = hawkes_fn
    if window_fn is not None:  # the former 730-day window, where the history is longer
        ms["hawkes730"] = window_fn

    def oracle(_: EventHistory, t0: float, hz: float) -> FloatArray:
        keep = (history.t_days < t0) | (history.t_days >= t0 + hz)
        return np.bincount(history.cell[keep], minlength=history.n_cells).astype(float)

    ms["oracle*"] = oracle
    if truth is not None:
        ms["true*"] = lambda h, t0, hz: hawkes_expected(truth, h, t0, hz)

        def mixed(h: EventHistory, t0: float, hz: float, *, true_mu: bool) -> FloatArray:
            f = hawkes_fn.fit(h, t0)
            part = (HawkesFit(truth.mu, f.theta, f.q, f.eta, truth.shape) if true_mu
                    else HawkesFit(f.mu, truth.theta, truth.q, truth.eta, truth.shape))
            return hawkes_expected(part, h, t0, hz)

        # where the gap to the true intensity comes from: the background, or the triggering
        ms["true_mu*"] = partial(mixed, true_mu=True)
        ms["true_trig*"] = partial(mixed, true_mu=False)
    return ms


def _am_only(h: EventHistory) -> EventHistory:
    hour = (h.t_days % 1.0) * 24.0
    keep = (hour >= 6.0) & (hour < 9.0)
    return EventHistory(h.cell[keep], h.t_days[keep], h.shape, h.cell_m)


def run_dataset(h: EventHistory, spec: GridSpec, first: pd.Timestamp, n_origins: int,
                truth: HawkesFit | None = None) -> dict[str, Any]:
    t_first = _days(pd.Series([first]))[0]
    origins = [t_first + 7.0 * i for i in range(n_origins)]
    out: dict[str, Any] = {"n_events": int(h.t_days.size), "n_cells": spec.n_cells,
                           "n_train_at_first_origin": int((h.t_days < t_first).sum()),
                           "first_origin": str(first.date()), "n_origins": n_origins,
                           "horizons": {}}
    fits = {False: CachedHawkes(), True: CachedHawkes()}
    long = bool(t_first - h.t_days.min() > WINDOW_DAYS)
    out["history_days"] = float(t_first - h.t_days.min())
    windows = {False: CachedHawkes(max_days=WINDOW_DAYS), True: CachedHawkes(max_days=WINDOW_DAYS)}
    for name, (days, am) in HORIZONS.items():
        hh = _am_only(h) if am else h
        if am and truth is not None:
            continue  # the simulated process has no time of day
        ms = _methods(spec, hh, fits[am], truth, windows[am] if long else None)
        res = rolling_origin(hh, spec.mask, origins, ms, horizon_days=days)
        summary = {m: r.summary() for m, r in res.items()}
        out["horizons"][name] = {"n_events": int(hh.t_days.size), "methods": summary,
                                 "target": _target(summary)}
    fit = next(iter(fits[False].fits.values()), None)
    if fit is not None:
        out["hawkes_fit_first_origin"] = {"theta": fit.theta, "mean_lag_days": fit.mean_lag_days,
                                          "eta": [float(e) for e in fit.eta],
                                          "n_iter": fit.n_iter, "fallback": fit.fallback}
    return out


def simulated_hawkes(n_origins: int, history_days: int = 500
                     ) -> tuple[EventHistory, GridSpec, pd.Timestamp, HawkesFit]:
    """A 60 x 60 grid (150 m) with a gamma background and known self-excitation, simulated for
    ``history_days`` before the first origin."""
    rng = np.random.default_rng(11)
    ny = nx = 60
    mu = rng.gamma(0.5, 0.02, ny * nx)
    truth = HawkesFit(mu, 0.5, float(np.exp(-1 / 5)), np.array([0.5, 0.3, 0.2]), (ny, nx))
    n_days = history_days + 7 * n_origins
    h = simulate_hawkes(mu, (ny, nx), theta=truth.theta, q=truth.q, eta=truth.eta,
                        n_days=n_days, cell_m=CELL_M, seed=12)
    first = EPOCH + pd.Timedelta(days=history_days)
    h = EventHistory(h.cell, h.t_days, h.shape, CELL_M)
    spec = grid_spec(shapely.box(1, 1, nx * CELL_M - 1, ny * CELL_M - 1), cell_m=CELL_M,
                     crs="EPSG:32650")
    return h, spec, first, truth


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


def print_tables(results: dict[str, Any]) -> None:
    print(f"\n{'dataset':24s}{'horizon':>8}{'model':>10}{'pai@5%':>16}{'hit@5%':>9}"
          f"{'/best base':>11}")
    for ds, r in results["datasets"].items():
        for hz, hr in r["horizons"].items():
            base = hr["target"]["best_baseline_pai5"]
            for m, s in hr["methods"].items():
                mark = " <- best baseline" if m == hr["target"]["best_baseline"] else ""
                print(f"{ds:24s}{hz:>8}{m:>10}{s['pai@5%_mean']:>9.3f}±{s['pai@5%_sd']:<6.3f}"
                      f"{s['hit@5%_mean']:>9.3f}{s['pai@5%_mean'] / base:>11.3f}{mark}")
    print("\nratio to the best baseline (PAI@5%):")
    print(f"{'dataset':24s}{'horizon':>8}" + "".join(f"{m:>9}" for m in OWN))
    for ds, r in results["datasets"].items():
        for hz, hr in r["horizons"].items():
            print(f"{ds:24s}{hz:>8}" + "".join(f"{hr['target']['ratio'][m]:>9.3f}" for m in OWN))


def print_vs_true(results: dict[str, Any]) -> None:
    """PAI@5% of each model relative to the true intensity on the simulated processes, and the
    Hawkes window comparison where the history is longer than it."""
    keys = ("hawkes", "hawkes730", "blend", "true_mu", "true_trig", "oracle")
    print("\nsimulated self-exciting process, PAI@5% / true intensity (true_mu: fitted triggering "
          "with the true background; true_trig: fitted background with the true triggering):")
    print(f"{'dataset':24s}{'horizon':>8}" + "".join(f"{k:>11}" for k in keys))
    for ds, r in results["datasets"].items():
        if not ds.startswith("sim:"):
            continue
        for hz, hr in r["horizons"].items():
            t = hr["target"]
            print(f"{ds:24s}{hz:>8}" + "".join(
                f"{t[k + '_vs_true']:>11.3f}" if k + "_vs_true" in t else f"{'-':>11}"
                for k in keys))
    print(f"\nhistory longer than {WINDOW_DAYS} days: hawkes (all history) vs hawkes730, "
          "PAI@5% / best baseline:")
    for ds, r in results["datasets"].items():
        for hz, hr in r["horizons"].items():
            if "hawkes730_ratio" in hr["target"]:
                print(f"{ds:24s}{hz:>8}{hr['target']['ratio']['hawkes']:>9.3f}"
                      f"{hr['target']['hawkes730_ratio']:>9.3f}")


def _target(methods: dict[str, dict[str, float]]) -> dict[str, Any]:
    best = max(BASELINES, key=lambda m: methods[m]["pai@5%_mean"])
    base = methods[best]["pai@5%_mean"]
    out: dict[str, Any] = {"best_baseline": best, "best_baseline_pai5": base,
                           "ratio": {m: methods[m]["pai@5%_mean"] / base for m in OWN},
                           "oracle_ratio": methods["oracle*"]["pai@5%_mean"] / base}
    if "hawkes730" in methods:
        out["hawkes730_ratio"] = methods["hawkes730"]["pai@5%_mean"] / base
    if "true*" in methods:
        true = methods["true*"]["pai@5%_mean"]
        for m in ("hawkes", "blend", "hawkes730", "true_mu*", "true_trig*", "oracle*"):
            if m in methods:
                out[f"{m.rstrip('*')}_vs_true"] = methods[m]["pai@5%_mean"] / true
    return out


def _mean_ratio(results: dict[str, Any], prefix: str, model: str) -> float:
    v = [hr["target"]["ratio"][model] for ds, r in results["datasets"].items()
         if ds.startswith(prefix) for hr in r["horizons"].values()]
    return float(np.mean(v)) if v else float("nan")


def choose(results: dict[str, Any]) -> dict[str, Any]:
    """Own model chosen on one city, read on the other untouched."""
    out: dict[str, Any] = {}
    for train, test in (("chicago", "nyc"), ("nyc", "chicago")):
        scores = {m: _mean_ratio(results, train, m) for m in OWN}
        pick = max(scores, key=lambda m: scores[m])
        out[f"chosen_on_{train}"] = {"model": pick, "train_mean_ratio": scores,
                                     f"{test}_mean_ratio": _mean_ratio(results, test, pick)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="2 Chicago types, 8 origins")
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"../shared 不存在（{SHARED}），无法运行基准。")
        return
    n_origins = 8 if args.quick else 26
    results: dict[str, Any] = {"machine": machine_info(), "quick": args.quick,
                               "cell_m": CELL_M, "horizons": HORIZONS,
                               "default_method": DEFAULT_METHOD, "datasets": {}}
    sets: dict[str, tuple[Any, ...]] = dict(load_datasets(args.quick))
    sets["sim:hawkes"] = simulated_hawkes(n_origins)
    sets["sim:hawkes_1000d"] = simulated_hawkes(n_origins, history_days=1000)
    for name, item in sets.items():
        start = time.perf_counter()
        results["datasets"][name] = run_dataset(*item, n_origins=n_origins) if len(item) == 3 \
            else run_dataset(item[0], item[1], item[2], n_origins, truth=item[3])
        print(f"{name}: done in {time.perf_counter() - start:.0f} s", flush=True)
    means: dict[str, list[float]] = {m: [] for m in [*BASELINES, *OWN]}
    for r in results["datasets"].values():
        for hr in r["horizons"].values():
            for m in means:
                means[m].append(hr["methods"][m]["pai@5%_mean"] / hr["target"]["best_baseline_pai5"])
    results["mean_pai5_relative_to_best_baseline"] = {m: float(np.mean(v)) for m, v in means.items()}
    results["min_pai5_relative_to_best_baseline"] = {m: float(np.min(v)) for m, v in means.items()}
    results["winner"] = max(OWN, key=lambda m: results["mean_pai5_relative_to_best_baseline"][m])
    results["generalisation"] = choose(results)
    results["timing_100k"] = time_100k()
    print_tables(results)
    print(f"\nmean / min PAI@5% relative to each dataset's best baseline: "
          f"{ {m: round(v, 3) for m, v in results['mean_pai5_relative_to_best_baseline'].items()} }"
          f" / { {m: round(v, 3) for m, v in results['min_pai5_relative_to_best_baseline'].items()} }")
    print_vs_true(results)
    print(f"winner: {results['winner']} (default: {DEFAULT_METHOD}); generalisation: "
          f"{results['generalisation']}")
    print(f"100k training cases: {results['timing_100k']}")
    out = ROOT / "benchmarks" / "results" / "forecast_backtest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"written {out}")


if __name__ == "__main__":
    main()
