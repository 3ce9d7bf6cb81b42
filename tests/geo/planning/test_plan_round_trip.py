"""DailyPlan.to_json → from_json gives the same plan; route sheets come from geo.sheets alone."""

from __future__ import annotations

import json
from datetime import date, datetime

import geopandas as gpd
import pytest
from shapely.geometry import Point

from geo.boundaries import Squad, load_default
from geo.planning import DailyPlan, build_stops, plan_day
from geo.sheets import team_sheets

DAY = date(2026, 5, 12)


def _json(plan: DailyPlan) -> dict:
    return json.loads(json.dumps(plan.to_json(), ensure_ascii=False))


@pytest.fixture(scope="module")
def plan() -> DailyPlan:
    area = load_default()
    squad = area.squad("chezhan")
    comm = area.communities[area.communities["code"].isin(squad.communities)]
    centre = comm.to_crs(4547).geometry.union_all().centroid
    far = gpd.GeoDataFrame(  # one hotspot 30 km away: offered, never reachable, so unvisited
        {"hotspot_id": ["FAR"], "score": [5.0], "case_count": [3], "community_code":
         [squad.communities[0]]}, geometry=[Point(centre.x + 30_000, centre.y)], crs=4547)
    stops = build_stops(squad=squad, date=DAY, communities=area.communities, hotspots=far)
    return plan_day(squad=squad, date=DAY, stops=stops, stations=area.stations, time_limit_s=0.3)


def test_to_json_from_json_round_trip(plan: DailyPlan) -> None:
    data = _json(plan)
    back = DailyPlan.from_json(data)
    assert _json(back) == data
    assert type(back.date) is date and back.date == DAY
    assert back.squad_id == "chezhan" and back.squad.name == plan.squad.name
    assert len(back.stops) == len(plan.stops) and back.unvisited == plan.unvisited
    assert any(u["stop_id"] == "hot-FAR" for u in back.unvisited)
    assert back.stops.crs == plan.stops.crs
    for r0, r1 in zip(plan.routes, back.routes, strict=True):
        assert (r1.team_id, r1.shift_s, r1.break_s, r1.members) == \
            (r0.team_id, r0.shift_s, r0.break_s, r0.members)
        assert r1.start_lonlat == pytest.approx(r0.start_lonlat, abs=1e-9)
        assert r1.start_xy == pytest.approx(r0.start_xy, abs=1e-3)
        assert r1.geometry is not None and r0.geometry is not None
        assert r1.geometry.length == pytest.approx(r0.geometry.length, rel=1e-9)
        for v0, v1 in zip(r0.visits, r1.visits, strict=True):
            assert isinstance(v1.arrive, datetime) and v1.arrive.tzinfo is not None
            assert v1.arrive == v0.arrive and v1.depart == v0.depart
            assert v1.arrive.utcoffset() == v0.arrive.utcoffset()
            # stored lon/lat have 7 decimals: the projected position is within centimetres
            assert (v1.x, v1.y) == pytest.approx((v0.x, v0.y), abs=0.05)
            assert (v1.stop_id, v1.kind, v1.windows_s, v1.community_code) == \
                (v0.stop_id, v0.kind, v0.windows_s, v0.community_code)


def test_route_sheets_of_a_stored_plan_equal_the_fresh_ones(plan: DailyPlan) -> None:
    squad = load_default().squad("chezhan")
    back = DailyPlan.from_json(json.loads(json.dumps(plan.to_json())))
    fresh, stored = team_sheets(plan), team_sheets(back, squad)
    assert [s.team_name for s in stored] == [r.team_name for r in plan.routes]
    staff = {m.id: m.name for m in squad.staff}
    assert [m.name for m in stored[0].members] == [staff[m] for m in plan.routes[0].members]
    for a, b in zip(fresh, stored, strict=True):
        assert (a.squad_name, a.date, a.shift_text(), a.note, a.members) == \
            (b.squad_name, b.date, b.shift_text(), b.note, b.members)
        assert [(s.seq, a.window(s), s.kind, s.what) for s in a.stops] == \
            [(s.seq, b.window(s), s.kind, s.what) for s in b.stops]
        assert b.start_lonlat == pytest.approx(a.start_lonlat, abs=1e-9)
    one = team_sheets(back, squad, teams={plan.routes[-1].team_id})
    assert [s.team_name for s in one] == [plan.routes[-1].team_name]
    assert [s.team_name for s in plan.team_sheets()] == [s.team_name for s in fresh]


def test_from_json_without_squad_names_members_by_id(plan: DailyPlan) -> None:
    back = DailyPlan.from_json(plan.to_json())
    assert isinstance(back.squad, Squad) and back.squad.staff == ()
    sheets = team_sheets(back)
    assert [m.name for m in sheets[0].members] == plan.routes[0].members
