"""Benchmark: the full daily patrol plan for all five Xiaonan squads on simulated cases.

Simulates cases for the embedded Xiaonan default (:func:`geo.simulate.generator.simulate_cases`, not
timed), then for the day after the last simulated day: hotspots of the last 28 days, and for every
squad the stops (:func:`geo.planning.day.build_stops`) and the routes
(:func:`geo.planning.day.plan_day`, PyVRP, ``--time-limit`` per squad) with both independent
feasibility checks. Target: < 10 s for hotspots + all five squads. Then plans ``--days``
consecutive days, feeding each day's visits into the next day's "last visit", and reports the
longest gap between two visits of any community (the revisit rule: ≤ N days).

Run: ``python benchmarks/daily_plan.py [--quick]``; writes ``benchmarks/results/daily_plan.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info

from geo.analysis.hotspots import find_hotspots
from geo.boundaries import DefaultArea, load_default
from geo.planning.clock import day_start
from geo.planning.day import build_stops, plan_day
from geo.simulate.generator import simulate_cases

RESULTS = Path(__file__).resolve().parent / "results" / "daily_plan.json"
TZ = "Asia/Shanghai"


def _inputs(area: DefaultArea, sim_days: int) -> tuple[date, gpd.GeoDataFrame]:
    cases, _ = simulate_cases(area, days=sim_days)
    g = gpd.GeoDataFrame(cases, geometry=gpd.points_from_xy(cases["lon"], cases["lat"]), crs=4326)
    day = (cases["reported_at"].max() + pd.Timedelta(days=1)).date()
    return day, g


def _hotspots(cases: gpd.GeoDataFrame, area: DefaultArea, day: date) -> gpd.GeoDataFrame:
    start = pd.Timestamp(day_start(day, TZ))
    recent = cases[(cases["reported_at"] >= start - pd.Timedelta(days=28))
                   & (cases["reported_at"] < start)]
    return find_hotspots(recent, at=start, communities=area.communities)


def plan_all(area: DefaultArea, day: date, hotspots: gpd.GeoDataFrame,
             open_cases: gpd.GeoDataFrame, last: dict[str, dict[str, date]], *,
             revisit_days: int, time_limit_s: float) -> list[dict[str, object]]:
    """Plan every squad for ``day``; update ``last`` with the visits; one result row per squad."""
    rows = []
    for squad in area.squads:
        t0 = time.perf_counter()
        stops = build_stops(squad=squad, date=day, communities=area.communities,
                            hotspots=hotspots, open_cases=open_cases,
                            last_visit=last.setdefault(squad["id"], {}),
                            revisit_days=revisit_days, tz=TZ)
        t1 = time.perf_counter()
        plan = plan_day(squad=squad, date=day, stops=stops, stations=area.stations,
                        time_limit_s=time_limit_s, tz=TZ)
        t2 = time.perf_counter()
        for v in plan.visits():
            if v.community_code:
                last[squad["id"]][v.community_code] = day
        rows.append({
            "squad": squad["id"], "teams": len(plan.routes),
            "stops_offered": len(stops), "stops_required": int(stops["required"].sum()),
            "stops_visited": len(plan.visits()),
            "by_kind_offered": stops["kind"].value_counts().to_dict(),
            "priority_collected": plan.priority_total, "priority_offered": plan.priority_offered,
            "distance_km": round(plan.distance_m / 1000, 2), "feasible": plan.feasible,
            "violations": plan.violations[:5], "warnings": len(plan.warnings),
            "stops_s": round(t1 - t0, 3), "plan_s": round(t2 - t1, 3),
        })
    return rows


def _max_gap(history: dict[str, list[date]], first: date, last_day: date) -> int:
    worst = 0
    for days in history.values():
        marks = [first - timedelta(days=1), *sorted(days), last_day + timedelta(days=1)]
        worst = max(worst, *((b - a).days for a, b in itertools.pairwise(marks)))
    return worst


def main() -> None:
    """Run the benchmark, print a table, write the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="60 simulated days, 1 planned day")
    ap.add_argument("--time-limit", type=float, default=1.0, help="solver seconds per squad")
    ap.add_argument("--days", type=int, default=None, help="consecutive days to plan")
    ap.add_argument("--revisit-days", type=int, default=3)
    args = ap.parse_args()
    sim_days = 60 if args.quick else 365
    n_days = args.days or (1 if args.quick else 4)
    area = load_default()
    t = time.perf_counter()
    day0, cases = _inputs(area, sim_days)
    sim_s = time.perf_counter() - t
    open_cases = cases[~cases["status"].isin(["结案", "作废"])]
    last: dict[str, dict[str, date]] = {}
    history: dict[str, list[date]] = {c: [] for c in area.communities["code"]}
    days = []
    for k in range(n_days):
        day = day0 + timedelta(days=k)
        t0 = time.perf_counter()
        hotspots = _hotspots(cases, area, day)
        hot_s = time.perf_counter() - t0
        rows = plan_all(area, day, hotspots, open_cases, last, revisit_days=args.revisit_days,
                        time_limit_s=args.time_limit)
        total = hot_s + sum(float(r["stops_s"]) + float(r["plan_s"]) for r in rows)  # type: ignore[arg-type]
        for sq in last.values():
            for code, d in sq.items():
                if d == day:
                    history[code].append(day)
        days.append({"date": day.isoformat(), "hotspots": len(hotspots), "hotspots_s": round(hot_s, 3),
                     "total_s": round(total, 3), "squads": rows})
        print(f"\n{day}  热点 {len(hotspots)}（{hot_s:.2f} s）  全部五个中队合计 {total:.2f} s")
        print(f"{'squad':<11}{'teams':>6}{'offered':>8}{'req':>5}{'visited':>8}{'priority':>14}"
              f"{'km':>7}{'feasible':>9}{'stops_s':>8}{'plan_s':>8}")
        for r in rows:
            print(f"{r['squad']:<11}{r['teams']:>6}{r['stops_offered']:>8}{r['stops_required']:>5}"
                  f"{r['stops_visited']:>8}{r['priority_collected']:>7.0f}/{r['priority_offered']:<6.0f}"
                  f"{r['distance_km']:>7}{r['feasible']!s:>9}{r['stops_s']:>8}{r['plan_s']:>8}")
    gap = _max_gap(history, day0, day0 + timedelta(days=n_days - 1))
    print(f"\n最长未巡查间隔：{gap} 天（规则：≤ {args.revisit_days}；共 {n_days} 天）")
    result = {
        "benchmark": "daily_plan", "machine": machine_info(),
        "params": {"simulated_days": sim_days, "n_cases": len(cases), "planned_days": n_days,
                   "time_limit_s": args.time_limit, "revisit_days": args.revisit_days},
        "simulation_s": round(sim_s, 2), "target_total_s": 10.0,
        "first_day_total_s": days[0]["total_s"],
        "all_feasible": all(r["feasible"] for d in days for r in d["squads"]),  # type: ignore[attr-defined]
        "max_revisit_gap_days": gap, "days": days,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    print(f"结果已写入 {RESULTS}")


if __name__ == "__main__":
    main()
