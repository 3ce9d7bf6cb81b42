"""Formula injection (CSV / XLSX injection): no exported spreadsheet or CSV cell is a formula.

User text (case addresses and descriptions, squad, team and member names, siting candidate ids)
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return must reach every XLSX and
CSV export as text with a leading apostrophe (:func:`geo.safe_text.formula_safe`), never as a
live formula. Each export is read back (openpyxl for XLSX, :mod:`csv` for CSV) and every cell is
checked: no cell has openpyxl's formula type ``"f"`` and no text cell starts with a formula
prefix. Covered: the HTTP exports (``…/sheet.xlsx`` with and without ``team``, ``cases.csv``) and
the writers behind the files the CLI and demo write (team route sheet, all-stops table, siting
sheets, the demo's cases CSV).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pages_support import TZ, Site, build_site
from shapely import points
from shapely.geometry import Point

from geo.safe_text import FORMULA_PREFIXES
from geo.sheets import (
    SheetStop,
    TeamSheet,
    formula_safe_frame,
    render_xlsx,
    write_csv_table,
    write_xlsx_tables,
)
from service.importer import import_table
from service.models import Squad

PAYLOADS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1", '=HYPERLINK("http://x","y")']
LINK = '=HYPERLINK("http://x","y")'
HEADER = "=SUM(B2:B3)"


def _norm(text: str) -> str:
    """XML readers turn a stored CR into LF; compare payloads the same way."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def xlsx_texts(data: bytes | Path) -> list[str]:
    """Every text cell of the workbook, after asserting that no cell is (or reads as) a formula."""
    book = openpyxl.load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data)
    texts: list[str] = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                where = f"{ws.title}!{cell.coordinate} = {cell.value!r}"
                assert cell.data_type != "f", f"formula cell {where}"
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", where
                    assert not cell.value.startswith(FORMULA_PREFIXES), where
                    assert not _norm(cell.value).startswith(("\n", *FORMULA_PREFIXES)), where
                    texts.append(_norm(cell.value))
    assert texts, "the workbook has no text at all"
    return texts


NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def csv_texts(data: bytes | str) -> list[list[str]]:
    """The CSV's rows, after asserting that no cell starts with a formula prefix (a plain
    number such as ``-3.5`` is a number to a spreadsheet, not a formula) and that no line
    break inside a field split a row (a bare CR is a line break to spreadsheet programs)."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    for i, row in enumerate(rows):
        assert len(row) == len(rows[0]), f"row {i} has {len(row)} cells: {row!r}"
        for j, cell in enumerate(row):
            if NUMBER.fullmatch(cell):
                continue
            assert not cell.startswith(FORMULA_PREFIXES), f"row {i} col {j}: {cell!r}"
    assert rows, "the CSV is empty"
    return rows


def neutralised(payload: str, texts: list[str]) -> bool:
    """The payload is in some cell exactly as typed, behind the apostrophe."""
    return "'" + _norm(payload) in texts


# ------------------------------------------------------------------ pure writers

def _sheet(**overrides: Any) -> TeamSheet:
    stops = [SheetStop(seq=i + 1, arrive=600 + i * 900, depart=1200 + i * 900, community=p,
                       address=p, what=p, category="06036", category_name=p, kind="复查",
                       lon=113.92 + 0.001 * i, lat=30.93)
             for i, p in enumerate(PAYLOADS)]
    kw: dict[str, Any] = dict(
        squad_name=LINK, team_name="=1+1", members=[("@cmd", "城管队员"), ("-2+3", "市政")],
        date=date(2026, 5, 12), shift_start="07:00", shift_end="15:00", stops=stops,
        distance_m=1000.0, duration_s=7200.0, start_name="+SUM(A1)", note="\t=1",
        data_label="=1+1")
    kw.update(overrides)
    return TeamSheet(**kw)


def test_team_route_sheet_xlsx_writes_user_text_as_text() -> None:
    texts = xlsx_texts(render_xlsx(_sheet()))
    for p in PAYLOADS:
        assert neutralised(p, texts), p  # address column: the payload itself, made text
    assert "'" + LINK + " =1+1 巡查路线单" in texts  # title: squad and team names
    assert "'+SUM(A1)" in texts and "'\t=1" in texts  # start point and note
    # a control character in front of a prefix is removed first, then the prefix neutralised
    hidden = _sheet(squad_name="\x01=1+1", team_name="一组")
    assert "'=1+1 一组 巡查路线单" in xlsx_texts(render_xlsx(hidden))


def _table() -> pd.DataFrame:
    n = len(PAYLOADS)
    return pd.DataFrame({
        "地址": PAYLOADS, "说明": pd.Series(PAYLOADS, dtype="string"),
        "类型": pd.Series(PAYLOADS, dtype="category"), HEADER: ["x"] * n,
        "数值": [-3.5] * n, "序号": list(range(-1, n - 1)), "日期": [datetime(2026, 5, 1)] * n})


def test_formula_safe_frame_and_xlsx_tables(tmp_path: Path) -> None:
    frame = _table()
    safe = formula_safe_frame(frame)
    assert safe["地址"].tolist() == ["'" + p for p in PAYLOADS]
    assert list(frame["地址"]) == PAYLOADS  # the input is not changed
    assert safe["数值"].tolist() == [-3.5] * len(PAYLOADS)  # numbers stay numbers
    assert formula_safe_frame(safe)["地址"].tolist() == safe["地址"].tolist()  # idempotent

    path = tmp_path / "t.xlsx"
    write_xlsx_tables(path, {"表": frame})
    texts = xlsx_texts(path)
    for p in PAYLOADS:
        assert texts.count("'" + _norm(p)) == 3, p  # object, string and category columns
    assert "'" + HEADER in texts  # a column name is a cell too
    hidden = tmp_path / "hidden.xlsx"
    write_xlsx_tables(hidden, {"控制字符": pd.DataFrame({"a": ["\x02=1+1", "\x07@x"]})})
    # control characters that XLSX cannot hold are removed first, then the prefix is caught
    assert xlsx_texts(hidden) == ["a", "'=1+1", "'@x"]
    ws = openpyxl.load_workbook(path)["表"]
    numbers = [c for c in ws["E"][1:]]
    assert all(c.data_type == "n" and c.value == -3.5 for c in numbers)  # negative numbers kept


def test_csv_table_writer(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_csv_table(path, _table())
    rows = csv_texts(path.read_bytes())
    assert len(rows) == len(PAYLOADS) + 1  # "\r=1" stayed inside its (quoted) field
    assert rows[0][3] == "'" + HEADER
    assert [r[0] for r in rows[1:]] == ["'" + p for p in PAYLOADS]
    assert {r[4] for r in rows[1:]} == {"-3.5"}  # numbers unchanged in CSV


def _sites() -> gpd.GeoDataFrame:
    from geo.siting.frames import site_relocation_points

    xy = [(500_000.0 + 40 * i, 3_420_000.0 + 25 * (i % 3)) for i in range(14)]
    demand = gpd.GeoDataFrame({"weight": [1.0] * len(xy)}, geometry=points(xy), crs="EPSG:4547")
    cand = gpd.GeoDataFrame({"candidate_id": PAYLOADS},
                            geometry=points(xy[::2]), crs="EPSG:4547")
    return site_relocation_points(demand, cand, sites=len(PAYLOADS), radius_m=200)


def test_siting_sheets_are_formula_safe(tmp_path: Path) -> None:
    from geo.siting.frames import siting_tables

    sites = _sites()
    # as the CLI (service/commands/siting.py) writes them: plain pandas to_excel
    plain = tmp_path / "plain.xlsx"
    with pd.ExcelWriter(plain, engine="openpyxl") as xw:
        for name, table in siting_tables(sites).items():
            table.to_excel(xw, sheet_name=name, index=False)
    shared = tmp_path / "shared.xlsx"
    write_xlsx_tables(shared, siting_tables(sites))  # as the demo writes them
    for path in (plain, shared):
        texts = xlsx_texts(path)
        for p in PAYLOADS:
            assert neutralised(p, texts), (path.name, p)


def test_demo_route_table_xlsx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.sheets
    from service.demo_outputs import SHEET_COLUMNS, squad_sheet_files

    monkeypatch.setattr(geo.sheets, "team_sheets", lambda plan, *a, **k: plan.team_sheets())

    class FakePlan:
        def __init__(self) -> None:
            self.squad_id = "shuyuan"
            self.squad = {"name": "@中队"}
            self.date = date(2026, 5, 12)

        def team_sheets(self, **_: Any) -> list[TeamSheet]:
            return [_sheet()]

        def visits_frame(self) -> gpd.GeoDataFrame:
            rows = {c: PAYLOADS for c in SHEET_COLUMNS}
            rows["seq"] = list(range(1, len(PAYLOADS) + 1))
            rows["required"] = [True, False] * 3 + [True]
            return gpd.GeoDataFrame(rows, geometry=[Point(113.9, 30.9)] * len(PAYLOADS),
                                    crs=4326)

    _pdf, xlsx = squad_sheet_files(FakePlan(), tmp_path, communities=None,  # type: ignore[arg-type]
                                   data_label="=1+1")
    texts = xlsx_texts(xlsx)
    for p in PAYLOADS:
        assert neutralised(p, texts), p
    assert "'=1+1" in texts  # the data label on the 说明 sheet


def test_demo_cases_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.simulate.generator
    from service.demo import CASE_COLUMNS, Demo

    n = len(PAYLOADS)
    cases = pd.DataFrame({c: [f"{c}{i}" for i in range(n)] for c in CASE_COLUMNS})
    cases["address"] = PAYLOADS
    cases["description"] = PAYLOADS[::-1]
    cases["lon"], cases["lat"] = 113.92, 30.93
    truth = gpd.GeoDataFrame({"id": [1]}, geometry=[Point(113.9, 30.9)], crs=4326)
    monkeypatch.setattr(geo.simulate.generator, "simulate_cases", lambda *_a, **_k: (cases, truth))
    demo = Demo(tmp_path / "demo", day=date(2026, 5, 12), db_url=None, tz=TZ,
                working_crs="EPSG:4547")
    try:
        demo.simulate()
    finally:
        demo.storage.engine.dispose()
    rows = csv_texts(demo.result.files["cases_csv"].read_bytes())
    col = rows[0].index("address")
    assert [r[col] for r in rows[1:]] == ["'" + p for p in PAYLOADS]


# ------------------------------------------------------------------ over HTTP

MEMBER_NAMES = ["@cmd", "-2+3", "+SUM(A1)", "=1+1"]


def _inject(s: Site) -> list[str]:
    """Open overdue cases whose addresses and descriptions are the payloads (so they become
    复查 stops), and payload squad, team and member names. Returns the new case ids."""
    now = datetime.now(ZoneInfo(TZ))
    comm = s.storage.communities(squads=("shuyuan",))
    rows, ids = [], []
    for i, p in enumerate(PAYLOADS):
        pt = comm.iloc[(i + 3) % len(comm)].geometry.representative_point()
        cid = f"FX{i}"
        ids.append(cid)
        rows.append({"case_id": cid, "category": "06036", "reported_at":
                     (now - timedelta(days=3.2)).strftime("%Y-%m-%d %H:%M"),
                     "lon": f"{pt.x:.6f}", "lat": f"{pt.y:.6f}", "description": p,
                     "address": p, "status": "上报"})
    report = import_table(s.storage, pd.DataFrame(rows), filename="fx.csv", actor="test")
    assert report.inserted == len(rows), report.as_dict()
    with s.storage.begin() as session:
        sq = session.get(Squad, "shuyuan")
        assert sq is not None
        data = dict(sq.data or {})
        data["teams"] = [{**t, "name": PAYLOADS[k % len(PAYLOADS)]}
                         for k, t in enumerate(data.get("teams", []))]
        members = [m for t in data["teams"] for m in t.get("members", [])]
        data["staff"] = [{**st, "name": MEMBER_NAMES[k % len(MEMBER_NAMES)]}
                         if st.get("id") in members else st
                         for k, st in enumerate(data.get("staff", []))]
        sq.data = data
        sq.name = LINK
    return ids


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, TestClient, dict]]:
    folder = tmp_path_factory.mktemp("formula")
    s = build_site(f"sqlite:///{folder / 'formula.db'}")
    _inject(s)
    with TestClient(s.app) as client:
        r = client.get(f"/api/plans/shuyuan/{s.today}", headers=s.auth("leader_sy"))
        assert r.status_code == 200, r.text
        yield s, client, r.json()
    s.storage.engine.dispose()


def _payload_addresses(plan: dict[str, Any]) -> set[str]:
    return {v["address"] for r in plan["routes"] for v in r["visits"]
            if v.get("address") in PAYLOADS}


@pytest.mark.parametrize("user", ["officer_sy", "leader_sy", "admin"])
def test_all_teams_sheet_xlsx_over_http(site: tuple[Site, TestClient, dict], user: str) -> None:
    s, client, plan = site
    r = client.get(f"/api/plans/shuyuan/{s.today}/sheet.xlsx", headers=s.auth(user))
    assert r.status_code == 200, r.text
    texts = xlsx_texts(r.content)
    addresses = _payload_addresses(plan)
    assert len(addresses) >= 3, f"too few injected cases were planned: {addresses}"
    for p in addresses:
        assert neutralised(p, texts), p
    for route in plan["routes"]:  # team names are payloads too
        assert neutralised(route["team_name"], texts), route["team_name"]


def test_team_sheet_xlsx_over_http(site: tuple[Site, TestClient, dict]) -> None:
    s, client, plan = site
    seen: list[str] = []
    for route in plan["routes"]:
        r = client.get(f"/api/plans/shuyuan/{s.today}/sheet.xlsx", headers=s.auth("officer_sy"),
                       params={"team": route["team"]})
        assert r.status_code == 200, r.text
        seen += xlsx_texts(r.content)
    assert len(plan["routes"]) >= 2
    for p in _payload_addresses(plan):
        assert neutralised(p, seen), p
    assert any(t.startswith("'" + LINK) for t in seen)  # the title starts with the squad name
    assert any(t.startswith("'") and any(m in t for m in MEMBER_NAMES) for t in seen)


def test_cases_csv_over_http(site: tuple[Site, TestClient, dict]) -> None:
    s, client, _ = site
    r = client.get("/api/cases.csv", headers=s.auth("admin"))
    assert r.status_code == 200, r.text
    rows = csv_texts(r.content)
    body = [c for row in rows[1:] for c in row]
    for p in PAYLOADS:  # address and description columns: the text behind the apostrophe
        assert body.count("'" + p) >= 1 or body.count("'" + p.strip()) >= 1, p
