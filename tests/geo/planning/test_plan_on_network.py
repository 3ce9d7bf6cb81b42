"""geo.planning on a road network: legs along the streets, leg times, per-mode models, errors.

A 200 m street grid over 车站中队's communities is written as an .osm.pbf in code, read with
:func:`geo.io.osm.read_osm_network` and planned on with one :class:`NetworkTravel` per mode.
"""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import osmium
import pytest
from osmium.osm.mutable import Node, Way
from pyproj import Transformer
from shapely.geometry import LineString, Point
from shapely.ops import unary_union

from geo.boundaries import load_default
from geo.io.osm import read_osm_network
from geo.planning import DailyPlan, build_stops, check_plan, plan_day
from geo.planning.travel import UnreachableError, travel_info
from geo.travel import EBIKE_SPEED_MPS, EuclideanTravel, NetworkTravel

CRS = "EPSG:4547"
DAY = date(2026, 5, 12)
STEP_M = 200.0
TO_LL = Transformer.from_crs(CRS, 4326, always_xy=True)


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> dict:
    area = load_default()
    squad = area.squad("chezhan")
    comm = area.communities.to_crs(CRS)
    x0, y0, x1, y1 = comm[comm["squad"] == "chezhan"].total_bounds
    xs = np.arange(x0 - STEP_M, x1 + 2 * STEP_M, STEP_M)
    ys = np.arange(y0 - STEP_M, y1 + 2 * STEP_M, STEP_M)
    ids = {(i, j): 1 + i * len(ys) + j for i in range(len(xs)) for j in range(len(ys))}
    lines = []
    path = tmp_path_factory.mktemp("roads") / "chezhan.osm.pbf"
    with osmium.SimpleWriter(str(path)) as w:
        for (i, j), n in sorted(ids.items(), key=lambda kv: kv[1]):
            w.add_node(Node(id=n, location=TO_LL.transform(xs[i], ys[j]), version=1))
        wid = itertools.count(1)
        for j in range(len(ys)):  # east-west streets; every other one one-way eastwards
            tags = {"highway": "residential", "name": f"东西{j}路"}
            if j % 2:
                tags["oneway"] = "yes"
            w.add_way(Way(id=next(wid), nodes=[ids[(i, j)] for i in range(len(xs))], tags=tags,
                          version=1))
            lines.append(LineString([(x, ys[j]) for x in xs]))
        for i in range(len(xs)):
            w.add_way(Way(id=next(wid), nodes=[ids[(i, j)] for j in range(len(ys))],
                          tags={"highway": "residential", "name": f"南北{i}街"}, version=1))
            lines.append(LineString([(xs[i], y) for y in ys]))
    graph = read_osm_network(path)
    travel = {"walk": NetworkTravel(graph, crs=CRS),
              "ebike": NetworkTravel(graph, crs=CRS, mode="ebike")}
    stops = build_stops(squad=squad, date=DAY, communities=area.communities, working_crs=CRS)
    plan = plan_day(squad=squad, date=DAY, stops=stops, stations=area.stations, travel=travel,
                    time_limit_s=0.5, travel_source="chezhan.osm.pbf")
    return {"area": area, "squad": squad, "travel": travel, "stops": stops, "plan": plan,
            "grid": (xs, ys),
            "streets": unary_union(lines).buffer(1.0)}


def _waypoints(route) -> list[tuple[float, float]]:
    """Start station, then each leg's destination, in the plan's CRS."""
    pts = [route.start_xy]
    to_m = Transformer.from_crs(4326, CRS, always_xy=True)
    pts += [to_m.transform(leg["lon"], leg["lat"]) for leg in route.legs]
    return pts


def test_plan_on_network_is_feasible_and_says_network(setting: dict) -> None:
    plan: DailyPlan = setting["plan"]
    assert plan.violations == [] and plan.visits()
    assert plan.travel == {"model": "network", "label": "路网距离（chezhan.osm.pbf）",
                           "source": "chezhan.osm.pbf", "max_snap_m": 300.0}
    assert plan.problem["travel"] == {"metric": "network", "file": "chezhan.osm.pbf"}
    assert check_plan(plan, travel=setting["travel"]) == []


def test_every_leg_runs_on_the_streets_and_times_are_length_over_speed(setting: dict) -> None:
    plan: DailyPlan = setting["plan"]
    streets = setting["streets"]
    for route in plan.routes:
        travel = setting["travel"][route.mode]
        assert abs(sum(leg["distance_m"] for leg in route.legs) - route.distance_m) < 1.0
        pts = _waypoints(route)
        for leg, (a, b) in zip(route.legs, itertools.pairwise(pts), strict=True):
            path = travel.path(a, b)
            coords = list(path.coords)
            assert abs(path.length - leg["distance_m"]) < 1.0
            if len(coords) > 3:  # between the two straight snap legs: on the streets
                assert streets.covers(LineString(coords[1:-1]))
            snap = Point(coords[0]).distance(Point(coords[1])) + Point(coords[-2]).distance(Point(coords[-1]))
            pushed = min(route.speed_mps, 1.2)
            expected = (path.length - snap) / route.speed_mps + snap / pushed
            assert abs(leg["time_s"] - expected) <= 1.0, (route.team_id, leg, expected)
        # the drawn route is the legs' paths end to end
        assert abs(route.geometry.length - sum(travel.path(a, b).length
                                               for a, b in itertools.pairwise(pts)
                                               if a != b)) < 1.0
        for v in route.visits:
            leg = next(g for g in route.legs if g["to"] == v.stop_id)
            assert (v.leg_m, v.leg_s) == (leg["distance_m"], leg["time_s"])


def test_ebike_team_obeys_one_way_streets_and_rides_at_its_speed(setting: dict) -> None:
    plan: DailyPlan = setting["plan"]
    ebike = next(r for r in plan.routes if r.mode == "ebike")
    assert ebike.speed_mps == EBIKE_SPEED_MPS
    walk, bike = setting["travel"]["walk"], setting["travel"]["ebike"]
    pts = _waypoints(ebike)
    pairs = [(a, b) for a, b in itertools.pairwise(pts) if a != b]
    # the recorded leg distances are the e-bike network's (one-way aware), not walking ones
    for leg, (a, b) in zip([g for g in ebike.legs if g["distance_m"] > 0], pairs, strict=True):
        assert abs(leg["distance_m"] - bike.distance_matrix(np.array([a, b]))[0, 1]) < 0.2
    # westwards along a one-way (eastbound) street: walked straight, ridden round the block
    xs, ys = setting["grid"]
    xy = np.array([[xs[3] + 60.0, ys[1] + 5.0], [xs[3] - 60.0, ys[1] + 5.0]])
    assert walk.distance_matrix(xy)[0, 1] == pytest.approx(130.0, abs=1.0)
    assert bike.distance_matrix(xy)[0, 1] > walk.distance_matrix(xy)[0, 1] + 2 * STEP_M
    assert bike.distance_matrix(xy)[1, 0] == pytest.approx(130.0, abs=1.0)


def test_plan_round_trips_with_legs_and_travel(setting: dict) -> None:
    data = setting["plan"].to_json()
    assert data["travel"]["model"] == "network"
    assert all("leg_m" in v and "leg_s" in v for r in data["routes"] for v in r["visits"])
    assert DailyPlan.from_json(data).to_json() == data


def test_straight_line_plan_records_circuity_legs(setting: dict) -> None:
    area, squad, stops = setting["area"], setting["squad"], setting["stops"]
    plan = plan_day(squad=squad, date=DAY, stops=stops, stations=area.stations, time_limit_s=0.3)
    assert plan.travel == travel_info(EuclideanTravel())
    assert plan.travel["label"] == "直线距离 ×1.3（未导入路网）"
    for route in plan.routes:
        pts = _waypoints(route)
        for leg, (a, b) in zip(route.legs, itertools.pairwise(pts), strict=True):
            straight = float(np.hypot(b[0] - a[0], b[1] - a[1]))
            assert abs(leg["distance_m"] - 1.3 * straight) < 0.2
            assert abs(leg["time_s"] - leg["distance_m"] / route.speed_mps) < 0.2


def test_a_stop_no_street_reaches_is_named(setting: dict) -> None:
    area, squad = setting["area"], setting["squad"]
    stops = setting["stops"].copy()
    far = stops.index[0]
    x, y = stops.geometry.iloc[0].x, stops.geometry.iloc[0].y
    stops.loc[far, "geometry"] = Point(x + 5000.0, y)  # 5 km east: beyond the grid
    with pytest.raises(UnreachableError) as err:
        plan_day(squad=squad, date=DAY, stops=stops, stations=area.stations,
                 travel=setting["travel"], time_limit_s=0.3)
    assert str(stops.loc[far, "stop_id"]) in str(err.value)
    assert "道路网络到不了" in str(err.value) and "300 米" in str(err.value)
