"""``xuncha solve-patrol`` via a local Typer app: exit codes 0/1/2 and the written solution."""

from __future__ import annotations

import itertools
import json

import numpy as np
import typer
from typer.testing import CliRunner

from geo.routing.solve import check_solution
from service.commands import routing

PROBLEM = {
    "teams": [{"id": "A", "start": "S1", "end": "S1", "shift_s": [0, 28800], "speed_mps": 1.2}],
    "sites": [{"id": "S1", "x": 0.0, "y": 0.0}],
    "stops": [{"id": "h1", "x": 120.0, "y": -40.0, "priority": 5, "service_s": 600,
               "windows_s": [[0, 10800]], "required": False},
              {"id": "h2", "x": -200.0, "y": 90.0, "priority": 2, "service_s": 300,
               "windows_s": [[3600, 7200]], "required": True}],
    "travel": {"metric": "euclidean"}, "objective": "priority", "time_limit_s": 5,
}


def _app() -> typer.Typer:
    app = typer.Typer()
    routing.register(app)
    app.command("noop")(lambda: None)  # keep "solve-patrol" as a named sub-command
    return app


def test_solve_patrol_ok(tmp_path):
    src, out = tmp_path / "p.json", tmp_path / "out" / "s.json"
    src.write_text(json.dumps(PROBLEM), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out),
                                      "--time-limit-s", "0.5"])
    assert res.exit_code == 0, res.output
    assert "已写出" in res.output
    sol = json.loads(out.read_text(encoding="utf-8"))
    assert sol["priority_total"] == 7 and sol["unvisited"] == []
    assert check_solution(PROBLEM, sol) == []
    h2 = next(v for r in sol["routes"] for v in r["visits"] if v["id"] == "h2")
    assert 3600 <= h2["arrive_s"] <= 7200


def test_solve_patrol_ortools(tmp_path):
    src, out = tmp_path / "p.json", tmp_path / "s.json"
    src.write_text(json.dumps(PROBLEM), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out),
                                      "--solver", "ortools", "--time-limit-s", "0.5"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text(encoding="utf-8"))["solver"] == "ortools"


def test_solve_patrol_infeasible_and_invalid(tmp_path):
    bad = json.loads(json.dumps(PROBLEM))
    bad["stops"][1]["windows_s"] = [[0, 10]]  # 182 m away at 1.2 m/s: unreachable by 10 s
    src, out = tmp_path / "p.json", tmp_path / "s.json"
    src.write_text(json.dumps(bad), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out)])
    assert res.exit_code == 1
    assert "必访点 h2" in res.output and not out.exists()
    bad["teams"][0]["start"] = "S9"
    src.write_text(json.dumps(bad), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out)])
    assert res.exit_code == 1 and "未知站点" in res.output


def test_solve_patrol_unreadable(tmp_path):
    src = tmp_path / "p.json"
    src.write_text("{not json", encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 2 and "无法读取" in res.output
    res = CliRunner().invoke(_app(), ["solve-patrol", str(tmp_path / "none.json"),
                                      "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 2


# --- "travel": {"metric": "network"} ------------------------------------------------------------

LON0, LAT0, STEP = 113.92, 30.92, 0.002  # a 5 x 5 street grid, about 190 m x 220 m blocks


def _grid_pbf(path, *, island: bool = False) -> None:
    """The grid; ``island``: a footway 0.01 deg east of it that connects to nothing."""
    import osmium
    from osmium.osm.mutable import Node, Way

    nid = {(i, j): 1 + i * 5 + j for i in range(5) for j in range(5)}
    with osmium.SimpleWriter(str(path)) as w:
        for (i, j), n in sorted(nid.items(), key=lambda kv: kv[1]):
            w.add_node(Node(id=n, location=(LON0 + i * STEP, LAT0 + j * STEP), version=1))
        wid = 1
        for j in range(5):
            w.add_way(Way(id=wid, nodes=[nid[(i, j)] for i in range(5)],
                          tags={"highway": "residential"}, version=1))
            wid += 1
        for i in range(5):
            w.add_way(Way(id=wid, nodes=[nid[(i, j)] for j in range(5)],
                          tags={"highway": "footway"}, version=1))
            wid += 1
        if island:
            w.add_node(Node(id=100, location=(LON0 + 4 * STEP + 0.0095, LAT0), version=1))
            w.add_node(Node(id=101, location=(LON0 + 4 * STEP + 0.0105, LAT0), version=1))
            w.add_way(Way(id=wid, nodes=[100, 101], tags={"highway": "footway"}, version=1))


def _network_problem(file: str | None, *, far: bool = False) -> dict:
    travel = {"metric": "network", **({"file": file} if file else {})}
    stops = [{"id": "h1", "x": LON0 + 3.3 * STEP, "y": LAT0 + 2.6 * STEP, "priority": 5,
              "service_s": 300},
             {"id": "h2", "x": LON0 + 0.6 * STEP, "y": LAT0 + 3.7 * STEP, "priority": 3,
              "service_s": 300}]
    if far:
        stops.append({"id": "远处点", "x": LON0 + 4 * STEP + 0.01, "y": LAT0, "priority": 1})
    return {"crs": "EPSG:4326",
            "teams": [{"id": "A", "start": "S1", "end": "S1", "shift_s": [0, 14400],
                       "speed_mps": 1.2}],
            "sites": [{"id": "S1", "x": LON0 + 1.2 * STEP, "y": LAT0 + 0.5 * STEP}],
            "stops": stops, "travel": travel, "objective": "distance", "time_limit_s": 1}


def test_solve_patrol_on_a_road_file_uses_network_distances(tmp_path):
    from geo.io.osm import read_osm_network
    from geo.routing.validate import parse_patrol_problem
    from geo.travel import NetworkTravel

    _grid_pbf(tmp_path / "grid.osm.pbf")
    src, out = tmp_path / "p.json", tmp_path / "s.json"
    problem = _network_problem("grid.osm.pbf")  # relative to the problem file
    src.write_text(json.dumps(problem), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    sol = json.loads(out.read_text(encoding="utf-8"))
    assert sol["travel"] == {"model": "network", "file": "grid.osm.pbf"}
    # independent recomputation: the route's distance is the sum of network legs
    parsed = parse_patrol_problem({**problem, "travel": {"metric": "euclidean"}}, check=False)
    net = NetworkTravel(read_osm_network(tmp_path / "grid.osm.pbf"), crs=parsed.crs)
    ids = ["S1", "h1", "h2"]
    dist = net.distance_matrix(parsed.xy)
    order = ["S1", *(v["id"] for v in sol["routes"][0]["visits"]), "S1"]
    expect = sum(dist[ids.index(a), ids.index(b)] for a, b in itertools.pairwise(order))
    assert abs(sol["routes"][0]["distance_m"] - expect) < 1e-6
    straight = np.hypot(*(parsed.xy[1] - parsed.xy[0]))
    assert dist[0, 1] > straight  # streets, not the straight line
    first = sol["routes"][0]["visits"][0]
    k = ids.index(first["id"])
    assert first["arrive_s"] >= dist[0, k] / 1.2 - 1e-6


def test_solve_patrol_network_stop_off_the_streets_is_named(tmp_path):
    _grid_pbf(tmp_path / "grid.osm.pbf", island=True)
    src, out = tmp_path / "p.json", tmp_path / "s.json"
    src.write_text(json.dumps(_network_problem("grid.osm.pbf", far=True)), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out)])
    assert res.exit_code == 1 and not out.exists()
    assert "远处点" in res.output and "道路网络到不了" in res.output
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out),
                                      "--allow-straight-line"])
    assert res.exit_code == 0, res.output
    sol = json.loads(out.read_text(encoding="utf-8"))
    assert sol["travel"]["model"] == "euclidean" and sol["travel"]["circuity"] == 1.3
    assert "远处点" in sol["travel"]["note"]


def test_solve_patrol_stored_network_and_missing_crs(tmp_path, monkeypatch):
    import osmnx

    from geo.io.osm import read_osm_network

    _grid_pbf(tmp_path / "grid.osm.pbf")
    src, out = tmp_path / "p.json", tmp_path / "s.json"
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(tmp_path / "data"))
    src.write_text(json.dumps(_network_problem(None)), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out)])
    assert res.exit_code == 1 and "xuncha roads import" in res.output  # nothing stored yet
    (tmp_path / "data").mkdir()
    osmnx.save_graphml(read_osm_network(tmp_path / "grid.osm.pbf"), tmp_path / "data" / "roads.graphml")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text(encoding="utf-8"))["travel"]["file"] == "roads.graphml"
    no_crs = {k: v for k, v in _network_problem(None).items() if k != "crs"}
    src.write_text(json.dumps(no_crs), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out)])
    assert res.exit_code == 1 and "crs" in res.output
