"""Real export shapes into the database, and re-imports that never lose work (SQLite and PostGIS).

Rules checked on both backends:

- an import without a status column never changes a stored status;
- an import whose status is behind the stored one keeps the stored one and reports the row
  (库中已到派遣，文件为上报，保留库中状态);
- every status an import changes is in the report and in the case history with the batch;
- importing a file twice changes nothing the second time; a squad's 派遣 case stays 派遣.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from export_corpus import corpus
from sqlalchemy import func, select

from geo.errors import ValidationError
from service.auth import Principal
from service.case_ops import transition_case
from service.deployment import deployment_catalogue
from service.importer import import_file, import_table
from service.models import Case, CaseEvent, ImportBatch
from service.schemas import TransitionCreate
from service.settings import Settings
from service.storage import Storage


@pytest.fixture
def store(db_url: str) -> Iterator[Storage]:
    st = Storage(db_url)
    st.init()
    yield st
    st.engine.dispose()


def _points(storage: Storage, n: int = 6) -> list[tuple[float, float]]:
    comm = storage.communities()
    reps = [g.representative_point() for g in comm.geometry[:n]]
    return [(p.x, p.y) for p in reps]


def _stored(storage: Storage) -> dict[str, dict[str, object]]:
    with storage.begin() as s:
        rows = s.execute(select(Case.case_id, Case.status, Case.status_flag, Case.category,
                                Case.squad_id, Case.closed_at, Case.updated_at, Case.batch_id))
        return {r.case_id: dict(r._mapping) for r in rows}


def _events(storage: Storage, case_id: str) -> list[tuple[str | None, str, str]]:
    with storage.begin() as s:
        stmt = (select(CaseEvent.from_status, CaseEvent.to_status, CaseEvent.note)
                .join(Case, Case.id == CaseEvent.case_pk).where(Case.case_id == case_id)
                .order_by(CaseEvent.id))
        return [tuple(r) for r in s.execute(stmt)]  # type: ignore[misc]


def _table(storage: Storage, statuses: list[str] | None, *, ids: str = "R") -> pd.DataFrame:
    pts = _points(storage, 3)
    data = {"案件编号": [f"{ids}{i}" for i in range(3)], "问题类型": "占道经营",
            "上报时间": ["2026-05-01 07:00", "2026-05-02 07:00", "2026-05-03 07:00"],
            "经度": [f"{x:.7f}" for x, _ in pts], "纬度": [f"{y:.7f}" for _, y in pts]}
    if statuses is not None:
        data["当前阶段"] = statuses
    return pd.DataFrame(data)


def test_corpus_files_stored_row_by_row(store: Storage, tmp_path: Path) -> None:
    files = corpus(_points(store))
    settings = Settings()
    for f in files:
        path = tmp_path / f.name
        path.write_bytes(f.data)
        report = import_file(store, path, settings=settings)
        assert report.inserted == len(f.stored), f.name
        assert sorted({p.row for p in report.problems}) == sorted(f.rejected), f.name
        assert report.mapping and all(isinstance(m, str) for m in report.mapping)
    stored = _stored(store)
    for f in files:
        for row, want in f.stored.items():
            got = stored[want.case_id]
            assert (got["category"], got["status"], got["status_flag"]) == (
                want.category, want.status, want.flag), (f.name, row)
            assert got["squad_id"] is not None
    assert stored["XN2605002"]["closed_at"] is not None  # archive_time kept as the closure
    # every file again: nothing changes the second time
    before = _stored(store)
    with store.begin() as s:
        n_events = s.scalar(select(func.count()).select_from(CaseEvent))
    for f in files:
        path = tmp_path / f.name
        again = import_file(store, path, settings=settings)
        assert (again.inserted, again.updated, again.unchanged) == (
            0, len(f.stored), len(f.stored)), f.name
        assert again.status_changes == [] and again.notices == []
    assert _stored(store) == before
    with store.begin() as s:
        assert s.scalar(select(func.count()).select_from(CaseEvent)) == n_events


def test_no_status_column_never_changes_a_stored_status(store: Storage) -> None:
    closing = _table(store, ["办理中", "挂账", "已办结"]).assign(
        结案时间=["", "", "2026-05-04 10:00"])
    first = import_table(store, closing)
    assert first.inserted == 3
    closed_at = _stored(store)["R2"]["closed_at"]
    assert closed_at is not None
    again = import_table(store, _table(store, None).assign(问题描述="补充描述"))
    assert again.updated == 3 and again.status_changes == [] and again.notices == []
    got = _stored(store)
    assert [got[f"R{i}"]["status"] for i in range(3)] == ["处置", "处置", "结案"]
    assert got["R1"]["status_flag"] == "挂账"  # the flag stays too
    assert got["R2"]["closed_at"] == closed_at  # the closure time stays as well


def test_behind_status_is_kept_and_reported_squad_work_survives(store: Storage) -> None:
    import_table(store, _table(store, ["待受理", "待受理", "待受理"]))
    squad = str(_stored(store)["R0"]["squad_id"])
    leader = Principal(id=1, username="wang", role="admin", squad_id=None)
    for step in ("立案", "派遣"):
        transition_case(store, "R0", TransitionCreate(to_status=step, note="中队处理"), leader)
    assert _stored(store)["R0"]["status"] == "派遣" and squad
    report = import_table(store, _table(store, ["上报", "待受理", "待受理"]), filename="old.csv")
    assert _stored(store)["R0"]["status"] == "派遣"
    (notice,) = report.notices
    assert notice.row == 2 and notice.column == "当前阶段" and notice.value == "上报"
    assert notice.message == "库中已到派遣，文件为上报，保留库中状态"
    assert report.status_changes == [] and report.problems == []
    assert [e[1] for e in _events(store, "R0")] == ["上报", "立案", "派遣"]
    # no status column: still 派遣, and no remark (the file says nothing about the status)
    silent = import_table(store, _table(store, None))
    assert silent.notices == [] and _stored(store)["R0"]["status"] == "派遣"


def test_every_status_change_is_reported_and_in_the_history(store: Storage) -> None:
    import_table(store, _table(store, ["待受理", "待受理", "立案派遣"]))
    report = import_table(store, _table(store, ["立案派遣", "待受理", "已办结"]), filename="新.csv")
    assert report.status_changes == [
        {"row": 2, "case_id": "R0", "from_status": "上报", "to_status": "派遣"},
        {"row": 4, "case_id": "R2", "from_status": "派遣", "to_status": "结案"}]
    assert report.updated == 3 and report.unchanged == 1
    (_, _, note), = [e for e in _events(store, "R0") if e[0] == "上报"]
    assert f"导入批次 {report.batch_id}" in note and "新.csv" in note and "第 2 行" in note
    assert _stored(store)["R0"]["batch_id"] == report.batch_id
    assert _stored(store)["R1"]["batch_id"] != report.batch_id  # unchanged: not rewritten
    # 结案 and 作废 are both final: a file cannot move one to the other
    final = import_table(store, _table(store, ["立案派遣", "待受理", "已退单"]))
    assert [n.message for n in final.notices] == ["库中已到结案，文件为作废，保留库中状态"]
    assert _stored(store)["R2"]["status"] == "结案"


def test_dry_run_stores_nothing(store: Storage) -> None:
    report = import_table(store, _table(store, ["待受理"] * 3), dry_run=True)
    assert report.dry_run and report.inserted == 3 and report.batch_id == 0
    assert any("当前阶段" in m for m in report.mapping)
    with store.begin() as s:
        assert s.scalar(select(func.count()).select_from(ImportBatch)) == 0
    assert store.count_cases() == 0


def test_deployment_alias_table(store: Storage, tmp_path: Path) -> None:
    aliases = tmp_path / "aliases.csv"
    aliases.write_text("alias,code\n跨门营业,09005\n", encoding="utf-8")
    cat, hint = deployment_catalogue(SimpleNamespace(category_aliases=str(aliases)))  # type: ignore[arg-type]
    assert cat.resolve("跨门营业") == "09005" and str(aliases) in hint
    table = _table(store, None).assign(问题类型="跨门营业")
    plain = import_table(store, table)
    assert plain.inserted == 0 and "XUNCHA_CATEGORY_ALIASES" in plain.problems[0].message
    assert "09005 店外经营" in plain.problems[0].message
    local = import_table(store, table, catalogue=cat, alias_hint=hint)
    assert local.inserted == 3 and _stored(store)["R0"]["category"] == "09005"
    aliases.write_text("alias,code\n跨门营业,99999\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="99999"):
        deployment_catalogue(SimpleNamespace(category_aliases=str(aliases)))  # type: ignore[arg-type]
