"""The free-path search (geo.routing.tsp), its dispatch, the CPU-time deadline and per-speed times."""

from __future__ import annotations

import dataclasses
import logging
import time

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pytest
from shapely.geometry import LineString, Point

from geo.routing import ils, parse_patrol_problem, solve_patrol
from geo.routing import tsp as rt
from geo.routing.ils import Deadline
from geo.routing.solve import Team, solve_patrol_gdf
from geo.travel import EuclideanTravel


def _dist(xy: np.ndarray) -> npt.NDArray[np.float64]:
    return np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))


def _grid(k: int, step: float = 100.0) -> np.ndarray:
    """k × k grid points; with k even the shortest round trip is k² × step."""
    gx, gy = np.meshgrid(np.arange(k), np.arange(k))
    return np.column_stack([gx.ravel(), gy.ravel()]).astype(float) * step


def _round_trip(xy: np.ndarray) -> np.ndarray:
    """Path costs with node 0 as start and a copy of it as the end (last node)."""
    idx = np.r_[np.arange(len(xy)), 0]
    return _dist(xy)[np.ix_(idx, idx)]


def _length(cost: np.ndarray, order: np.ndarray) -> float:
    return float(cost[order[:-1], order[1:]].sum())


def test_grid_round_trip_is_optimal() -> None:
    cost = _round_trip(_grid(8))
    order, stats = rt.solve_path(cost, seed=0, kicks=400, deadline=Deadline.never())
    assert order[0] == 0 and order[-1] == cost.shape[0] - 1
    assert sorted(order[1:-1].tolist()) == list(range(1, cost.shape[0] - 1))
    assert _length(cost, order) == pytest.approx(64 * 100.0)
    assert stats.kicks == 400 and stats.stop == "budget"


def test_same_seed_same_path_and_never_worse_than_nearest_neighbour() -> None:
    rng = np.random.default_rng(4)
    cost = rng.random((60, 60)) * 100  # asymmetric
    runs = [rt.solve_path(cost, seed=3, kicks=200, deadline=Deadline.never())[0] for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])
    start = rt._nearest_neighbour(cost)
    assert _length(cost, runs[0]) < _length(cost, start)


def test_move_deltas_are_exact_on_asymmetric_costs() -> None:
    rng = np.random.default_rng(1)
    n = 25
    cost = rng.random((n, n)) * 50
    path = rt._Path(cost, np.r_[0, rng.permutation(np.arange(1, n - 1)), n - 1])
    nbr = rt._neighbours(cost)
    a, b = np.repeat(np.arange(n), nbr.shape[1]), nbr.ravel()
    d2, i, j, _ = path.two_opt(a, b)
    d3, s, e, p, f, _ = path.or_opt(a, b)
    assert d2.size > 50 and d3.size > 50
    for k in range(0, d2.size, 5):
        q = rt._Path(cost, path.t)
        q.apply_two_opt(int(i[k]), int(j[k]))
        assert q.cost() - path.cost() == pytest.approx(d2[k])
    for k in range(0, d3.size, 11):
        q = rt._Path(cost, path.t)
        q.apply_or_opt(int(s[k]), int(e[k]), int(p[k]), bool(f[k]))
        assert sorted(q.t.tolist()) == list(range(n)) and q.t[0] == 0 and q.t[-1] == n - 1
        assert q.cost() - path.cost() == pytest.approx(d3[k])


def _one_team_problem(xy: np.ndarray) -> dict:
    return {"teams": [{"id": "A", "start": "S", "end": "S", "shift_s": [0, 1e6], "speed_mps": 1.0}],
            "sites": [{"id": "S", "x": float(xy[0, 0]), "y": float(xy[0, 1])}],
            "stops": [{"id": f"s{k}", "x": float(x), "y": float(y)} for k, (x, y) in enumerate(xy[1:])],
            "objective": "distance"}


def test_solve_patrol_sends_a_single_free_route_to_the_path_search(
    caplog: pytest.LogCaptureFixture,
) -> None:
    xy = _grid(6)
    problem = _one_team_problem(xy)
    assert rt.is_free_path(parse_patrol_problem(problem))
    with caplog.at_level(logging.DEBUG, logger="geo.routing"):
        sol = solve_patrol(problem, time_limit_s=1.0, seed=2)
    assert any(r.getMessage().startswith("path search:") for r in caplog.records)
    assert sol["distance_total_m"] == pytest.approx(36 * 100.0)
    assert sol["seed"] == 2 and sol["unvisited"] == []
    two = dict(problem, teams=problem["teams"] * 1 + [dict(problem["teams"][0], id="B")])
    assert not rt.is_free_path(parse_patrol_problem(two))
    windowed = dict(problem, stops=[dict(problem["stops"][0], windows_s=[[0, 500]]),
                                    *problem["stops"][1:]])
    assert not rt.is_free_path(parse_patrol_problem(windowed))


def test_free_path_that_overruns_the_shift_is_left_to_the_general_search() -> None:
    parsed = parse_patrol_problem(_one_team_problem(_grid(4)))
    short = dataclasses.replace(parsed, shift_s=np.array([[0.0, 1000.0]]))  # tour is 1600 s
    assert rt.solve_free_path(short, time_limit_s=0.5, seed=0) is None
    assert rt.solve_free_path(parsed, time_limit_s=0.5, seed=0) is not None


def test_deadline_counts_cpu_time_not_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 0.2 s limit passes at CPU_GUARD × 0.2 s of this process's CPU, not after sleeping."""
    assert Deadline(0.01).wall - time.perf_counter() < 0.05  # the wall-clock guard exists
    monkeypatch.setattr(ils, "WALL_GUARD", 100.0)  # a loaded machine must not trip it here
    cap = ils.CPU_GUARD * 0.2
    d = Deadline(0.2)
    time.sleep(cap + 0.05)  # another process holding the CPU: no CPU time of ours is used
    assert not d.passed()
    t0 = time.process_time()
    while time.process_time() - t0 < cap - 0.1:
        pass
    assert not d.passed()
    while time.process_time() - t0 < cap + 0.05:
        pass
    assert d.passed()
    assert not Deadline.never().passed()


class _PushedAtSpeed:
    """A travel model whose times are not distance / speed: above 2 m/s half the way is pushed."""

    speed_mps = 1.2

    def distance_matrix(self, xy: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return _dist(np.asarray(xy, dtype=float))

    def time_matrix(self, xy: npt.ArrayLike, *, speed_mps: float | None = None
                    ) -> npt.NDArray[np.float64]:
        v = self.speed_mps if speed_mps is None else speed_mps
        d = self.distance_matrix(xy)
        return d / v if v <= 2.0 else d / 2 / v + d / 2 / 1.2

    def path(self, a: tuple[float, float], b: tuple[float, float]) -> LineString:
        return LineString([a, b])


def test_gdf_adapter_times_each_team_with_the_models_time_matrix_at_its_speed() -> None:
    crs = "EPSG:4547"
    x0, y0 = 500_000.0, 3_420_000.0
    sites = gpd.GeoDataFrame({"id": ["st"]}, geometry=[Point(x0, y0)], crs=crs)
    pts = [Point(x0 + 400 * k, y0 + 300 * (k % 2)) for k in range(1, 7)]
    stops = gpd.GeoDataFrame({"id": [f"h{k}" for k in range(6)], "priority": [1] * 6},
                             geometry=pts, crs=crs)
    walk, bike = Team("walk", "st", "st", (0.0, 1800.0), 1.2), Team("bike", "st", "st", (0.0, 1800.0), 4.5)
    travel = _PushedAtSpeed()
    xy = np.array([[x0, y0]] + [[p.x, p.y] for p in pts])
    node = {f"h{k}": k + 1 for k in range(6)}
    for teams in ([walk], [bike], [walk, bike]):
        plan = solve_patrol_gdf(stops, teams, sites, travel=travel, crs=crs, time_limit_s=1.0)
        for route, team in zip(plan.solution["routes"], teams, strict=True):
            nodes = [0, *(node[v["id"]] for v in route["visits"]), 0]
            legs = travel.time_matrix(xy, speed_mps=team.speed_mps)[nodes[:-1], nodes[1:]]
            assert route["duration_s"] == pytest.approx(float(legs.sum()))
            assert len(teams) > 1 or route["visits"]  # alone, each team travels
    assert EuclideanTravel().time_matrix(xy, speed_mps=4.5) == pytest.approx(
        EuclideanTravel().distance_matrix(xy) / 4.5)
