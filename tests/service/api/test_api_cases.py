"""Cases through the HTTP API on SQLite and PostGIS: listing, filters, roles, create, transitions."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import BACKENDS, XSS, Api, build_api, database_url, point_in


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("api_cases")
    for url in database_url(request.param, folder):
        yield from build_api(url)


def _ids(resp) -> set[str]:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["type"] == "FeatureCollection"
    return {f["properties"]["case_id"] for f in body["features"]}


def test_health_is_public_and_everything_else_needs_login(api: Api) -> None:
    assert api.get("/health").json() == {"status": "ok", "database": "ok"}
    for path in ("/api/cases", "/api/squads", "/api/cases/SY1", "/api/worklogs", "/collections"):
        resp = api.get(path)
        assert resp.status_code == 401, path
        assert resp.headers["www-authenticate"] == "Bearer"
        assert "登录" in resp.json()["detail"]
    bad = api.client.get("/api/cases", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    assert api.get("/openapi.json").status_code == 200


def test_squads_list_contract(api: Api) -> None:
    squads = api.get("/api/squads", "admin").json()
    assert {s["id"] for s in squads} == {"shuyuan", "xinhua", "guangchang", "chezhan", "nanda"}
    assert all(s["name"].endswith("中队") for s in squads)
    mine = api.get("/api/squads", "leader_sy").json()
    assert [s["id"] for s in mine] == ["shuyuan"] and mine[0]["communities"]
    assert api.get("/api/squads/xinhua", "leader_sy").status_code == 404


def test_cases_feature_collection_contract(api: Api) -> None:
    resp = api.get("/api/cases", "admin")
    assert resp.headers["content-type"].startswith("application/geo+json")
    body = resp.json()
    assert body["numberMatched"] == 7 and body["numberReturned"] == 7
    feats = {f["properties"]["case_id"]: f for f in body["features"]}
    assert set(feats) == set(api.cases)
    xh1 = feats["XH1"]
    assert xh1["geometry"]["type"] == "Point"
    assert xh1["geometry"]["coordinates"] == pytest.approx(
        [api.cases["XH1"]["lon"], api.cases["XH1"]["lat"]], abs=5e-8)  # RFC 7946: 7 decimals (~1 cm)
    props = xh1["properties"]
    for key in ("case_id", "category", "squad", "community", "status", "reported_at"):
        assert key in props
    assert (props["category"], props["squad"], props["status"]) == ("09006", "xinhua", "上报")
    assert props["community_code"] == api.cases["XH1"]["community_code"]
    assert props["reported_at"] == "2026-05-03T07:30:00+08:00"
    assert props["deadline_at"] == "2026-05-04T07:30:00+08:00"  # 09006: 24 h
    assert props["overdue"] is True  # open and long past its deadline


def test_filters_time_category_community_bbox_status(api: Api) -> None:
    assert _ids(api.get("/api/cases", "admin", params={"month": "2026-05"})) == \
        {"SY1", "SY2", "XH1", "XH2", "XH3"}
    assert _ids(api.get("/api/cases", "admin", params={
        "start": "2026-05-10T00:00:00", "end": "2026-05-16T00:00:00"})) == {"SY2", "XH2"}
    by_name = _ids(api.get("/api/cases", "admin", params={"category": "占道经营"}))
    assert by_name == {"SY1", "SY4", "XH1"}
    assert _ids(api.get("/api/cases", "admin", params=[("category", "06045"),
                                                       ("category", "06001")])) == {"XH2", "XH3"}
    code = api.cases["XH2"]["community_code"]
    assert "XH2" in _ids(api.get("/api/cases", "admin", params={"community": code}))
    x, y = api.cases["XH3"]["lon"], api.cases["XH3"]["lat"]
    bbox = f"{x - 1e-5},{y - 1e-5},{x + 1e-5},{y + 1e-5}"
    assert _ids(api.get("/api/cases", "admin", params={"bbox": bbox})) == {"XH3"}
    assert _ids(api.get("/api/cases", "admin", params={"status": "作废", "month": "2026-01"})) == set()
    for bad in ("1,2,3", "a,b,c,d", "10,50,0,40", "0,0,1,95"):
        resp = api.get("/api/cases", "admin", params={"bbox": bad})
        assert resp.status_code == 400 and "bbox" in resp.json()["detail"]
    assert api.get("/api/cases", "admin", params={"month": "2026-13"}).status_code == 400
    assert api.get("/api/cases", "admin", params={"start": "0001-01-01T00:00:00"}).status_code == 400


def test_paging(api: Api) -> None:
    pages = [api.get("/api/cases", "admin", params={"limit": 3, "offset": o,
                                                     "squad": "shuyuan"}).json()
             for o in (0, 3)]
    assert [p["numberReturned"] for p in pages] == [3, 1]
    assert all(p["numberMatched"] == 4 for p in pages)
    first = [f["id"] for f in pages[0]["features"]]
    assert first == ["SY4", "SY2", "SY1"]  # newest first
    assert api.get("/api/cases", "admin", params={"offset": 50}).json()["numberMatched"] == 7


def test_squad_leader_sees_only_own_squad(api: Api) -> None:
    assert _ids(api.get("/api/cases", "leader_sy")) == {"SY1", "SY2", "SY3", "SY4"}
    assert _ids(api.get("/api/cases", "leader_xh")) == {"XH1", "XH2", "XH3"}
    assert _ids(api.get("/api/cases", "planner")) == set(api.cases)
    assert api.get("/api/cases/XH1", "leader_sy").status_code == 404
    assert api.get("/api/cases/SY1", "leader_xh").status_code == 404
    assert api.get("/api/cases/SY1", "leader_sy").status_code == 200
    assert api.get("/api/cases", "leader_sy", params={"squad": "xinhua"}).status_code == 403
    moved = api.post("/api/cases/XH1/transitions", "leader_sy", json={"to_status": "立案"})
    assert moved.status_code == 404
    assert api.get("/api/cases/XH1", "admin").json()["properties"]["status"] == "上报"
    export = api.get("/api/cases.csv", "leader_sy")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][0] == "案件编号" and {r[0] for r in rows[1:]} == {"SY1", "SY2", "SY3", "SY4"}


def test_script_description_is_returned_verbatim_as_json(api: Api) -> None:
    resp = api.get("/api/cases/SY2", "admin")
    assert resp.headers["content-type"].startswith("application/geo+json")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.json()["properties"]["description"] == XSS
    listed = {f["id"]: f for f in api.get("/api/cases", "admin").json()["features"]}
    assert listed["SY2"]["properties"]["description"] == XSS
    assert "text/html" not in api.get("/api/cases.csv", "admin").headers["content-type"]


def test_report_case_roles_and_validation(api: Api) -> None:
    _code, x, y = point_in(api.storage, "shuyuan", 3)
    body = {"case_id": "NEW1", "category": "乱堆杂物", "lon": x, "lat": y,
            "reported_at": "2026-05-20T10:00:00", "description": "门口堆放杂物"}
    resp = api.post("/api/cases", "officer_sy", json=body)
    assert resp.status_code == 201, resp.text
    props = resp.json()["properties"]
    assert (props["status"], props["category"], props["squad"]) == ("上报", "06036", "shuyuan")
    assert props["history"][0]["actor"] == "officer_sy"
    assert api.post("/api/cases", "officer_sy", json=body).status_code == 409
    assert api.post("/api/cases", "leader_xh", json={**body, "case_id": "NEW2"}).status_code == 403
    assert api.post("/api/cases", "planner", json={**body, "case_id": "NEW3"}).status_code == 403
    bad = api.post("/api/cases", "admin", json={**body, "case_id": "NEW4", "category": "不存在的类别"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["column"]
    far = api.post("/api/cases", "admin", json={**body, "case_id": "NEW5", "lon": 100.0, "lat": 20.0})
    assert far.status_code == 422
    auto = api.post("/api/cases", "admin", json={k: v for k, v in body.items() if k != "case_id"})
    assert auto.status_code == 201 and auto.json()["id"].startswith("XC")


def test_transitions_full_path_with_who_and_when(api: Api) -> None:
    _code, x, y = point_in(api.storage, "shuyuan", 4)
    api.post("/api/cases", "officer_sy", json={"case_id": "FLOW1", "category": "09006",
                                               "lon": x, "lat": y})
    illegal = api.post("/api/cases/FLOW1/transitions", "leader_sy", json={"to_status": "结案"})
    assert illegal.status_code == 409 and "立案" in illegal.json()["detail"]
    assert api.post("/api/cases/FLOW1/transitions", "officer_sy",
                    json={"to_status": "立案"}).status_code == 403
    assert api.post("/api/cases/FLOW1/transitions", "planner",
                    json={"to_status": "立案"}).status_code == 403
    steps = [("leader_sy", "立案"), ("leader_sy", "派遣"), ("officer_sy", "处置"),
             ("officer_sy", "核查"), ("leader_sy", "结案")]
    for user, target in steps:
        resp = api.post("/api/cases/FLOW1/transitions", user, json={"to_status": target,
                                                                     "note": f"{user} {target}"})
        assert resp.status_code == 200, resp.text
    props = resp.json()["properties"]
    assert props["status"] == "结案" and props["closed_at"] is not None
    assert props["allowed_next"] == []
    hist = props["history"]
    assert [h["to_status"] for h in hist] == ["上报", "立案", "派遣", "处置", "核查", "结案"]
    assert [h["actor"] for h in hist[1:]] == [u for u, _ in steps]
    assert hist[3]["note"] == "officer_sy 处置" and hist[3]["from_status"] == "派遣"
    assert api.post("/api/cases/FLOW1/transitions", "admin",
                    json={"to_status": "作废"}).status_code == 409
    assert api.post("/api/cases/FLOW1/transitions", "admin",
                    json={"to_status": "完成"}).status_code == 422


def test_void_from_open_state(api: Api) -> None:
    resp = api.post("/api/cases/XH3/transitions", "leader_xh", json={"to_status": "作废",
                                                                     "note": "重复上报"})
    assert resp.status_code == 200
    props = resp.json()["properties"]
    assert props["status"] == "作废" and props["overdue"] is False
    assert props["history"][-1] == {**props["history"][-1], "from_status": "上报",
                                    "to_status": "作废", "actor": "leader_xh", "note": "重复上报"}


def test_csv_export_guards_formula_cells(api: Api) -> None:
    _code, x, y = point_in(api.storage, "shuyuan", 5)
    api.post("/api/cases", "admin", json={"case_id": "CSV1", "category": "09006", "lon": x,
                                          "lat": y, "description": "=HYPERLINK(\"x\")"})
    text = api.get("/api/cases.csv", "admin").content.decode("utf-8-sig")
    row = next(r for r in csv.reader(io.StringIO(text)) if r[0] == "CSV1")
    assert row[11] == "'=HYPERLINK(\"x\")"
