"""Case ids from users: one normalisation rule, and no write to a case the caller may not change.

Three 新华 (xinhua) cases — one 上报, one 立案, one 结案 — are attacked by 书院 (shuyuan) users
through every write path (report a case, import, status transition, work-log link) with their
exact id and with variants that the old code read as another id but then stored as the same one:
trailing/leading space, tab, newline, ideographic space, full-width (NFKC) forms. Each attack must
leave the case exactly as it was (status, squad, coordinates, description, address, closed_at,
history) and answer exactly like an id that does not exist; a case variant (``sim…``) is simply
another id. The owners (and admins) reach the same case through the same variants. SQLite and
PostGIS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
from api_support import BACKENDS, Api, build_api, database_url, point_in

from geo.cases import CASE_ID_MAX_LEN, normalise_case_id, parse_cases
from geo.errors import InputError
from service.importer import NO_RIGHT, import_table

NEW, FILED, CLOSED = "SIM202611300055", "SIM202611300056", "SIM202611300057"
TARGETS = (NEW, FILED, CLOSED)
ATTACKERS = ("officer_sy", "leader_sy")


def variants(cid: str) -> list[str]:
    """Spellings of ``cid`` that must all name the same case."""
    wide = "".join(chr(ord(c) + 0xFEE0) for c in cid)  # ＳＩＭ２０２６…
    return [cid, f"{cid} ", f" {cid}", f"\t{cid}", f"{cid}\n", f"\u3000{cid}\u3000", wide,
            f" {wide}\t"]


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("sec_case_ids")
    for url in database_url(request.param, folder):
        for built in build_api(url):
            rows = []
            for k, cid in enumerate(TARGETS):
                _code, x, y = point_in(built.storage, "xinhua", k)
                rows.append({"case_id": cid, "category": "占道经营",
                             "reported_at": "2026-11-30 08:00", "lon": repr(x), "lat": repr(y),
                             "description": f"新华案件 {cid}", "address": "新华路 1 号"})
            report = import_table(built.storage, pd.DataFrame(rows), actor="seed")
            assert report.inserted == 3 and not report.problems, report.as_dict()
            for target in ("立案", "派遣", "处置", "核查", "结案"):
                for cid in (FILED, CLOSED) if target == "立案" else (CLOSED,):
                    resp = built.post(f"/api/cases/{cid}/transitions", "leader_xh",
                                      json={"to_status": target})
                    assert resp.status_code == 200, resp.text
            yield built


def snapshot(api: Api, cid: str) -> dict[str, Any]:
    """Everything stored about case ``cid`` (with its history)."""
    case = api.storage.get_case(cid)
    assert case is not None, cid
    return case


@dataclass
class Before:
    """The attacked cases and the number of cases, as they were when a test started."""

    cases: dict[str, dict[str, Any]]
    count: int


@pytest.fixture
def before(api: Api) -> Before:
    out = {cid: snapshot(api, cid) for cid in TARGETS}
    assert [out[c]["status"] for c in TARGETS] == ["上报", "立案", "结案"]
    assert out[CLOSED]["closed_at"] is not None
    assert {out[c]["squad"] for c in TARGETS} == {"xinhua"}
    return Before(out, api.storage.count_cases())


def assert_unchanged(api: Api, before: Before, *, added: int = 0) -> None:
    """Each attacked case is exactly as it was; ``added`` new cases, no other."""
    for cid, old in before.cases.items():
        assert snapshot(api, cid) == old, cid
    assert api.storage.count_cases() == before.count + added


def missing_answer(api: Api, user: str, cid: str) -> tuple[int, str]:
    """What ``GET`` says about an id that does not exist, written for ``cid``."""
    resp = api.get("/api/cases/NOSUCH0001", user)
    assert resp.status_code == 404
    return 404, resp.json()["detail"].replace("NOSUCH0001", cid)


def _body(api: Api, case_id: str, squad: str = "shuyuan", k: int = 3) -> dict[str, Any]:
    _code, x, y = point_in(api.storage, squad, k)
    return {"case_id": case_id, "category": "09006", "lon": x, "lat": y,
            "description": "", "address": ""}


def test_normalise_case_id_is_the_one_rule() -> None:
    for v in variants(NEW):
        assert normalise_case_id(v) == NEW, repr(v)
    assert normalise_case_id("sim202611300055") == "sim202611300055"  # case is kept
    for bad in ("", "   ", "\t\n", "SIM\x00055", "SIM\t055", "SIM\n055", "SIM\u200b055",
                "SIM\u2028055", "\ud800", "X" * (CASE_ID_MAX_LEN + 1)):
        with pytest.raises(InputError):
            normalise_case_id(bad)
    table = pd.DataFrame([{"case_id": v, "category": "09006", "reported_at": "2026-01-01 08:00",
                           "lon": "113.92", "lat": "30.92"} for v in ("A1", " Ａ１\t", "A2")])
    parsed = parse_cases(table)
    assert list(parsed.cases["case_id"]) == ["A1", "A2"]
    assert [(p.row, "重复" in p.message) for p in parsed.problems] == [(3, True)]


@pytest.mark.parametrize("user", ATTACKERS)
def test_report_with_another_squads_id_is_a_404_and_changes_nothing(
        api: Api, before: Before, user: str) -> None:
    for cid in TARGETS:
        for v in variants(cid):
            resp = api.post("/api/cases", user, json=_body(api, v))
            assert (resp.status_code, resp.json()["detail"]) == missing_answer(api, user, cid), \
                (repr(v), resp.text)
            got = api.get(f"/api/cases/{quote(v, safe='')}", user)
            assert (got.status_code, got.json()["detail"]) == missing_answer(api, user, cid)
            # a location in another squad: 403 about the location, whatever the id
            far = api.post("/api/cases", user, json=_body(api, v, "xinhua", 4))
            fresh = api.post("/api/cases", user, json=_body(api, "NOSUCH0002", "xinhua", 4))
            assert far.status_code == fresh.status_code == 403
            assert far.json()["detail"] == fresh.json()["detail"]
    assert_unchanged(api, before)


def test_report_with_a_visible_id_is_409_and_changes_nothing(
        api: Api, before: Before) -> None:
    for cid in TARGETS:
        for v in variants(cid):
            for user, squad in (("leader_xh", "xinhua"), ("admin", "shuyuan")):
                resp = api.post("/api/cases", user, json=_body(api, v, squad))
                assert resp.status_code == 409 and cid in resp.json()["detail"], resp.text
    assert_unchanged(api, before)


def test_case_variant_is_another_id(api: Api, before: Before) -> None:
    resp = api.post("/api/cases", "officer_sy", json=_body(api, " sim202611300055 "))
    assert resp.status_code == 201, resp.text
    assert (resp.json()["id"], resp.json()["properties"]["squad"]) == ("sim202611300055",
                                                                       "shuyuan")
    assert_unchanged(api, before, added=1)


@pytest.mark.parametrize("user", [*ATTACKERS, "planner"])
def test_transition_of_another_squads_case_is_a_404(
        api: Api, before: Before, user: str) -> None:
    for cid in TARGETS:
        for v in variants(cid):
            for target in ("立案", "作废", "处置"):
                resp = api.post(f"/api/cases/{quote(v, safe='')}/transitions", user,
                                json={"to_status": target})
                if user == "planner":  # sees every case, changes none
                    assert resp.status_code in (403, 409), resp.text
                    continue
                assert (resp.status_code, resp.json()["detail"]) == \
                    missing_answer(api, user, cid), (repr(v), resp.text)
    assert_unchanged(api, before)


def test_owner_reaches_the_case_through_every_variant(api: Api) -> None:
    for v in variants(NEW):
        got = api.get(f"/api/cases/{quote(v, safe='')}", "leader_xh")
        assert got.status_code == 200 and got.json()["id"] == NEW, repr(v)
    made = api.post("/api/cases", "leader_xh", json=_body(api, " ＸＨＯＷＮ１\t", "xinhua", 5))
    assert made.status_code == 201 and made.json()["id"] == "XHOWN1", made.text
    resp = api.post(f"/api/cases/{quote(' XHOWN1 ', safe='')}/transitions", "leader_xh",
                    json={"to_status": "立案", "note": "全角编号"})
    assert resp.status_code == 200 and resp.json()["properties"]["status"] == "立案"
    back = api.storage.get_case("XHOWN1")
    assert back is not None and back["history"][-1]["note"] == "全角编号"


@pytest.mark.parametrize("user", ["officer_sy", "leader_sy", "planner", "admin"])
def test_upload_by_any_role_never_overwrites_through_a_variant(
        api: Api, before: Before, user: str) -> None:
    rows = [{**_body(api, v), "reported_at": "2026-12-01 09:00", "status": "上报"}
            for v in variants(NEW)[1:2]]
    data = pd.DataFrame(rows).to_csv(index=False).encode()
    resp = api.post("/api/cases/import", user, files={"file": ("x.csv", data, "text/csv")})
    if user in ATTACKERS:
        assert resp.status_code == 403
        assert_unchanged(api, before)
    else:  # district-wide roles may update any case: the variant names the same case
        assert resp.status_code == 200 and resp.json()["updated"] == 1, resp.text
        assert api.storage.count_cases() == before.count  # no duplicate of NEW
        after = snapshot(api, NEW)
        assert after["squad"] == "shuyuan" and after["case_id"] == NEW
        # put the case back as it was (a re-import by an admin)
        old = before.cases[NEW]
        undo = pd.DataFrame([{"case_id": NEW, "category": old["category"],
                              "reported_at": "2026-11-30 08:00", "lon": repr(old["lon"]),
                              "lat": repr(old["lat"]), "description": old["description"],
                              "address": old["address"]}])
        assert import_table(api.storage, undo, actor="seed").updated == 1


def test_squad_bound_import_refuses_other_squads_rows_per_row(api: Api, before: Before) -> None:
    for i in range(len(variants(NEW))):
        rows = [{**_body(api, variants(cid)[i], k=k), "reported_at": "2026-12-01 09:00"}
                for k, cid in enumerate(TARGETS)]
        report = import_table(api.storage, pd.DataFrame(rows), actor="officer_sy",
                              squads=("shuyuan",))
        assert (report.inserted, report.updated, report.rejected) == (0, 0, 3), i
        assert [(p.row, p.value, p.message) for p in report.problems] == [
            (2 + k, cid, NO_RIGHT) for k, cid in enumerate(TARGETS)]
    assert_unchanged(api, before)
    # the same user imports a new case of its squad, then updates it
    own = pd.DataFrame([{**_body(api, "SYNEW0001"), "reported_at": "2026-12-01 09:00"}])
    first = import_table(api.storage, own, actor="officer_sy", squads=("shuyuan",))
    again = import_table(api.storage, own.assign(case_id=" ＳＹＮＥＷ０００１ "),
                         actor="officer_sy", squads=("shuyuan",))
    assert (first.inserted, again.updated, first.rejected + again.rejected) == (1, 1, 0)
    assert_unchanged(api, before, added=1)


@pytest.mark.parametrize("user", ATTACKERS)
def test_work_log_link_to_another_squads_case_is_a_404(
        api: Api, before: Before, user: str) -> None:
    entry = {"at": "2026-12-01T08:00:00", "place": "书院路", "problem": "巡查",
             "action": "劝导", "outcome": "当场办理"}
    miss = api.post("/api/worklogs", user, json={**entry, "case_id": "NOSUCH0003"})
    assert miss.status_code == 404
    total = api.get("/api/worklogs", "admin").json()["total"]
    own = api.post("/api/worklogs", user, json=entry).json()
    for cid in TARGETS:
        for v in variants(cid):
            resp = api.post("/api/worklogs", user, json={**entry, "case_id": v})
            expected = miss.json()["detail"].replace("NOSUCH0003", cid)
            assert (resp.status_code, resp.json()["detail"]) == (404, expected), repr(v)
            patch = api.client.patch(f"/api/worklogs/{own['id']}", headers=api.auth(user),
                                     json={"case_id": v})
            assert (patch.status_code, patch.json()["detail"]) == (404, expected), repr(v)
    assert api.get("/api/worklogs", "admin").json()["total"] == total + 1
    assert api.get(f"/api/worklogs/{own['id']}", user).json()["case_id"] is None
    assert_unchanged(api, before)


def test_work_log_link_is_stored_normalised(api: Api) -> None:
    entry = {"at": "2026-12-01T08:00:00", "problem": "复查", "case_id": variants(NEW)[-1]}
    resp = api.post("/api/worklogs", "leader_xh", json=entry)
    assert resp.status_code == 201 and resp.json()["case_id"] == NEW, resp.text
    bad = api.post("/api/worklogs", "leader_xh", json={**entry, "case_id": "SIM\x00055"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["column"] == "case_id"
