"""Plans, route sheets and maps over HTTP: made on demand and stored, re-planned with a team off
duty, PDF/XLSX/HTML sheets, and squad isolation (another squad's plan, sheet and map → 404)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import unquote

import openpyxl
import pytest
from fastapi.testclient import TestClient
from pages_support import XSS, Site, get_as, open_site

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, TestClient]]:
    yield from open_site(tmp_path_factory, "plans")


_get = get_as


def test_plan_is_made_once_then_read_back(site: tuple[Site, TestClient]) -> None:
    s, _ = site
    first = _get(site, f"/api/plans/shuyuan/{s.today}", "leader_sy")
    assert first.status_code == 200, first.text
    plan = first.json()
    assert plan["squad"] == "shuyuan" and plan["date"] == s.today and plan["feasible"]
    assert [r["team"] for r in plan["routes"]] == ["shuyuan-1", "shuyuan-2", "shuyuan-3"]
    visited = {v["stop_id"] for r in plan["routes"] for v in r["visits"]}
    assert plan["n_visited"] == len(visited) > 0
    again = _get(site, f"/api/plans/shuyuan/{s.today}", "officer_sy").json()
    assert again == plan  # the stored plan, not a new solve


@pytest.mark.parametrize("suffix", ["", "/sheet.pdf", "/sheet.xlsx", "/sheet.html"])
def test_other_squad_plan_and_sheets_are_not_found(site: tuple[Site, TestClient],
                                                   suffix: str) -> None:
    s, _ = site
    r = _get(site, f"/api/plans/shuyuan/{s.today}{suffix}", "leader_xh")
    assert r.status_code == 404
    assert "书院" not in r.text and "shuyuan-1" not in r.text


@pytest.mark.parametrize("user", ["leader_xh", "officer_sy"])
def test_other_squad_map_is_not_found(site: tuple[Site, TestClient], user: str) -> None:
    s, _ = site
    other = "shuyuan" if user == "leader_xh" else "xinhua"
    assert _get(site, f"/maps/{other}?date={s.today}", user).status_code == 404


def test_district_map_only_for_district_roles(site: tuple[Site, TestClient]) -> None:
    s, _ = site
    assert _get(site, "/maps/district", "leader_sy").status_code == 403
    r = _get(site, f"/maps/district?date={s.today}", "planner")
    assert r.status_code == 200 and "全区巡查总览" in r.text


def test_sign_in_required(site: tuple[Site, TestClient]) -> None:
    s, client = site
    assert client.get(f"/api/plans/shuyuan/{s.today}").status_code == 401
    assert client.get(f"/maps/shuyuan?date={s.today}").status_code == 401


def test_replan_with_a_team_off_duty(site: tuple[Site, TestClient]) -> None:
    s, client = site
    # tomorrow: a whole day whatever the clock says (today after the shift began only the rest
    # of the day is planned, tests/service/api/test_api_plan_clock.py)
    tomorrow = date.fromisoformat(s.today) + timedelta(days=1)
    url = f"/api/plans/shuyuan/{tomorrow.isoformat()}"
    r = client.post(url, json={"unavailable_teams": ["shuyuan-1"]}, headers=s.auth("leader_sy"))
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["unavailable_teams"] == ["shuyuan-1"]
    assert [x["team"] for x in plan["routes"]] == ["shuyuan-2", "shuyuan-3"]
    assert _get(site, url, "leader_sy").json()["unavailable_teams"] == ["shuyuan-1"]
    # officers do not re-plan; another squad's leader cannot see the squad; unknown teams: 400
    assert client.post(url, json={}, headers=s.auth("officer_sy")).status_code == 403
    assert client.post(url, json={}, headers=s.auth("leader_xh")).status_code == 404
    bad = client.post(url, json={"unavailable_teams": ["xinhua-1"]}, headers=s.auth("admin"))
    assert bad.status_code == 400 and "xinhua-1" in bad.json()["detail"]
    back = client.post(url, json={"unavailable_teams": []}, headers=s.auth("admin")).json()
    assert len(back["routes"]) == 3


def test_sheets_pdf_xlsx_html(site: tuple[Site, TestClient]) -> None:
    s, _ = site
    base = f"/api/plans/shuyuan/{s.today}"
    plan = _get(site, base, "leader_sy").json()
    pdf = _get(site, f"{base}/sheet.pdf", "officer_sy")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    one = _get(site, f"{base}/sheet.pdf", "officer_sy", params={"team": "shuyuan-2"})
    assert one.status_code == 200 and len(one.content) < len(pdf.content)
    # the file is named with the team's Chinese name, never its id
    disposition = unquote(one.headers["content-disposition"])
    assert "书院二组" in disposition and "shuyuan-2" not in disposition
    assert _get(site, f"{base}/sheet.pdf", "officer_sy",
                params={"team": "nope"}).status_code == 404

    book = openpyxl.load_workbook(io.BytesIO(_get(site, f"{base}/sheet.xlsx", "officer_sy").content))
    rows = list(book["巡查路线"].values)
    assert rows[0][:3] == ("队伍", "序号", "到达")
    assert len(rows) - 1 == sum(len(r["visits"]) for r in plan["routes"])
    team_book = _get(site, f"{base}/sheet.xlsx", "officer_sy", params={"team": "shuyuan-3"})
    assert team_book.status_code == 200 and team_book.content[:2] == b"PK"

    html = _get(site, f"{base}/sheet.html", "officer_sy")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.text.count("<body>") == 1
    for r in plan["routes"]:
        assert r["team_name"] in html.text


def test_script_description_is_plain_text_in_plan_outputs(site: tuple[Site, TestClient]) -> None:
    s, _ = site
    base = f"/api/plans/shuyuan/{s.today}"
    plan = _get(site, base, "leader_sy").json()
    whats = [v["what"] for r in plan["routes"] for v in r["visits"]]
    assert any(XSS in w for w in whats), "the open case SYX should be a 复查 stop"
    html = _get(site, f"{base}/sheet.html", "leader_sy").text
    assert XSS not in html and ESCAPED in html
    page = _get(site, f"/maps/shuyuan?date={s.today}", "leader_sy").text
    assert XSS not in page and "alert(1)" in page
    xlsx = _get(site, f"{base}/sheet.xlsx", "leader_sy").content
    cells = [c for row in openpyxl.load_workbook(io.BytesIO(xlsx)).active.values for c in row]
    assert any(isinstance(c, str) and XSS in c for c in cells)  # text cell, not markup


def test_map_loads_its_scripts_from_the_service(site: tuple[Site, TestClient]) -> None:
    s, client = site
    page = _get(site, f"/maps/shuyuan?date={s.today}", "leader_sy").text
    srcs = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert srcs and all(u.startswith("/static/vendor/") for u in srcs), srcs
    for u in srcs:
        assert client.get(u).status_code == 200, u
    assert page.count(json.dumps("路线：")[1:-1]) == 3  # one layer per team (JS-escaped name)


def test_sheet_pdf_is_cached_per_plan_and_team() -> None:
    from service import sheet_cache

    sheet_cache.clear()
    calls: list[int] = []

    def render() -> bytes:
        calls.append(1)
        return b"%PDF-fake"

    plan = {"squad": "shuyuan", "date": "2026-11-29", "routes": [{"team": "a"}]}
    key = sheet_cache.sheet_key(plan, None)
    assert sheet_cache.cached_render(key, render) == b"%PDF-fake"
    assert sheet_cache.cached_render(key, render) == b"%PDF-fake"
    assert len(calls) == 1
    assert sheet_cache.sheet_key(plan, "a") != key  # one team's sheet is another document
    replanned = {**plan, "routes": [{"team": "b"}]}
    assert sheet_cache.sheet_key(replanned, None) != key  # a re-plan is never served stale
