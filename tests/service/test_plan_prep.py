"""Plans made ahead (service.plan_prep) on both backends: the missing plans of a day are made once,
today's from the clock when the shift has started, and the daily refresh plans again only the
days ahead that were made ahead on an earlier day (never a plan somebody generated)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pages_support import TZ, Site, build_site
from sqlalchemy import select, update

from service import plan_prep
from service.models import Plan
from service.plans import load_plan

ZONE = ZoneInfo(TZ)


@pytest.fixture
def site(db_url: str) -> Iterator[Site]:
    s = build_site(db_url)
    yield s
    s.storage.engine.dispose()


def _rows(s: Site, day: date) -> dict[str, tuple[str, datetime]]:
    with s.storage.begin() as session:
        return {r.squad_id: (r.created_by, r.created_at) for r in session.scalars(
            select(Plan).where(Plan.plan_date == day))}


def test_missing_plans_are_made_once_and_today_from_the_clock(site: Site) -> None:
    s = site
    settings = s.app.state.settings
    today = date.fromisoformat(s.today)
    at = datetime(today.year, today.month, today.day, 15, 10, tzinfo=ZONE)
    squads = [str(q["id"]) for q in s.storage.squads()]
    made = plan_prep.prepare_plans(s.storage, settings, days=(0,), now=at)
    assert made == len(squads) and set(_rows(s, today)) == set(squads)
    assert {by for by, _ in _rows(s, today).values()} == {plan_prep.PREPARED_BY}
    plan = load_plan(s.storage, "shuyuan", today)
    assert plan is not None
    stops = [v for r in plan["routes"] for v in r["visits"]]
    assert stops and all(datetime.fromisoformat(v["arrive"]) >= at for v in stops)
    assert plan_prep.prepare_plans(s.storage, settings, days=(0,), now=at) == 0  # once


def test_refresh_replans_only_stale_plans_made_ahead(site: Site) -> None:
    s = site
    settings = s.app.state.settings
    today = date.fromisoformat(s.today)
    ahead, mine = today + timedelta(days=3), today + timedelta(days=4)
    assert plan_prep.prepare_plans(s.storage, settings, days=(3,)) == len(s.storage.squads())
    assert plan_prep.refresh_stale(s.storage, settings) == 0  # made today: fresh
    squad = next(q for q in s.storage.squads() if q["id"] == "shuyuan")
    from service.pages_data import build_plan

    build_plan(s.storage, settings, squad, mine, actor="leader_sy")
    old = datetime.now(ZONE) - timedelta(days=2)
    with s.storage.begin() as session:  # as if both were made two days ago
        session.execute(update(Plan).where(Plan.plan_date.in_((ahead, mine)),
                                           Plan.squad_id == "shuyuan").values(created_at=old))
    assert plan_prep.stale_prepared(s.storage, ahead, today, TZ) == ["shuyuan"]
    assert plan_prep.stale_prepared(s.storage, mine, today, TZ) == []  # somebody's: kept
    assert plan_prep.refresh_stale(s.storage, settings) == 1
    by, at = _rows(s, ahead)["shuyuan"]
    assert by == plan_prep.PREPARED_BY and at.astimezone(ZONE) > old + timedelta(days=1)
    by_mine, at_mine = _rows(s, mine)["shuyuan"]
    assert by_mine == "leader_sy" and abs((at_mine.astimezone(ZONE) - old).total_seconds()) < 5
