"""Routing core: known optima on tiny problems, windows, teams, matrix metric, both solvers."""

from __future__ import annotations

import copy
import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point

from geo.errors import InfeasibleError, InputError
from geo.routing.solve import (
    Team,
    check_solution,
    parse_patrol_problem,
    solve_patrol,
    solve_patrol_gdf,
)
from geo.travel import EuclideanTravel

SOLVERS = ["pyvrp", "ortools"]
FAST = 0.5


def _problem(stops, *, teams=None, sites=None, objective="priority", **extra):
    return {
        "teams": teams or [{"id": "A", "start": "S", "end": "S", "shift_s": [0, 10_000],
                            "speed_mps": 1.0}],
        "sites": sites or [{"id": "S", "x": 0.0, "y": 0.0}],
        "stops": stops, "objective": objective, **extra,
    }


def _visits(sol, team=0):
    return [v["id"] for v in sol["routes"][team]["visits"]]


@pytest.mark.parametrize("solver", SOLVERS)
def test_distance_objective_finds_square_tour(solver):
    stops = [{"id": n, "x": x, "y": y} for n, x, y in
             [("a", 100, 0), ("b", 100, 100), ("c", 0, 100), ("d", 50, 50)]]
    # site at a corner: the optimal tour S-a-b-d?-c-S; d at the centre costs 2*70.71-100 extra
    sol = solve_patrol(_problem(stops, objective="distance"), solver=solver, time_limit_s=FAST)
    best = 300 + 2 * math.hypot(50, 50)
    assert sol["distance_total_m"] == pytest.approx(best, rel=1e-9)
    assert sol["unvisited"] == []
    assert check_solution(parse_patrol_problem(_problem(stops, objective="distance")), sol) == []


@pytest.mark.parametrize("solver", SOLVERS)
def test_priority_picks_best_subset_and_breaks_ties_by_travel(solver):
    team = [{"id": "A", "start": "S", "end": "S", "shift_s": [0, 250], "speed_mps": 1.0}]
    stops = [
        {"id": "far2", "x": 110, "y": 0, "priority": 2},   # 220 s round trip
        {"id": "near2", "x": 0, "y": -60, "priority": 2},   # 120 s round trip
        {"id": "low1", "x": 0, "y": 120, "priority": 1},
    ]
    sol = solve_patrol(_problem(stops, teams=team), solver=solver, time_limit_s=FAST)
    # only one stop fits a 250 s shift except near2+low1 (60+180+120=360 > 250): best = one p2
    assert sol["priority_total"] == 2
    assert _visits(sol) == ["near2"]
    assert sol["distance_total_m"] == pytest.approx(120.0)
    assert set(sol["unvisited"]) == {"far2", "low1"}


@pytest.mark.parametrize("solver", SOLVERS)
def test_waiting_and_late_departure(solver):
    stops = [{"id": "m", "x": 100, "y": 0, "service_s": 60, "windows_s": [[500, 600]]}]
    sol = solve_patrol(_problem(stops), solver=solver, time_limit_s=FAST)
    route = sol["routes"][0]
    visit = route["visits"][0]
    assert visit["arrive_s"] == pytest.approx(500.0)
    assert visit["depart_s"] == pytest.approx(560.0)
    # leaves at 400 (no idle waiting), back at 660
    assert route["start_s"] == pytest.approx(400.0)
    assert route["end_s"] == pytest.approx(660.0)
    assert route["duration_s"] == pytest.approx(260.0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_several_windows_uses_the_reachable_one(solver):
    stops = [{"id": "m", "x": 100, "y": 0, "windows_s": [[0, 50], [1000, 1100]], "priority": 3}]
    sol = solve_patrol(_problem(stops), solver=solver, time_limit_s=FAST)
    assert sol["routes"][0]["visits"][0]["arrive_s"] == pytest.approx(1000.0)
    assert sol["priority_total"] == 3


@pytest.mark.parametrize("solver", SOLVERS)
def test_required_stop_beats_higher_priority(solver):
    team = [{"id": "A", "start": "S", "end": "S", "shift_s": [0, 250], "speed_mps": 1.0}]
    stops = [{"id": "must", "x": -100, "y": 0, "priority": 0, "required": True},
             {"id": "rich", "x": 100, "y": 0, "priority": 50}]
    sol = solve_patrol(_problem(stops, teams=team), solver=solver, time_limit_s=FAST)
    assert _visits(sol) == ["must"]
    assert sol["unvisited"] == ["rich"]


@pytest.mark.parametrize("solver", SOLVERS)
def test_teams_with_own_sites_speeds_and_shifts(solver):
    teams = [
        {"id": "walk", "start": "W", "end": "W", "shift_s": [0, 400], "speed_mps": 1.2},
        {"id": "ebike", "start": "E0", "end": "E1", "shift_s": [1000, 2000], "speed_mps": 4.5},
    ]
    sites = [{"id": "W", "x": 0, "y": 0}, {"id": "E0", "x": 2000, "y": 0},
             {"id": "E1", "x": 3000, "y": 0}]
    stops = [{"id": "near", "x": 100, "y": 0, "priority": 1},
             {"id": "far", "x": 2500, "y": 300, "priority": 1}]
    problem = _problem(stops, teams=teams, sites=sites)
    sol = solve_patrol(problem, solver=solver, time_limit_s=FAST)
    assert _visits(sol, 0) == ["near"] and _visits(sol, 1) == ["far"]
    ebike = sol["routes"][1]
    leg = math.hypot(500, 300) + math.hypot(500, 300)
    assert ebike["distance_m"] == pytest.approx(leg)
    assert ebike["start_s"] >= 1000 and ebike["end_s"] <= 2000
    assert ebike["duration_s"] == pytest.approx(leg / 4.5)
    assert check_solution(parse_patrol_problem(problem), sol) == []


@pytest.mark.parametrize("solver", SOLVERS)
def test_matrix_metric_asymmetric(solver):
    ids = ["S", "a", "b"]
    seconds = [[0, 10, 50], [50, 0, 10], [10, 50, 0]]  # cheap cycle S->a->b->S = 30
    problem = _problem([{"id": "a"}, {"id": "b"}], objective="distance",
                       sites=[{"id": "S"}], travel={"metric": "matrix", "ids": ids,
                                                    "seconds": seconds})
    problem["teams"][0]["speed_mps"] = 2.0
    sol = solve_patrol(problem, solver=solver, time_limit_s=FAST)
    assert _visits(sol) == ["a", "b"]
    assert sol["routes"][0]["duration_s"] == pytest.approx(30.0)
    assert sol["distance_total_m"] == pytest.approx(60.0)  # seconds × speed


def test_wgs84_coordinates_are_projected():
    lon0, lat0 = 113.92, 30.92  # Xiaogan
    stops = [{"id": "n", "x": lon0, "y": lat0 + 0.009, "priority": 1}]  # ~1 km north
    problem = _problem(stops, sites=[{"id": "S", "x": lon0, "y": lat0}], crs="EPSG:4326")
    sol = solve_patrol(problem, time_limit_s=FAST)
    one_way = 0.009 * math.pi / 180 * 6_371_000
    assert sol["distance_total_m"] == pytest.approx(2 * one_way, rel=0.005)
    assert parse_patrol_problem(problem).crs == "EPSG:4547"


@pytest.mark.parametrize("solver", SOLVERS)
def test_required_stops_jointly_infeasible(solver):
    stops = [{"id": "west", "x": -100, "y": 0, "windows_s": [[100, 100]], "required": True},
             {"id": "east", "x": 100, "y": 0, "windows_s": [[100, 100]], "required": True}]
    with pytest.raises(InfeasibleError, match=r"west|east"):
        solve_patrol(_problem(stops), solver=solver, time_limit_s=FAST)


def test_no_stops_and_unknown_solver():
    sol = solve_patrol(_problem([]))
    assert sol["routes"][0]["visits"] == [] and sol["distance_total_m"] == 0
    with pytest.raises(InputError, match="未知求解器"):
        solve_patrol(_problem([{"id": "a", "x": 1, "y": 1}]), solver="gurobi")


def test_checker_catches_violations():
    stops = [{"id": "a", "x": 100, "y": 0, "windows_s": [[200, 300]], "service_s": 10,
              "required": True},
             {"id": "b", "x": 0, "y": 100, "priority": 2}]
    problem = parse_patrol_problem(_problem(stops))
    sol = solve_patrol(problem, time_limit_s=FAST)
    assert check_solution(problem, sol) == []
    early = copy.deepcopy(sol)
    visit = next(v for v in early["routes"][0]["visits"] if v["id"] == "a")
    visit["arrive_s"], visit["depart_s"] = 150.0, 160.0
    assert any("时间窗" in e for e in check_solution(problem, early))
    dropped = copy.deepcopy(sol)
    dropped["routes"][0]["visits"] = [v for v in sol["routes"][0]["visits"] if v["id"] != "a"]
    assert any("必访点 a" in e for e in check_solution(problem, dropped))
    twice = copy.deepcopy(sol)
    twice["routes"][0]["visits"] *= 2
    assert any("多次" in e for e in check_solution(problem, twice))
    wrong = copy.deepcopy(sol)
    wrong["distance_total_m"] += 5
    wrong["routes"][0]["distance_m"] -= 1
    assert len(check_solution(problem, wrong)) >= 1


def test_gdf_adapter_with_circuity():
    crs = "EPSG:4547"
    sites = gpd.GeoDataFrame({"id": ["st"]}, geometry=[Point(500_000, 3_420_000)], crs=crs)
    stops = gpd.GeoDataFrame(
        {"id": ["h1", "h2"], "priority": [3, 1], "service_s": [300, 300],
         "windows_s": [[[0, 3600]], [[0, 3600]]]},
        geometry=[Point(500_300, 3_420_000), Point(500_300, 3_420_400)], crs=crs,
    )
    teams = [Team("A", "st", "st", (0.0, 7200.0), 1.2)]
    plan = solve_patrol_gdf(stops, teams, sites, travel=EuclideanTravel(), crs=crs,
                            time_limit_s=FAST)
    assert plan.solution["priority_total"] == 4
    tour = (300 + 400 + 500) * 1.3
    assert plan.solution["distance_total_m"] == pytest.approx(tour)
    assert plan.routes.geometry.iloc[0].length == pytest.approx(1200.0)  # drawn straight
    assert list(plan.visits["order"]) == [1, 2]
    assert plan.visits.crs == crs
    assert np.isclose(plan.routes["duration_s"].iloc[0], tour / 1.2 + 600)
