"""Hotspot, significance, trend and forecast layers, their OGC collections, and siting
scenarios over HTTP — each limited to the caller's squad."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import shapely
from fastapi.testclient import TestClient
from pages_support import Site, get_as, open_site
from shapely.geometry import shape
from siting_support import run_job


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, TestClient]]:
    yield from open_site(tmp_path_factory, "layers")


_get = get_as


def test_hotspots_of_own_squad_only(site: tuple[Site, TestClient]) -> None:
    s, _ = site
    r = _get(site, "/api/hotspots", "leader_sy")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    feats = r.json()["features"]
    assert len(feats) == 1
    p = feats[0]["properties"]
    assert p["case_count"] == 30 and p["squad"] == "shuyuan" and p["gi_confidence"] == 99
    assert p["dominant_category"] == "09006"
    stall = s.storage.query_cases()
    stall = stall[stall["case_id"].str.startswith("SYS")]
    assert shape(feats[0]["geometry"]).contains(shapely.MultiPoint(list(stall.geometry)))
    assert _get(site, "/api/hotspots", "leader_xh").json()["features"] == []
    assert _get(site, "/api/hotspots?squad=shuyuan", "leader_xh").status_code == 404
    assert len(_get(site, "/api/hotspots?squad=shuyuan", "planner").json()["features"]) == 1
    assert _get(site, "/api/hotspots?category=noise", "planner").json()["features"] == []


def test_significance_cells(site: tuple[Site, TestClient]) -> None:
    feats = _get(site, "/api/hotspots/significance", "leader_sy").json()["features"]
    hot = [f for f in feats if f["properties"]["gi_class"] == "hot_99"]
    assert hot and max(f["properties"]["count"] for f in hot) >= 10
    assert sum(f["properties"]["count"] for f in feats) == 30 + 60 + 3  # every 书院 case of 90 days
    xh = _get(site, "/api/hotspots/significance", "leader_xh").json()["features"]
    assert sum(f["properties"]["count"] for f in xh) == 6


def test_trend_cells(site: tuple[Site, TestClient]) -> None:
    r = _get(site, "/api/hotspots/trends?period_days=5", "leader_sy")
    assert r.status_code == 200, r.text
    feats = r.json()["features"]
    assert feats and all(f["properties"]["pattern_zh"] for f in feats)
    assert sum(f["properties"]["count_total"] for f in feats) == 93


def test_forecast_top_cells_inside_own_area(site: tuple[Site, TestClient]) -> None:
    s, _ = site
    r = _get(site, "/api/forecast?top=10&cell_m=200", "leader_sy")
    assert r.status_code == 200, r.text
    feats = r.json()["features"]
    assert [f["properties"]["rank"] for f in feats] == list(range(1, 11))
    scores = [f["properties"]["score"] for f in feats]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    area = s.storage.communities(squads=("shuyuan",)).union_all().buffer(0.01)
    assert all(area.intersects(shape(f["geometry"])) for f in feats)
    assert _get(site, "/api/forecast?squad=xinhua", "leader_sy").status_code == 404


def test_ogc_collections_for_hotspots_and_forecast(site: tuple[Site, TestClient]) -> None:
    ids = {c["id"] for c in _get(site, "/collections", "leader_sy").json()["collections"]}
    assert {"hotspots", "forecast"} <= ids
    own = _get(site, "/collections/hotspots/items", "leader_sy").json()
    assert own["numberMatched"] == 1
    assert _get(site, "/collections/hotspots/items", "leader_xh").json()["numberMatched"] == 0
    fc = _get(site, "/collections/forecast/items?limit=5", "planner").json()
    assert fc["numberReturned"] == 5 and fc["numberMatched"] == 200


def test_siting_scenario(site: tuple[Site, TestClient]) -> None:
    s, client = site
    body = {"name": "书院 2 个点", "sites": 2, "radius_m": 400, "squads": ["shuyuan"]}
    assert client.post("/api/siting/scenarios", json=body,
                       headers=s.auth("leader_sy")).status_code == 403
    job = run_job(client, body, s.auth("planner"))  # 202 + Location, polled until done
    assert job["status"] == "done", job
    sc = _get(site, f"/api/siting/scenarios/{job['scenario_id']}", "planner").json()
    assert len(sc["sites"]["features"]) == 2 and sc["summary"]["sites"] == 2
    assert 0 < sc["summary"]["covered_share"] <= 1
    assert [x["id"] for x in _get(site, "/api/siting/scenarios", "admin").json()] == [sc["id"]]
    page = _get(site, f"/maps/siting/{sc['id']}", "planner")
    assert page.status_code == 200 and "/static/vendor/leaflet/leaflet.js" in page.text
    assert _get(site, "/api/siting/scenarios/999", "planner").status_code == 404


def test_hotspot_peak_hours_are_text_gis_tools_keep(site: tuple[Site, TestClient]) -> None:
    p = _get(site, "/api/hotspots", "leader_sy").json()["features"][0]["properties"]
    start, end = p["peak_start_hour"], p["peak_end_hour"]
    assert isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= 24
    assert p["peak_hours"].startswith(f"{start:02d}–{end:02d}时")
    assert ":" not in p["peak_hours"]  # "07:00–08:00" is typed as a time by GDAL and cut
    own = _get(site, "/ogc/collections/hotspots/items", "leader_sy").json()["features"][0]
    assert own["properties"]["peak_hours"] == p["peak_hours"]
    assert round(p["center_lon"], 7) == p["center_lon"]


def test_layer_polygons_are_counter_clockwise_with_7_decimals(
        site: tuple[Site, TestClient]) -> None:
    for path in ("/api/hotspots", "/api/forecast?top=20", "/ogc/collections/forecast/items"):
        feats = _get(site, path, "leader_sy").json()["features"]
        assert feats, path
        for f in feats:
            ring = f["geometry"]["coordinates"][0]
            assert shapely.LinearRing(ring).is_ccw, path
            assert all(round(v, 7) == v for xy in ring for v in xy), path


def test_ogc_analysis_layers_have_real_extents(site: tuple[Site, TestClient]) -> None:
    meta = _get(site, "/ogc/collections/forecast", "leader_sy").json()
    start, end = meta["extent"]["temporal"]["interval"][0]
    assert start < end and start.endswith("Z")
    cells = _get(site, "/ogc/collections/forecast/items?limit=1000", "leader_sy").json()
    bounds = shapely.GeometryCollection([shape(f["geometry"]) for f in cells["features"]]).bounds
    assert meta["extent"]["spatial"]["bbox"][0] == pytest.approx(list(bounds), abs=1e-7)
    first = cells["features"][0]["properties"]
    assert datetime.fromisoformat(first["valid_from"]) == datetime.fromisoformat(start)
    assert datetime.fromisoformat(first["valid_to"]) == datetime.fromisoformat(end)
    hot = _get(site, "/ogc/collections/hotspots", "leader_xh").json()
    assert "extent" not in hot  # nothing to see: no made-up district box
