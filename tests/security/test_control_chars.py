"""Control characters (NUL, other C0/C1 codes, lone surrogates) never reach a database.

:func:`geo.cases.parse_cases` rejects, per row and with a Chinese reason, every text cell that
holds one (tab and line breaks stay allowed in the free-text ``description`` and ``address``), so
the API answers 422 with the row's problems, an upload reports the row and stores the rest, and
``xuncha import`` exits 1 with its per-row table — never a 500 or a psycopg traceback. Work-log
text and transition notes are refused (422) before any database. SQLite and PostGIS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from api_support import BACKENDS, Api, build_api, database_url, point_in
from typer.testing import CliRunner

from geo.cases import parse_cases
from service.cli import app
from service.storage import Storage

runner = CliRunner()
BAD = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\ud800"]
"""Characters no text cell may hold."""
API_BAD = BAD[:-1]
"""The same through JSON (pydantic itself refuses a lone surrogate in a JSON string)."""


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("sec_control")
    for url in database_url(request.param, folder):
        yield from build_api(url)


def _row(cid: str, **extra: str) -> dict[str, str]:
    return {"case_id": cid, "category": "09006", "reported_at": "2026-06-01 07:00",
            "lon": "113.92", "lat": "30.92", "description": "早市", "address": "书院路",
            "source": "巡查", **extra}


def test_parse_cases_rejects_control_characters_in_every_text_column() -> None:
    columns = ["case_id", "category", "reported_at", "lon", "lat", "description", "address",
               "source", "status", "closed_at", "community"]
    rows = [_row("OK1", description="第一行\n第二行\t备注\r\n第三行", address="书院路\n12 号")]
    expect = []
    for i, col in enumerate(columns):
        for j, ch in enumerate(BAD):
            row = _row(f"B{i}-{j}")
            row[col] = (row.get(col) or "x")[:2] + ch + "y"
            rows.append(row)
            expect.append((len(rows) + 1, col))
    parsed = parse_cases(pd.DataFrame(rows), catalogue=True)
    assert list(parsed.cases["case_id"]) == ["OK1"]
    assert parsed.cases["description"].iat[0] == "第一行\n第二行\t备注\n第三行"
    assert parsed.cases["address"].iat[0] == "书院路\n12 号"
    found = {(p.row, p.column) for p in parsed.problems if "控制字符" in p.message}
    assert found == set(expect)
    assert all(p.value.isprintable() for p in parsed.problems)  # escaped: \x00, \ud800
    assert parsed.rejected_rows == [r for r, _c in expect]
    # tab and newline are refused outside the free-text columns
    tabbed = parse_cases(pd.DataFrame([_row("T1", source="巡\t查"), _row("T2", category="0\n9006")]))
    assert len(tabbed.cases) == 0 and {p.column for p in tabbed.problems} >= {"source", "category"}


@pytest.mark.parametrize("field", ["description", "address", "source", "category"])
def test_api_report_with_nul_is_refused_and_stores_nothing(api: Api, field: str) -> None:
    _code, x, y = point_in(api.storage, "shuyuan", 1)
    for k, ch in enumerate(API_BAD):
        body = {"case_id": f"NUL-{field}-{k}", "category": "09006", "lon": x, "lat": y,
                field: f"前{ch}后" if field != "category" else f"09006{ch}"}
        resp = api.post("/api/cases", "officer_sy", json=body)
        assert resp.status_code == 422, (field, repr(ch), resp.text)
        problems = resp.json()["problems"]
        assert [(p["column"], "控制字符" in p["message"]) for p in problems] == [(field, True)]
        assert api.get(f"/api/cases/NUL-{field}-{k}", "admin").status_code == 404


def test_ids_and_notes_with_control_characters(api: Api) -> None:
    for path in ("/api/cases/SY1%00", "/api/cases/%00", "/api/cases/SY%0A1"):
        resp = api.get(path, "admin")
        assert resp.status_code == 404, (path, resp.text)
        post = api.post(path + "/transitions", "admin", json={"to_status": "立案"})
        assert post.status_code == 404, (path, post.text)
    _code, x, y = point_in(api.storage, "shuyuan", 2)
    bad_id = api.post("/api/cases", "admin", json={"case_id": "N\x00L", "category": "09006",
                                                   "lon": x, "lat": y})
    assert bad_id.status_code == 422 and "控制字符" in bad_id.json()["problems"][0]["message"]
    before = api.storage.get_case("SY1")
    note = api.post("/api/cases/SY1/transitions", "leader_sy",
                    json={"to_status": "立案", "note": "a\x00b"})
    assert note.status_code == 422 and note.json()["problems"][0]["column"] == "note"
    assert api.storage.get_case("SY1") == before


@pytest.mark.parametrize("field", ["place", "problem", "action", "community_code"])
def test_work_log_with_nul_is_refused(api: Api, field: str) -> None:
    total = api.get("/api/worklogs", "admin").json()["total"]
    entry = {"at": "2026-06-01T08:00:00", "place": "书院路", "problem": "巡查", "action": "劝导",
             field: "前\x00后"}
    resp = api.post("/api/worklogs", "officer_sy", json=entry)
    assert resp.status_code == 422 and resp.json()["problems"][0]["column"] == field, resp.text
    ok = api.post("/api/worklogs", "officer_sy", json={**entry, field: "多行\n说明\t"}
                  if field != "community_code" else {**entry, field: None})
    assert ok.status_code == 201, ok.text
    patch = api.client.patch(f"/api/worklogs/{ok.json()['id']}", headers=api.auth("officer_sy"),
                             json={field: "x\x00"})
    assert patch.status_code == 422
    assert api.get("/api/worklogs", "admin").json()["total"] == total + 1


def test_upload_with_nul_rejects_the_rows_and_stores_the_rest(api: Api) -> None:
    _code, x, y = point_in(api.storage, "chezhan", 0)
    rows = [{**_row(f"UPN{i}"), "lon": repr(x), "lat": repr(y)} for i in range(4)]
    rows[1]["description"] = "摊贩\x00占道"
    rows[2]["address"] = "\x00"
    rows[3]["case_id"] = "UPN\x003"
    data = pd.DataFrame(rows).to_csv(index=False).encode()
    resp = api.post("/api/cases/import", "admin", files={"file": ("nul.csv", data, "text/csv")})
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["inserted"], report["rejected"]) == (1, 3)
    assert [(p["row"], p["column"]) for p in report["problems"]] == [
        (3, "description"), (4, "address"), (5, "case_id")]
    assert all("\x00" not in p["value"] and "控制字符" in p["message"]
               for p in report["problems"])
    assert api.get("/api/cases/UPN0", "admin").status_code == 200
    assert api.get("/api/cases/UPN1", "admin").status_code == 404
    named = api.post("/api/cases/import", "admin",
                     files={"file": ("a\x00b.csv", pd.DataFrame(rows[:1]).to_csv(index=False)
                                     .encode(), "text/csv")})
    assert named.status_code == 200 and named.json()["updated"] == 1, named.text


def test_cli_import_with_nul_reports_rows_and_exits_1(db_url: str, tmp_path: Path) -> None:
    storage = Storage(db_url)
    storage.init()
    p = storage.communities().geometry.iat[0].representative_point()
    lines = ["案件编号,问题类型,上报时间,经度,纬度,问题描述,地址"]
    lines += [f"C{i},占道经营,2026-06-0{i + 1} 07:15,{p.x:.7f},{p.y:.7f},{d},{a}"
              for i, (d, a) in enumerate([("早市", "书院路"), ("摊贩\x00占道", "x"),
                                           ("y", "[/]\x00[bold]"), ("z", "新华路")])]
    lines.append(f"C\x009,占道经营,2026-06-09 07:15,{p.x:.7f},{p.y:.7f},w,[/]")
    f = tmp_path / "nul.csv"
    f.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    report = tmp_path / "report.csv"
    res = runner.invoke(app, ["import", str(f), "--db", db_url, "--report", str(report)])
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output
    assert "新增 2" in res.output and "拒绝 3" in res.output and "控制字符" in res.output
    assert "\x00" not in res.output and "\\x00" in res.output
    saved = pd.read_csv(report, encoding="utf-8-sig", dtype=str)
    assert list(saved["row"]) == ["3", "4", "6"] and "\\x00" in saved["value"].iat[0]
    assert storage.count_cases() == 2
    storage.engine.dispose()
