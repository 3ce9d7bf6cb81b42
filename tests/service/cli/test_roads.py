"""``xuncha roads import`` + ``xuncha plan`` on real streets: an .osm.pbf written in code.

The network is a 250 m street grid laid over the embedded 孝南区 communities (coordinates from
the seeded database). Every leg of the planned routes must run along the network's streets and
its time on the sheet must be its path length ÷ the team's speed; bad road files must give a
Chinese message naming the file, the stop or the place, with the documented exit codes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import osmium
import pytest
from osmium.osm.mutable import Node, Way
from pyproj import Transformer
from shapely.geometry import LineString
from shapely.ops import unary_union
from typer.testing import CliRunner

from service.cli import app
from service.storage import Storage

runner = CliRunner()
CRS = "EPSG:4547"
STEP_M = 250.0
DAY = "2026-05-12"
TO_M = Transformer.from_crs(4326, CRS, always_xy=True)
TO_LL = Transformer.from_crs(CRS, 4326, always_xy=True)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    data = tmp_path / "data"
    monkeypatch.setenv("XUNCHA_DATABASE_URL", url)
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(data))
    storage = Storage(url)
    comm = storage.communities().to_crs(CRS)
    return {"url": url, "data": data, "storage": storage, "comm": comm, "tmp": tmp_path,
            "stations": storage.stations().to_crs(CRS)}


def _grid(bounds: tuple[float, float, float, float], *, highway: str = "residential",
          hole: tuple[float, float, float] | None = None, island: tuple[float, float] | None = None,
          first_id: int = 1) -> tuple[dict[int, tuple[float, float]], list[tuple[list[int], dict[str, str]]]]:
    """A street grid (one way per block side) over ``bounds`` (metres), lon/lat nodes.

    ``hole`` (x, y, r): no node within r metres; ``island`` (x, y): a 3 × 3 grid of 100 m there,
    connected to nothing.
    """
    x0, y0, x1, y1 = bounds
    xs = np.arange(x0 - STEP_M, x1 + 2 * STEP_M, STEP_M)
    ys = np.arange(y0 - STEP_M, y1 + 2 * STEP_M, STEP_M)
    nodes: dict[int, tuple[float, float]] = {}
    ids: dict[tuple[int, int], int] = {}
    nid = first_id
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            if hole is not None and np.hypot(x - hole[0], y - hole[1]) < hole[2]:
                continue
            lon, lat = TO_LL.transform(x, y)
            nodes[nid], ids[(i, j)] = (lon, lat), nid
            nid += 1
    ways = []
    for (i, j), a in ids.items():
        for di, dj in ((1, 0), (0, 1)):
            b = ids.get((i + di, j + dj))
            if b is not None:
                name = f"东西{j}路" if dj == 0 else f"南北{i}街"
                ways.append(([a, b], {"highway": highway, "name": name}))
    if island is not None:
        base = nid
        for k in range(9):
            lon, lat = TO_LL.transform(island[0] + (k % 3 - 1) * 100.0, island[1] + (k // 3 - 1) * 100.0)
            nodes[base + k] = (lon, lat)
        for k in range(9):
            if k % 3 < 2:
                ways.append(([base + k, base + k + 1], {"highway": "footway"}))
            if k < 6:
                ways.append(([base + k, base + k + 3], {"highway": "footway"}))
    return nodes, ways


def _write_pbf(path: Path, nodes: dict[int, tuple[float, float]],
               ways: list[tuple[list[int], dict[str, str]]]) -> Path:
    with osmium.SimpleWriter(str(path)) as w:
        for nid, loc in sorted(nodes.items()):
            w.add_node(Node(id=nid, location=loc, version=1))
        for wid, (refs, tags) in enumerate(ways, start=1):
            w.add_way(Way(id=wid, nodes=refs, tags=tags, version=1))
    return path


def _said(res: object) -> str:
    """The command's output without whitespace (rich wraps long lines anywhere)."""
    return "".join(str(getattr(res, "output", "")).split())


def _edges_m(nodes: dict[int, tuple[float, float]], ways: list[tuple[list[int], dict[str, str]]]
             ) -> list[LineString]:
    return [LineString([TO_M.transform(*nodes[n]) for n in refs]) for refs, _ in ways]


def _legs(route: dict) -> list[tuple[dict, list[tuple[float, float]]]]:
    """Each leg of a route with its stretch of the route geometry (metres)."""
    coords = [TO_M.transform(x, y) for x, y in route["geometry"]["coordinates"]]
    out, at = [], 0
    for leg in route["legs"]:
        target = TO_M.transform(leg["lon"], leg["lat"])
        k = next(k for k in range(at, len(coords)) if np.hypot(coords[k][0] - target[0],
                                                              coords[k][1] - target[1]) < 0.05)
        out.append((leg, coords[at:k + 1]))
        at = k
    assert at == len(coords) - 1, "the route geometry ends at the last leg's destination"
    return out


def test_import_then_plan_follows_the_streets(env: dict) -> None:
    comm = env["comm"]
    nodes, ways = _grid(tuple(comm.total_bounds))
    pbf = _write_pbf(env["tmp"] / "xiaonan-grid.osm.pbf", nodes, ways)
    res = runner.invoke(app, ["roads", "import", str(pbf), "--db", env["url"]])
    assert res.exit_code == 0, res.output
    assert "已导入道路网络xiaonan-grid.osm.pbf" in _said(res) and "公里" in _said(res)
    stored = env["data"] / "roads.graphml"
    assert stored.is_file() and not list(env["data"].glob(".roads-*"))  # written atomically
    info = runner.invoke(app, ["roads", "info"])
    assert info.exit_code == 0 and "xiaonan-grid.osm.pbf" in _said(info), info.output

    out = env["tmp"] / "plans"
    res = runner.invoke(app, ["plan", "--date", DAY, "--squad", "chezhan", "--out", str(out),
                              "--db", env["url"], "--no-map"])
    assert res.exit_code == 0, res.output
    assert "路网距离" in _said(res)
    plan = json.loads((out / "chezhan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["travel"]["model"] == "network" and plan["travel"]["label"].startswith("路网距离")
    assert plan["feasible"] and plan["n_visited"] > 0
    assert list((out / "chezhan").glob("*.pdf")), "route sheets were written"

    streets = unary_union(_edges_m(nodes, ways)).buffer(1.0)
    n_legs = 0
    for route in plan["routes"]:
        speed = route["speed_mps"]
        pushed = min(speed, 1.2) if route["mode"] == "ebike" else speed
        legs = _legs(route)
        assert abs(sum(leg["distance_m"] for leg, _ in legs) - route["distance_m"]) < 1.0
        visits = iter(route["visits"])
        for leg, path in legs:
            n_legs += 1
            line = LineString(path)
            assert abs(line.length - leg["distance_m"]) < 1.0, leg
            # the stretch between the two snap legs runs on the network's streets
            inner = LineString(path[1:-1]) if len(path) > 3 else None
            if inner is not None:
                assert streets.covers(inner), leg
            # the straight snap legs are short: a stop is at most half a block off a street
            for a, b in ((path[0], path[1]), (path[-2], path[-1])):
                assert np.hypot(a[0] - b[0], a[1] - b[1]) <= STEP_M / 2 + 1.0, leg
            snap = np.hypot(*np.subtract(path[1], path[0])) + np.hypot(*np.subtract(path[-1], path[-2]))
            expected = (line.length - snap) / speed + snap / pushed
            assert abs(leg["time_s"] - expected) <= 1.0, (leg, expected)
            if leg["kind"] == "visit":
                v = next(visits)
                assert v["stop_id"] == leg["to"]
                assert v["leg_m"] == leg["distance_m"] and v["leg_s"] == leg["time_s"]
    assert n_legs > 3


def test_plan_without_a_network_says_straight_line(env: dict) -> None:
    out = env["tmp"] / "plans"
    res = runner.invoke(app, ["plan", "--date", DAY, "--squad", "nanda", "--out", str(out),
                              "--db", env["url"], "--no-map", "--no-sheets"])
    assert res.exit_code == 0, res.output
    plan = json.loads((out / "nanda" / "plan.json").read_text(encoding="utf-8"))
    assert plan["travel"]["model"] == "euclidean"
    assert plan["travel"]["label"] == "直线距离 ×1.3（未导入路网）"
    assert "直线距离" in _said(res)


@pytest.mark.parametrize("case", ["text", "fake_pbf", "outside", "motorways"])
def test_bad_road_files_are_refused_with_exit_2(env: dict, case: str) -> None:
    tmp, comm = env["tmp"], env["comm"]
    if case == "text":
        path = tmp / "roads.txt"
        path.write_text("这不是道路文件\n", encoding="utf-8")
        needle = "roads.txt"
    elif case == "fake_pbf":
        path = tmp / "hubei.osm.pbf"
        path.write_text("not a pbf at all\n", encoding="utf-8")
        needle = "hubei.osm.pbf"
    elif case == "outside":  # a grid 60 km away (near 武汉)
        x0, y0, _, _ = comm.total_bounds
        nodes, ways = _grid((x0 + 60_000, y0 - 30_000, x0 + 61_000, y0 - 29_000))
        path = _write_pbf(tmp / "wuhan.osm.pbf", nodes, ways)
        needle = "覆盖"
    else:
        nodes, ways = _grid(tuple(comm.total_bounds), highway="motorway")
        path = _write_pbf(tmp / "motorways.osm.pbf", nodes, ways)
        needle = "没有可步行或骑行的道路"
    res = runner.invoke(app, ["roads", "import", str(path), "--db", env["url"]])
    assert res.exit_code == 2, res.output
    assert path.name in _said(res) and needle in _said(res) and "未保存" in _said(res)
    assert "Traceback" not in _said(res)
    assert not (env["data"] / "roads.graphml").exists()


def test_disconnected_network_names_the_place_then_the_stop(env: dict) -> None:
    comm, stations = env["comm"], env["stations"]
    st = stations[stations["community_code"] == "420902004001"].geometry.iloc[0]
    nodes, ways = _grid(tuple(comm.total_bounds), hole=(st.x, st.y, 520.0), island=(st.x, st.y))
    pbf = _write_pbf(env["tmp"] / "gap.osm.pbf", nodes, ways)
    res = runner.invoke(app, ["roads", "import", str(pbf), "--db", env["url"]])
    assert res.exit_code == 1, res.output  # stored, with the cut-off part listed
    assert "不连通" in _said(res) and "社区" in _said(res)
    name = comm.set_index("code").loc["420902004001", "name"]
    assert name in _said(res)
    assert (env["data"] / "roads.graphml").is_file()

    out = env["tmp"] / "plans"
    res = runner.invoke(app, ["plan", "--date", DAY, "--squad", "chezhan", "--out", str(out),
                              "--db", env["url"], "--no-map", "--no-sheets"])
    assert res.exit_code == 1, res.output
    assert "道路网络到不了" in _said(res) and "420902004001" in _said(res)
    assert "--allow-straight-line" in _said(res) and "Traceback" not in _said(res)

    res = runner.invoke(app, ["plan", "--date", DAY, "--squad", "chezhan", "--out", str(out),
                              "--db", env["url"], "--no-map", "--no-sheets",
                              "--allow-straight-line"])
    assert res.exit_code == 0, res.output
    plan = json.loads((out / "chezhan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["travel"]["model"] == "euclidean" and "roads.graphml" in plan["travel"]["note"]
    assert any("直线距离" in w for w in plan["warnings"])


def test_plan_with_roads_file_directly(env: dict) -> None:
    """``xuncha plan --roads FILE``: the extract is used as given (clipped), nothing is stored."""
    nodes, ways = _grid(tuple(env["comm"].total_bounds))
    pbf = _write_pbf(env["tmp"] / "direct.osm.pbf", nodes, ways)
    out = env["tmp"] / "plans"
    res = runner.invoke(app, ["plan", "--date", DAY, "--squad", "nanda", "--out", str(out),
                              "--db", env["url"], "--no-map", "--no-sheets", "--roads", str(pbf)])
    assert res.exit_code == 0, res.output
    plan = json.loads((out / "nanda" / "plan.json").read_text(encoding="utf-8"))
    assert plan["travel"]["model"] == "network" and plan["travel"]["source"] == "direct.osm.pbf"
    assert not (env["data"] / "roads.graphml").exists()
    bad = env["tmp"] / "bad.osm.pbf"
    bad.write_bytes(b"\x00\x01garbage")
    res = runner.invoke(app, ["plan", "--date", DAY, "--squad", "nanda", "--out", str(out),
                              "--db", env["url"], "--no-map", "--no-sheets", "--roads", str(bad)])
    assert res.exit_code == 1 and "bad.osm.pbf" in _said(res) and "Traceback" not in _said(res)


def test_import_bureau_centre_lines_geopackage(env: dict) -> None:
    """A bureau's own survey centre lines (GeoPackage, CGCS2000 / 3-degree GK) load the same way."""
    import geopandas as gpd

    nodes, ways = _grid(tuple(env["comm"].total_bounds))
    lines = gpd.GeoDataFrame({"name": [t["name"] for _, t in ways], "fclass": "residential"},
                             geometry=_edges_m(nodes, ways), crs=CRS)
    path = env["tmp"] / "测绘道路中心线.gpkg"
    lines.to_file(path, layer="roads", driver="GPKG")
    res = runner.invoke(app, ["roads", "import", str(path), "--db", env["url"], "--layer", "roads"])
    assert res.exit_code == 0, res.output
    assert "测绘道路中心线.gpkg" in _said(res)
    assert (env["data"] / "roads.graphml").is_file()
