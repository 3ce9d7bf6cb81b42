"""The dashboard's work-log form: a refused entry comes back with every typed value kept and a
message at each field to fix; the table has the 社区 column; an entry is voided (never deleted)
with a reason and then shows 已作废 with it; the print form and the stats link are there."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pages_support import PASSWORD, XSS, Site, build_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder: Path = tmp_path_factory.mktemp("wl_pages")
    s = build_site(f"sqlite:///{folder / 'pages.db'}")
    yield s
    s.storage.engine.dispose()


def signed_in(site: Site, user: str) -> TestClient:
    c = TestClient(site.app, base_url="http://testserver")
    assert c.post("/login", data={"username": user, "password": PASSWORD},
                  follow_redirects=False).status_code == 303
    return c


def _log_section(page: str) -> str:
    m = re.search(r'<section class="card" id="worklog">.*?</section>', page, re.S)
    assert m
    return m.group(0)


def test_refused_entry_keeps_the_typed_values(site: Site) -> None:
    c = signed_in(site, "officer_sy")
    comm = site.storage.communities(squads=("shuyuan",)).iloc[1]
    r = c.post("/squad/shuyuan/worklogs", data={
        "at": f"{site.today}T09:30", "place": XSS, "problem": "", "action": "劝离",
        "community_code": str(comm["code"]), "case_ids": "SY1 SY2", "photo_count": "2"})
    assert r.status_code == 422
    sec = _log_section(r.text)
    assert "日志未保存" in sec and 'id="err-problem"' in sec and "发现问题：必填" in sec
    assert 'id="err-place"' not in sec and 'id="err-action"' not in sec
    assert f'value="{site.today}T09:30"' in sec and 'value="SY1 SY2"' in sec
    assert "劝离</textarea>" in sec and 'value="2"' in sec
    assert htmllib.escape(XSS, quote=True) in sec and XSS not in sec  # kept, escaped
    assert re.search(rf'<option value="{comm["code"]}" selected>', sec)
    assert 'name="problem" rows="2" maxlength="4000" required aria-invalid="true"' in sec
    assert c.get("/api/worklogs").json()["total"] == 0
    # a case of another squad: the dashboard again, the values kept, the message at the case box
    other = c.post("/squad/shuyuan/worklogs", data={
        "at": f"{site.today}T09:30", "place": "西大市场", "problem": "占道", "action": "劝离",
        "case_ids": "XH1"})
    assert other.status_code == 404 and 'id="err-case_ids"' in other.text
    assert 'value="西大市场"' in _log_section(other.text)


def test_entry_with_community_then_void_from_the_dashboard(site: Site) -> None:
    o = signed_in(site, "officer_sy")
    comm = site.storage.communities(squads=("shuyuan",)).iloc[0]
    r = o.post("/squad/shuyuan/worklogs", data={
        "at": f"{site.today}T10:15", "place": "槐荫大道", "problem": "店外经营",
        "action": "劝导", "community_code": str(comm["code"])}, follow_redirects=False)
    assert r.status_code == 303 and "err" not in r.headers["location"]
    eid = next(e["id"] for e in o.get("/api/worklogs").json()["items"] if e["place"] == "槐荫大道")
    row = re.search(rf'<tr id="log-{eid}".*?</tr>', o.get("/squad/shuyuan").text, re.S)
    assert row and str(comm["name"]) in row.group(0)  # the 社区 column
    assert f'action="/squad/shuyuan/worklogs/{eid}/void"' in row.group(0)
    empty = o.post(f"/squad/shuyuan/worklogs/{eid}/void", data={"reason": " "})
    assert "日志未作废" in empty.text and "作废原因" in empty.text
    x = signed_in(site, "leader_xh")
    assert x.post(f"/squad/shuyuan/worklogs/{eid}/void", data={"reason": "x"}).status_code == 404
    done = o.post(f"/squad/shuyuan/worklogs/{eid}/void", data={"reason": "重复录入"})
    assert done.status_code == 200 and f"日志 {eid} 已作废" in done.text
    row = re.search(rf'<tr id="log-{eid}".*?</tr>', done.text, re.S)
    assert row and 'class="voided"' in row.group(0) and "已作废" in row.group(0)
    assert "重复录入" in row.group(0) and "修改</summary>" not in row.group(0)
    got = o.get(f"/api/worklogs/{eid}").json()
    assert got["voided"] and got["place"] == "槐荫大道"


def test_print_form_and_stats_link(site: Site) -> None:
    sec = _log_section(signed_in(site, "leader_sy").get("/squad/shuyuan").text)
    st = site.storage.stations(squads=("shuyuan",)).iloc[0]
    assert 'action="/api/worklogs/print.pdf"' in sec and f'value="{st["code"]}"' in sec
    assert 'value="week"' in sec and 'href="/stats?squad=shuyuan"' in sec
