"""Plan generation over HTTP on both backends (SQLite, PostGIS): ``POST /api/plans/{squad}/{date}``
knows the clock (today during the shift: no stop before it, confirmed stops kept; a past day: 409;
a later day: the full day), reads outside the plan window compute nothing, and generations are
limited per user in the database (429 with ``Retry-After``, across storages as across workers)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pages_support import PASSWORD, TZ, Site, build_site
from sqlalchemy import func, select

from service import pages_data, plan_clock
from service.case_cache import versions
from service.models import Plan, PlanVisit
from service.storage import Storage

ZONE = ZoneInfo(TZ)


@pytest.fixture
def site(db_url: str) -> Iterator[tuple[Site, TestClient]]:
    s = build_site(db_url)
    with TestClient(s.app) as client:
        yield s, client
    s.storage.engine.dispose()


def _day(s: Site, offset: int) -> date:
    return date.fromisoformat(s.today) + timedelta(days=offset)


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZONE)


def _rows(storage: Storage, day: date, table: Any = Plan) -> int:
    with storage.begin() as session:
        return int(session.scalar(select(func.count()).select_from(table)
                                  .where(table.plan_date == day)) or 0)


def _visits(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for r in plan["routes"] for v in r["visits"]]


@pytest.mark.parametrize("offset", [-3, 8, 40])
def test_reads_outside_the_window_compute_nothing(site: tuple[Site, TestClient],
                                                  offset: int) -> None:
    s, client = site
    day = _day(s, offset).isoformat()
    page = TestClient(s.app)  # the dashboard is a page: signed in with the session cookie
    login = page.post("/login", data={"username": "leader_sy", "password": PASSWORD},
                      follow_redirects=False)
    assert login.status_code == 303
    before = versions(s.storage)
    for path in (f"/api/plans/shuyuan/{day}", f"/api/plans/shuyuan/{day}/sheet.pdf",
                 f"/api/plans/shuyuan/{day}/sheet.xlsx", f"/api/plans/shuyuan/{day}/sheet.html",
                 f"/maps/shuyuan?date={day}", f"/squad/shuyuan?date={day}"):
        r = (page.get(path) if path.startswith("/squad/")
             else client.get(path, headers=s.auth("leader_sy")))
        assert r.status_code == 404, (path, r.status_code)
        assert "尚未生成" in r.text and f"POST /api/plans/shuyuan/{day}" in r.text, path
        assert "xuncha plan" in r.text, path
    d = date.fromisoformat(day)
    assert _rows(s.storage, d) == 0 and _rows(s.storage, d, PlanVisit) == 0
    assert versions(s.storage) == before  # no plan stored (and none replaced) anywhere


def test_post_today_at_a_clock_time_plans_nothing_before_it(site: tuple[Site, TestClient]) -> None:
    s, client = site
    day = _day(s, 0)
    url = f"/api/plans/shuyuan/{day.isoformat()}"
    at = _at(day, 10, 35)
    refused = client.post(url, json={"at": at.isoformat()}, headers=s.auth("leader_sy"))
    assert refused.status_code == 403 and "管理员" in refused.json()["detail"]
    assert _rows(s.storage, day) == 0
    r = client.post(url, json={"at": at.isoformat()}, headers=s.auth("admin"))
    assert r.status_code == 200, r.text
    plan = r.json()
    stops = _visits(plan)
    assert stops and all(datetime.fromisoformat(v["arrive"]) >= at for v in stops)
    # the morning teams start from their station at 10:35; the afternoon team at its shift
    morning = next(x for x in plan["routes"] if x["team"] == "shuyuan-1")
    assert morning["visits"] and datetime.fromisoformat(morning["visits"][0]["arrive"]) >= at
    assert any("10:35" in c for c in plan["changes"])
    stored = client.get(url, headers=s.auth("leader_sy")).json()
    assert stored["routes"] == plan["routes"] and _rows(s.storage, day) == 1


def test_post_today_during_the_shift_keeps_confirmed_stops(site: tuple[Site, TestClient]) -> None:
    s, client = site
    day = _day(s, 0)
    url = f"/api/plans/shuyuan/{day.isoformat()}"
    early = client.post(url, json={"at": _at(day, 5, 0).isoformat()}, headers=s.auth("admin"))
    assert early.status_code == 200 and "changes" not in early.json()  # before 06:00: full day
    full = early.json()
    team3 = next(x for x in full["routes"] if x["team"] == "shuyuan-3")["visits"]
    at = _at(day, 10, 0)
    assert len(team3) >= 3 and datetime.fromisoformat(team3[2]["arrive"]) < at
    done = [v["stop_id"] for v in team3[:2]]
    for sid in done:
        ok = client.post(f"{url}/visits", json={"stop_id": sid}, headers=s.auth("leader_sy"))
        assert ok.status_code == 201, ok.text
    r = client.post(url, json={"at": at.isoformat(), "unavailable_teams": []},
                    headers=s.auth("admin"))
    assert r.status_code == 200, r.text
    out = r.json()
    route3 = next(x for x in out["routes"] if x["team"] == "shuyuan-3")
    assert [v["stop_id"] for v in route3["visits"][:2]] == done  # kept, as done, first
    rest = [v for v in _visits(out) if v["stop_id"] not in done]
    assert rest and all(datetime.fromisoformat(v["arrive"]) >= at for v in rest)
    assert any(c.startswith("书院三组：已完成 2 站") for c in out["changes"])


def test_post_a_past_day_is_refused_and_a_later_day_is_the_full_day(
        site: tuple[Site, TestClient]) -> None:
    s, client = site
    past = _day(s, -1)
    r = client.post(f"/api/plans/shuyuan/{past.isoformat()}", json={},
                    headers=s.auth("leader_sy"))
    assert r.status_code == 409 and "已经过去" in r.json()["detail"]
    assert f"GET /api/plans/shuyuan/{past.isoformat()}" in r.json()["detail"]
    assert _rows(s.storage, past) == 0
    later = _day(s, 1)
    at = _at(_day(s, 0), 15, 0)  # the clock is today 15:00: tomorrow is planned whole
    ok = client.post(f"/api/plans/shuyuan/{later.isoformat()}", json={"at": at.isoformat()},
                     headers=s.auth("admin"))
    assert ok.status_code == 200 and "changes" not in ok.json()
    first = min(datetime.fromisoformat(v["arrive"]) for v in _visits(ok.json()))
    assert first < _at(later, 9, 0)


def test_generations_are_limited_per_user_across_workers(site: tuple[Site, TestClient],
                                                         db_url: str) -> None:
    s, client = site
    other = Storage(db_url, tz=TZ)  # another worker: its own engine on the same database
    try:
        for _ in range(pages_data.GENERATIONS_PER_MINUTE - 1):
            pages_data.check_generation_rate(other, "leader_sy")
        day = _day(s, 2)
        url = f"/api/plans/shuyuan/{day.isoformat()}"
        assert client.post(url, json={}, headers=s.auth("leader_sy")).status_code == 200
        refused = client.post(url, json={"unavailable_teams": ["shuyuan-1"]},
                              headers=s.auth("leader_sy"))
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 61
        assert "生成计划过于频繁" in refused.json()["detail"]
        assert client.get(url, headers=s.auth("leader_sy")).json()["unavailable_teams"] == []
        today = f"/api/plans/shuyuan/{s.today}"  # the clock-aware path is limited too
        assert client.post(today, json={}, headers=s.auth("leader_sy")).status_code == 429
        assert _rows(s.storage, _day(s, 0)) == 0
        assert client.post(url, json={}, headers=s.auth("planner")).status_code == 200
    finally:
        other.engine.dispose()


def test_prepared_plan_of_today_starts_at_the_clock(site: tuple[Site, TestClient]) -> None:
    s, _ = site
    day = _day(s, 0)
    squad = next(q for q in s.storage.squads() if q["id"] == "shuyuan")
    at = _at(day, 15, 20)
    settings = s.app.state.settings
    assert plan_clock.prepare(s.storage, settings, squad, day, now=at) is True
    assert plan_clock.prepare(s.storage, settings, squad, day, now=at) is False  # made once
    stored = pages_data.get_plan(s.storage, settings, squad, day)
    stops = _visits(stored)
    assert stops and all(datetime.fromisoformat(v["arrive"]) >= at for v in stops)
    assert {r["team"] for r in stored["routes"] if r["visits"]} == {"shuyuan-2"}  # afternoon
