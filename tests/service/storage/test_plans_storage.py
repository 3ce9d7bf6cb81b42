"""Stored plans: save / load / replace and the real "days since last visit" (SQLite and PostGIS)."""

from __future__ import annotations

from datetime import date, timedelta

import geopandas as gpd
import pytest

from geo.boundaries import DefaultArea, load_default
from geo.planning.day import DailyPlan, build_stops, plan_day
from service.plans import last_visits, load_plan, plan_dates, save_plan
from service.storage import Storage

DAY1 = date(2026, 5, 12)


@pytest.fixture(scope="module")
def area() -> DefaultArea:
    return load_default()


def _plan(area: DefaultArea, day: date, last: dict[str, date], *,
          only: list[str] | None = None) -> DailyPlan:
    squad = dict(area.squad("chezhan"))
    if only is not None:
        squad["communities"] = only
    stops = build_stops(squad=squad, date=day, communities=area.communities, last_visit=last,
                        routine_optional=False)
    squad["communities"] = area.squad("chezhan")["communities"]
    return plan_day(squad=squad, date=day, stops=stops, stations=area.stations, time_limit_s=0.3)


def test_save_load_replace_and_last_visits(storage: Storage, area: DefaultArea) -> None:
    codes = list(area.squad("chezhan")["communities"])
    assert last_visits(storage, "chezhan", DAY1) == {}
    plan1 = _plan(area, DAY1, {})
    assert plan1.violations == []
    pid = save_plan(storage, plan1, created_by="test")
    assert pid > 0
    stored = load_plan(storage, "chezhan", DAY1)
    assert stored is not None and stored["date"] == "2026-05-12"
    assert stored["n_visited"] == len(plan1.visits()) == len(codes)
    assert load_plan(storage, "chezhan", DAY1 + timedelta(days=1)) is None
    # the plan day itself does not count as "before"
    assert last_visits(storage, "chezhan", DAY1) == {}
    day2 = DAY1 + timedelta(days=1)
    assert last_visits(storage, "chezhan", day2) == dict.fromkeys(codes, DAY1)
    # day 2 visits only the first community; day 3 sees the mix
    plan2 = _plan(area, day2, {}, only=codes[:1])
    assert {v.community_code for v in plan2.visits()} == {codes[0]}
    save_plan(storage, plan2)
    day3 = day2 + timedelta(days=1)
    lv = last_visits(storage, "chezhan", day3)
    assert lv[codes[0]] == day2 and all(lv[c] == DAY1 for c in codes[1:])
    # re-planning day 2 replaces its plan and its visits
    plan2b = _plan(area, day2, {}, only=codes[1:2])
    save_plan(storage, plan2b)
    assert plan_dates(storage, "chezhan") == [DAY1, day2]
    lv = last_visits(storage, "chezhan", day3)
    assert lv[codes[1]] == day2 and lv[codes[0]] == DAY1
    assert {v["stop_id"] for r in load_plan(storage, "chezhan", day2)["routes"]
            for v in r["visits"]} == {f"com-{codes[1]}"}
    # other squads are untouched
    assert last_visits(storage, "shuyuan", day3) == {}


def test_revisit_rule_over_stored_days(storage: Storage, area: DefaultArea) -> None:
    """Plans stored day after day: no community of the squad goes N days without a visit."""
    squad = area.squad("nanda")
    n = 2
    seen: dict[str, list[date]] = {c: [] for c in squad["communities"]}
    comm: gpd.GeoDataFrame = area.communities
    for k in range(4):
        day = DAY1 + timedelta(days=k)
        last = last_visits(storage, "nanda", day)
        stops = build_stops(squad=squad, date=day, communities=comm, last_visit=last,
                            revisit_days=n)
        plan = plan_day(squad=squad, date=day, stops=stops, stations=area.stations,
                        time_limit_s=0.3)
        assert plan.violations == []
        save_plan(storage, plan)
        for v in plan.visits():
            if v.community_code in seen and day not in seen[v.community_code]:
                seen[v.community_code].append(day)
    for code, days in seen.items():
        gaps = [(b - a).days for a, b in zip([DAY1 - timedelta(days=1), *days], days, strict=False)]
        assert days and days[0] == DAY1, code
        assert max(gaps) <= n, (code, days)
        assert (DAY1 + timedelta(days=3) - days[-1]).days < n, (code, days)
