"""OGC API – Features over the map layers (SQLite and PostGIS), as QGIS would call it."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import geopandas as gpd
import pytest
from api_support import BACKENDS, Api, build_api, database_url
from shapely.geometry import Point

from service import ogc


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("api_ogc")
    for url in database_url(request.param, folder):
        yield from build_api(url)


def test_landing_and_conformance_are_public(api: Api) -> None:
    landing = api.get("/ogc").json()
    rels = {link["rel"]: link["href"] for link in landing["links"]}
    assert rels["data"] == "http://testserver/ogc/collections"
    assert rels["conformance"] == "http://testserver/ogc/conformance"
    conf = api.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    assert api.get("/ogc/collections").status_code == 401


def test_collections_list_and_extent(api: Api) -> None:
    body = api.get("/ogc/collections", "admin").json()
    ids = [c["id"] for c in body["collections"]]
    assert ids[:3] == ["communities", "stations", "cases"]
    cases = next(c for c in body["collections"] if c["id"] == "cases")
    x0, y0, x1, y1 = cases["extent"]["spatial"]["bbox"][0]
    assert 113.8 < x0 < x1 < 114.2 and 30.8 < y0 < y1 < 31.2  # 孝南区
    assert any(link["rel"] == "items" for link in cases["links"])
    assert api.get("/ogc/collections/nope", "admin").status_code == 404


def test_communities_items_bbox_and_squad(api: Api) -> None:
    all_ = api.get("/ogc/collections/communities/items", "admin", params={"limit": 1000})
    assert all_.headers["content-type"].startswith("application/geo+json")
    assert all_.json()["numberMatched"] == 53
    mine = api.get("/ogc/collections/communities/items", "leader_sy", params={"limit": 1000}).json()
    assert mine["numberMatched"] > 0 and {f["properties"]["squad"] for f in mine["features"]} \
        == {"shuyuan"}
    x, y = api.cases["SY1"]["lon"], api.cases["SY1"]["lat"]
    near = api.get("/ogc/collections/communities/items", "admin",
                   params={"bbox": f"{x - 1e-4},{y - 1e-4},{x + 1e-4},{y + 1e-4}"}).json()
    assert api.cases["SY1"]["community_code"] in {f["id"] for f in near["features"]}
    assert near["numberMatched"] < 10


def test_cases_items_datetime_limit_and_next_link(api: Api) -> None:
    page = api.get("/ogc/collections/cases/items", "admin",
                   params={"datetime": "2026-05-01T00:00:00+08:00/2026-05-31T23:59:59+08:00",
                           "limit": 2}).json()
    assert page["numberMatched"] == 5 and page["numberReturned"] == 2
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    page2 = api.client.get(nxt, headers=api.auth("admin")).json()
    assert page2["numberReturned"] == 2
    assert not {f["id"] for f in page["features"]} & {f["id"] for f in page2["features"]}
    open_end = api.get("/ogc/collections/cases/items", "admin", params={"datetime": "2026-05-16/.."})
    assert {f["id"] for f in open_end.json()["features"]} >= {"XH3", "SY4"}
    day = api.get("/ogc/collections/cases/items", "admin", params={"datetime": "2026-05-10"}).json()
    assert [f["id"] for f in day["features"]] == ["SY2"]
    assert api.get("/ogc/collections/cases/items", "admin",
                   params={"datetime": "yesterday"}).status_code == 400


def test_items_respect_squad_and_single_item(api: Api) -> None:
    feats = api.get("/ogc/collections/cases/items", "leader_xh").json()["features"]
    assert {f["id"] for f in feats} == {"XH1", "XH2", "XH3"}
    assert api.get("/ogc/collections/cases/items/SY1", "leader_xh").status_code == 404
    assert api.get("/ogc/collections/cases/items/XH1", "leader_xh").json()["id"] == "XH1"
    station = api.get("/ogc/collections/stations/items", "leader_xh").json()["features"][0]
    assert api.get(f"/ogc/collections/stations/items/{station['id']}", "leader_sy").status_code == 404
    assert api.get(f"/ogc/collections/stations/items/{station['id']}", "admin").status_code == 200


def test_adding_a_collection_is_one_call(api: Api) -> None:
    pts = gpd.GeoDataFrame({"point_id": ["p1", "p2"], "name": ["疏导点一", "疏导点二"],
                            "squad": ["shuyuan", "xinhua"]},
                           geometry=[Point(113.92, 30.92), Point(113.93, 30.93)], crs=4326)
    ogc.register(ogc.frame_collection(
        "relocation_points", "疏导点",
        lambda src: pts if src.squads is None else pts[pts["squad"].isin(src.squads)],
        id_column="point_id"))
    try:
        ids = [c["id"] for c in api.get("/ogc/collections", "admin").json()["collections"]]
        assert "relocation_points" in ids
        items = api.get("/ogc/collections/relocation_points/items", "leader_sy").json()
        assert [f["id"] for f in items["features"]] == ["p1"]
        assert items["features"][0]["properties"]["name"] == "疏导点一"
    finally:
        ogc.COLLECTIONS.pop("relocation_points")


# ---------------------------------------------------------------- conformance details

def _coords(geom: dict) -> list[list[float]]:
    """Every position of a GeoJSON geometry."""
    def walk(c: object) -> list[list[float]]:
        if isinstance(c, list) and c and isinstance(c[0], int | float):
            return [c]  # type: ignore[list-item]
        return [p for part in c for p in walk(part)] if isinstance(c, list) else []
    return walk(geom["coordinates"])


def _signed_area(ring: list[list[float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(ring)) / 2


def test_unknown_and_invalid_parameters_are_400(api: Api) -> None:
    items = "/ogc/collections/cases/items"
    for params in ({"foo": "1"}, {"limit": "0"}, {"limit": "abc"}, {"offset": "-1"},
                   {"status": "不存在"}, {"overdue": "maybe"}, {"f": "html"},
                   {"bbox": "1,2,3"}, {"bbox-crs": "EPSG:4326"}):
        r = api.get(items, "admin", params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["detail"]
    assert api.get("/ogc/collections", "admin", params={"x": "1"}).status_code == 400
    assert api.get("/ogc", params={"foo": "1"}).status_code == 400
    assert api.get("/ogc/collections/cases/items/XH1", "admin",
                   params={"foo": "1"}).status_code == 400


def test_limit_above_the_maximum_is_clamped(api: Api) -> None:
    r = api.get("/ogc/collections/cases/items", "admin", params={"limit": 10**9})
    assert r.status_code == 200
    body = r.json()
    assert body["numberReturned"] == body["numberMatched"] == 7
    self_link = next(link for link in body["links"] if link["rel"] == "self")
    assert self_link["type"] == "application/geo+json"
    assert not [link for link in body["links"] if link["rel"] == "next"]
    page = api.get("/ogc/collections/cases/items", "admin", params={"limit": 3, "offset": 3})
    rels = {link["rel"]: link["href"] for link in page.json()["links"]}
    # the next page by keyset (cursor of the last feature), the previous one by offset
    assert "cursor=" in rels["next"] and "offset" not in rels["next"] and "offset=0" in rels["prev"]
    assert rels["collection"] == "http://testserver/ogc/collections/cases"
    following = api.get(rels["next"].removeprefix("http://testserver"), "admin").json()
    by_offset = api.get("/ogc/collections/cases/items", "admin",
                        params={"limit": 3, "offset": 6}).json()
    assert [f["id"] for f in following["features"]] == [f["id"] for f in by_offset["features"]]
    assert not [link for link in following["links"] if link["rel"] in ("prev",)]


def test_property_filters_match_the_api(api: Api) -> None:
    items = "/ogc/collections/cases/items"
    stall = api.get(items, "admin", params={"category": "09006"}).json()
    want = api.get("/api/cases", "admin", params={"category": "09006"}).json()
    assert {f["id"] for f in stall["features"]} == {f["id"] for f in want["features"]}
    assert stall["numberMatched"] >= 2  # SY4 (09006) and the 占道经营 cases
    opened = api.get(items, "leader_xh", params={"status": "上报"}).json()
    assert {f["id"] for f in opened["features"]} == {"XH1", "XH2", "XH3"}
    assert api.get(items, "leader_xh", params={"squad": "shuyuan"}).json()["numberMatched"] == 0
    code = api.cases["SY1"]["community_code"]
    by_comm = api.get(items, "admin", params={"community_code": code}).json()
    assert "SY1" in {f["id"] for f in by_comm["features"]}
    assert {f["properties"]["community_code"] for f in by_comm["features"]} == {code}
    sy = api.get("/ogc/collections/communities/items", "admin",
                 params={"squad": "shuyuan", "limit": 100}).json()
    assert sy["numberMatched"] > 0 and {f["properties"]["squad"] for f in sy["features"]} \
        == {"shuyuan"}


def test_queryables_schema_and_api_definition(api: Api) -> None:
    r = api.get("/ogc/collections/cases/queryables", "admin")
    assert r.headers["content-type"].startswith("application/schema+json")
    q = r.json()
    assert q["type"] == "object" and q["$schema"].startswith("https://json-schema.org/")
    assert {"status", "category", "community_code", "squad", "overdue"} <= set(q["properties"])
    assert "派遣" in q["properties"]["status"]["enum"]
    schema = api.get("/ogc/collections/cases/schema", "admin").json()
    props = schema["properties"]["properties"]["properties"]
    assert props["reported_at"] == {"type": "string", "title": "上报时间", "format": "date-time"}
    doc = api.get("/ogc/api")
    assert doc.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    params = doc.json()["paths"]["/collections/cases/items"]["get"]["parameters"]
    assert "status" in {p.get("name") for p in params}  # how GDAL finds the queryables
    assert doc.json()["servers"][0]["url"] == "http://testserver/ogc"


def test_single_feature_has_links(api: Api) -> None:
    f = api.get("/ogc/collections/cases/items/XH2", "leader_xh").json()
    rels = {link["rel"]: link["href"] for link in f["links"]}
    assert rels["self"] == "http://testserver/ogc/collections/cases/items/XH2"
    assert rels["collection"] == "http://testserver/ogc/collections/cases"
    assert set(f["properties"]) >= {"case_id", "status", "overdue", "squad"}
    assert "history" not in f["properties"]  # the same properties as in the item list
    code = api.cases["XH1"]["community_code"]
    comm = api.get(f"/ogc/collections/communities/items/{code}", "leader_xh").json()
    assert comm["id"] == code and {link["rel"] for link in comm["links"]} == {"self", "collection"}


def test_extents_are_computed_from_what_the_caller_may_see(api: Api) -> None:
    def extent(user: str, cid: str) -> dict:
        return api.get(f"/ogc/collections/{cid}", user).json()["extent"]

    xh = [api.cases[c] for c in ("XH1", "XH2", "XH3")]
    bbox = extent("leader_xh", "cases")["spatial"]["bbox"][0]
    assert bbox == pytest.approx([min(c["lon"] for c in xh), min(c["lat"] for c in xh),
                                  max(c["lon"] for c in xh), max(c["lat"] for c in xh)],
                                 abs=1e-7)
    assert extent("leader_xh", "cases")["temporal"]["interval"] == [
        ["2026-05-02T23:30:00Z", "2026-05-20T07:00:00Z"]]  # XH1 07:30 and XH3 15:00 (+08:00)
    assert extent("admin", "cases")["temporal"]["interval"][0][0] == "2026-04-20T14:00:00Z"
    sy = extent("leader_sy", "communities")["spatial"]["bbox"][0]
    comm = api.storage.communities(squads=("shuyuan",)).total_bounds
    assert sy == pytest.approx(list(comm), abs=1e-6)
    assert sy != extent("admin", "communities")["spatial"]["bbox"][0]
    assert "temporal" not in extent("admin", "communities")


def test_geometries_follow_rfc7946(api: Api) -> None:
    feats = api.get("/ogc/collections/communities/items", "admin",
                    params={"limit": 100}).json()["features"]
    for f in feats:
        polys = [f["geometry"]["coordinates"]] if f["geometry"]["type"] == "Polygon" \
            else f["geometry"]["coordinates"]
        for rings in polys:
            assert _signed_area(rings[0]) > 0, f["id"]  # exterior counter-clockwise
            assert all(_signed_area(hole) < 0 for hole in rings[1:])
        assert all(round(v, 7) == v for p in _coords(f["geometry"]) for v in p)
    api_comm = api.get("/api/communities", "admin").json()["features"]
    assert all(_signed_area((f["geometry"]["coordinates"] if f["geometry"]["type"] == "Polygon"
                             else f["geometry"]["coordinates"][0])[0]) > 0 for f in api_comm)
    cases = api.get("/ogc/collections/cases/items", "admin").json()["features"]
    assert cases and all(round(v, 7) == v for f in cases for v in f["geometry"]["coordinates"])
    one = api.get("/ogc/collections/cases/items/SY1", "admin").json()
    assert one["geometry"]["coordinates"] == [round(api.cases["SY1"]["lon"], 7),
                                              round(api.cases["SY1"]["lat"], 7)]


def test_legacy_paths_redirect_into_ogc(api: Api) -> None:
    r = api.client.get("/collections/cases/items?limit=2", follow_redirects=False)
    assert r.status_code == 308
    assert r.headers["location"] == "http://testserver/ogc/collections/cases/items?limit=2"
