"""Travel models: circuity default, grid network built in code, a tiny OSM XML file."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import Point

from geo.errors import FileReadError, InputError
from geo.io.roads import read_road_graph
from geo.routing.solve import Team, solve_patrol_gdf
from geo.travel import (
    DEFAULT_CIRCUITY,
    EBIKE_SPEED_MPS,
    WALK_SPEED_MPS,
    EuclideanTravel,
    NetworkTravel,
    TravelModel,
)

CRS = "EPSG:4547"
X0, Y0 = 500_000.0, 3_420_000.0


def _grid(n: int = 5, step: float = 100.0, drop: list[tuple] | None = None) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(crs=CRS)
    for i in range(n):
        for j in range(n):
            g.add_node((i, j), x=X0 + i * step, y=Y0 + j * step)
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (0, 1)):
                a, b = (i, j), (i + di, j + dj)
                if b in g and (a, b) not in (drop or []):
                    g.add_edge(a, b, length=step)
    return g


def test_euclidean_defaults_and_matrices():
    t = EuclideanTravel()
    assert isinstance(t, TravelModel)
    assert (t.circuity, t.speed_mps) == (DEFAULT_CIRCUITY, WALK_SPEED_MPS) == (1.3, 1.2)
    xy = np.array([[0.0, 0.0], [300.0, 400.0]])
    assert t.distance_matrix(xy)[0, 1] == pytest.approx(650.0)
    assert t.time_matrix(xy, speed_mps=EBIKE_SPEED_MPS)[1, 0] == pytest.approx(650.0 / 4.5)
    with pytest.raises(InputError):
        EuclideanTravel(circuity=0.8)
    with pytest.raises(InputError):
        t.distance_matrix([[0, 0, 0]])


def test_grid_network_distances_detour_and_path():
    travel = NetworkTravel(_grid(drop=[((1, 0), (2, 0))]), speed_mps=1.0)
    # points 10 m off the nodes (0,0) and (4,4): Manhattan 800 m + 2 snap legs
    xy = np.array([[X0 - 10, Y0], [X0 + 410, Y0 + 400], [X0 + 100, Y0], [X0 + 200, Y0]])
    d = travel.distance_matrix(xy)
    assert d[0, 1] == pytest.approx(820.0)
    assert d[1, 0] == pytest.approx(820.0)  # streets walked both ways
    assert d[2, 3] == pytest.approx(300.0)  # dropped edge: detour via the next row
    assert travel.time_matrix(xy)[2, 3] == pytest.approx(300.0)
    line = travel.path(tuple(xy[2]), tuple(xy[3]))
    assert line.length == pytest.approx(300.0)
    assert line.coords[0] == tuple(xy[2]) and line.coords[-1] == tuple(xy[3])


def test_network_snaps_to_main_component_only():
    g = _grid(3)
    g.add_node("island", x=X0 + 1000, y=Y0)
    g.add_node("island2", x=X0 + 1001, y=Y0)
    g.add_edge("island", "island2", length=1.0)
    travel = NetworkTravel(g, max_snap_m=1000.0)
    d = travel.distance_matrix([[X0 + 1000, Y0], [X0, Y0]])
    assert np.isfinite(d).all()
    assert d[0, 1] == pytest.approx(800.0 + 200.0)  # snapped to (2,0) 800 m away, then 200 m


OSM_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" lat="30.9200" lon="113.9200" version="1"/>
  <node id="2" lat="30.9200" lon="113.9250" version="1"/>
  <node id="3" lat="30.9250" lon="113.9250" version="1"/>
  <node id="4" lat="30.9250" lon="113.9200" version="1"/>
  <way id="10" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="yes"/>
  </way>
  <way id="11" version="1">
    <nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="footway"/>
  </way>
</osm>
"""


def test_tiny_osm_file_network(tmp_path):
    path = tmp_path / "roads.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    graph = read_road_graph(path)
    travel = NetworkTravel(graph, crs=CRS, speed_mps=EBIKE_SPEED_MPS)
    assert travel.crs.to_epsg() == 4547
    pts = gpd.GeoSeries([Point(113.92, 30.92), Point(113.92, 30.925)], crs=4326).to_crs(CRS)
    xy = np.column_stack([pts.x, pts.y])
    d = travel.distance_matrix(xy)
    # along 1-2-3-4: 0.005° east + 0.005° north + 0.005° west
    deg = math.pi / 180 * 6_371_000 * 0.005
    expected = deg * (2 * math.cos(math.radians(30.92)) + 1)
    assert d[0, 1] == pytest.approx(expected, rel=0.01)
    assert d[1, 0] == pytest.approx(d[0, 1])  # one-way ignored for patrols
    # osmnx lengths are great-circle metres; the projected geometry differs by the scale factor
    assert travel.path(tuple(xy[0]), tuple(xy[1])).length == pytest.approx(d[0, 1], rel=1e-3)


def test_pbf_and_xml_read_alike_and_keep_corners(tmp_path):
    osmium = pytest.importorskip("osmium")
    xml, pbf = tmp_path / "roads.osm", tmp_path / "roads.osm.pbf"
    xml.write_text(OSM_XML, encoding="utf-8")
    writer = osmium.SimpleWriter(str(pbf))
    for obj in osmium.FileProcessor(str(xml)):
        if obj.is_node():
            writer.add_node(obj)
        elif obj.is_way():
            writer.add_way(obj)
    writer.close()
    from_pbf, from_xml = read_road_graph(pbf), read_road_graph(xml)
    assert sorted(from_pbf.nodes) == sorted(from_xml.nodes) == [1, 3, 4]
    assert from_pbf.number_of_edges() == from_xml.number_of_edges() == 4  # both ways
    corner = from_pbf.edges[1, 3, 0]["geometry"]
    assert list(corner.coords) == [(113.92, 30.92), (113.925, 30.92), (113.925, 30.925)]
    assert from_pbf.edges[1, 3, 0]["length"] == pytest.approx(from_xml.edges[1, 3, 0]["length"])


def test_read_road_graph_errors(tmp_path):
    with pytest.raises(FileReadError, match="找不到"):
        read_road_graph(tmp_path / "missing.osm")
    pbf = tmp_path / "x.osm.pbf"
    pbf.write_bytes(b"\x00")
    with pytest.raises(FileReadError, match="无法读取"):  # pyosmium reads PBF: no pyrosm needed
        read_road_graph(pbf)
    other = tmp_path / "x.shp"
    other.write_text("")
    with pytest.raises(FileReadError, match="无法识别"):
        read_road_graph(other)
    broken = tmp_path / "bad.osm"
    broken.write_text("<osm><node", encoding="utf-8")
    with pytest.raises(FileReadError):
        read_road_graph(broken)


def test_gdf_adapter_routes_follow_the_network():
    travel = NetworkTravel(_grid(), speed_mps=1.0)
    sites = gpd.GeoDataFrame({"id": ["st"]}, geometry=[Point(X0, Y0)], crs=CRS)
    stops = gpd.GeoDataFrame({"id": ["ne", "e"], "priority": [2, 1]},
                             geometry=[Point(X0 + 400, Y0 + 400), Point(X0 + 400, Y0)], crs=CRS)
    plan = solve_patrol_gdf(stops, [Team("A", "st", "st", (0.0, 5000.0), 1.0)], sites,
                            travel=travel, crs=CRS, time_limit_s=0.5)
    assert plan.solution["priority_total"] == 3
    assert plan.solution["distance_total_m"] == pytest.approx(1600.0)
    assert plan.routes.geometry.iloc[0].length == pytest.approx(1600.0)
