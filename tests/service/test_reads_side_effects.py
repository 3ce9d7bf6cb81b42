"""Reads never compute unbounded work, and they answer from cheap queries.

A plan, map or sheet of a day outside the plan window (yesterday … 7 days ahead) is not made by a
GET (404, 尚未生成; no plan row, no plan-version bump); ``POST`` makes it; explicit generations are
limited per user in the database (429); layers and sheets carry an ETag of the data versions
(304 on ``If-None-Match``, a new tag after a change); ``/api/cases`` pages by keyset cursor and
returns every case exactly once while cases are inserted; the CSV export streams the same bytes
the one-shot export writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pages_support import TZ, Site, _point, open_site
from sqlalchemy import func, select

from service import pages_data
from service.case_cache import versions
from service.case_list import cases_csv, cases_csv_stream
from service.importer import import_table
from service.models import Plan
from service.storage import CaseFilter

FAR = 30  # days ahead: outside the window


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, TestClient]]:
    yield from open_site(tmp_path_factory, "reads")


def _day(offset: int) -> str:
    return (datetime.now(ZoneInfo(TZ)).date() + timedelta(days=offset)).isoformat()


def _plans(site: Site, day: str) -> int:
    with site.storage.begin() as session:
        return int(session.scalar(select(func.count()).select_from(Plan).where(
            Plan.plan_date == date.fromisoformat(day))) or 0)


@pytest.mark.parametrize("path", ["/api/plans/shuyuan/{day}", "/api/plans/shuyuan/{day}/sheet.pdf",
                                  "/api/plans/shuyuan/{day}/sheet.html",
                                  "/api/plans/shuyuan/{day}/sheet.xlsx", "/maps/shuyuan?date={day}"])
def test_get_outside_the_window_makes_no_plan(site: tuple[Site, TestClient], path: str) -> None:
    s, client = site
    for offset in (FAR, -3):
        day = _day(offset)
        before = versions(s.storage)[1]
        r = client.get(path.format(day=day), headers=s.auth("leader_sy"))
        assert r.status_code == 404 and "尚未生成" in r.text  # JSON, or the HTML error page
        assert f"POST /api/plans/shuyuan/{day}" in r.text
        assert _plans(s, day) == 0 and versions(s.storage)[1] == before


def test_post_generates_then_reads_find_it(site: tuple[Site, TestClient]) -> None:
    s, client = site
    day = _day(FAR + 1)
    made = client.post(f"/api/plans/shuyuan/{day}", json={}, headers=s.auth("leader_sy"))
    assert made.status_code == 200 and made.json()["date"] == day
    assert _plans(s, day) == 1
    version = versions(s.storage)[1]
    again = client.get(f"/api/plans/shuyuan/{day}", headers=s.auth("officer_sy"))
    assert again.status_code == 200 and again.json() == made.json()
    sheet = client.get(f"/api/plans/shuyuan/{day}/sheet.html", headers=s.auth("officer_sy"))
    assert sheet.status_code == 200 and versions(s.storage)[1] == version  # read, not re-made


def test_a_read_inside_the_window_makes_the_plan_once(site: tuple[Site, TestClient]) -> None:
    s, client = site
    day = _day(2)
    before = int(versions(s.storage)[1])
    first = client.get(f"/api/plans/shuyuan/{day}", headers=s.auth("officer_sy"))
    second = client.get(f"/api/plans/shuyuan/{day}", headers=s.auth("leader_sy"))
    assert first.status_code == second.status_code == 200 and first.json() == second.json()
    assert _plans(s, day) == 1 and int(versions(s.storage)[1]) == before + 1


def test_generations_are_rate_limited_per_user(site: tuple[Site, TestClient]) -> None:
    s, client = site
    for _ in range(pages_data.GENERATIONS_PER_MINUTE):  # e.g. another worker's generations
        pages_data.check_generation_rate(s.storage, "planner")
    day = _day(FAR + 2)
    refused = client.post(f"/api/plans/shuyuan/{day}", json={}, headers=s.auth("planner"))
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "每分钟最多" in refused.json()["detail"] and _plans(s, day) == 0
    with pytest.raises(Exception, match="生成计划过于频繁"):
        pages_data.check_generation_rate(s.storage, "planner")
    pages_data.check_generation_rate(s.storage, "admin")  # another user is not limited


def _transition(site: Site, client: TestClient, case_id: str, to: str) -> None:
    r = client.post(f"/api/cases/{case_id}/transitions", json={"to_status": to, "note": "测试"},
                    headers=site.auth("leader_sy"))
    assert r.status_code == 200, r.text


_CHANGES = {  # path: the status change made after the first answer (module order)
    "/api/plans/shuyuan/{day}/sheet.html": ("SY1", "立案"),
    "/api/plans/shuyuan/{day}/sheet.pdf": ("SYX", "立案"),
    "/maps/shuyuan?date={day}": ("SY2", "派遣"),
    "/api/cases?squad=shuyuan": ("SY1", "派遣"),
}


@pytest.mark.parametrize("path", list(_CHANGES))
def test_etag_gives_304_until_the_data_changes(site: tuple[Site, TestClient], path: str) -> None:
    s, client = site
    url, auth = path.format(day=_day(0)), s.auth("leader_sy")
    first = client.get(url, headers=auth)
    assert first.status_code == 200 and first.headers["etag"].startswith('"')
    tag = first.headers["etag"]
    same = client.get(url, headers={**auth, "If-None-Match": tag})
    assert same.status_code == 304 and same.content == b""
    assert client.get(url, headers={**auth, "If-None-Match": '"other"'}).status_code == 200
    _transition(s, client, *_CHANGES[path])
    changed = client.get(url, headers={**auth, "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


def _new_case(s: Site, case_id: str, at: datetime, point: tuple[float, float]) -> None:
    row = pd.DataFrame([{"case_id": case_id, "category": "06036", "lon": f"{point[0]:.6f}",
                         "reported_at": at.strftime("%Y-%m-%d %H:%M:%S"),
                         "lat": f"{point[1]:.6f}", "description": "翻页测试"}])
    assert import_table(s.storage, row, filename="k.csv", actor="test").inserted == 1


def _walk(s: Site, client: TestClient, *, limit: int,
          point: tuple[float, float] | None = None) -> tuple[list[str], list[int]]:
    """Follow the ``next`` links from the first page; with ``point``, a new case (newer than
    every other) and an old one (older than every other) are stored between two pages."""
    url = f"/api/cases?limit={limit}"
    ids: list[str] = []
    matched: list[int] = []
    while url:
        page = client.get(url, headers=s.auth("admin"))
        assert page.status_code == 200, page.text
        body = page.json()
        ids += [f["id"] for f in body["features"]]
        matched.append(body["numberMatched"])
        nxt = [link["href"] for link in body.get("links", []) if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else ""
        if point is not None:
            now = datetime.now(ZoneInfo(TZ))
            _new_case(s, f"KN{len(matched)}", now, point)
            _new_case(s, f"KO{len(matched)}", now - timedelta(days=400 + len(matched)), point)
    return ids, matched


def test_keyset_pages_return_every_case_once_while_cases_arrive(
        site: tuple[Site, TestClient]) -> None:
    s, client = site
    before = {str(c) for c in s.storage.query_cases(CaseFilter())["case_id"]}
    ids, matched = _walk(s, client, limit=7, point=_point(s.storage, "shuyuan", 0))
    assert len(ids) == len(set(ids))  # nothing twice (offsets would repeat a row per insert)
    assert before <= set(ids)  # nothing that was there at the start is missed
    assert matched[0] == len(before) and matched[-1] > matched[0]  # counted per data version
    assert any(i.startswith("KO") for i in ids)  # older arrivals are still ahead of the cursor
    # offset still works and agrees with the cursor pages on a quiet table
    total = s.storage.count_cases(CaseFilter())
    walked, _ = _walk(s, client, limit=50)
    by_offset: list[str] = []
    for off in range(0, total, 50):
        by_offset += [f["id"] for f in client.get(f"/api/cases?limit=50&offset={off}",
                                                  headers=s.auth("admin")).json()["features"]]
    assert walked == by_offset and len(walked) == total


def test_bad_cursor_is_refused_with_advice(site: tuple[Site, TestClient]) -> None:
    s, client = site
    bad = client.get("/api/cases?cursor=not-a-cursor", headers=s.auth("admin"))
    assert bad.status_code == 400 and "next" in bad.json()["detail"]
    page = client.get("/api/cases?limit=2", headers=s.auth("admin")).json()
    href = page["links"][0]["href"].replace("http://testserver", "")
    both = client.get(href + "&offset=2", headers=s.auth("admin"))
    assert both.status_code == 400 and "offset" in both.json()["detail"]


def test_csv_export_streams_the_same_document(site: tuple[Site, TestClient]) -> None:
    s, client = site
    now = datetime.now(ZoneInfo(TZ))
    flt = CaseFilter(squads=("shuyuan",))
    whole = cases_csv(s.storage.query_cases(flt), now=now)
    chunks = list(cases_csv_stream(s.storage, flt, chunk=7, now=now))
    assert len(chunks) > 3 and b"".join(chunks) == whole
    assert chunks[0].startswith("\ufeff".encode())
    empty = CaseFilter(squads=("nobody",))
    assert b"".join(cases_csv_stream(s.storage, empty)) == cases_csv(s.storage.query_cases(empty))
    r = client.get("/api/cases.csv?squad=shuyuan", headers=s.auth("leader_sy"))
    assert r.status_code == 200 and r.text.count("\n") == len(s.storage.query_cases(flt)) + 1
