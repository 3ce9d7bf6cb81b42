"""The dashboard's case list and the case page over HTTP: filters, search, sort, the export of
exactly what is filtered (formula-safe), the no-script step form, and squad isolation."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pages_support import SECRET, XSS, Site, open_site

from service.auth import COOKIE_NAME, create_token


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Any]]:
    yield from open_site(tmp_path_factory, "case_list")


def _as(site: tuple[Site, Any], user: str | None) -> TestClient:
    """A browser-like client: the session cookie of ``user`` (pages read no bearer token)."""
    s, _client = site
    client = TestClient(s.app, base_url="http://testserver")
    if user:
        client.cookies.set(COOKIE_NAME, create_token(s.principals[user], key=SECRET,
                                                     ttl_minutes=30))
    return client


def get_as(site: tuple[Site, Any], path: str, user: str, **kw: Any) -> Any:
    return _as(site, user).get(path, **kw)


def _ids(html: str) -> list[str]:
    return re.findall(r'<tr id="case-([^"]+)"', html)


def _csv_ids(body: bytes) -> list[str]:
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0] == "案件编号"
    return [r[0] for r in rows[1:]]


def test_filters_search_sort_and_export_agree(site: tuple[Site, Any]) -> None:
    default = get_as(site, "/squad/shuyuan/cases", "leader_sy").text
    assert set(_ids(default)) == {"SYX", "SY1", "SY2"}  # open cases only, this squad only
    every = get_as(site, "/squad/shuyuan/cases?status=all", "leader_sy").text
    assert "共 <b class=\"case-total\">93</b> 件" in every and len(_ids(every)) == 93
    queries = {"status=立案": ["SY2"], "category=06028": ["SY1"], "q=syx": ["SYX"],
               "q=SY1+门口": ["SY1"], "status=all&q=SYS0&sort=old": [f"SYS{i:02d}" for i in
                                                                (9, 8, 7, 6, 5, 4, 3, 2, 1, 0)]}
    for qs, want in queries.items():
        part = get_as(site, f"/squad/shuyuan/cases?{qs}", "leader_sy")
        assert part.status_code == 200
        if "sort=old" in qs:
            assert set(_ids(part.text)) == set(want)
        else:
            assert _ids(part.text) == want, qs
        exported = get_as(site, f"/squad/shuyuan/cases.csv?{qs}", "leader_sy")
        assert exported.status_code == 200 and _csv_ids(exported.content) == _ids(part.text), qs
    dated = get_as(site, "/squad/shuyuan/cases?status=all&start=2000-01-01&end=2000-01-31",
                   "leader_sy").text
    assert _ids(dated) == [] and "没有符合条件的案件" in dated
    late = _ids(get_as(site, "/squad/shuyuan/cases?overdue=1", "leader_sy").text)
    assert set(late) <= {"SYX", "SY1", "SY2"} and "SY2" in late  # reported 6 days ago
    # a bad value is dropped and said so, not a 500
    odd = get_as(site, "/squad/shuyuan/cases?status=完成&start=yesterday&sort=x", "leader_sy")
    assert odd.status_code == 200 and "已忽略" in odd.text and "没有状态" in odd.text
    # the XLSX holds the same rows; the script description is text, not markup or a formula
    book = load_workbook(io.BytesIO(get_as(site, "/squad/shuyuan/cases.xlsx?q=SYX",
                                           "leader_sy").content))
    sheet = book["案件"]
    cells = [c.value for c in sheet[2]]
    assert cells[0] == "SYX" and XSS in cells


def test_dashboard_keeps_the_filters_and_labels_buttons(site: tuple[Site, Any]) -> None:
    page = get_as(site, "/squad/shuyuan?status=立案&sort=deadline", "leader_sy").text
    assert _ids(page) == ["SY2"]
    assert '<option selected>立案</option>' in page
    assert 'href="/squad/shuyuan/cases.csv?status=%E7%AB%8B%E6%A1%88&amp;sort=deadline"' in page
    row = re.search(r'<tr id="case-SY2".*?</tr>', page, re.S)
    assert row and 'value="派遣"' in row.group(0) and ">作废</button>" in row.group(0)
    assert 'data-note-required="1">作废' in row.group(0)
    assert 'id="found-form"' in page and "巡查发现" in page
    assert 'id="found-form"' not in get_as(site, "/squad/shuyuan", "planner").text


def test_case_page_and_no_script_step_form(site: tuple[Site, Any]) -> None:
    client = _as(site, "leader_sy")
    page = get_as(site, "/cases/SYX?back=/squad/shuyuan%3Fq%3Dsyx%23cases", "leader_sy")
    assert page.status_code == 200
    html = page.text
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="/squad/shuyuan?q=syx#cases"' in html  # back to the filtered list
    assert "/static/vendor/leaflet/leaflet.js" in html and 'id="case-map"' in html
    assert ">立案</button>" in html and 'data-note-required="1">作废' in html
    assert 'optgroup label="协作单位"' in html and "网格员" in html
    evil = get_as(site, "/cases/SYX?back=//evil.example/x", "leader_sy").text
    assert "evil.example" not in evil
    r = client.post("/cases/SYX/steps", data={"to_status": "作废"}, follow_redirects=False)
    assert r.status_code == 303 and "err=1" in r.headers["location"]
    r = client.post("/cases/SYX/steps", follow_redirects=False,
                    data={"to_status": "立案", "note": "现场核实", "assignee": "unit:物业"})
    assert r.status_code == 303 and "err" not in r.headers["location"]
    detail = client.get("/api/cases/SYX").json()["properties"]
    assert detail["status"] == "立案" and detail["assignee"]["name"] == "物业"
    body = get_as(site, "/cases/SYX/body", "leader_sy").text
    assert "现场核实" in body and "承办：协作单位 物业" in body


def test_other_squads_list_page_and_exports_are_not_found(site: tuple[Site, Any]) -> None:
    for path in ("/squad/xinhua/cases", "/squad/xinhua/cases.csv", "/squad/xinhua/cases.xlsx",
                 "/cases/XH0", "/cases/XH0/body"):
        assert get_as(site, path, "leader_sy").status_code == 404, path
    r = _as(site, "leader_sy").post("/cases/XH0/steps", data={"to_status": "立案"},
                                    follow_redirects=False)
    assert r.status_code == 303 and "err=1" in r.headers["location"]
    assert _as(site, "leader_xh").get("/api/cases/XH0").json()["properties"]["status"] == "上报"
    anonymous = _as(site, None)
    assert anonymous.get("/squad/shuyuan/cases").status_code == 401
    assert anonymous.get("/cases/SY1", follow_redirects=False).status_code == 303  # to login
