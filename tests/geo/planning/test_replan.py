"""Re-planning during the shift (geo.planning.replan): only what is left, from now, from where
each team is; confirmed stops kept as done, closed cases' stops dropped, changes said."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geo.planning import DailyPlan, build_stops, plan_day
from geo.planning.replan import Confirmed, case_stop_id, replan_day

CRS = "EPSG:4547"
X0, Y0 = 492_000.0, 3_423_000.0
DAY = date(2026, 5, 12)
TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)


def _communities() -> gpd.GeoDataFrame:
    polys = [box(X0 + 700 * i, Y0, X0 + 700 * (i + 1), Y0 + 700) for i in range(3)]
    return gpd.GeoDataFrame({"code": ["C1", "C2", "C3"], "name": ["东社区", "中社区", "西社区"]},
                            geometry=polys, crs=CRS).to_crs(4326)


def _stations() -> gpd.GeoDataFrame:
    pts = [Point(X0 + 100, Y0 + 100), Point(X0 + 2000, Y0 + 100)]
    return gpd.GeoDataFrame({"code": ["ZS-C1", "ZS-C3"], "name": ["东社区工作站", "西社区工作站"],
                             "community_code": ["C1", "C3"]}, geometry=pts, crs=CRS).to_crs(4326)


def _squad() -> dict:
    return {"id": "sq", "name": "测试中队", "communities": ["C1", "C2", "C3"], "teams": [
        {"id": "A", "name": "一组", "members": [], "start_station": "ZS-C1",
         "end_station": "ZS-C1", "shift_start": "06:00", "shift_end": "09:00",
         "break": {"start": "07:30", "end": "07:45"}, "mode": "walk"},
        {"id": "B", "name": "二组", "members": [], "start_station": "ZS-C3",
         "end_station": "ZS-C3", "shift_start": "06:00", "shift_end": "09:00", "mode": "walk"}]}


def _cases() -> gpd.GeoDataFrame:
    rows = [{"case_id": f"K{i}", "category": "06036", "status": "上报",
             "reported_at": pd.Timestamp("2026-05-09 08:00", tz=TZ),
             "geometry": Point(X0 + 100 + 130 * i, Y0 + 150 + 120 * (i % 4))} for i in range(16)]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS).to_crs(4326)


@pytest.fixture(scope="module")
def plan() -> DailyPlan:
    stops = build_stops(squad=_squad(), date=DAY, communities=_communities(),
                        open_cases=_cases(), working_crs=CRS, tz=TZ)
    made = plan_day(squad=_squad(), date=DAY, stops=stops, stations=_stations(), tz=TZ,
                    time_limit_s=0.5)
    assert made.feasible, made.violations
    assert all(len(r.visits) >= 4 for r in made.routes), [len(r.visits) for r in made.routes]
    return DailyPlan.from_json(json.loads(json.dumps(made.to_json())), squad=_squad())


def _at(hh: int, mm: int) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=ZONE)


def _route(p: DailyPlan, team: str):  # type: ignore[no-untyped-def]
    return next(r for r in p.routes if r.team_id == team)


def test_replan_keeps_done_drops_closed_and_starts_now_from_the_last_stop(plan: DailyPlan) -> None:
    a = _route(plan, "A")
    first, second = a.visits[0], a.visits[1]
    confirmed: list[Confirmed | dict[str, str]] = [
        Confirmed(team="A", stop_id=first.stop_id, at=_at(6, 20)),
        {"team": "A", "stop_id": second.stop_id, "confirmed_at": _at(6, 45).isoformat()}]
    # a case still ahead on team B's route was closed since the plan was made
    closing = next(v for v in _route(plan, "B").visits if v.stop_id.startswith("chk-"))
    now = _at(7, 0)
    res = replan_day(plan=plan, now=now, stations=_stations(), confirmed=confirmed,
                     closed_cases=[closing.stop_id.removeprefix("chk-")], time_limit_s=0.5)
    out = res.plan
    assert out.violations == []
    ra = _route(out, "A")
    # done stops kept, in order, at their confirmation times, not planned again
    assert [v.stop_id for v in ra.visits[:2]] == [first.stop_id, second.stop_id]
    assert ra.visits[0].arrive == _at(6, 20) and ra.visits[1].arrive == _at(6, 45)
    assert [v.seq for v in ra.visits] == list(range(1, len(ra.visits) + 1))
    ids = [v.stop_id for v in out.visits()]
    assert len(ids) == len(set(ids))
    assert res.done == {"A": [first.stop_id, second.stop_id]}
    # no planned visit before the clock time; leaving the start not before it either
    done = {first.stop_id, second.stop_id}
    rest = [v for v in out.visits() if v.stop_id not in done]
    assert rest and min(v.arrive for v in rest) >= now
    assert all(r.leave_s >= (now - _at(0, 0)).total_seconds() - 1 for r in out.routes)
    # the closed case's stop is gone from routes and from the unvisited list
    assert closing.stop_id not in ids
    assert closing.stop_id not in {u["stop_id"] for u in out.unvisited}
    # team A walks on from its last confirmed stop, team B from its station
    assert ra.geometry_wgs84 is not None
    assert ra.geometry_wgs84.coords[0] == pytest.approx((second.lon, second.lat), abs=1e-7)
    assert ra.legs and ra.legs[0]["to"] == ra.visits[2].stop_id
    rb = _route(out, "B")
    assert rb.geometry_wgs84 is not None and rb.geometry_wgs84.coords[0] == pytest.approx(
        _route(plan, "B").start_lonlat, abs=1e-7)
    # the morning half still ends at the station for lunch (the break is kept)
    assert ra.break_s == a.break_s and any(leg["kind"] == "break" for leg in ra.legs) == any(
        v.arrive_s >= a.break_s[1] for v in ra.visits[2:])  # type: ignore[index]
    # what changed, in Chinese
    assert res.changes[0].startswith("一组：已完成 2 站") and "自 07:00 起" in res.changes[0]
    assert "取消 1 站（案件已结案）" in res.changes[1]
    assert res.changes[0] in out.warnings
    # the stored form reads back unchanged
    again = DailyPlan.from_json(json.loads(json.dumps(out.to_json())), squad=_squad())
    assert again.to_json() == out.to_json()


def test_replan_without_a_team_in_the_afternoon(plan: DailyPlan) -> None:
    """The issue's case: at 08:00 team B goes off duty; A's remaining route is all after it."""
    now = _at(8, 0)
    res = replan_day(plan=plan, now=now, stations=_stations(), unavailable_teams=["B"],
                     time_limit_s=0.5)
    out = res.plan
    assert [r.team_id for r in out.routes] == ["A"] and out.unavailable_teams == ("B",)
    assert out.violations == []
    assert all(v.arrive >= now for v in out.visits())
    assert all(v.depart <= _at(9, 0) for v in out.visits())
    assert "二组：已完成 0 站" in res.changes[1] and "不在岗" in res.changes[1]
    # stops whose every window has passed cannot be planned; the rest are listed unvisited
    offered = {v.stop_id for v in plan.visits()} | {u["stop_id"] for u in plan.unvisited}
    assert {v.stop_id for v in out.visits()} | {u["stop_id"] for u in out.unvisited} <= offered


def test_after_the_shift_nothing_is_planned(plan: DailyPlan) -> None:
    a = _route(plan, "A")
    res = replan_day(plan=plan, now=_at(10, 0), stations=_stations(),
                     confirmed=[Confirmed("A", a.visits[0].stop_id, _at(6, 30))])
    out = res.plan
    assert [len(r.visits) for r in out.routes] == [1, 0]
    assert "班次已结束" in res.changes[0] and "班次已结束" in res.changes[1]


def test_in_the_last_minute_of_the_shift_every_window_has_passed(plan: DailyPlan) -> None:
    """The teams are still on duty but no stop can be reached any more: nothing new is planned,
    what was done stays, and the changes say the other stops dropped off (this once raised a
    KeyError: an empty list selected no columns of the empty stop frame)."""
    a = _route(plan, "A")
    res = replan_day(plan=plan, now=_at(8, 59), stations=_stations(), time_limit_s=0.5,
                     confirmed=[Confirmed("A", a.visits[0].stop_id, _at(6, 30))])
    out = res.plan
    assert [len(r.visits) for r in out.routes] == [1, 0]
    assert out.routes[0].visits[0].stop_id == a.visits[0].stop_id
    assert not out.violations
    assert "时间已过" in "".join(res.changes)


def test_before_the_shift_the_plan_is_the_full_day(plan: DailyPlan) -> None:
    res = replan_day(plan=plan, now=_at(5, 0), stations=_stations(), time_limit_s=0.5)
    assert res.plan.violations == []
    assert min(v.arrive for v in res.plan.visits()) >= _at(6, 0)
    assert len(res.plan.visits()) >= len(plan.visits()) - 1


def test_naive_clock_is_refused(plan: DailyPlan) -> None:
    from geo.errors import InputError

    with pytest.raises(InputError, match="时区"):
        replan_day(plan=plan, now=datetime(2026, 5, 12, 9, 0), stations=_stations())
    with pytest.raises(InputError, match="没有队伍"):
        replan_day(plan=plan, now=_at(9, 0), stations=_stations(), unavailable_teams=["Z"])


def test_case_stop_id() -> None:
    assert case_stop_id("K1") == "chk-K1"
