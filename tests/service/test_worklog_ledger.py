"""The work log as the bureau keeps it (SQLite and PostGIS): required fields (422 per field),
void with a reason instead of delete, several linked cases, station and team of the squad, and
the printed 《城管进社区工作日志》 of a station per day and per week (PDF)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import BACKENDS, PASSWORD, Api, build_api, database_url

from geo.sheets.worklog_pdf import (
    COLUMNS,
    WorkLogLine,
    font_for_measuring,
    inner_width,
    wrapped_cells,
)
from service.auth import create_user

ENTRY = {"at": "2026-05-06T07:40:00", "place": "西大市场北门", "problem": "早市摊贩占道",
         "action": "劝导摊贩进入疏导点", "outcome": "当场办理"}
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler missing")


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("ledger")
    for url in database_url(request.param, folder):
        for a in build_api(url):
            a.principals["officer_sy2"] = create_user(a.storage, "officer_sy2", PASSWORD,
                                                      role="officer", squad="shuyuan")
            yield a


def _station(api: Api, squad: str) -> dict[str, Any]:
    st = api.storage.stations(squads=(squad,))
    return {"code": str(st.iloc[0]["code"]), "name": str(st.iloc[0]["name"]),
            "community_code": str(st.iloc[0]["community_code"])}


def test_empty_entry_is_422_with_a_message_per_field(api: Api) -> None:
    r = api.post("/api/worklogs", "officer_sy", json={})
    assert r.status_code == 422
    fields = {p["column"]: p["message"] for p in r.json()["problems"]}
    assert set(fields) == {"at", "problem"}  # place and action: required by the web form
    assert "必填" in fields["problem"]
    blank = api.post("/api/worklogs", "officer_sy", json={**ENTRY, "problem": " \n "})
    assert blank.status_code == 422
    assert [p["column"] for p in blank.json()["problems"]] == ["problem"]
    assert api.get("/api/worklogs", "officer_sy").json()["total"] == 0  # nothing stored
    # a correction may not blank a required field either
    eid = api.post("/api/worklogs", "officer_sy", json=ENTRY).json()["id"]
    patch = api.client.patch(f"/api/worklogs/{eid}", json={"problem": " "},
                             headers=api.auth("officer_sy"))
    assert patch.status_code == 422 and patch.json()["problems"][0]["column"] == "problem"


def test_void_keeps_the_entry_with_its_reason(api: Api) -> None:
    eid = api.post("/api/worklogs", "officer_sy", json={**ENTRY, "problem": "重复录入的一条"}).json()["id"]
    url = f"/api/worklogs/{eid}/void"
    assert api.post(url, "officer_sy", json={}).status_code == 422  # a reason is required
    assert api.post(url, "officer_sy", json={"reason": "   "}).status_code == 422
    assert api.post(url, "leader_xh", json={"reason": "越权"}).status_code == 404
    assert api.post(url, "officer_sy2", json={"reason": "不是作者"}).status_code == 403
    assert api.post(url, "planner", json={"reason": "规划"}).status_code == 403
    done = api.post(url, "officer_sy", json={"reason": "重复录入"})
    assert done.status_code == 200, done.text
    got = done.json()
    assert got["voided"] and got["void_reason"] == "重复录入" and got["voided_by"] == "officer_sy"
    assert got["voided_at"].endswith("+08:00")
    again = api.get(f"/api/worklogs/{eid}", "leader_sy").json()
    assert again["voided"] and again["problem"] == "重复录入的一条"  # kept, never deleted
    listed = {e["id"]: e for e in api.get("/api/worklogs", "leader_sy").json()["items"]}
    assert listed[eid]["voided"] and listed[eid]["void_reason"] == "重复录入"
    # a voided entry can no longer be corrected or voided again
    assert api.client.patch(f"/api/worklogs/{eid}", json={"place": "x"},
                            headers=api.auth("officer_sy")).status_code == 409
    assert api.post(url, "leader_sy", json={"reason": "再次"}).status_code == 409


def test_delete_is_refused_and_points_to_void(api: Api) -> None:
    eid = api.post("/api/worklogs", "officer_sy", json=ENTRY).json()["id"]
    r = api.client.delete(f"/api/worklogs/{eid}", headers=api.auth("admin"))
    assert r.status_code == 409
    assert "作废" in r.json()["detail"] and f"/api/worklogs/{eid}/void" in r.json()["detail"]
    assert api.get(f"/api/worklogs/{eid}", "officer_sy").json()["voided"] is False
    assert api.client.delete(f"/api/worklogs/{eid}",
                             headers=api.auth("leader_xh")).status_code == 404


def test_linked_cases_station_and_team_belong_to_the_squad(api: Api) -> None:
    st = _station(api, "shuyuan")
    team = next(s for s in api.storage.squads() if s["id"] == "shuyuan")["teams"][0]["id"]
    r = api.post("/api/worklogs", "officer_sy", json={
        **ENTRY, "case_id": "SY4", "case_ids": ["SY1", "SY3", "SY4"], "station_code": st["code"],
        "team_id": team, "photo_count": 3, "community_code": st["community_code"]})
    assert r.status_code == 201, r.text
    e = r.json()
    assert (e["case_id"], e["case_ids"]) == ("SY4", ["SY4", "SY1", "SY3"])
    assert (e["station_code"], e["team_id"], e["photo_count"]) == (st["code"], team, 3)
    assert api.post("/api/worklogs", "officer_sy",
                    json={**ENTRY, "case_ids": ["SY1", "XH1"]}).status_code == 404
    other = _station(api, "xinhua")
    assert api.post("/api/worklogs", "officer_sy",
                    json={**ENTRY, "station_code": other["code"]}).status_code == 400
    assert api.post("/api/worklogs", "officer_sy",
                    json={**ENTRY, "team_id": "xinhua-1"}).status_code == 400
    moved = api.client.patch(f"/api/worklogs/{e['id']}", json={"case_ids": ["SY2"]},
                             headers=api.auth("officer_sy")).json()
    assert moved["case_ids"] == ["SY4", "SY2"] and moved["case_id"] == "SY4"


def _pdf_text(tmp: Path, body: bytes) -> str:
    path = tmp / "log.pdf"
    path.write_bytes(body)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


@needs_poppler
def test_station_log_prints_per_day_and_per_week(api: Api, tmp_path: Path) -> None:
    st = _station(api, "shuyuan")
    base = {**ENTRY, "station_code": st["code"], "community_code": st["community_code"]}
    api.post("/api/worklogs", "officer_sy", json={**base, "at": "2026-05-13T08:10:00",
                                                  "problem": "槐荫大道店外经营", "case_ids": ["SY1"],
                                                  "photo_count": 2})
    api.post("/api/worklogs", "officer_sy", json={**base, "at": "2026-05-15T09:00:00",
                                                  "problem": "周五复查垃圾堆放"})
    bad = api.post("/api/worklogs", "officer_sy", json={**base, "at": "2026-05-13T10:00:00",
                                                        "problem": "录错的一条"}).json()
    api.post(f"/api/worklogs/{bad['id']}/void", "officer_sy", json={"reason": "时间填错"})
    day = api.get("/api/worklogs/print.pdf", "leader_sy",
                  params={"station": st["code"], "date": "2026-05-13"})
    assert day.status_code == 200 and day.headers["content-type"] == "application/pdf"
    text = re.sub(r"\s+", "", _pdf_text(tmp_path, day.content))
    assert st["name"] in text and "城管进社区工作日志" in text
    assert "槐荫大道店外经营" in text and "SY1" in text and "2张" in text
    assert "已作废" in text and "时间填错" in text  # the ledger prints the voided entry too
    assert "周五复查垃圾堆放" not in text and "记录人签名" in text
    week = api.get("/api/worklogs/print.pdf", "leader_sy",
                   params={"station": st["code"], "date": "2026-05-13", "period": "week"})
    wtext = re.sub(r"\s+", "", _pdf_text(tmp_path, week.content))
    assert "周五复查垃圾堆放" in wtext and "2026-05-11至2026-05-17" in wtext
    assert api.get("/api/worklogs/print.pdf", "leader_xh",
                   params={"station": st["code"], "date": "2026-05-13"}).status_code == 404
    assert api.get("/api/worklogs/print.pdf", "leader_sy",
                   params={"date": "2026-05-13"}).status_code == 422


def test_long_text_never_leaves_its_cell(tmp_path: Path) -> None:
    """Every wrapped line fits its column (fpdf's own measure), and on the rendered page
    (pdftotext word boxes) no word passes the right margin."""
    pdf = font_for_measuring()
    line = WorkLogLine(time="23:59", community="西湖桥社区" * 3, place="A" * 120,
                       problem="摊贩占道经营，" * 40, action="http://example.com/" + "x" * 150,
                       outcome="代行受理", cases=["SY20260506000123456789"] * 3, photos=12,
                       author="officer_with_a_long_name")
    for i, text in enumerate(wrapped_cells(pdf, line)):
        for ln in text.split("\n"):
            assert pdf.get_string_width(ln) <= inner_width(i) + 1e-6, (COLUMNS[i][0], ln)
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler missing")
    from geo.sheets.worklog_pdf import WorkLogSheet, render_worklog_pdf

    body = render_worklog_pdf(WorkLogSheet(squad_name="书院中队", station_name="书院社区城管工作站",
                                           period_text="2026-05-06", lines=[line] * 4))
    (tmp_path / "long.pdf").write_bytes(body)
    out = subprocess.run(["pdftotext", "-bbox", str(tmp_path / "long.pdf"), "-"], check=True,
                         capture_output=True, text=True).stdout
    right = (210 - 12) / 25.4 * 72 + 0.5  # the right margin in points
    xmax = [float(x) for x in re.findall(r'xMax="([\d.]+)"', out)]
    assert xmax and max(xmax) <= right
