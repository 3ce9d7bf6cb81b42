"""Work logs through the HTTP API: squad binding, outcomes, roles (SQLite and PostGIS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import BACKENDS, PASSWORD, XSS, Api, build_api, database_url

from service.auth import create_user

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
    # a work log is a ledger: DELETE is refused (409, pointing to void) and the entry stays
    refused = api.client.delete(f"/api/worklogs/{target}", headers=api.auth("leader_sy"))
    assert refused.status_code == 409 and "/void" in refused.json()["detail"]
    assert api.get(f"/api/worklogs/{target}", "officer_sy").status_code == 200


def _patch(api: Api, entry_id: int, user: str | None, **body: Any) -> Any:
    headers = api.auth(user) if user else {}
    return api.client.patch(f"/api/worklogs/{entry_id}", json=body, headers=headers)


def test_author_leader_and_admin_correct_an_entry(api: Api) -> None:
    if "officer_sy2" not in api.principals:
        api.principals["officer_sy2"] = create_user(api.storage, "officer_sy2", PASSWORD,
                                                    role="officer", squad="shuyuan")
    entry = api.post("/api/worklogs", "officer_sy", json=ENTRY).json()
    eid = entry["id"]
    fixed = _patch(api, eid, "officer_sy", problem="早市摊贩占道（已复查）", at="2026-05-06T08:05:00")
    assert fixed.status_code == 200, fixed.text
    got = fixed.json()
    assert got["problem"] == "早市摊贩占道（已复查）" and got["at"] == "2026-05-06T08:05:00+08:00"
    assert (got["place"], got["action"], got["outcome"]) == (
        ENTRY["place"], ENTRY["action"], ENTRY["outcome"])  # untouched fields stay
    assert (got["author"], got["squad_id"], got["created_at"]) == (
        "officer_sy", "shuyuan", entry["created_at"])
    assert api.get(f"/api/worklogs/{eid}", "leader_sy").json()["problem"] == got["problem"]
    # the squad leader of the squad and an admin may correct it too; null clears the outcome
    assert _patch(api, eid, "leader_sy", outcome=None).json()["outcome"] == ""
    assert _patch(api, eid, "admin", action=XSS).json()["action"] == XSS
    code = api.cases["SY1"]["community_code"]
    linked = _patch(api, eid, "officer_sy", community_code=code, case_id="SY1").json()
    assert (linked["community_code"], linked["case_id"]) == (code, "SY1")
    # not the author (another officer of the squad), a planner: 403 and nothing changes
    assert _patch(api, eid, "officer_sy2", problem="改掉").status_code == 403
    assert _patch(api, eid, "planner", problem="改掉").status_code == 403
    assert _patch(api, eid, None, problem="改掉").status_code == 401
    assert api.get(f"/api/worklogs/{eid}", "admin").json()["problem"] == got["problem"]


def test_corrections_keep_squad_isolation_and_rules(api: Api) -> None:
    theirs = api.post("/api/worklogs", "leader_xh", json=ENTRY).json()["id"]
    for user in ("leader_sy", "officer_sy"):
        assert _patch(api, theirs, user, problem="越权修改").status_code == 404
    assert _patch(api, theirs, "leader_xh", place="新华路口").json()["place"] == "新华路口"
    mine = api.post("/api/worklogs", "officer_sy", json=ENTRY).json()["id"]
    other_comm = api.cases["XH1"]["community_code"]
    assert _patch(api, mine, "officer_sy", community_code=other_comm).status_code == 400
    assert _patch(api, mine, "officer_sy", case_id="XH1").status_code == 404
    moved = _patch(api, mine, "officer_sy", squad_id="xinhua")
    assert moved.status_code == 422  # an entry never changes squad
    assert _patch(api, mine, "officer_sy", author="leader_sy").status_code == 422
    assert _patch(api, mine, "officer_sy", at=None).status_code == 400
    assert _patch(api, mine, "officer_sy").status_code == 400  # nothing to change
    bad = _patch(api, mine, "officer_sy", outcome="置之不理")
    assert bad.status_code == 422 and bad.json()["problems"][0]["column"] == "outcome"
    assert _patch(api, 2_000_000_000, "admin", place="x").status_code == 404
    after = api.get(f"/api/worklogs/{mine}", "officer_sy").json()
    assert after["squad_id"] == "shuyuan" and after["community_code"] is None
    assert api.get(f"/api/worklogs/{theirs}", "admin").json()["problem"] == ENTRY["problem"]
