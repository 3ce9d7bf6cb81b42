"""Patrol feedback loop: raw-count rankings chase the patrols, exposure-aware rankings find the truth.

A simulation with a known truth on the 53 embedded Xiaonan communities. Each community has a true
problem rate ``mu`` (lognormal around 1; six true hotspots at 6×, three of them inside the
legacy "usual round" of ten heavily patrolled communities and three in rarely patrolled corners).
Every week:

* complaints (12345, 市民投诉 …) arrive at ``mu · COMPLAINT_RATE`` whatever the patrols do;
* patrol-found cases (巡查发现) arrive at ``mu · DETECT_PER_HOUR · hours`` spent there;
* the planner ranks the communities from all cases so far, gives a 1-hour routine visit to every
  community not visited in 14 days (the rotation floor, :func:`geo.analysis.effort.rotation_floor`;
  at most a third of the budget, longest-unvisited first) and splits the rest of the
  ``BUDGET_H`` patrol-hours equally over the top ``TOP_K`` communities.

Four arms over 12 weeks after a 4-week legacy history (80 % of the hours on the usual round):
``naive`` (raw counts) and ``exposure`` (:func:`geo.analysis.effort.exposure_aware_scores`),
each with and without the rotation floor; the same seeds (truth, legacy and case draws) for every arm.
Reported per week, mean over seeds: Spearman rank correlation of the ranking with ``mu``, the share
of true hotspots visited (any hours) and focused (in the top-k), the share of hours at true
hotspots, the concentration of hours (Gini, share of the top 10 % of communities) and the
patrol-found cases per week.

    python benchmarks/patrol_feedback.py [--quick] [--seeds N]

Prints the table and writes benchmarks/results/patrol_feedback.json (with machine info).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import machine_info  # noqa: E402

from geo.analysis.effort import (  # noqa: E402
    DEFAULT_PRIOR_HOURS,
    exposure_aware_scores,
    patrol_exposure,
    rotation_floor,
)
from geo.io import read_default_files  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "patrol_feedback.json"
WEEKS, LEGACY_WEEKS = 12, 4
BUDGET_H, TOP_K, ROUTINE_H, MAX_GAP_DAYS = 160.0, 10, 1.0, 14.0
COMPLAINT_RATE, DETECT_PER_HOUR = 0.2, 0.25
N_HOT, HOT_FACTOR, ROUND = 6, 6.0, 10
START = pd.Timestamp("2026-03-02")
ARMS = (("naive", True), ("exposure", True), ("naive", False), ("exposure", False))
METRICS = ("spearman", "hot_visited", "hot_focused", "hot_hours_share", "gini", "top10_share",
           "gini_cum", "distinct_focus", "patrol_found")


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 equal, → 1 all on one)."""
    s = np.sort(np.asarray(x, dtype=float))
    n, tot = s.size, s.sum()
    return 0.0 if tot <= 0 else float((2 * np.arange(1, n + 1) - n - 1) @ s / (n * tot))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    return float(pd.Series(a).rank().corr(pd.Series(b).rank()))


def make_truth(codes: list[str], rng: np.random.Generator) -> dict[str, Any]:
    """True rates, the six true hotspots and the legacy usual round."""
    n = len(codes)
    mu = rng.lognormal(mean=0.0, sigma=0.35, size=n)
    order = rng.permutation(n)
    usual = order[:ROUND]
    hot = np.concatenate([usual[: N_HOT // 2], order[ROUND: ROUND + N_HOT - N_HOT // 2]])
    mu[hot] *= HOT_FACTOR
    return {"mu": mu, "hot": hot, "usual": usual, "corner_hot": hot[N_HOT // 2:]}


def legacy_hours(n: int, usual: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One legacy week: 80 % of the budget on the usual round, the rest on 8 random others."""
    h = np.zeros(n)
    h[usual] = 0.8 * BUDGET_H / usual.size
    others = rng.choice(np.setdiff1d(np.arange(n), usual), size=8, replace=False)
    h[others] += 0.2 * BUDGET_H / 8
    return h


def week_cases(codes: list[str], mu: np.ndarray, h: np.ndarray, week: int,
               rng: np.random.Generator) -> pd.DataFrame:
    """The cases of one week: complaints independent of patrols, patrol finds ∝ hours."""
    nc = rng.poisson(mu * COMPLAINT_RATE)
    npf = rng.poisson(mu * DETECT_PER_HOUR * h)
    where = np.repeat(np.arange(len(codes)), nc + npf)
    src = np.concatenate([np.r_[["12345热线"] * a, ["巡查发现"] * b] for a, b in zip(nc, npf, strict=True)]
                         ) if where.size else np.array([], dtype=object)
    return pd.DataFrame({"community_code": np.asarray(codes, dtype=object)[where],
                         "source": src, "week": week})


def plan_week(codes: list[str], score: np.ndarray, last: pd.Series, at: pd.Timestamp,
              use_floor: bool) -> np.ndarray:
    """Hours per community: routine visits for overdue places, the rest over the top k."""
    n = len(codes)
    h = np.zeros(n)
    budget = BUDGET_H
    if use_floor:
        rf = rotation_floor(pd.Series(score, index=codes), last, at=at, max_gap_days=MAX_GAP_DAYS)
        overdue = np.flatnonzero(rf["overdue"].to_numpy())
        overdue = overdue[np.argsort(-rf["days_since"].to_numpy()[overdue], kind="stable")]
        overdue = overdue[: int(BUDGET_H / 3 / ROUTINE_H)]
        h[overdue] += ROUTINE_H
        budget -= ROUTINE_H * overdue.size
    top = np.argsort(-score, kind="stable")[:TOP_K]
    h[top] += budget / TOP_K
    return h


def run_arm(codes: list[str], truth: dict[str, Any], seed: int, method: str,
            use_floor: bool, prior_hours: float) -> dict[str, list[float]]:
    """Twelve weeks of plan → patrol → cases → re-plan for one arm and seed."""
    n, mu = len(codes), truth["mu"]
    rng = np.random.default_rng([seed, 1])  # same legacy and case draws in every arm
    cases, visits = [], []
    for w in range(-LEGACY_WEEKS, 0):
        h = legacy_hours(n, truth["usual"], rng)
        cases.append(week_cases(codes, mu, h, w, rng))
        visits.append(_visits(codes, h, w))
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    hot = np.zeros(n, dtype=bool)
    hot[truth["hot"]] = True
    cum, focus = np.zeros(n), np.zeros(n, dtype=bool)
    for w in range(WEEKS):
        at = START + pd.Timedelta(weeks=w)
        cs, vs = pd.concat(cases, ignore_index=True), pd.concat(visits, ignore_index=True)
        exp = patrol_exposure(vs, key="community_code")
        sc = exposure_aware_scores(cs, exp, key="community_code", places=codes,
                                   prior_hours=prior_hours)
        col = "score" if method == "exposure" else "raw_count"
        score = sc.table[col].reindex(codes).to_numpy(dtype=float)
        h = plan_week(codes, score, exp.last_visit, at, use_floor)
        top = np.argsort(-score, kind="stable")[:TOP_K]
        new = week_cases(codes, mu, h, w, rng)
        cases.append(new)
        visits.append(_visits(codes, h, w))
        srt = np.sort(h)[::-1]
        cum += h
        focus[top] = True
        out["spearman"].append(spearman(score, mu))
        out["hot_visited"].append(float((h[hot] > 0).mean()))
        out["hot_focused"].append(float(np.isin(truth["hot"], top).mean()))
        out["hot_hours_share"].append(float(h[hot].sum() / h.sum()))
        out["gini"].append(gini(h))
        out["top10_share"].append(float(srt[: max(1, round(0.1 * n))].sum() / h.sum()))
        out["gini_cum"].append(gini(cum))
        out["distinct_focus"].append(float(focus.sum()))
        out["patrol_found"].append(float((new["source"] == "巡查发现").sum()))
    return out


def _visits(codes: list[str], h: np.ndarray, week: int) -> pd.DataFrame:
    at = START + pd.Timedelta(weeks=week) - pd.Timedelta(days=1)
    on = np.flatnonzero(h > 0)
    return pd.DataFrame({"community_code": np.asarray(codes, dtype=object)[on],
                         "duration_s": h[on] * 3600.0, "end": at})


def summarise(runs: dict[str, list[dict[str, list[float]]]]) -> dict[str, Any]:
    """Mean (and sd) over seeds of each metric per week, and over the last four weeks."""
    table: dict[str, Any] = {}
    for arm, seeds in runs.items():
        table[arm] = {}
        for m in METRICS:
            a = np.array([s[m] for s in seeds])  # seeds × weeks
            table[arm][m] = {"per_week": np.round(a.mean(axis=0), 3).tolist(),
                             "last4_mean": round(float(a[:, -4:].mean()), 3),
                             "last4_sd_over_seeds": round(float(a[:, -4:].mean(axis=1).std()), 3)}
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="5 seeds instead of 20")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--prior-hours", type=float, default=DEFAULT_PRIOR_HOURS)
    args = ap.parse_args()
    n_seeds = args.seeds or (5 if args.quick else 20)
    t0 = time.perf_counter()
    comm = read_default_files()["communities"]
    codes = [str(c) for c in comm["code"]]
    runs: dict[str, list[dict[str, list[float]]]] = {}
    for seed in range(n_seeds):
        truth = make_truth(codes, np.random.default_rng([seed, 0]))
        for method, use_floor in ARMS:
            arm = f"{method}{'+floor' if use_floor else ''}"
            res = run_arm(codes, truth, seed, method, use_floor, args.prior_hours)
            runs.setdefault(arm, []).append(res)
    summary = summarise(runs)
    print(f"{n_seeds} seeds × {WEEKS} weeks, {len(codes)} communities, "
          f"budget {BUDGET_H:g} h/week, top-{TOP_K}, prior {args.prior_hours:g} h")
    head = f"{'arm':<15}" + "".join(f"{m:>16}" for m in METRICS)
    print("mean over seeds, weeks 9-12\n" + head)
    for arm, row in summary.items():
        print(f"{arm:<15}" + "".join(f"{row[m]['last4_mean']:>16.3f}" for m in METRICS))
    print("\nSpearman with the truth per week")
    for arm, row in summary.items():
        print(f"{arm:<16}" + " ".join(f"{v:5.2f}" for v in row["spearman"]["per_week"]))
    result = {"machine": machine_info(), "quick": args.quick, "seeds": n_seeds,
              "wall_s": round(time.perf_counter() - t0, 1),
              "setup": {"weeks": WEEKS, "legacy_weeks": LEGACY_WEEKS, "budget_h": BUDGET_H,
                        "top_k": TOP_K, "routine_h": ROUTINE_H, "max_gap_days": MAX_GAP_DAYS,
                        "complaint_rate": COMPLAINT_RATE, "detect_per_hour": DETECT_PER_HOUR,
                        "n_hot": N_HOT, "hot_factor": HOT_FACTOR, "usual_round": ROUND,
                        "prior_hours": args.prior_hours, "communities": len(codes)},
              "summary": summary}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"wrote {OUT} in {result['wall_s']} s")


if __name__ == "__main__":
    main()
