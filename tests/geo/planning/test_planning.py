"""Daily plan: stops from frames built in code, windows, 复查, revisit rule, teams and breaks."""

from __future__ import annotations

import itertools
import json
import math
from datetime import date, timedelta

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geo.errors import InputError
from geo.planning.clock import clock_s, hour_windows_s, parse_hours_text
from geo.planning.day import DailyPlan, build_stops, check_plan, plan_day
from geo.sheets import team_sheets
from geo.travel import EuclideanTravel

CRS = "EPSG:4547"
X0, Y0 = 492_000.0, 3_423_000.0
DAY = date(2026, 5, 12)
TZ = "Asia/Shanghai"


def _communities() -> gpd.GeoDataFrame:
    """Two 800 m squares side by side (C1 west, C2 east), in lon/lat like real input."""
    polys = [box(X0, Y0, X0 + 800, Y0 + 800), box(X0 + 800, Y0, X0 + 1600, Y0 + 800)]
    g = gpd.GeoDataFrame({"code": ["C1", "C2"], "name": ["东社区", "西社区"], "squad": "sq"},
                         geometry=polys, crs=CRS)
    return g.to_crs(4326)


def _stations() -> gpd.GeoDataFrame:
    pts = [Point(X0 + 100, Y0 + 100), Point(X0 + 1500, Y0 + 100)]
    return gpd.GeoDataFrame({"code": ["ZS-C1", "ZS-C2"], "name": ["东社区工作站", "西社区工作站"],
                             "community_code": ["C1", "C2"]}, geometry=pts, crs=CRS).to_crs(4326)


def _squad() -> dict:
    return {
        "id": "sq", "name": "测试中队", "communities": ["C1", "C2"],
        "staff": [{"id": "p1", "name": "张伟", "role": "城管队员"},
                  {"id": "p2", "name": "王芳", "role": "市政"}],
        "teams": [
            {"id": "A", "name": "一组", "members": ["p1", "p2"], "start_station": "C1",
             "end_station": "C1", "shift_start": "06:00", "shift_end": "14:00",
             "break": {"start": "11:00", "end": "11:40"}, "mode": "walk"},
            {"id": "B", "name": "二组", "members": [], "start_station": "ZS-C2",
             "end_station": "ZS-C2", "shift_start": "14:00", "shift_end": "22:00",
             "break": {"start": "17:00", "end": "17:40"}, "mode": "ebike"},
        ],
    }


def _hotspots(rows: list[dict]) -> gpd.GeoDataFrame:
    geoms = [Point(X0 + r.pop("dx"), Y0 + r.pop("dy")).buffer(30) for r in rows]
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)


def _cases(rows: list[dict]) -> gpd.GeoDataFrame:
    geoms = [Point(X0 + r.pop("dx"), Y0 + r.pop("dy")) for r in rows]
    df = pd.DataFrame(rows)
    for col in ("reported_at", "deadline_at"):
        if col in df:
            df[col] = pd.to_datetime(df[col]).dt.tz_localize(TZ)
    return gpd.GeoDataFrame(df, geometry=geoms, crs=CRS).to_crs(4326)


def _stops(**kw: object) -> gpd.GeoDataFrame:
    args: dict = {"squad": _squad(), "date": DAY, "communities": _communities(),
                  "working_crs": CRS, "tz": TZ}
    args.update(kw)
    return build_stops(**args)


def _row(stops: gpd.GeoDataFrame, stop_id: str) -> pd.Series:
    hit = stops[stops["stop_id"] == stop_id]
    assert len(hit) == 1, f"{stop_id} missing from {list(stops['stop_id'])}"
    return hit.iloc[0]


# --- time helpers -----------------------------------------------------------------------------

def test_clock_and_hour_windows() -> None:
    assert clock_s("06:30") == 23_400
    assert hour_windows_s([[6, 9], [22, 26]]) == [(0.0, 7200.0), (21600.0, 32400.0), (79200.0, 93600.0)]
    assert parse_hours_text("06:00–09:00, 18:00–22:00") == [(6.0, 9.0), (18.0, 22.0)]
    with pytest.raises(InputError):
        clock_s("25:99")


# --- build_stops --------------------------------------------------------------------------------

def test_hotspot_windows_follow_peak_hours_clipped_to_shifts() -> None:
    hs = _hotspots([
        {"hotspot_id": "H1", "recency_score": 20.0, "case_count": 30, "dominant_category": "09006",
         "peak_windows": [[6, 9]], "dx": 300, "dy": 300},
        {"hotspot_id": "H2", "recency_score": 5.0, "case_count": 8, "dominant_category": "06036",
         "peak_hours": "18:00–23:00", "dx": 1200, "dy": 400},
        {"hotspot_id": "H3", "recency_score": 5.0, "case_count": 8, "dominant_category": "06036",
         "peak_windows": [[2, 4]], "dx": 1000, "dy": 600},
    ])
    stops = _stops(hotspots=hs)
    # 06:00–09:00, service 15 min must finish inside the peak: start ≤ 08:45
    assert _row(stops, "hot-H1")["windows_s"] == [[21600.0, 31500.0]]
    assert _row(stops, "hot-H1")["community_code"] == "C1"
    # 18:00–23:00 clipped to team B's shift (ends 22:00) minus the service time
    assert _row(stops, "hot-H2")["windows_s"] == [[64800.0, 79200.0 - 900.0]]
    # 02:00–04:00 is outside every shift: the whole working time, priority halved, warned
    h3 = _row(stops, "hot-H3")
    assert h3["windows_s"][0][0] == 21600.0 and h3["windows_s"][-1][1] == 79200.0 - 900.0
    assert any("H3" in w for w in stops.attrs["warnings"])
    assert (stops["kind"] == "热点").sum() == 3


def test_hotspot_priority_formula_uses_score_severity_and_staleness() -> None:
    hs = _hotspots([{"hotspot_id": "H1", "score": 20.0, "case_count": 30,
                     "dominant_category": "09006", "peak_windows": [[6, 9]], "dx": 300, "dy": 300}])
    never = _row(_stops(hotspots=hs.copy()), "hot-H1")["priority"]
    # 10 · (1 + ln 21) · 3/3 · 1.5 (never visited)
    assert never == round(10 * (1 + math.log(21)) * 1.5)
    yesterday = _row(_stops(hotspots=hs.copy(), last_visit={"C1": DAY - timedelta(days=1)}),
                     "hot-H1")["priority"]
    assert yesterday == round(10 * (1 + math.log(21)) * (1 + 0.5 / 3))
    assert yesterday < never


def test_rechecks_required_with_deadlines_and_capped() -> None:
    cases = _cases([
        {"case_id": "K1", "category": "06036", "status": "派遣", "reported_at": "2026-05-11 10:00",
         "deadline_at": "2026-05-12 10:00", "dx": 200, "dy": 200},
        {"case_id": "K2", "category": "06001", "status": "处置", "reported_at": "2026-05-01 10:00",
         "deadline_at": "2026-05-05 10:00", "dx": 900, "dy": 200},
        {"case_id": "K3", "category": "09006", "status": "结案", "reported_at": "2026-05-11 10:00",
         "deadline_at": "2026-05-12 09:00", "dx": 250, "dy": 200},
        {"case_id": "K4", "category": "09006", "status": "立案", "reported_at": "2026-05-12 07:00",
         "deadline_at": "2026-05-13 07:00", "dx": 260, "dy": 200},
        # no deadline_at: reported + the catalogue's 24 h for 09006 → due 2026-05-12 12:30
        {"case_id": "K5", "category": "09006", "status": "上报", "reported_at": "2026-05-11 12:30",
         "dx": 300, "dy": 250},
    ])
    cases.loc[cases["case_id"] == "K5", "deadline_at"] = pd.NaT
    stops = _stops(open_cases=cases)
    chk = stops[stops["kind"] == "复查"].set_index("stop_id")
    assert set(chk.index) == {"chk-K1", "chk-K2", "chk-K5"}  # closed and not-yet-due left out
    assert chk["required"].all()
    assert chk.loc["chk-K1", "windows_s"] == [[21600.0, 36000.0]]  # until the 10:00 deadline
    assert "已超期" in chk.loc["chk-K2", "what"]
    assert chk.loc["chk-K2", "windows_s"][-1][1] == 79200.0 - 600.0  # overdue: any working time
    assert chk.loc["chk-K5", "windows_s"][-1][1] == 12.5 * 3600
    # cap: one required 复查 per team, two teams → the most overdue two are required
    capped = _stops(open_cases=cases, rechecks_per_team=1)
    req = capped[capped["kind"] == "复查"].set_index("stop_id")["required"]
    assert req.to_dict() == {"chk-K2": True, "chk-K1": True, "chk-K5": False}
    assert any("K5" in w for w in capped.attrs["warnings"])


def test_revisit_rule_forces_a_visit_after_n_days() -> None:
    last = {"C1": DAY - timedelta(days=1), "C2": DAY - timedelta(days=3)}
    stops = _stops(last_visit=last, revisit_days=3)
    com = stops[stops["kind"] == "社区巡查"].set_index("stop_id")
    assert bool(com.loc["com-C2", "required"]) and not bool(com.loc["com-C1", "required"])
    assert com.loc["com-C2", "priority"] == 20 and com.loc["com-C1", "priority"] == 2
    only_due = _stops(last_visit=last, revisit_days=3, routine_optional=False)
    assert list(only_due["stop_id"]) == ["com-C2"]
    never = _stops(last_visit={}, revisit_days=3)
    assert never["required"].all() and len(never) == 2
    # the stop lies inside its community
    comm = _communities().to_crs(CRS).set_index("code")
    assert comm.loc["C2", "geometry"].contains(com.loc["com-C2", "geometry"])


def test_relocation_points_in_market_hours() -> None:
    pts = gpd.GeoDataFrame({"point_id": ["P1"], "name": ["西门疏导点"], "weight": [12.0]},
                           geometry=[Point(X0 + 500, Y0 + 500)], crs=CRS)
    stops = _stops(relocation_points=pts)
    p1 = _row(stops, "rel-P1")
    assert p1["windows_s"] == [[21600.0, 31500.0], [64800.0, 78300.0]]
    assert not p1["required"] and p1["priority"] == round(8 * (1 + math.log(13)))


# --- plan_day ------------------------------------------------------------------------------------

def _full_stops(**kw: object) -> gpd.GeoDataFrame:
    hs = _hotspots([
        {"hotspot_id": "H1", "score": 20.0, "case_count": 30, "dominant_category": "09006",
         "peak_windows": [[6, 9]], "dx": 300, "dy": 300},
        {"hotspot_id": "H2", "score": 9.0, "case_count": 12, "dominant_category": "09001",
         "peak_windows": [[18, 22]], "dx": 1300, "dy": 500},
        {"hotspot_id": "H3", "score": 4.0, "case_count": 6, "dominant_category": "06036",
         "peak_windows": [[10, 12]], "dx": 600, "dy": 700},
    ])
    cases = _cases([
        {"case_id": "K1", "category": "06036", "status": "派遣", "reported_at": "2026-05-11 10:00",
         "deadline_at": "2026-05-12 10:00", "dx": 200, "dy": 600},
        {"case_id": "K2", "category": "06001", "status": "处置", "reported_at": "2026-05-01 10:00",
         "deadline_at": "2026-05-05 10:00", "dx": 1100, "dy": 150},
    ])
    return _stops(hotspots=hs, open_cases=cases, **kw)


def _plan(stops: gpd.GeoDataFrame, **kw: object) -> DailyPlan:
    args: dict = {"squad": _squad(), "date": DAY, "stops": stops, "stations": _stations(),
                  "time_limit_s": 0.3, "tz": TZ}
    args.update(kw)
    return plan_day(**args)


def test_plan_is_feasible_multi_team_and_respects_shifts_and_breaks() -> None:
    plan = _plan(_full_stops())
    assert plan.violations == [] and plan.feasible
    assert [r.team_id for r in plan.routes] == ["A", "B"]
    assert all(len(r.visits) > 0 for r in plan.routes)
    visited = {v.stop_id for v in plan.visits()}
    assert set(plan.stops.loc[plan.stops["required"], "stop_id"]) <= visited
    stations = _stations().to_crs(CRS).set_index("community_code")
    for r in plan.routes:
        lo, hi = r.shift_s
        assert lo <= r.leave_s and r.return_s <= hi
        home = stations.loc["C1" if r.team_id == "A" else "C2", "geometry"]
        first, last = r.geometry.coords[0], r.geometry.coords[-1]
        assert Point(first).distance(home) < 1e-6 and Point(last).distance(home) < 1e-6
        b0, b1 = r.break_s
        for v in r.visits:
            assert not (v.arrive_s < b1 and v.depart_s > b0), f"{v.stop_id} overlaps the break"
            assert any(a <= v.arrive_s <= b for a, b in v.windows_s)
            assert v.arrive.tzinfo is not None and v.arrive.date() == DAY
    # the morning peak hotspot goes to the morning team, the night market to the evening team
    team_of = {v.stop_id: r.team_id for r in plan.routes for v in r.visits}
    assert team_of.get("hot-H1") == "A" and team_of.get("hot-H2") == "B"
    k1 = next(v for v in plan.visits() if v.stop_id == "chk-K1")
    assert k1.arrive_s <= 10 * 3600
    assert plan.priority_total == sum(v.priority for v in plan.visits())


def test_unavailable_team_is_excluded() -> None:
    stops = _full_stops(unavailable_teams=("B",))
    plan = _plan(stops, unavailable_teams=("B",))
    assert [r.team_id for r in plan.routes] == ["A"]
    assert plan.violations == []
    # the night-market hotspot has no working time left: offered off-peak, in team A's shift
    assert all(w[1] <= 14 * 3600 for w in _row(stops, "hot-H2")["windows_s"])
    with pytest.raises(InputError):
        _plan(stops, unavailable_teams=("A", "B"))
    with pytest.raises(InputError):
        _plan(stops, unavailable_teams=("Z",))


def test_independent_check_catches_tampering() -> None:
    plan = _plan(_full_stops())
    travel = EuclideanTravel()
    assert check_plan(plan, travel=travel) == []
    a = plan.routes[0]
    v = a.visits[0]
    v.arrive_s, v.depart_s = 11 * 3600 + 60, 11 * 3600 + 60 + v.service_s  # into the lunch break
    problems = check_plan(plan, travel=travel)
    assert any("午休" in p for p in problems)
    v.arrive_s, v.depart_s = a.shift_s[0] - 600, a.shift_s[0] - 600 + v.service_s
    assert any("最早" in p or "时间窗" in p for p in check_plan(plan, travel=travel))
    plan2 = _plan(_full_stops())
    req = next(v for r in plan2.routes for v in r.visits if v.required)
    for r in plan2.routes:
        r.visits = [x for x in r.visits if x.stop_id != req.stop_id]
    assert any(req.stop_id in p for p in check_plan(plan2, travel=travel))


def test_unreachable_required_stop_degrades_with_warning() -> None:
    cases = _cases([{"case_id": "FAR", "category": "06036", "status": "派遣",
                     "reported_at": "2026-05-11 06:00", "deadline_at": "2026-05-12 06:10",
                     "dx": 790, "dy": 790}])
    stops = _stops(open_cases=cases)
    assert bool(_row(stops, "chk-FAR")["required"])
    plan = _plan(stops)
    assert plan.violations == []
    assert not bool(_row(plan.stops, "chk-FAR")["required"])
    assert any("chk-FAR" in w for w in plan.warnings)


def test_too_many_required_routine_stops_fall_back_to_priority() -> None:
    squad = _squad()
    squad["teams"] = [dict(squad["teams"][0], shift_start="06:00", shift_end="07:10")]
    squad["teams"][0].pop("break")
    stops = _stops(squad=squad)  # both communities due, each reachable alone, not both in 70 min
    assert stops["required"].sum() == 2
    plan = _plan(stops, squad=squad)
    assert plan.violations == []
    assert any("社区巡查必访点" in w for w in plan.warnings)
    assert 1 <= len(plan.visits()) < 2


def test_plan_json_storage_records_and_sheets() -> None:
    plan = _plan(_full_stops())
    data = json.loads(json.dumps(plan.to_json(), ensure_ascii=False))
    assert data["squad"] == "sq" and data["date"] == "2026-05-12" and data["feasible"]
    assert data["n_visited"] == len(plan.visits())
    assert data["routes"][0]["geometry"]["type"] == "LineString"
    lon, lat = data["routes"][0]["geometry"]["coordinates"][0]
    assert 113.0 < lon < 115.0 and 30.0 < lat < 32.0
    assert data["routes"][0]["visits"][0]["arrive"].endswith("+08:00")
    recs = plan.visits_by_community()
    assert {r["community_code"] for r in recs} == {"C1", "C2"}
    sheets = team_sheets(plan, data_label="测试")
    assert [s.team_name for s in sheets] == ["一组", "二组"]
    assert [m.name for m in sheets[0].members] == ["张伟", "王芳"]
    assert len(sheets[0].stops) == len(plan.routes[0].visits)
    assert "午休" in sheets[0].note


def test_default_squad_routine_plan_is_feasible() -> None:
    from geo.boundaries import load_default

    area = load_default()
    squad = area.squad("chezhan")
    stops = build_stops(squad=squad, date=DAY, communities=area.communities, tz=TZ)
    assert set(stops["community_code"]) == set(squad["communities"])
    plan = plan_day(squad=squad, date=DAY, stops=stops, stations=area.stations, time_limit_s=0.5)
    assert plan.violations == []
    assert {v.community_code for v in plan.visits()} == set(squad["communities"])


def test_plan_squads_plans_each_squad_with_its_own_teams() -> None:
    from geo.boundaries import load_default
    from geo.planning.day import plan_squads

    area = load_default()
    squads = [area.squad("chezhan"), area.squad("nanda")]
    plans = plan_squads(squads=squads, date=DAY, communities=area.communities,
                        stations=area.stations, unavailable_teams=("nanda-2",), time_limit_s=0.3,
                        last_visits={"chezhan": dict.fromkeys(squads[0]["communities"],
                                                              DAY - timedelta(days=1))})
    assert [p.squad_id for p in plans] == ["chezhan", "nanda"]
    assert [r.team_id for r in plans[1].routes] == ["nanda-1"]
    assert all(p.feasible for p in plans)
    # chezhan visited everything yesterday: nothing is required today
    assert not plans[0].stops["required"].any()
    assert plans[1].stops["required"].sum() == len(squads[1]["communities"])


def test_revisit_rule_binds_when_capacity_is_short() -> None:
    """Four communities, one team that can patrol two a day, N = 2: they rotate A,B / C,D."""
    cells = [box(X0 + i * 300, Y0 + j * 300, X0 + (i + 1) * 300, Y0 + (j + 1) * 300)
             for j in range(2) for i in range(2)]
    codes = ["Q1", "Q2", "Q3", "Q4"]
    comm = gpd.GeoDataFrame({"code": codes, "name": [f"{c}社区" for c in codes]},
                            geometry=cells, crs=CRS)
    stations = gpd.GeoDataFrame({"code": ["S"], "community_code": ["Q1"], "name": ["站"]},
                                geometry=[Point(X0 + 300, Y0 + 300)], crs=CRS)
    squad = {"id": "tight", "communities": codes, "teams": [
        {"id": "T", "name": "一组", "start_station": "S", "end_station": "S",
         "shift_start": "06:00", "shift_end": "07:10", "mode": "walk"}]}
    last: dict[str, date] = {}
    visits: dict[str, list[int]] = {c: [] for c in codes}
    for k in range(6):
        day = DAY + timedelta(days=k)
        stops = build_stops(squad=squad, date=day, communities=comm, last_visit=last,
                            revisit_days=2, working_crs=CRS)
        plan = plan_day(squad=squad, date=day, stops=stops, stations=stations, time_limit_s=0.2)
        assert plan.violations == []
        done = {v.community_code for v in plan.visits()}
        assert len(done) == 2, (k, done)  # the team's capacity
        if k == 0:  # all four are due on day one: more than fits, the fallback is reported
            assert any("社区巡查必访点" in w for w in plan.warnings)
        else:  # from then on every due community is required and visited
            due = set(stops.loc[stops["required"], "community_code"])
            assert due <= done
        for c in done:
            last[c] = day
            visits[str(c)].append(k)
    for c, days in visits.items():
        gaps = [b - a for a, b in itertools.pairwise(days)]
        assert days[0] <= 1 and max(gaps) <= 2 and 5 - days[-1] < 2, (c, days)


def test_plan_on_a_road_network() -> None:
    """With NetworkTravel the routes follow the streets and the check uses the same network."""
    import networkx as nx

    from geo.travel import NetworkTravel

    g = nx.Graph(crs=CRS)
    step = 100.0
    for i in range(17):
        for j in range(9):
            g.add_node((i, j), x=X0 + i * step, y=Y0 + j * step)
            if i:
                g.add_edge((i - 1, j), (i, j), length=step)
            if j:
                g.add_edge((i, j - 1), (i, j), length=step)
    travel = NetworkTravel(g, crs=CRS)
    plan = _plan(_full_stops(), travel=travel)
    assert plan.violations == []
    assert plan.visits()
    route = plan.routes[0]
    # street paths turn corners: more vertices than stops and stations
    assert len(route.geometry.coords) > len(route.visits) + 2
    assert route.distance_m >= route.geometry.length - 1e-6
