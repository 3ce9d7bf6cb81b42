"""Render the latest benchmark results (``benchmarks/results/*.json``) as Markdown tables.

Usage: ``python benchmarks/report.py`` prints the tables; ``--write-readme`` replaces the block
between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` in README.md. Every number comes from
a JSON file a benchmark script wrote; nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _machine(d: dict[str, Any]) -> str:
    m = d.get("machine", {})
    return (f"*Machine: {m.get('platform', '?')}, {m.get('cpu_count', '?')} cores, Python "
            f"{m.get('python', '?')}, run {str(m.get('date', '?'))[:16]} UTC"
            f"{' (quick mode)' if d.get('quick') else ''}.*")


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def hotspots(d: dict[str, Any]) -> str:
    """Hotspot tables: rendered by ``benchmarks/_hotspot_report.py`` (its JSON layout)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _hotspot_report import hotspots as render_hotspots

    return render_hotspots(d)


def scale(d: dict[str, Any]) -> str:
    """Scale tables: rendered by ``benchmarks/_scale_report.py`` (its JSON layout)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _scale_report import scale as render_scale

    return render_scale(d)


_HORIZON_NAMES = {"week": "week ahead", "day": "day ahead", "am": "week, 06:00–09:00"}


def _forecast_row(name: str, h: str, hz: dict[str, Any], default: str) -> list[Any]:
    target, methods = hz["target"], hz["methods"]
    dm = methods[default]
    ratio = target.get("ratio", {})
    oracle = target.get("oracle_ratio")
    return [name, _HORIZON_NAMES.get(h, h), f"{dm['n_origins']:.0f}",
            f"{target['best_baseline']} {target['best_baseline_pai5']:.2f}",
            f"{dm['pai@5%_mean']:.2f} ± {dm['pai@5%_sd']:.2f}",
            f"{ratio.get(default, float('nan')):.3f}",
            f"{ratio['hawkes']:.3f}" if "hawkes" in ratio else "–",
            f"{oracle:.3f}" if oracle is not None else "–",
            f"{target['hawkes_vs_true']:.3f}" if "hawkes_vs_true" in target else "–",
            f"{dm['hit@5%_mean']:.3f}", f"{dm['time_s_mean']:.2f}"]


def forecast(d: dict[str, Any]) -> str:
    """Per dataset and horizon: the best baseline, the default and hawkes as ratios to it."""
    default = d["default_method"]
    rows = [_forecast_row(name, h, hz, default)
            for name, ds in d["datasets"].items() for h, hz in ds["horizons"].items()]
    mean, low = d["mean_pai5_relative_to_best_baseline"], d["min_pai5_relative_to_best_baseline"]
    gen = d.get("generalisation", {})
    notes = [f"Mean ratio to the best baseline over every dataset and horizon: {default} "
             f"{mean[default]:.3f} (lowest {low[default]:.3f}), hawkes {mean.get('hawkes', 0):.3f} "
             f"(lowest {low.get('hawkes', 0):.3f})."]
    for key, other in (("chosen_on_chicago", "nyc"), ("chosen_on_nyc", "chicago")):
        if key in gen:
            g = gen[key]
            notes.append(f"Chosen on {key.removeprefix('chosen_on_')}: {g['model']}, which scores "
                         f"{g[f'{other}_mean_ratio']:.3f}× the best baseline on {other}, untouched.")
    t = d.get("timing_100k", {})
    notes.append(f"Fit + predict for {t.get('n_train', 0):,.0f} training cases: "
                 f"{t.get('forecast_cells_blend_s', float('nan')):.2f} s end to end "
                 f"({t.get('core_blend_s', float('nan')):.2f} s model).")
    mode = "quick mode (8 weekly origins)" if d.get("quick") else "full run"
    return (_table(["dataset", "horizon", "origins", "best baseline PAI@5%",
                    f"{default} PAI@5%", f"{default} ratio", "hawkes ratio", "oracle ratio†",
                    "hawkes / true intensity‡", "hit@5%", "s/origin"], rows)
            + "\n\n† A cheating reference (counts of every case but the test window, future "
            "included) over the best baseline: how little headroom long-run counts leave. "
            "‡ Simulated self-exciting processes only: hawkes's PAI@5% over that of the known "
            "true intensity (target ≥ 0.98)."
            + f"\n\n{mode.capitalize()}. " + " ".join(notes))


def _by_solver(rows: list[dict[str, Any]], key: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in rows:
        if r.get("ok", True) and r.get(key) is not None:
            out.setdefault(r["solver"], []).append(float(r[key]))
    return out


def _spread(rows: list[dict[str, Any]], key: str) -> tuple[int, int, float]:
    """(instances, runs, largest spread over seeds of one instance's ``key``)."""
    per: dict[str, list[float]] = {}
    for r in rows:
        per.setdefault(r["instance"], []).append(float(r.get(key) or 0.0))
    return len(per), len(rows), max((max(v) - min(v) for v in per.values()), default=0.0)


def _routing_rows(part: dict[str, Any], label: str, key: str) -> list[list[Any]]:
    out = []
    for solver in sorted({r["solver"] for r in part["rows"]}):
        sub = [r for r in part["rows"] if r["solver"] == solver]
        vals = [float(r[key]) for r in sub if r.get("ok", True) and r.get(key) is not None]
        n_inst, n_runs, spread = _spread(sub, key)
        clock = sum("time" in str(r.get("search", "")) for r in sub)
        cpu = statistics.mean(float(r.get("cpu_s", r["time_s"])) for r in sub)
        if key == "ratio":
            worst_by: dict[str, float] = {}
            for r in sub:
                worst_by[r["instance"]] = min(worst_by.get(r["instance"], 1.0), float(r["ratio"]))
            below = sum(v < 0.97 for v in worst_by.values())
            mean, worst = f"{100 * statistics.mean(vals):.2f} %", f"{100 * min(vals):.1f} % ({below} below 97 %)"
            if all("ratio_ref" in r for r in sub):  # against the corrected best known scores
                ref = [float(r["ratio_ref"]) for r in sub]
                ref_by: dict[str, float] = {}
                for r in sub:
                    ref_by[r["instance"]] = min(ref_by.get(r["instance"], 1.0), float(r["ratio_ref"]))
                mean += f" ({100 * statistics.mean(ref):.2f} % of the corrected)"
                worst += (f"; {100 * min(ref):.1f} % of the corrected "
                          f"({sum(v < 0.97 for v in ref_by.values())} below 97 %)")
            spread *= 100
        else:
            mean, worst = f"{statistics.mean(vals):.2f} %", f"{max(vals):.2f} %"
        out.append([label, solver, n_inst, n_runs, mean, worst, f"{spread:.2f}", clock,
                    f"{part['time_limit_s']:g} s", f"{cpu:.1f}"])
    return out


def _run_note(part: str, run: dict[str, Any]) -> str:
    """When and how one part of the routing benchmark ran (older parts may lack the timings)."""
    text = f"{part} run {str(run['machine'].get('date', '?'))[:16]} UTC, seeds {run.get('seeds', [0])}"
    if run.get("wall_s"):
        text += f", {run['wall_s'] / 60:.0f} min wall"
    if run.get("load"):
        text += f", load {run['load'][:1]}"
    return text + (f" ({run['note']})" if run.get("note") else "")


def routing(d: dict[str, Any]) -> str:
    rows = []
    if "tsplib" in d:
        rows += _routing_rows(d["tsplib"], "TSPLIB gap to optimum", "gap_pct")
    if "chao" in d:
        rows += _routing_rows(d["chao"], "Chao TOP score / best known", "ratio")
    for name, label in (("routing_chao_all_3seeds", "Chao, full set × seeds"),
                        ("routing_chao_weak_5seeds", "Chao, hardest instances × seeds")):
        spread = _load(name)  # the seed spread: the same instances with several seeds
        if spread and "chao" in spread:
            rows += _routing_rows(spread["chao"], label, "ratio")
    sol = d.get("solomon", {}).get("rows", [])
    pairs: dict[tuple[str, int], dict[str, float]] = {}
    for r in sol:
        pairs.setdefault((r["instance"], r["teams"]), {})[r["solver"]] = r["priority"]
    both = [p for p in pairs.values() if {"pyvrp", "ortools"} <= set(p)]
    if both:
        wins = sum(p["pyvrp"] > p["ortools"] for p in both)
        losses = sum(p["pyvrp"] < p["ortools"] for p in both)
        ties = sum(p["pyvrp"] == p["ortools"] for p in both)
        share = statistics.mean(p["ortools"] / p["pyvrp"] for p in both if p["pyvrp"])
        rows.append(["Solomon TOPTW (priority = demand)", "pyvrp vs ortools", len(both), len(both),
                     f"PyVRP better {wins}, OR-Tools better {losses}, tied {ties}",
                     f"OR-Tools reaches {100 * share:.1f} % of PyVRP", "–",
                     f"{sum('time' in str(r.get('search', '')) for r in sol if r['solver'] == 'pyvrp')}"
                     " (PyVRP)",
                     f"{d['solomon']['time_limit_s']:g} s", "–"])
    table = _table(["set", "solver", "instances", "runs", "mean", "worst / note",
                    "seed spread (points)", "cut by clock", "limit", "mean CPU s"], rows)
    notes = []
    runs = [(part, d[part]["run"]) for part in ("tsplib", "chao", "solomon")
            if d.get(part, {}).get("run")]
    if d.get("limits"):
        notes.append(f"Limits in {d['limits']} (a run may take {d.get('wall_guard', '?')}× "
                     f"its limit in wall-clock time)"
                     + ("" if runs else f"; seeds {d.get('seeds', [0])}"))
    fixed = sorted({(r["instance"], r["ref"], r["bks"]) for r in d.get("chao", {}).get("rows", [])
                    if "ref" in r and r["ref"] != r["bks"]})
    if fixed:
        notes.append("Chao \"corrected\": the best known score of bks.csv, except where it is out "
                     "of reach with unrounded distances, then the proven optimum ("
                     + ", ".join(f"{n} {ref:g} not {bks:g}" for n, ref, bks in fixed)
                     + "; benchmarks/_routing_exact.py)")
    notes += [_run_note(part, run) for part, run in runs]
    every = _load("routing_chao_all_3seeds")
    if every and every.get("chao", {}).get("run"):
        notes.append(_run_note("full set × seeds", every["chao"]["run"]))
    weak = _load("routing_chao_weak_5seeds")
    if weak and weak.get("chao", {}).get("run"):
        names = ", ".join(sorted({r["instance"] for r in weak["chao"]["rows"]}))
        notes.append(_run_note("hardest instances", weak["chao"]["run"]) + f": {names}")
    if d.get("wall_s") and not runs:
        notes.append(f"wall time of the whole run {d['wall_s'] / 60:.0f} min")
    return table + (f"\n\n{'; '.join(notes)}." if notes else "")


def siting(d: dict[str, Any]) -> str:
    s = d["summary"]
    out = (f"OR-Library p-median: {s['pmed_le400_proven_optimal']}/{s['pmed_le400']} instances with "
           f"≤ 400 nodes solved to proven optimality; {s['pmed_gt400_within_0_5pct']}/{s['pmed_gt400']} "
           f"larger ones within 0.5 % (worst ratio {s['pmed_max_ratio']:.4f}); slowest "
           f"{s['pmed_max_time_s']:.1f} s (limit {d['time_limit_s']:g} s); every solution re-checked "
           f"independently: {s['all_checks_ok']}.\n\n")
    m = d["mclp"]
    rows = [[r["sites"], f"{r['share']:.1%}", f"{r['covered']:.0f}", f"{r['greedy_covered']:.0f}",
             r["proven"], f"{r['time_s']:.2f}"] for r in m["rows"]]
    out += (f"MCLP on simulated Xiaonan stall demand ({m['demand_points']:,} demand points from "
            f"{m['cases']:,.0f} cases, {m['candidates']:,} candidates, {m['radius_m']:g} m):\n\n")
    return out + _table(["sites", "covered share", "covered (exact)", "covered (greedy)",
                         "proven optimal", "s"], rows)


def daily_plan(d: dict[str, Any]) -> str:
    rows = []
    for day in d["days"]:
        sq = day["squads"]
        rows.append([day["date"], f"{day['total_s']:.1f}", day["hotspots"],
                     sum(s["stops_offered"] for s in sq), sum(s["stops_visited"] for s in sq),
                     f"{sum(s['distance_km'] for s in sq):.1f}", all(s["feasible"] for s in sq)])
    return (_table(["day", "total s (5 squads)", "hotspots", "stops offered", "stops visited",
                    "km", "all feasible"], rows)
            + f"\n\nTarget: under {d['target_total_s']:g} s; longest gap between visits to a "
            f"community: {d['max_revisit_gap_days']} day(s).")


def import_speed(d: dict[str, Any]) -> str:
    rows = [[k, f"{r['rows']:,}", f"{r['stored']:,}", f"{r['insert_s']:.1f}",
             f"{r['insert_rows_per_s']:,.0f}", f"{r['reimport_s']:.1f}", f"{r['reimport_rows_per_s']:,.0f}"]
            for k, r in d["backends"].items()]
    return _table(["backend", "rows", "stored", "first import s", "rows/s", "re-import s",
                   "rows/s"], rows)


def _legacy_service_load(d: dict[str, Any]) -> str:
    """The issue-6 result layout (one ``latency`` table per query@clients)."""
    rows = [[k.split("@")[0], k.split("@")[1], v["requests"], v["errors"], f"{v['p50_ms']:.0f}",
             f"{v['p99_ms']:.0f}", f"{v['rps']:.0f}"] for k, v in d["latency"].items()]
    out = _table(["query", "clients", "requests", "errors", "p50 ms", "p99 ms", "req/s"], rows)
    s = d.get("soak")
    if s:
        out += (f"\n\nSoak {s['seconds']:.0f} s: {s['requests']:,} requests, {s['errors']} errors, "
                f"RSS {s['rss_start_mb']:.0f} → {s['rss_end_mb']:.0f} MB.")
    i = d.get("import_under_load")
    if i:
        out += (f" Import of {i['rows']:,} rows under load: {i['import_s']:.1f} s, lost rows "
                f"{i['lost_rows']}, slowest read {i['readers']['max_ms']:.0f} ms.")
    return out


def _run_notes(run: dict[str, Any]) -> str:
    seed = run.get("seed", {})
    gen = ("wrk (clients split over the endpoints by weight)" if run.get("client") == "wrk"
           else "built-in asyncio client (each client draws from its weights)")
    met = run.get("targets_met", {})
    bad = [k for k, v in met.items() if v is False]
    unjudged = [k for k, v in met.items() if v is None]
    made = (f"Existing database of {run['cases']:,} simulated cases"
            if str(seed.get("import_path", "")).startswith("existing") else
            f"Seeded {run['cases']:,} cases in {seed.get('seconds', 0):.0f} s "
            f"({seed.get('import_path', '?')})")
    out = (f"{made}; load generator: {gen}; "
           f"{run.get('seconds_per_level', 0):g} s per level. Targets: "
           + ("all met" if not bad else "missed " + ", ".join(bad))
           + (f" (not judged, level not run: {', '.join(unjudged)})" if unjudged else "") + ".")
    s, i = run.get("soak"), run.get("import_under_load")
    if s:
        out += (f" Soak {s['seconds']:.0f} s: {s['requests']:,} requests, {s['errors']} errors, "
                f"RSS {s['rss_start_mb']:.0f} → {s['rss_end_mb']:.0f} MB.")
    if i:
        out += (f" Import of {i['rows']:,} rows under load: {i.get('import_s', 0):.1f} s, lost "
                f"rows {i['lost_rows']}, slowest read {i['readers']['max_ms']:.0f} ms.")
    return out + f" {_machine(run)}"


def _cpu_alone(run: dict[str, Any]) -> str:
    """Each endpoint alone: the server's (and database's) CPU per request and what one core
    could serve of it unloaded (1 / CPU s per request)."""
    alone = run.get("cpu_per_endpoint")
    if not alone:
        return ""
    rows = [[name, v["requests"], f"{v['server_cpu_ms']:.2f}", f"{v['db_cpu_ms']:.2f}",
             "–" if v["requests_per_core_s"] is None else f"{v['requests_per_core_s']:.0f}"]
            for name, v in alone.items()]
    return ("\n\nEach endpoint alone (4 clients): CPU per request, the machine-independent "
            "number on a shared machine\n\n"
            + _table(["endpoint", "requests", "server CPU ms/req", "database CPU ms/req",
                      "req/s per core"], rows))


def service_load(d: dict[str, Any]) -> str:
    """One table per run (backend, cases, workers): every endpoint at every client level, and
    each endpoint's CPU per request measured alone."""
    if "runs" not in d:
        return _legacy_service_load(d)
    parts = []
    for key, run in d["runs"].items():
        rows = []
        for n, level in run["levels"].items():
            for name, v in level["endpoints"].items():
                ms = ["–" if v[k] is None else f"{v[k]:.0f}"
                      for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]
                cpu = level["server_cpu_ms_per_request"] + level.get("db_cpu_ms_per_request", 0)
                rows.append([n, name, v["requests"], v["errors"], *ms, f"{cpu:.1f}",
                             f"{level.get('load_avg', 0):.1f}"])
        parts.append(f"**{run['backend']}, {run['cases']:,} cases, {run['workers']} workers** "
                     f"(`{key}`)\n\n"
                     + _table(["clients", "endpoint", "requests", "errors", "p50 ms", "p95 ms",
                               "p99 ms", "max ms", "server+db CPU ms/req (level mix)",
                               "load avg"], rows)
                     + _cpu_alone(run) + f"\n\n{_run_notes(run)}")
    return "\n\n".join(parts)


def page_times(d: dict[str, Any]) -> str:
    """Cold (first request after a server start) and warm (median) time of each page."""
    rows = []
    for r in d["pages"]:
        if "skipped" in r:
            rows.append([r["page"], r.get("note", ""), "–", "–", "–", r["skipped"]])
            continue
        met = r.get("meets_target")
        rows.append([r["page"], r.get("note", ""), f"{r['cold_s']:.2f}",
                     f"{r['warm_median_s']:.2f}", f"{r['server_start_s']:.1f}",
                     "" if met is None else ("✓" if met else "✗ over target")])
    demo = d.get("demo", {})
    return (_table(["page", "what", "cold s", f"warm s (median of {d.get('warm_requests', 5)})",
                    "server start s", "target"], rows)
            + f"\n\nDemo database: {demo.get('counts', {}).get('cases_imported', '?')} simulated "
            f"cases, demo day {demo.get('day', '?')}; {d.get('workers', 1)} worker(s); each cold "
            f"time on a fresh copy of the demo database and a fresh server.")


SECTIONS: list[tuple[str, str, Callable[[dict[str, Any]], str], str]] = [
    ("hotspot_speed", "Density hotspots (`benchmarks/hotspot_speed.py`)", hotspots,
     "targets: recall ≥ 0.9 for every kind, precision ≥ 0.8, area ≤ 5 %, the whole command "
     "at 1M ≤ 20 s (moonshot 5 s) and ≤ 4 GB"),
    ("forecast_backtest", "Forecast backtest (`benchmarks/forecast_backtest.py`)", forecast,
     "150 m cells, weekly origins, week-ahead, day-ahead and 06:00–09:00 windows; targets: the "
     "default never below the best baseline and ≥ 1.05× on average; hawkes ≥ 0.98× the true "
     "intensity on a simulated self-exciting process"),
    ("routing", "Routing (`benchmarks/routing.py`)", routing,
     "targets: TSPLIB ≤ 0.3 % mean gap in 5 s; Chao ≥ 99.7 % mean, ≥ 97 % worst in 10 s, "
     "seed spread ≤ 1 point"),
    ("siting", "Siting (`benchmarks/siting.py`)", siting,
     "targets: pmed ≤ 400 nodes optimal, rest within 0.5 %, < 60 s; MCLP proven < 5 s"),
    ("daily_plan", "Daily plan, five squads (`benchmarks/daily_plan.py`)", daily_plan,
     "simulated Xiaonan cases"),
    ("import_speed", "Import throughput (`benchmarks/import_speed.py`)", import_speed,
     "100k simulated rows from CSV"),
    ("service_load", "Service load (`benchmarks/service_load.py`)", service_load,
     "mix of leaders' dashboards and PDFs, officers' route sheets, case-list pans and OGC reads; "
     "targets: p99 < 100 ms at 50 clients for the case list (bbox + month), squad + month and "
     "OGC items, no errors, sheet PDF p99 < 1 s"),
    ("page_times", "Page times (`benchmarks/page_times.py`)", page_times,
     "first request after a server start on the demo database, and warm; target: the dashboard "
     "for today and any date < 1.5 s cold"),
    ("scale", "Scale: 1M–10M simulated cases, 8 districts (`benchmarks/scale.py`)", scale,
     "Gi* + forecast + trends at 150 m cells streamed from GeoParquet, one machine and Dask; "
     "PostGIS import by COPY and case-layer latency; targets: 10M ≤ 120 s and ≤ 8 GB, "
     "import of 10M ≤ 10 min"),
]


def render() -> str:
    """All sections whose result file exists, as Markdown."""
    parts = []
    for name, title, fn, note in SECTIONS:
        d = _load(name)
        if d is None:
            continue
        try:
            body = fn(d)
        except (KeyError, TypeError, IndexError) as exc:  # a result file in a newer layout
            print(f"report: {name}.json 的格式与渲染函数不符（{type(exc).__name__}: {exc}），"
                  f"已跳过该节；请更新 benchmarks/report.py 中的 {fn.__name__}()。", file=sys.stderr)
            continue
        machine = "" if "runs" in d else f"\n\n{_machine(d)}"  # runs carry their own
        parts.append(f"### {title}\n\n{note}.\n\n{body}{machine}")
    return "\n\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    text = render()
    print(text)
    if args.write_readme:
        readme = ROOT / "README.md"
        body = readme.read_text(encoding="utf-8")
        head, rest = body.split(START, 1)
        _, tail = rest.split(END, 1)
        readme.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
