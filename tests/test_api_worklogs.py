"""Work logs through the HTTP API: squad binding, outcomes, roles (SQLite and PostGIS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import BACKENDS, XSS, Api, build_api, database_url

ENTRY = {"at": "2026-05-06T07:40:00", "place": "西大市场北门", "problem": "早市摊贩占道",
         "action": "劝导摊贩进入疏导点", "outcome": "当场办理"}


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("api_logs")
    for url in database_url(request.param, folder):
        yield from build_api(url)


def test_officer_writes_own_squad_log(api: Api) -> None:
    code = api.cases["SY1"]["community_code"]
    resp = api.post("/api/worklogs", "officer_sy", json={**ENTRY, "community_code": code,
                                                         "case_id": "SY1"})
    assert resp.status_code == 201, resp.text
    entry = resp.json()
    assert (entry["squad_id"], entry["author"], entry["outcome"]) == ("shuyuan", "officer_sy", "当场办理")
    assert entry["at"] == "2026-05-06T07:40:00+08:00"  # naive input read in Asia/Shanghai
    got = api.get(f"/api/worklogs/{entry['id']}", "leader_sy").json()
    assert got["problem"] == "早市摊贩占道" and got["case_id"] == "SY1"
    assert got["at"] == entry["at"]  # stored as UTC, returned in the deployment zone


def test_other_squad_gets_404_and_only_own_entries(api: Api) -> None:
    mine = api.post("/api/worklogs", "leader_xh", json={**ENTRY, "problem": XSS}).json()
    assert mine["problem"] == XSS  # stored and returned verbatim
    assert api.get(f"/api/worklogs/{mine['id']}", "leader_sy").status_code == 404
    assert api.get(f"/api/worklogs/{mine['id']}", "officer_sy").status_code == 404
    assert api.client.delete(f"/api/worklogs/{mine['id']}",
                             headers=api.auth("leader_sy")).status_code == 404
    listed = api.get("/api/worklogs", "leader_sy").json()
    assert listed["total"] >= 1 and {e["squad_id"] for e in listed["items"]} == {"shuyuan"}
    assert api.get("/api/worklogs", "leader_sy", params={"squad": "xinhua"}).status_code == 403
    all_logs = api.get("/api/worklogs", "planner").json()
    assert {e["squad_id"] for e in all_logs["items"]} == {"shuyuan", "xinhua"}


def test_write_rules(api: Api) -> None:
    assert api.post("/api/worklogs", "officer_sy",
                    json={**ENTRY, "squad_id": "xinhua"}).status_code == 403
    assert api.post("/api/worklogs", "planner", json=ENTRY).status_code == 403
    assert api.post("/api/worklogs", "admin", json=ENTRY).status_code == 400  # squad needed
    assert api.post("/api/worklogs", "admin",
                    json={**ENTRY, "squad_id": "nanda"}).status_code == 201
    bad = api.post("/api/worklogs", "officer_sy", json={**ENTRY, "outcome": "置之不理"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["column"] == "outcome"
    other_comm = api.cases["XH1"]["community_code"]
    assert api.post("/api/worklogs", "officer_sy",
                    json={**ENTRY, "community_code": other_comm}).status_code == 400
    assert api.post("/api/worklogs", "officer_sy",
                    json={**ENTRY, "case_id": "XH1"}).status_code == 404


def test_filters_and_delete(api: Api) -> None:
    for outcome, day in (("耐心解释", "2026-05-08"), ("告知路径", "2026-05-09")):
        api.post("/api/worklogs", "officer_sy", json={**ENTRY, "outcome": outcome,
                                                      "at": f"{day}T10:00:00"})
    got = api.get("/api/worklogs", "officer_sy", params={"outcome": "耐心解释"}).json()
    assert got["total"] == 1 and got["items"][0]["outcome"] == "耐心解释"
    window = api.get("/api/worklogs", "officer_sy", params={
        "start": "2026-05-09T00:00:00", "end": "2026-05-10T00:00:00"}).json()
    assert [e["outcome"] for e in window["items"]] == ["告知路径"]
    target = window["items"][0]["id"]
    assert api.client.delete(f"/api/worklogs/{target}",
                             headers=api.auth("leader_sy")).status_code == 204
    assert api.get(f"/api/worklogs/{target}", "officer_sy").status_code == 404
