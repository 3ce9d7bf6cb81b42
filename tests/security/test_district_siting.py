"""District-scoped siting and district-bound users over HTTP (SQLite and PostGIS).

Two districts in one database: 孝南区 (A, 420902, the embedded default) and a simulated 孝昌县 (B,
420921, tests/district_support.py) with 24 simulated stall cases (占道经营) in its six communities.
A planner bound to B computes a scenario for B (its squads are the default), may not submit for
A's squads, and gets 404 — exactly the answer for a missing id — for A's scenarios and jobs and
for deployment-wide ones (squads None); deployment-wide users see everything. ``POST /api/users``
and ``PATCH /api/users/{name}`` bind an admin or planner to a district.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from api_support import BACKENDS, PASSWORD, SECRET, Api, build_api, database_url, point_in
from district_support import CODE, NAME, SQUADS, write_district
from siting_support import run_job

from geo.districts import build_district
from service.auth import COOKIE_NAME, create_token, create_user, load_principal
from service.districts import store_district
from service.importer import import_table
from service.models import SitingJob, utcnow
from service.scenarios import store_scenario
from service.schemas import ScenarioCreate
from service.siting_jobs import owner

B_SQUADS = ["xc-a", "xc-b"]
BODY = {"sites": 2, "radius_m": 400, "name": "乙区两个点"}
SUMMARY = {"sites": 1, "covered_share": 0.5, "model_name": "最大覆盖", "radius_m": 400.0,
           "optimal": True}
"""The summary of the scenarios stored directly (their points are not drawn on)."""


def _seed_b_stalls(api: Api) -> None:
    """24 stall cases in district B: four in each of its six communities, in the last 30 days."""
    now = pd.Timestamp.now(tz="Asia/Shanghai").normalize()
    rows = []
    for squad in B_SQUADS:
        for k in range(3):
            _code, x, y = point_in(api.storage, squad, k)
            for j in range(4):
                at = now - pd.Timedelta(days=3 + j, hours=-7)
                rows.append({"case_id": f"BS-{squad}-{k}-{j}", "category": "占道经营",
                             "reported_at": at.strftime("%Y-%m-%d %H:%M"),
                             "lon": repr(x + 0.0004 * (j - 1.5)), "lat": repr(y),
                             "description": "模拟乙区摊贩"})
    rep = import_table(api.storage, pd.DataFrame(rows), filename="b-stalls.csv", actor="seed")
    assert rep.inserted == len(rows) and not rep.problems, rep.as_dict()


def _stored(api: Api, name: str, squads: list[str] | None) -> int:
    """A scenario stored directly (its result is not drawn on: only its visibility is tested)."""
    with api.storage.begin() as session:
        sc = store_scenario(session, ScenarioCreate(name=name, squads=squads),
                            {"summary": SUMMARY}, "planner")
    return int(sc["id"])


def _job(api: Api, squads: list[str] | None) -> int:
    """A finished job of ``squads`` stored directly."""
    with api.storage.begin() as session:
        row = SitingJob(created_by="planner", status="done", progress=1.0, phase="完成",
                        params={"squads": squads, "sites": 1}, scenario_ids=[], error="",
                        owner=owner(), heartbeat_at=utcnow(), finished_at=utcnow())
        session.add(row)
        session.flush()
        return int(row.id)


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("district-siting")
    for url in database_url(request.param, folder):
        for a in build_api(url, basemap="none"):
            path, sq = write_district(folder, epsg=4547)
            squads = json.loads(sq.read_text(encoding="utf-8"))["squads"]
            store_district(a.storage, build_district(path, code=CODE, name=NAME, squads=squads))
            _seed_b_stalls(a)
            for name, role, district in (("planner_b", "planner", CODE), ("admin_b", "admin", CODE),
                                         ("planner_a", "planner", "420902")):
                a.principals[name] = create_user(a.storage, name, PASSWORD, role=role,
                                                 district=district)
            a.cases["ids"] = {"a": _stored(a, "甲区书院方案", ["shuyuan"]),
                              "whole": _stored(a, "全部区县方案", None),
                              "job_a": _job(a, ["shuyuan"]), "job_whole": _job(a, None)}
            yield a


def _cookie(api: Api, user: str) -> dict[str, str]:
    principal = load_principal(api.storage, user)
    assert principal is not None
    return {"Cookie": f"{COOKIE_NAME}={create_token(principal, key=SECRET, ttl_minutes=60)}",
            "Origin": "http://testserver"}


def _ids(api: Api, user: str) -> set[int]:
    r = api.get("/api/siting/scenarios", user)
    assert r.status_code == 200, r.text
    return {int(s["id"]) for s in r.json()}


@pytest.fixture(scope="module")
def b_scenario(api: Api) -> dict[str, Any]:
    """District B's planner computes a scenario with no ``squads``: the job and the scenario."""
    job = run_job(api.client, BODY, api.auth("planner_b"))
    assert job["status"] == "done", job
    assert job["params"]["squads"] == B_SQUADS  # the default: the district's squads
    sc = api.get(f"/api/siting/scenarios/{job['scenario_id']}", "planner_b")
    assert sc.status_code == 200, sc.text
    return {"job": job, "scenario": sc.json()}


def test_district_planner_computes_for_its_squads(api: Api, b_scenario: dict[str, Any]) -> None:
    sc = b_scenario["scenario"]
    assert sc["params"]["squads"] == B_SQUADS and sc["created_by"] == "planner_b"
    assert sc["summary"]["sites"] == 2 and 0 < sc["summary"]["covered_share"] <= 1
    comm = api.storage.communities(squads=tuple(B_SQUADS))
    area = comm.to_crs(4547).union_all().buffer(1.0)
    for f in sc["sites"]["features"]:  # every chosen point lies in district B
        lon, lat = f["geometry"]["coordinates"]
        p = gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs=4326).to_crs(4547).iloc[0]
        assert area.contains(p), (lon, lat)
    assert api.get(f"/maps/siting/{sc['id']}", "planner_b").status_code == 200
    job = api.get(f"/api/siting/jobs/{b_scenario['job']['id']}", "admin_b")
    assert job.status_code == 200 and job.json()["scenario_id"] == sc["id"]


def test_district_planner_cannot_submit_for_other_squads(api: Api) -> None:
    for squads in (["shuyuan"], ["xc-a", "shuyuan"], ["nosuch"]):
        r = api.post("/api/siting/scenarios", "planner_b", json={**BODY, "squads": squads})
        assert r.status_code == 403, r.text
        detail = r.json()["detail"]
        assert f"无权为中队「{squads[-1]}」选址" in detail and "xc-a、xc-b" in detail, detail
        assert "xinhua" not in detail  # A's squads are not named to B's planner
    r = api.client.post("/planner/siting", data={"sites": "2", "squads": "shuyuan"},
                        headers=_cookie(api, "planner_b"), follow_redirects=False)
    assert r.status_code == 303 and "err=1" in r.headers["location"]
    assert "无权为中队" in api.client.get(r.headers["location"],
                                         headers=_cookie(api, "planner_b")).text


def test_other_district_and_deployment_wide_scenarios_are_404(
        api: Api, b_scenario: dict[str, Any]) -> None:
    ids, mine = api.cases["ids"], b_scenario["scenario"]["id"]
    missing = api.get("/api/siting/scenarios/999999", "planner_b")
    assert missing.status_code == 404
    for user in ("planner_b", "admin_b"):
        assert _ids(api, user) == {mine}
        for sid in (ids["a"], ids["whole"]):
            r = api.get(f"/api/siting/scenarios/{sid}", user)
            assert r.status_code == 404
            assert r.json()["detail"] == missing.json()["detail"].replace("999999", str(sid))
            assert api.get(f"/maps/siting/{sid}", user).status_code == 404
            assert api.get("/maps/siting/compare", user,
                           params={"a": mine, "b": sid}).status_code == 404
            page = api.client.get(f"/siting/compare?a={mine}&b={sid}", headers=_cookie(api, user))
            assert page.status_code == 404
        for jid in (ids["job_a"], ids["job_whole"]):
            r = api.get(f"/api/siting/jobs/{jid}", user)
            assert r.status_code == 404 and "选址计算任务" in r.json()["detail"]
            assert api.client.get(f"/siting/jobs/{jid}", headers=_cookie(api, user)
                                  ).status_code == 404
    assert _ids(api, "planner_a") == {ids["a"]}
    assert api.get(f"/api/siting/scenarios/{mine}", "planner_a").status_code == 404
    assert api.get(f"/api/siting/jobs/{b_scenario['job']['id']}", "planner_a").status_code == 404
    for user in ("admin", "planner"):  # deployment-wide: everything, as before
        assert {ids["a"], ids["whole"], mine} <= _ids(api, user)
        assert api.get(f"/api/siting/scenarios/{ids['whole']}", user).status_code == 200
        assert api.get(f"/api/siting/jobs/{ids['job_whole']}", user).status_code == 200


def test_planner_page_lists_only_the_districts_squads_and_scenarios(
        api: Api, b_scenario: dict[str, Any]) -> None:
    page = api.client.get("/planner", headers=_cookie(api, "planner_b"))
    assert page.status_code == 200
    assert all(name in page.text for name in SQUADS.values())
    a_squads = ("书院中队", "新华中队", "广场中队", "车站中队", "南大中队", 'value="shuyuan"')
    assert not any(name in page.text for name in a_squads)
    assert "乙区两个点" in page.text and "甲区书院方案" not in page.text
    assert "全部区县方案" not in page.text and "不选为本区县全部中队" in page.text
    sid = api.cases["ids"]["a"]
    assert api.client.get(f"/planner?scenario={sid}",
                          headers=_cookie(api, "planner_b")).status_code == 404
    whole = api.client.get("/planner", headers=_cookie(api, "planner")).text
    assert all(n in whole for n in ("乙区两个点", "甲区书院方案", "全部区县方案", *a_squads))


def test_post_users_with_a_district(api: Api) -> None:
    new = {"username": "planner_b2", "password": PASSWORD, "role": "planner",
           "district_code": CODE}
    r = api.post("/api/users", "admin", json=new)
    assert r.status_code == 201, r.text
    assert r.json() == {"username": "planner_b2", "role": "planner", "squad_id": None,
                        "district_code": CODE}
    assert load_principal(api.storage, "planner_b2").squads == tuple(B_SQUADS)
    assert _ids(api, "planner_b2") == _ids(api, "planner_b")
    listed = {u["username"]: u["district_code"] for u in api.get("/api/users", "admin").json()}
    assert listed["planner_b2"] == CODE and listed["planner"] is None
    admin_page = api.client.get("/admin", headers=_cookie(api, "admin")).text
    # the users table names the district (people's words), not its code
    assert "<th>区县</th>" in admin_page and f"<td>{NAME}</td>" in admin_page
    assert f"<td>{CODE}</td>" not in admin_page
    bad = api.post("/api/users", "admin", json={**new, "username": "px", "district_code": "999999"})
    assert bad.status_code == 404 and "没有编码为「999999」的区县" in bad.json()["detail"]
    assert load_principal(api.storage, "px") is None
    wrong = api.post("/api/users", "admin", json={"username": "ox", "password": PASSWORD,
                                                  "role": "officer", "squad_id": "shuyuan",
                                                  "district_code": CODE})
    assert wrong.status_code == 400 and "属于区县 420902" in wrong.json()["detail"]
    assert api.post("/api/users", "admin_b", json={**new, "username": "py"}).status_code == 403


def test_patch_binds_and_unbinds_a_district(api: Api) -> None:
    create_user(api.storage, "mover2", PASSWORD, role="planner")
    old = api.auth("mover2")
    patch = api.client.patch
    bound = patch("/api/users/mover2", json={"district_code": CODE}, headers=api.auth("admin"))
    assert bound.status_code == 200 and bound.json()["district_code"] == CODE
    assert api.client.get("/api/siting/scenarios", headers=old).status_code == 401
    assert _ids(api, "mover2") == _ids(api, "planner_b")
    free = patch("/api/users/mover2", json={"district_code": None}, headers=api.auth("admin"))
    assert free.status_code == 200 and free.json()["district_code"] is None
    assert load_principal(api.storage, "mover2").squads is None
    self_bind = patch("/api/users/admin", json={"district_code": CODE}, headers=api.auth("admin"))
    assert self_bind.status_code == 409 and "自己" in self_bind.json()["detail"]
    unknown = patch("/api/users/mover2", json={"district_code": "999999"},
                    headers=api.auth("admin"))
    assert unknown.status_code == 404 and "999999" in unknown.json()["detail"]
    assert load_principal(api.storage, "mover2").district_code is None
