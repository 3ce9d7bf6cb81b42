"""Hotspot, significance, trend and forecast layers, their OGC collections, and siting
scenarios over HTTP — each limited to the caller's squad."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import shapely
from fastapi.testclient import TestClient
from pages_support import Site, get_as, open_site
from shapely.geometry import shape


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
    r = client.post("/api/siting/scenarios", json=body, headers=s.auth("planner"))
    assert r.status_code == 201, r.text
    sc = r.json()
    assert len(sc["sites"]["features"]) == 2 and sc["summary"]["sites"] == 2
    assert 0 < sc["summary"]["covered_share"] <= 1
    assert [x["id"] for x in _get(site, "/api/siting/scenarios", "admin").json()] == [sc["id"]]
    page = _get(site, f"/maps/siting/{sc['id']}", "planner")
    assert page.status_code == 200 and "/static/vendor/leaflet/leaflet.js" in page.text
    assert _get(site, "/api/siting/scenarios/999", "planner").status_code == 404
