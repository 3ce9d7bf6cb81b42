"""No user text is ever template source: every map shows Jinja2 / JS-template payloads literally.

folium 0.20 compiles rendered popup, tooltip and macro content again as a Jinja2 template, so a
``{{ … }}`` in a case address used to run on the server when the squad map was drawn. Each map
kind (squad, district, siting) is rendered here with payloads in every user field; the page must
show each payload as typed (after JSON-string and HTML unescaping, which is what the browser
does) and never its evaluated form. The HTTP tests go through the FastAPI app on both backends.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import folium
import geopandas as gpd
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pages_support import TZ, Site, build_site
from shapely import points
from shapely.geometry import LineString, Point, box
from siting_support import run_job

from geo.io.tables import read_geofile
from geo.maps.siting import siting_layer
from geo.maps.squad import check_tile_url, district_map, squad_map
from geo.siting.frames import site_relocation_points

LON0, LAT0 = 113.915, 30.925
PAYLOADS: dict[str, str] = {
    "expr": "{{7*7}}",
    "stmt": "{% for x in range(3) %}X{% endfor %}",
    "lipsum": "{{ lipsum }}",
    "js": "${7*7}",
    "comment": "{# c #}",
}
#: What each payload would become if Jinja2 (or a JS template literal) evaluated it.
EVALUATED: dict[str, str] = {"expr": "49", "stmt": "XXX", "lipsum": "<function",
                             "js": "49", "comment": ""}
POPEN = "X[{{ lipsum.__globals__.os.popen(dict(id=1)|list|first).read() }}]"


def shown(page: str) -> str:
    """``page`` as a reader sees its texts: JSON ``\\uXXXX`` escapes and HTML references decoded."""
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)
    return html.unescape(text)


def tag(field: str, payload: str) -> str:
    """The value put in ``field``: the field name, then the payload in brackets."""
    return f"{field}[{payload}]"


def assert_literal(page: str, fields: list[str], kind: str) -> None:
    """Every field shows ``PAYLOADS[kind]`` as typed; nothing evaluated it; no raw brace/``$``."""
    payload, text = PAYLOADS[kind], shown(page)
    missing = [f for f in fields if tag(f, payload) not in text]
    assert not missing, f"payload {payload!r} not shown literally in {missing}"
    evaluated = [f for f in fields if tag(f, EVALUATED[kind]) in text]
    assert not evaluated, f"payload {payload!r} was evaluated in {evaluated}"
    assert "generate_lorem_ipsum" not in text
    # The raw page carries user braces and dollars only as character references.
    assert payload not in page
    for f in fields:
        for raw in (f"{f}[{{", f"{f}[$"):
            assert raw not in page, raw


def boundary_file(folder: Path, kind: str) -> gpd.GeoDataFrame:
    """Nine communities written to a GeoJSON boundary file and read back (as an import does)."""
    p = PAYLOADS[kind]
    polys = [box(LON0 + i * 0.008, LAT0 + j * 0.007, LON0 + (i + 1) * 0.008, LAT0 + (j + 1) * 0.007)
             for i in range(3) for j in range(3)]
    frame = gpd.GeoDataFrame(
        {"name": [tag(f"comm{k}", p) for k in range(9)], "street": tag("street", p),
         "squad": tag("squad", p), "code": tag("code", p)}, geometry=polys, crs="EPSG:4326")
    path = folder / "communities.geojson"
    frame.to_crs("EPSG:4547").to_file(path, driver="GeoJSON")
    return read_geofile(path)


def squad_layers(folder: Path, kind: str) -> dict[str, gpd.GeoDataFrame]:
    """Every layer of a squad map, with the payload in every user text field."""
    p = PAYLOADS[kind]
    comm = boundary_file(folder, kind)
    centres = [Point(LON0 + 0.004 + i * 0.008, LAT0 + 0.0035 + j * 0.007)
               for i in range(3) for j in range(3)]
    stations = gpd.GeoDataFrame({"name": [tag("station", p)] * 9,
                                 "community": [tag("stcomm", p)] * 9},
                                geometry=centres, crs="EPSG:4326")
    rng = np.random.default_rng(3)
    cases = gpd.GeoDataFrame(
        {"case_id": [f"C{i}" for i in range(20)], "description": tag("desc", p),
         "address": tag("caddr", p)},
        geometry=gpd.points_from_xy(LON0 + rng.random(20) * 0.024, LAT0 + rng.random(20) * 0.021),
        crs="EPSG:4326")
    hotspots = gpd.GeoDataFrame(
        {"hotspot_id": [tag("hid", p)], "case_count": [30], "category_name": [tag("hcat", p)],
         "peak_hours": [tag("peak", p)], "gi_confidence": [99], "trend": [tag("trend", p)],
         "community": [tag("hcomm", p)]},
        geometry=[Point(LON0 + 0.005, LAT0 + 0.005).buffer(0.002)], crs="EPSG:4326")
    cells = [box(LON0 + i * 0.003, LAT0, LON0 + (i + 1) * 0.003, LAT0 + 0.003) for i in range(5)]
    forecast = gpd.GeoDataFrame({"cell_id": [tag(f"cell{i}", p) for i in range(5)],
                                 "score": [0.1, 0.2, 0.3, 0.4, 0.5], "rank": [5, 4, 3, 2, 1]},
                                geometry=cells, crs="EPSG:4326")
    line = [(LON0 + 0.004, LAT0 + 0.004), (LON0 + 0.01, LAT0 + 0.006)]
    routes = gpd.GeoDataFrame(
        {"team": [tag("team", p)], "team_name": [tag("tname", p)], "distance_m": [2300.0],
         "duration_s": [7200.0]}, geometry=[LineString(line)], crs="EPSG:4326")
    stops = gpd.GeoDataFrame(
        {"team": [tag("team", p)] * 2, "seq": [tag("seq", p), "2"], "kind": [tag("kind", p), "复查"],
         "arrive": [tag("arrive", p), "08:00"], "community": [tag("scomm", p), ""],
         "address": [tag("addr", p), ""], "what": [tag("what", p), ""],
         "category_name": [tag("scat", p), ""]},
        geometry=[Point(line[0]), Point(line[1])], crs="EPSG:4326")
    relocation = gpd.GeoDataFrame(
        {"site_id": [tag("site", p)], "name": [tag("rname", p)], "covered_weight": [4.0],
         "note": [tag("note", p)]}, geometry=[Point(LON0 + 0.006, LAT0 + 0.01)], crs="EPSG:4326")
    catchments = gpd.GeoDataFrame({"site_id": [tag("catch", p)]},
                                  geometry=[Point(LON0 + 0.006, LAT0 + 0.01).buffer(0.003)],
                                  crs="EPSG:4326")
    return {"communities": comm, "stations": stations, "cases": cases, "hotspots": hotspots,
            "forecast": forecast, "routes": routes, "stops": stops, "relocation": relocation,
            "catchments": catchments}


#: Fields a squad map displays (cases feed the heat map and forecast cells show rank/score only).
SHOWN = ["comm0", "comm8", "street", "squad", "code", "station", "stcomm", "hid", "hcat", "peak",
         "trend", "hcomm", "tname", "seq", "kind", "arrive", "scomm", "addr", "what", "scat",
         "site", "rname", "note", "catch", "title", "label"]


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_squad_map_shows_payloads_literally(kind: str, tmp_path: Path) -> None:
    p = PAYLOADS[kind]
    m = squad_map(**squad_layers(tmp_path, kind), title=tag("title", p), data_label=tag("label", p),
                  static_prefix="/static/vendor")
    page = m.get_root().render()
    assert_literal(page, SHOWN, kind)
    assert tag("路线：tname", p) in shown(page)  # the layer name in the LayerControl


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_team_without_name_and_local_tiles(kind: str, tmp_path: Path) -> None:
    p = PAYLOADS[kind]
    layers = squad_layers(tmp_path, kind)
    layers["routes"] = layers["routes"].drop(columns="team_name")
    m = squad_map(**layers, basemap="local", tile_url="http://tiles.local/{z}/{x}/{y}.png",
                  tile_attribution=tag("attr", p), title=tag("title", p))
    assert_literal(m.get_root().render(), ["team", "attr", "title", "addr"], kind)


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_district_map_shows_payloads_literally(kind: str, tmp_path: Path) -> None:
    p = PAYLOADS[kind]
    layers = squad_layers(tmp_path, kind)
    m = district_map(communities=layers["communities"], stations=layers["stations"],
                     hotspots=layers["hotspots"], routes=layers["routes"], stops=layers["stops"],
                     title=tag("title", p), basemap="none")
    fields = ["comm0", "comm8", "street", "squad", "code", "station", "hid", "hcat", "tname",
              "addr", "what", "title"]
    assert_literal(m.get_root().render(), fields, kind)


def siting_sites(kind: str) -> gpd.GeoDataFrame:
    """A two-site siting result whose candidate ids carry the payload."""
    x0, y0 = 500_000.0, 3_420_000.0  # EPSG:4547 (CGCS2000 / 3-degree GK CM 114E), metres
    rng = np.random.default_rng(0)
    xy = np.vstack([rng.normal(0, 60, (20, 2)) + np.array([x0 + 500, y0 + 500]),
                    rng.normal(0, 60, (10, 2)) + np.array([x0 + 2500, y0 + 500])])
    demand = gpd.GeoDataFrame({"demand_id": [f"d{i}" for i in range(30)], "weight": 1.0,
                               "case_count": 2}, geometry=points(xy[:, 0], xy[:, 1]),
                              crs="EPSG:4547")
    gx, gy = np.meshgrid(np.arange(x0, x0 + 3001, 250.0), np.arange(y0, y0 + 1001, 250.0))
    cand = gpd.GeoDataFrame({"candidate_id": [tag(f"cand{i}", PAYLOADS[kind])
                                              for i in range(gx.size)]},
                            geometry=points(gx.ravel(), gy.ravel()), crs="EPSG:4547")
    return site_relocation_points(demand, cand, sites=2, radius_m=500)


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_siting_map_shows_payloads_literally(kind: str) -> None:
    p = PAYLOADS[kind]
    sites = siting_sites(kind)
    chosen = [str(c).split("[")[0] for c in sites["candidate_id"]]
    m = folium.Map(location=[30.9, 113.9], tiles=None)
    siting_layer(sites, name=tag("scenario", p)).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    assert_literal(m.get_root().render(), ["scenario", *chosen], kind)


def test_tile_url_with_template_tags_is_refused() -> None:
    with pytest.raises(Exception, match="模板标记"):
        check_tile_url("http://tiles.local/{{7*7}}/{z}/{x}/{y}.png")
    assert check_tile_url("http://tiles.local/{z}/{x}/{y}.png").endswith("{y}.png")


# ---------------------------------------------------------------- over HTTP, both backends

@pytest.fixture
def site(db_url: str) -> Iterator[tuple[Site, TestClient]]:
    s = build_site(db_url)
    with TestClient(s.app) as client:
        yield s, client
    s.storage.engine.dispose()


def test_case_payload_is_not_run_on_squad_and_district_maps(
        site: tuple[Site, TestClient]) -> None:
    s, client = site
    pt = s.storage.communities(squads=("shuyuan",)).iloc[4].geometry.representative_point()
    overdue = (datetime.now(ZoneInfo(TZ)) - timedelta(days=10)).isoformat(timespec="seconds")
    body = {"case_id": "SSTI1", "category": "06001", "reported_at": overdue, "lon": pt.x,
            "lat": pt.y, "address": POPEN, "description": "D[{{7*7}}]"}
    r = client.post("/api/cases", json=body, headers=s.auth("officer_sy"))
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["address"] == POPEN  # stored as typed
    squad = client.get(f"/maps/shuyuan?date={s.today}", headers=s.auth("leader_sy"))
    district = client.get(f"/maps/district?date={s.today}", headers=s.auth("planner"))
    for page in (squad, district):
        assert page.status_code == 200, page.text
        text = shown(page.text)
        assert "SSTI1" in text  # the overdue case is a 复查 stop of today's route
        assert "uid=" not in text and "D[49]" not in text
        assert POPEN in text and "D[{{7*7}}]" in text
        assert "X[&#123;&#123; lipsum" in page.text and "{{" not in page.text


def test_scenario_name_is_not_run_on_siting_map(site: tuple[Site, TestClient]) -> None:
    s, client = site
    body = {"name": "T{{7*7}}T", "sites": 2, "radius_m": 400, "squads": ["shuyuan"]}
    job = run_job(client, body, s.auth("planner"))
    assert job["status"] == "done", job
    page = client.get(f"/maps/siting/{job['scenario_id']}", headers=s.auth("planner"))
    assert page.status_code == 200, page.text
    assert "T49T" not in page.text and "T49T" not in shown(page.text)
    assert "T&#123;&#123;7*7&#125;&#125;T" in page.text
    assert "疏导点选址：T{{7*7}}T" in shown(page.text)
