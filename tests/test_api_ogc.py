"""OGC API – Features over the map layers (SQLite and PostGIS), as QGIS would call it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from api_support import BACKENDS, Api, build_api, database_url
from shapely.geometry import Point

from service.routers import ogc


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("api_ogc")
    for url in database_url(request.param, folder):
        yield from build_api(url)


def test_landing_and_conformance_are_public(api: Api) -> None:
    landing = api.get("/ogc").json()
    rels = {link["rel"]: link["href"] for link in landing["links"]}
    assert rels["data"] == "http://testserver/collections"
    assert rels["conformance"] == "http://testserver/conformance"
    conf = api.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    assert api.get("/collections").status_code == 401


def test_collections_list_and_extent(api: Api) -> None:
    body = api.get("/collections", "admin").json()
    ids = [c["id"] for c in body["collections"]]
    assert ids[:3] == ["communities", "stations", "cases"]
    cases = next(c for c in body["collections"] if c["id"] == "cases")
    x0, y0, x1, y1 = cases["extent"]["spatial"]["bbox"][0]
    assert 113.8 < x0 < x1 < 114.2 and 30.8 < y0 < y1 < 31.2  # 孝南区
    assert any(link["rel"] == "items" for link in cases["links"])
    assert api.get("/collections/nope", "admin").status_code == 404


def test_communities_items_bbox_and_squad(api: Api) -> None:
    all_ = api.get("/collections/communities/items", "admin", params={"limit": 1000})
    assert all_.headers["content-type"].startswith("application/geo+json")
    assert all_.json()["numberMatched"] == 53
    mine = api.get("/collections/communities/items", "leader_sy", params={"limit": 1000}).json()
    assert mine["numberMatched"] > 0 and {f["properties"]["squad"] for f in mine["features"]} \
        == {"shuyuan"}
    x, y = api.cases["SY1"]["lon"], api.cases["SY1"]["lat"]
    near = api.get("/collections/communities/items", "admin",
                   params={"bbox": f"{x - 1e-4},{y - 1e-4},{x + 1e-4},{y + 1e-4}"}).json()
    assert api.cases["SY1"]["community_code"] in {f["id"] for f in near["features"]}
    assert near["numberMatched"] < 10


def test_cases_items_datetime_limit_and_next_link(api: Api) -> None:
    page = api.get("/collections/cases/items", "admin",
                   params={"datetime": "2026-05-01T00:00:00+08:00/2026-05-31T23:59:59+08:00",
                           "limit": 2}).json()
    assert page["numberMatched"] == 5 and page["numberReturned"] == 2
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    page2 = api.client.get(nxt, headers=api.auth("admin")).json()
    assert page2["numberReturned"] == 2
    assert not {f["id"] for f in page["features"]} & {f["id"] for f in page2["features"]}
    open_end = api.get("/collections/cases/items", "admin", params={"datetime": "2026-05-16/.."})
    assert {f["id"] for f in open_end.json()["features"]} >= {"XH3", "SY4"}
    day = api.get("/collections/cases/items", "admin", params={"datetime": "2026-05-10"}).json()
    assert [f["id"] for f in day["features"]] == ["SY2"]
    assert api.get("/collections/cases/items", "admin",
                   params={"datetime": "yesterday"}).status_code == 400


def test_items_respect_squad_and_single_item(api: Api) -> None:
    feats = api.get("/collections/cases/items", "leader_xh").json()["features"]
    assert {f["id"] for f in feats} == {"XH1", "XH2", "XH3"}
    assert api.get("/collections/cases/items/SY1", "leader_xh").status_code == 404
    assert api.get("/collections/cases/items/XH1", "leader_xh").json()["id"] == "XH1"
    station = api.get("/collections/stations/items", "leader_xh").json()["features"][0]
    assert api.get(f"/collections/stations/items/{station['id']}", "leader_sy").status_code == 404
    assert api.get(f"/collections/stations/items/{station['id']}", "admin").status_code == 200


def test_adding_a_collection_is_one_call(api: Api) -> None:
    pts = gpd.GeoDataFrame({"point_id": ["p1", "p2"], "name": ["疏导点一", "疏导点二"],
                            "squad": ["shuyuan", "xinhua"]},
                           geometry=[Point(113.92, 30.92), Point(113.93, 30.93)], crs=4326)
    ogc.register(ogc.frame_collection(
        "relocation_points", "疏导点",
        lambda _st, squads: pts if squads is None else pts[pts["squad"].isin(squads)],
        id_column="point_id"))
    try:
        ids = [c["id"] for c in api.get("/collections", "admin").json()["collections"]]
        assert "relocation_points" in ids
        items = api.get("/collections/relocation_points/items", "leader_sy").json()
        assert [f["id"] for f in items["features"]] == ["p1"]
        assert items["features"][0]["properties"]["name"] == "疏导点一"
    finally:
        ogc.COLLECTIONS.pop("relocation_points")
