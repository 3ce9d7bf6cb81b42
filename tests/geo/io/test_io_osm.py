"""geo.io.osm: an .osm.pbf / .osm written in code with pyosmium, a GeoPackage of centre lines."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import osmium
import pytest
from osmium.osm.mutable import Node, Way
from pyproj import Geod
from shapely.geometry import LineString, Point, box

from geo.errors import FileReadError, InputError
from geo.io import osm
from geo.io.osm import read_osm_network
from geo.travel import NetworkTravel

GEOD = Geod(ellps="WGS84")
LON, LAT = 113.92, 30.92
D = 0.001  # about 96 m east-west, 111 m north-south here

NODES = {
    1: (LON, LAT), 2: (LON + D, LAT + 0.0002), 3: (LON + 2 * D, LAT),  # 2 bends way 10
    4: (LON + 2 * D, LAT + D), 5: (LON + 3 * D, LAT), 6: (LON + 2 * D, LAT + 2 * D),
    7: (LON + D, LAT + D), 8: (LON + 3 * D, LAT + D), 9: (LON, LAT + D),
    20: (LON + 10 * D, LAT + 10 * D), 21: (LON + 10.5 * D, LAT + 10 * D),  # far island
}
WAYS = {
    10: ([1, 2, 3], {"highway": "residential", "name": "幸福路"}),
    11: ([3, 4], {"highway": "footway"}),
    12: ([3, 5], {"highway": "motorway", "name": "绕城高速"}),  # dropped
    13: ([4, 6], {"highway": "residential", "access": "private"}),  # dropped
    14: ([4, 7], {"highway": "residential", "oneway": "yes", "name": "单行街"}),
    15: ([4, 8], {"highway": "steps"}),
    16: ([7, 9], {"highway": "trunk_link"}),  # dropped
    17: ([1, 9, 7, 1], {"highway": "pedestrian", "area": "yes"}),  # a square: dropped
    18: ([9, 1], {"highway": "path", "foot": "no"}),  # dropped
    19: ([1, 7], {"building": "yes"}),  # not a road
    30: ([20, 21], {"highway": "footway"}),  # a disconnected part: dropped
}
KEPT = {10, 11, 14, 15}


def _write(path, nodes=NODES, ways=WAYS) -> None:
    with osmium.SimpleWriter(str(path)) as w:
        for nid, loc in nodes.items():
            w.add_node(Node(id=nid, location=loc, version=1))
        for wid, (refs, tags) in ways.items():
            w.add_way(Way(id=wid, nodes=refs, tags=tags, version=1))


def _geodesic(refs: list[int]) -> float:
    lons, lats = np.array([NODES[r] for r in refs]).T
    return float(GEOD.line_length(lons, lats))


@pytest.mark.parametrize("name", ["city.osm.pbf", "city.osm"])
def test_osm_extract_keeps_walkable_ways_with_full_geometry(tmp_path, name):
    path = tmp_path / name
    _write(path)
    g = read_osm_network(path)
    assert g.graph["crs"] == "EPSG:4326"
    assert {d["osmid"] for *_, d in g.edges(data=True)} == KEPT
    assert set(g.nodes) == {1, 3, 4, 7, 8}  # node 2 is a bend, not a junction: kept in geometry
    assert (g.graph["parts_dropped"], g.graph["edges_dropped"]) == (1, 2)
    assert g.nodes[1]["x"] == pytest.approx(LON) and g.nodes[1]["y"] == pytest.approx(LAT)
    e = g.edges[1, 3, 0]
    assert e["length"] == pytest.approx(_geodesic([1, 2, 3]), abs=1.0)
    assert e["length"] > _geodesic([1, 3]) + 1.0  # the bend is not simplified away
    assert len(e["geometry"].coords) == 3 and e["geometry"].coords[1] == pytest.approx(NODES[2])
    assert (e["highway"], e["name"], e["oneway"], e["reversed"]) == ("residential", "幸福路",
                                                                     False, False)
    back = g.edges[3, 1, 0]
    assert back["reversed"] and list(back["geometry"].coords) == list(e["geometry"].coords)[::-1]
    one = g.edges[4, 7, 0]
    assert (one["name"], one["oneway"], one["reversed"], g.edges[7, 4, 0]["reversed"]) == (
        "单行街", True, False, True)
    assert g.edges[4, 8, 0]["highway"] == "steps"
    assert g.edges[3, 4, 0]["length"] == pytest.approx(_geodesic([3, 4]), abs=1.0)


def test_osm_network_feeds_network_travel(tmp_path):
    path = tmp_path / "city.osm.pbf"
    _write(path)
    g = read_osm_network(path)
    crs = "EPSG:4547"
    pts = gpd.GeoSeries([Point(NODES[1]), Point(NODES[4]), Point(NODES[7])], crs=4326).to_crs(crs)
    xy = np.column_stack([pts.x, pts.y])
    walk = NetworkTravel(g, crs=crs).distance_matrix(xy)
    assert walk[0, 1] == pytest.approx(_geodesic([1, 2, 3]) + _geodesic([3, 4]), rel=2e-3)
    assert walk[2, 1] == pytest.approx(_geodesic([4, 7]), rel=2e-3)  # walked against one-way
    # 单行街 4→7 is a one-way dead end: an e-bike cannot ride it out again, so node 7 is reached
    # from the nearest street of the strongly connected network (幸福路, ~89 m off) on foot
    bike = NetworkTravel(g, crs=crs, mode="ebike").distance_matrix(xy[1:])
    assert bike[0, 1] > _geodesic([4, 7]) + 150
    free = NetworkTravel(g, crs=crs, mode="ebike", respect_oneway=False).distance_matrix(xy[1:])
    assert free[0, 1] == pytest.approx(_geodesic([4, 7]), rel=2e-3)


def test_service_area_clip_and_coverage(tmp_path):
    path = tmp_path / "city.osm.pbf"
    _write(path)
    area = box(LON + 1.5 * D, LAT + 0.5 * D, LON + 2.5 * D, LAT + 1.5 * D)  # around node 4
    g = read_osm_network(path, service_area=area, keep_largest=False)
    assert {d["osmid"] for *_, d in g.edges(data=True)} == {11, 14, 15}  # touching edges, whole
    assert g.edges[4, 7, 0]["length"] == pytest.approx(_geodesic([4, 7]), abs=1.0)
    metric = gpd.GeoSeries([area], crs=4326).to_crs("EPSG:4547")
    assert read_osm_network(path, service_area=metric, keep_largest=False).number_of_edges() == 6
    far = box(LON + 0.5, LAT + 0.5, LON + 0.6, LAT + 0.6)
    with pytest.raises(InputError, match=r"city\.osm\.pbf.*覆盖"):
        read_osm_network(path, service_area=far)


def test_an_extract_is_read_only_around_the_service_area(tmp_path, monkeypatch):
    """A province's extract: ways far from the area are never built into the network; a long
    street that crosses the area with both its nodes 50 km away is kept, at its full length."""
    nodes, ways = dict(NODES), dict(WAYS)
    nodes |= {40: (LON - 0.5, LAT + D), 41: (LON + 0.5, LAT + D)}
    ways[40] = ([40, 41], {"highway": "residential", "name": "长街"})
    far = set()
    for k in range(300):  # a district 2 degrees (about 190 km) east
        a, b = 1000 + 2 * k, 1001 + 2 * k
        nodes |= {a: (LON + 2 + k * D, LAT), b: (LON + 2 + k * D, LAT + D)}
        ways[5000 + k] = ([a, b], {"highway": "residential"})
        far.add(5000 + k)
    path = tmp_path / "hubei.osm.pbf"
    _write(path, nodes, ways)
    built: list[set[int]] = []
    build = osm._build
    monkeypatch.setattr(osm, "_build", lambda segs: built.append(
        {attrs["osmid"] for *_, attrs in segs}) or build(segs))
    area = box(LON + 1.5 * D, LAT + 0.5 * D, LON + 2.5 * D, LAT + 1.5 * D)
    g = read_osm_network(path, service_area=area, keep_largest=False)
    assert len(built) == 1 and not built[0] & far and {10, 11, 14, 15, 40} <= built[0]
    long = [d for *_, d in g.edges(data=True) if d["osmid"] == 40]
    full = GEOD.line_length([LON - 0.5, LON + 0.5], [LAT + D, LAT + D])  # about 95.5 km
    assert long and long[0]["length"] == pytest.approx(full, abs=1.0)
    assert {d["osmid"] for *_, d in g.edges(data=True)} == {11, 14, 15, 40}


def test_an_extract_cut_at_its_border_keeps_the_located_part_of_a_way(tmp_path):
    """Extracts cut at a border keep ways whose outer nodes are not in the file (as osmium's
    "simple" strategy leaves them): the way is cut there, its located run is kept, and neither
    the bounding-box window nor the coverage check trips on the missing nodes."""
    nodes = dict(NODES)
    ways = dict(WAYS)
    ways[41] = ([9901, 4, 6, 9902], {"highway": "residential", "name": "边界路"})  # 9901/9902 absent
    path = tmp_path / "cut.osm.pbf"
    _write(path, nodes, ways)
    area = box(LON + 1.5 * D, LAT + 0.5 * D, LON + 2.5 * D, LAT + 2.5 * D)  # around nodes 4 and 6
    g = read_osm_network(path, service_area=area, keep_largest=False)
    cut = [(u, v) for u, v, d in g.edges(data=True) if d["osmid"] == 41]
    assert sorted(cut) == [(4, 6), (6, 4)]
    assert g.edges[4, 6, 0]["length"] == pytest.approx(_geodesic([4, 6]), abs=1.0)


def test_bad_osm_inputs_name_the_file(tmp_path):
    garbage = tmp_path / "garbage.osm.pbf"
    garbage.write_bytes(b"\x00\x01not a pbf")
    with pytest.raises(FileReadError, match=r"garbage.osm.pbf"):
        read_osm_network(garbage)
    buildings = tmp_path / "buildings.osm.pbf"
    _write(buildings, ways={19: WAYS[19][:2]})
    with pytest.raises(FileReadError, match=r"buildings.osm.pbf.*不是道路网络"):
        read_osm_network(buildings)
    motorway = tmp_path / "motorway.osm"
    _write(motorway, ways={12: WAYS[12]})
    with pytest.raises(FileReadError, match=r"motorway.osm.*没有可步行"):
        read_osm_network(motorway)
    with pytest.raises(FileReadError, match="找不到"):
        read_osm_network(tmp_path / "missing.osm.pbf")
    with pytest.raises(FileReadError, match="无法识别"):
        read_osm_network(garbage.rename(tmp_path / "roads.csv"))


def test_graphml_round_trip(tmp_path):
    import osmnx

    path = tmp_path / "city.osm.pbf"
    _write(path)
    g = read_osm_network(path)
    osmnx.save_graphml(g, tmp_path / "city.graphml")
    back = read_osm_network(tmp_path / "city.graphml")
    assert back.number_of_edges() == g.number_of_edges()
    assert back.edges[1, 3, 0]["length"] == pytest.approx(g.edges[1, 3, 0]["length"])
    assert len(back.edges[1, 3, 0]["geometry"].coords) == 3
    assert back.edges[1, 3, 0]["name"] == "幸福路" and "name" not in back.edges[3, 4, 0]


CRS = "EPSG:4547"
X0, Y0 = 500_000.0, 3_420_000.0


def _lines() -> gpd.GeoDataFrame:
    """A '+' crossing, one end 0.3 m short of the centre; a T whose foot ends on a vertex."""
    c = (X0, Y0)
    rows = [
        ("东街", "residential", [c, (X0 + 200, Y0)]),
        ("西街", "residential", [(X0 - 0.3, Y0), (X0 - 200, Y0)]),  # near miss: joined
        ("北街", "tertiary", [c, (X0, Y0 + 150), (X0, Y0 + 300)]),  # vertex at 150 m
        ("南街", "footway", [c, (X0, Y0 - 200)]),
        ("支路", "service", [(X0, Y0 + 150), (X0 + 100, Y0 + 150)]),  # T onto 北街's vertex
        ("高速", "motorway", [(X0 + 200, Y0), (X0 + 900, Y0)]),  # dropped
        ("孤路", "residential", [(X0 + 202, Y0), (X0 + 300, Y0 + 50)]),  # 2 m gap: own part
    ]
    return gpd.GeoDataFrame({"name": [r[0] for r in rows], "highway": [r[1] for r in rows]},
                            geometry=[LineString(r[2]) for r in rows], crs=CRS)


@pytest.mark.parametrize("name", ["streets.gpkg", "streets.geojson"])
def test_centre_lines_join_shared_and_near_miss_ends(tmp_path, name):
    lines = _lines()
    path = tmp_path / name
    lines.to_file(path)
    g = read_osm_network(path)
    assert g.graph["crs"] == "EPSG:4326"
    assert (g.graph["parts_dropped"], g.graph["edges_dropped"]) == (1, 2)
    assert sorted(d["name"] for u, v, d in g.edges(data=True) if not d["reversed"]) == sorted(
        ["东街", "西街", "北街", "北街", "南街", "支路"])  # 北街 split at the T
    assert g.number_of_nodes() == 7
    ll = lines.to_crs(4326)
    for i, d in ((0, "东街"), (3, "南街")):
        lons, lats = np.asarray(ll.geometry.iloc[i].coords).T
        edge = next(e for *_, e in g.edges(data=True) if e["name"] == d)
        assert edge["length"] == pytest.approx(GEOD.line_length(lons, lats), abs=1.0)
    t = NetworkTravel(g, crs=CRS)
    d = t.distance_matrix([(X0 - 200, Y0), (X0 + 200, Y0), (X0 + 100, Y0 + 150)])
    assert d[0, 1] == pytest.approx(400.0, abs=1.0)  # across the joined near-miss crossing
    assert d[0, 2] == pytest.approx(200 + 150 + 100, abs=1.0)  # up 北街, into the T


def test_centre_lines_need_lines_and_a_crs(tmp_path):
    pts = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(X0, Y0)], crs=CRS)
    pts.to_file(tmp_path / "points.gpkg")
    with pytest.raises(FileReadError, match=r"points.gpkg.*LineString"):
        read_osm_network(tmp_path / "points.gpkg")
    only_motorway = _lines().iloc[[5]]
    only_motorway.to_file(tmp_path / "motorway.gpkg")
    with pytest.raises(FileReadError, match=r"motorway.gpkg.*没有可步行"):
        read_osm_network(tmp_path / "motorway.gpkg")
