"""/api/stats, /api/stats.xlsx and /stats (SQLite and PostGIS): the numbers equal a hand count on
a small dataset built here, squad leaders see only their squad, the workbook has Chinese sheet
names and headers and never a formula."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from api_support import BACKENDS, SECRET, Api, build_api, database_url, point_in
from openpyxl import load_workbook
from sqlalchemy import select

from service.auth import COOKIE_NAME, create_token, load_principal
from service.importer import import_table
from service.models import Case

TZ = ZoneInfo("Asia/Shanghai")
MAY = {"period_start": "2026-05-01", "period_end": "2026-05-31"}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


# case: (status, closed_at, deadline_at, address, source); the seeded SY1/SY2 plus R1–R3
SETUP = {
    "SY1": ("结案", "2026-05-02 09:10", "2026-05-02 12:00", "书院路 1 号", "12345"),  # on time 2 h
    "SY2": ("作废", None, "2026-05-11 09:00", "书院路 2 号", "12345"),               # void
    "R1": ("结案", "2026-05-04 13:00", "2026-05-04 12:00", "西大市场北门", "12345"),  # late, 5 h
    "R2": ("处置", None, "2026-05-20 12:00", "西大市场 北门", "监督员上报"),           # overdue
    "R3": ("上报", None, "2026-06-30 12:00", "西大市场北门", "=SUM(A1)"),             # not due
}


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("stats")
    for url in database_url(request.param, folder):
        for a in build_api(url):
            _code, x, y = point_in(a.storage, "shuyuan", 0)
            rows = [{"case_id": cid, "category": "占道经营", "reported_at": at, "lon": repr(x),
                     "lat": repr(y), "description": "复发", "address": "西大市场北门"}
                    for cid, at in (("R1", "2026-05-04 08:00"), ("R2", "2026-05-12 08:00"),
                                    ("R3", "2026-05-28 08:00"))]
            assert import_table(a.storage, pd.DataFrame(rows), filename="r.csv",
                                actor="test").inserted == 3
            with a.storage.begin() as session:
                for cid, (status, closed, deadline, address, source) in SETUP.items():
                    row = session.scalar(select(Case).where(Case.case_id == cid))
                    assert row is not None
                    row.status, row.address, row.source = status, address, source
                    row.closed_at = _at(closed) if closed else None
                    row.deadline_at = _at(deadline)
            yield a


def test_numbers_equal_the_hand_count(api: Api) -> None:
    r = api.get("/api/stats", "leader_sy", params=MAY)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["squads"] == {"shuyuan": "书院中队"} and "计划" in body["coverage_note"]
    t = body["total"]  # May, 书院: SY1 R1 R2 R3 (SY2 void; SY3 April, SY4 June)
    assert (t["cases"], t["voided"], t["closed"], t["on_time"], t["overdue"]) == (4, 1, 2, 1, 2)
    assert t["closure_rate"] == pytest.approx(0.5) and t["on_time_rate"] == pytest.approx(0.5)
    assert t["overdue_rate"] == pytest.approx(0.5) and t["median_hours"] == pytest.approx(3.5)
    assert t["recurrent_groups"] == 1  # R1 R2 R3: one address (spaces ignored), one category
    (group,) = body["recurrence"]
    assert group["count"] == 3 and group["case_ids"] == "R1、R2、R3"
    src = {s["source"]: s["count"] for s in body["by_source"]}
    assert src == {"12345": 2, "监督员上报": 1, "=SUM(A1)": 1}
    assert [c["squad"] for c in body["coverage"]] and {c["squad"] for c in body["coverage"]} == {
        "shuyuan"}


def test_squad_isolation_and_roles(api: Api) -> None:
    assert api.get("/api/stats", "leader_sy", params={**MAY, "squad": "xinhua"}).status_code == 404
    assert api.get("/api/stats.xlsx", "leader_sy",
                   params={**MAY, "squad": "xinhua"}).status_code == 404
    assert api.get("/api/stats", "officer_sy", params=MAY).status_code == 403
    assert api.get("/api/stats", None, params=MAY).status_code == 401
    everyone = api.get("/api/stats", "planner", params=MAY).json()
    by = {r["squad"]: r for r in everyone["by_squad"]}
    assert set(by) == {"shuyuan", "xinhua"}  # other squads have no cases in May
    assert by["xinhua"]["cases"] == 3 and by["shuyuan"]["cases"] == 4  # XH1 XH2 XH3
    one = api.get("/api/stats", "admin", params={**MAY, "squad": "xinhua"}).json()
    assert one["total"]["cases"] == 3 and set(one["squads"]) == {"xinhua"}
    bad = api.get("/api/stats", "admin", params={"period_start": "2026-06-01",
                                                 "period_end": "2026-05-01"})
    assert bad.status_code == 400 and "早于" in bad.json()["detail"]


def test_xlsx_has_chinese_sheets_and_no_formula(api: Api) -> None:
    r = api.get("/api/stats.xlsx", "leader_sy", params=MAY)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames[:3] == ["汇总", "按中队", "按社区"] and "复发（≥3件）" in wb.sheetnames
    assert [c.value for c in wb["汇总"][1]][:3] == ["案件数", "作废数", "结案数"]
    assert wb["汇总"]["A2"].value == 4 and wb["汇总"]["D2"].value == 50.0  # 结案率（%）
    assert wb["按社区"].column_dimensions["B"].width >= 8
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                    assert not cell.value.startswith(("=", "+", "-", "@")), cell.value
    assert any("SUM(A1)" in t for t in texts)  # the source is kept, as text


def test_stats_page_shows_figures_and_the_coverage_note(api: Api) -> None:
    user = load_principal(api.storage, "leader_sy")
    assert user is not None
    api.client.cookies.set(COOKIE_NAME, create_token(user, key=SECRET, ttl_minutes=5))
    page = api.client.get("/stats", params=MAY, headers={"Accept": "text/html"})
    api.client.cookies.clear()
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert "考核统计" in html and "<svg" in html and "西大市场北门" in html
    assert "/api/stats.xlsx?period_start=2026-05-01" in html and "计划" in html
    assert "新华" not in html  # one squad only
