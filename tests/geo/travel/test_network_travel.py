"""NetworkTravel on networks built in code whose shortest paths are known by construction."""

from __future__ import annotations

import functools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from geo.errors import InputError
from geo.travel import EBIKE_SPEED_MPS, WALK_SPEED_MPS, NetworkTravel, TravelModel

CRS = "EPSG:4547"
X0, Y0 = 500_000.0, 3_420_000.0
N, STEP = 10, 100.0  # 10 x 10 nodes, 100 m blocks: each street is 900 m long
FAST = settings(max_examples=60, deadline=None)


def _street_grid(n: int = N, step: float = STEP, x0: float = X0) -> nx.MultiDiGraph:
    """osmnx-style grid: both directions, no geometry (straight edges), length in metres."""
    g = nx.MultiDiGraph(crs=CRS)
    for i in range(n):
        for j in range(n):
            g.add_node((x0, i, j), x=x0 + i * step, y=Y0 + j * step)
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < n and j + dj < n:
                    a, b = (x0, i, j), (x0, i + di, j + dj)
                    g.add_edge(a, b, length=step, highway="residential")
                    g.add_edge(b, a, length=step, highway="residential")
    return g


@functools.cache
def _grid_travel() -> NetworkTravel:
    return NetworkTravel(_street_grid(), speed_mps=1.0)


def _oracle(graph: nx.MultiDiGraph, pts: list[tuple[float, float]]) -> float:
    """Independent answer: insert both points into their streets as nodes, run networkx."""
    g = nx.Graph()
    for u, v, d in graph.edges(data=True):
        g.add_edge(u, v, length=d["length"])
    xy = {n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)}
    names = []
    for k, (px, py) in enumerate(pts):
        u, v = min(g.edges, key=lambda e: LineString([xy[e[0]], xy[e[1]]]).distance(Point(px, py)))
        d_u = math.dist(xy[u], (px, py))
        d_v = math.dist(xy[v], (px, py))
        g.remove_edge(u, v)
        g.add_edge(u, ("p", k), length=d_u)
        g.add_edge(("p", k), v, length=d_v)
        names.append(("p", k))
        xy[("p", k)] = (px, py)
    return float(nx.shortest_path_length(g, names[0], names[1], weight="length"))


# a point on a street: horizontal (row j, x along) or vertical (column i, y along)
street_point = st.tuples(st.booleans(), st.integers(0, N - 1), st.floats(0.0, (N - 1) * STEP))


def _on_street(p: tuple[bool, int, float]) -> tuple[float, float]:
    horizontal, line, t = p
    return (X0 + t, Y0 + line * STEP) if horizontal else (X0 + line * STEP, Y0 + t)


@FAST
@given(street_point, street_point)
def test_grid_points_on_streets_match_the_along_street_oracle(p, q):
    a, b = _on_street(p), _on_street(q)
    d = _grid_travel().distance_matrix([a, b])
    assert d[0, 1] == pytest.approx(_oracle(_street_grid(), [a, b]), abs=1.0)
    assert d[1, 0] == pytest.approx(d[0, 1], abs=1e-6)  # walking: symmetric


@FAST
@given(st.integers(0, N - 1), st.integers(0, N - 1), st.floats(0, 900), st.floats(0, 900))
def test_grid_two_horizontal_streets_manhattan_formula(j1, j2, x1, x2):
    """Different rows: climb at the best cross street; same row: straight along the street."""
    d = _grid_travel().distance_matrix([(X0 + x1, Y0 + j1 * STEP), (X0 + x2, Y0 + j2 * STEP)])
    if j1 == j2:
        expected = abs(x1 - x2)
    else:
        cols = np.arange(N) * STEP
        expected = float(np.min(np.abs(x1 - cols) + np.abs(x2 - cols))) + abs(j1 - j2) * STEP
    assert d[0, 1] == pytest.approx(expected, abs=1.0)


def test_one_straight_900_m_street_and_mid_block_points():
    t = _grid_travel()
    row = Y0 + 300
    d = t.distance_matrix([(X0, row), (X0 + 900, row), (X0 + 50, row), (X0 + 850, row)])
    assert d[0, 1] == pytest.approx(900.0, abs=1.0)  # not node-snapped detours
    assert d[2, 3] == pytest.approx(800.0, abs=1e-6)  # mid-block to mid-block on one street
    line = t.path((X0 + 50, row), (X0 + 250, row))
    assert line.length == pytest.approx(200.0)
    assert list(line.coords) == [(X0 + 50, row), (X0 + 100, row), (X0 + 200, row), (X0 + 250, row)]


def test_corners_are_not_cut_and_off_street_legs_are_added():
    t = _grid_travel()
    a, b = (X0 + 50, Y0), (X0, Y0 + 50)  # on two streets that meet at the corner (X0, Y0)
    assert t.distance_matrix([a, b])[0, 1] == pytest.approx(100.0)
    line = t.path(a, b)
    assert (X0, Y0) in list(line.coords) and line.length == pytest.approx(100.0)
    # 10 m off a street, mid-block: perpendicular leg + along the street
    d = t.distance_matrix([(X0 + 150, Y0 + 210), (X0 + 450, Y0 + 200)])
    assert d[0, 1] == pytest.approx(310.0)
    assert t.path((X0 + 150, Y0 + 210), (X0 + 450, Y0 + 200)).length == pytest.approx(310.0)


def test_same_edge_points_go_directly_along_the_edge():
    t = _grid_travel()
    d = t.distance_matrix([(X0 + 120, Y0 + 500), (X0 + 180, Y0 + 500), (X0 + 120, Y0 + 500)])
    assert d[0, 1] == pytest.approx(60.0)
    assert d[0, 2] == 0.0  # the same place twice
    assert isinstance(t, TravelModel)


def _ring(radius: float = 500.0, arcs: int = 4, per_arc: int = 30) -> nx.MultiDiGraph:
    """A ring road: ``arcs`` nodes, each edge a curved polyline of ``per_arc`` segments."""
    g = nx.MultiDiGraph(crs=CRS)
    step = 2 * math.pi / arcs
    for k in range(arcs):
        g.add_node(k, x=X0 + radius * math.cos(k * step), y=Y0 + radius * math.sin(k * step))
    for k in range(arcs):
        th = np.linspace(k * step, (k + 1) * step, per_arc + 1)
        line = LineString(np.column_stack([X0 + radius * np.cos(th), Y0 + radius * np.sin(th)]))
        u, v = k, (k + 1) % arcs
        g.add_edge(u, v, length=line.length, geometry=line, highway="tertiary")
        g.add_edge(v, u, length=line.length, geometry=line.reverse(), highway="tertiary")
    return g


@FAST
@given(st.floats(0, 0.999), st.floats(0, 0.999))
def test_ring_road_distance_is_the_shorter_arc(s1, s2):
    ring = _ring()
    perimeter = sum(d["length"] for _, _, d in ring.edges(data=True)) / 2
    line = LineString([c for k in range(4) for c in ring.edges[k, (k + 1) % 4, 0]["geometry"].coords])
    a, b = line.interpolate(s1, normalized=True), line.interpolate(s2, normalized=True)
    d = NetworkTravel(ring).distance_matrix([(a.x, a.y), (b.x, b.y)])[0, 1]
    arc = abs(s1 - s2) * perimeter
    assert d == pytest.approx(min(arc, perimeter - arc), abs=1.0)


def test_river_is_crossed_at_the_bridge_only():
    west, east = _street_grid(5, 100.0, X0), _street_grid(5, 100.0, X0 + 600)
    g = nx.compose(west, east)
    u, v = (X0, 4, 2), (X0 + 600, 0, 2)  # bridge from (X0+400, Y0+200) to (X0+600, Y0+200)
    g.add_edge(u, v, length=200.0, highway="secondary")
    g.add_edge(v, u, length=200.0, highway="secondary")
    t = NetworkTravel(g)
    d = t.distance_matrix([(X0 + 400, Y0), (X0 + 600, Y0), (X0 + 350, Y0 + 400)])
    assert d[0, 1] == pytest.approx(200 + 200 + 200)  # up the bank, over the bridge, down
    assert d[2, 1] == pytest.approx(50 + 200 + 200 + 200)
    line = t.path((X0 + 400, Y0), (X0 + 600, Y0))
    assert line.length == pytest.approx(600.0)
    assert line.distance(Point(X0 + 500, Y0 + 200)) < 1e-6  # over the bridge
    assert line.distance(Point(X0 + 500, Y0)) >= 100  # not through the river


def _loop_with_one_way() -> nx.MultiDiGraph:
    """Square block A(0,0) B(100,0) C(100,100) D(0,100); A→B is one-way (osmnx attributes)."""
    g = nx.MultiDiGraph(crs=CRS)
    pts = {"A": (0, 0), "B": (100, 0), "C": (100, 100), "D": (0, 100)}
    for n, (x, y) in pts.items():
        g.add_node(n, x=X0 + x, y=Y0 + y)
    for u, v in (("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")):
        one = (u, v) == ("A", "B")
        g.add_edge(u, v, length=100.0, highway="residential", oneway=one, reversed=False)
        g.add_edge(v, u, length=100.0, highway="residential", oneway=one, reversed=True)
    return g


def test_one_way_street_walk_ignores_ebike_obeys():
    pts = [(X0 + 20, Y0), (X0 + 80, Y0), (X0, Y0)]
    walk = NetworkTravel(_loop_with_one_way()).distance_matrix(pts)
    bike = NetworkTravel(_loop_with_one_way(), mode="ebike")
    d = bike.distance_matrix(pts)
    assert walk[1, 0] == pytest.approx(60.0) and walk[1, 2] == pytest.approx(80.0)
    assert d[0, 1] == pytest.approx(60.0)  # with the one-way direction
    assert d[1, 0] == pytest.approx(20 + 300 + 20)  # against it: around the block
    assert d[1, 2] == pytest.approx(20 + 300)
    assert d[2, 0] == pytest.approx(20.0)
    assert bike.time_matrix(pts)[1, 0] == pytest.approx(340 / EBIKE_SPEED_MPS)
    assert bike.path(pts[1], pts[0]).length == pytest.approx(340.0)


def _two_routes() -> nx.Graph:
    """A to B by a 200 m footway or a 500 m residential street (undirected nx.Graph)."""
    g = nx.MultiGraph(crs=CRS)
    g.add_node("A", x=X0, y=Y0)
    g.add_node("B", x=X0 + 200, y=Y0)
    g.add_edge("A", "B", length=200.0, highway="footway")
    detour = LineString([(X0, Y0), (X0, Y0 + 150), (X0 + 200, Y0 + 150), (X0 + 200, Y0)])
    g.add_edge("A", "B", length=500.0, highway="residential", geometry=detour)
    return g


def test_time_matrix_uses_per_edge_times_not_distance_over_speed():
    pts = [(X0, Y0), (X0 + 200, Y0)]
    bike = NetworkTravel(_two_routes(), mode="ebike")
    assert bike.distance_matrix(pts)[0, 1] == pytest.approx(200.0)  # the footway
    assert bike.time_matrix(pts)[0, 1] == pytest.approx(500 / EBIKE_SPEED_MPS)  # the street
    walk = NetworkTravel(_two_routes())
    assert walk.time_matrix(pts)[0, 1] == pytest.approx(200 / WALK_SPEED_MPS)
    # e-bike pushed on the footway when the street is gone
    only_footway = _two_routes()
    only_footway.remove_edge("A", "B", key=1)
    pushed = NetworkTravel(only_footway, mode="ebike").time_matrix([(X0 + 50, Y0), pts[1]])
    assert pushed[0, 1] == pytest.approx(150 / WALK_SPEED_MPS)


def test_steps_slow_walkers_and_are_not_ridden():
    g = _two_routes()
    nx.set_edge_attributes(g, {("A", "B", 0): "steps"}, "highway")
    pts = [(X0, Y0), (X0 + 200, Y0)]
    walk = NetworkTravel(g)
    assert walk.distance_matrix(pts)[0, 1] == pytest.approx(200.0)
    assert walk.time_matrix(pts)[0, 1] == pytest.approx(min(200 / 0.6, 500 / 1.2))
    bike = NetworkTravel(g, mode="ebike")
    assert bike.distance_matrix(pts)[0, 1] == pytest.approx(500.0)  # no riding down steps


def test_far_stop_names_its_index_and_disconnected_part():
    g = _street_grid(3)
    with pytest.raises(InputError, match=r"第 1 号点.*max_snap_m = 300"):
        NetworkTravel(g).distance_matrix([(X0, Y0), (X0 + 900, Y0)])
    g.add_node("i1", x=X0 + 1000, y=Y0)
    g.add_node("i2", x=X0 + 1100, y=Y0)
    g.add_edge("i1", "i2", length=100.0)
    with pytest.raises(InputError, match=r"第 1 号点.*不连通"):
        NetworkTravel(g).distance_matrix([(X0, Y0), (X0 + 1050, Y0)])
    assert NetworkTravel(g, max_snap_m=1000).distance_matrix([(X0, Y0), (X0 + 1050, Y0)])[
        0, 1] == pytest.approx(850 + 200)
    with pytest.raises(InputError, match="mode"):
        NetworkTravel(g, mode="car")  # type: ignore[arg-type]


def test_rectangular_matrix_matches_the_square_one():
    t = _grid_travel()
    a = np.array([[X0 + 50, Y0], [X0 + 333, Y0 + 400]])
    b = np.array([[X0 + 900, Y0 + 870], [X0 + 10, Y0 + 100], [X0 + 450, Y0 + 455]])
    full = t.distance_matrix(np.vstack([a, b]))
    assert np.allclose(t.distance_matrix_m(a, b), full[:2, 2:])
