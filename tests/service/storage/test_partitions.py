"""Cases partitioned by month on a real PostGIS (:mod:`service.partitions`, migration 0013):
partitions appear as months are imported, each with its indexes; ids stay stable through the
copy-and-swap migration and through a re-import that moves a case to another month; a row of a
month without a partition, or a month outside the range, is refused with a clear message.
SQLite keeps one table behind the same interface."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from alembic import command
from api_support import fresh_postgis, stall_cases
from sqlalchemy import text

import service.importer as importer
from geo.errors import InputError
from service.bulk_copy import ImportConflict
from service.db import alembic_config
from service.importer import import_table
from service.partitions import (
    MissingPartition,
    PartitionBusy,
    ensure_partitions,
    ensure_partitions_now,
    is_partitioned,
    list_partitions,
    partition_name,
)
from service.storage import Storage

pytestmark = pytest.mark.postgis


def _table(storage: Storage, month: str, n: int, prefix: str = "PT", **extra: Any) -> pd.DataFrame:
    return stall_cases(storage, n, prefix=prefix, **extra,
                       reported_at=lambda i: f"{month}-{10 + i % 15:02d} 09:{i % 60:02d}")


def _import(storage: Storage, table: pd.DataFrame, **kw: Any) -> importer.ImportReport:
    return import_table(storage, table, max_future=None, **kw)  # fixed months, any clock


def _sql(storage: Storage, sql: str, **params: Any) -> list[Any]:
    with storage.engine.connect() as c:
        return list(c.execute(text(sql), params).all())


def _rows_per_partition(storage: Storage) -> dict[str, int]:
    return {str(t): int(n) for t, n in _sql(
        storage, "SELECT tableoid::regclass::text, count(*) FROM cases GROUP BY 1")}


def test_partitions_appear_as_months_are_imported(pg: Storage) -> None:
    with pg.engine.connect() as c:
        assert is_partitioned(c) and list_partitions(c) == []
    assert _import(pg, _table(pg, "2025-05", 40, prefix="MAY")).inserted == 40
    with pg.engine.connect() as c:
        assert [p.name for p in list_partitions(c)] == ["cases_y2025m05"]
    _import(pg, _table(pg, "2025-06", 30, prefix="JUN"))
    _import(pg, _table(pg, "2025-03", 20, prefix="MAR"))
    with pg.engine.connect() as c:
        parts = list_partitions(c)
    assert [p.month for p in parts] == [date(2025, 3, 1), date(2025, 5, 1), date(2025, 6, 1)]
    assert "2025-05-01 00:00:00+00" in parts[1].bounds and "2025-06-01 00:00:00+00" in parts[1].bounds
    assert _rows_per_partition(pg) == {"cases_y2025m03": 20, "cases_y2025m05": 40,
                                       "cases_y2025m06": 30}
    default = _sql(pg, "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = "
                       "'cases'::regclass AND partdefid <> 0")
    assert default[0][0] == 0  # no default partition
    for part in parts:  # every index declared on the parent exists on each partition
        defs = [d for (d,) in _sql(pg, "SELECT indexdef FROM pg_indexes WHERE tablename = :t",
                                   t=part.name)]
        assert any("USING gist (geom)" in d for d in defs), defs
        assert any("(squad_id, reported_at)" in d for d in defs), defs
        assert any("(reported_at, id)" in d for d in defs), defs
        assert any("UNIQUE" in d and "(id, reported_at)" in d for d in defs), defs
    # the list and the history read across partitions as before
    assert pg.count_cases() == 90 and len(pg.query_cases()) == 90
    case = pg.get_case("JUN0003")
    assert case is not None and [h["to_status"] for h in case["history"]] == ["上报"]


def test_partitioned_shape_and_registry(pg: Storage) -> None:
    pk = _sql(pg, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                  "'cases'::regclass AND contype = 'p'")
    assert pk == [("PRIMARY KEY (id, reported_at)",)]
    refs = dict(_sql(pg, "SELECT conrelid::regclass::text, confrelid::regclass::text FROM "
                         "pg_constraint WHERE contype = 'f' AND conrelid IN ('case_events'::"
                         "regclass, 'case_photos'::regclass, 'cases'::regclass) AND confrelid "
                         "IN ('case_keys'::regclass, 'cases'::regclass)"))
    assert refs == {"case_events": "case_keys", "case_photos": "case_keys", "cases": "case_keys"}
    redundant = _sql(pg, "SELECT indexname FROM pg_indexes WHERE indexname IN "
                         "('ix_cases_reported_at', 'ix_cases_squad_id')")
    assert redundant == []
    _import(pg, _table(pg, "2025-05", 5))
    keys = _sql(pg, "SELECT k.id, k.case_id FROM case_keys k JOIN cases c USING (id) "
                    "WHERE c.case_id = k.case_id ORDER BY k.id")
    assert len(keys) == 5


def test_reimport_moving_a_case_to_another_month_keeps_its_id(pg: Storage) -> None:
    _import(pg, _table(pg, "2025-05", 10, status="派遣"))
    before = dict(_sql(pg, "SELECT case_id, id FROM cases"))
    moved = _table(pg, "2025-05", 10, status="上报")
    moved.loc[:2, "reported_at"] = "2025-07-02 08:00"  # three cases now dated in July
    report = _import(pg, moved)
    assert (report.inserted, report.updated) == (0, 10) and not report.status_changes
    assert dict(_sql(pg, "SELECT case_id, id FROM cases")) == before
    assert _rows_per_partition(pg) == {"cases_y2025m05": 7, "cases_y2025m07": 3}
    stored = pg.query_cases().set_index("case_id")
    assert (stored["status"] == "派遣").all()  # the file's 上报 is behind: nothing rewound
    assert _sql(pg, "SELECT count(*) FROM case_keys")[0][0] == 10
    case = pg.get_case("PT0001")
    assert case is not None and [h["to_status"] for h in case["history"]] == ["派遣"]


def test_a_case_changed_meanwhile_fails_the_reimport(pg: Storage,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _import(pg, _table(pg, "2025-05", 5))
    real = importer.update_changed

    def racing(session: Any, rows: list[dict[str, Any]]) -> None:
        with pg.engine.begin() as other:  # someone dispatches PT0002 after the import read it
            other.execute(text("UPDATE cases SET status = '派遣' WHERE case_id = 'PT0002'"))
        real(session, rows)

    monkeypatch.setattr(importer, "update_changed", racing)
    with pytest.raises(ImportConflict, match="被他人修改"):
        _import(pg, _table(pg, "2025-05", 5, description="改了描述"))
    assert {d for (d,) in _sql(pg, "SELECT description FROM cases")} != {"改了描述"}
    assert _sql(pg, "SELECT status FROM cases WHERE case_id = 'PT0002'") == [("派遣",)]


def test_a_row_of_a_month_without_partition_is_explained(pg: Storage,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "ensure_partitions_now", lambda *_a, **_k: [])
    with pytest.raises(MissingPartition, match="2025-08") as err:
        _import(pg, _table(pg, "2025-08", 3))
    assert "没有分区" in str(err.value) and "没有保存任何内容" in str(err.value)
    assert _sql(pg, "SELECT count(*) FROM cases")[0][0] == 0
    assert _sql(pg, "SELECT count(*) FROM case_keys")[0][0] == 0


def test_a_month_outside_the_range_is_refused(pg: Storage) -> None:
    with pg.engine.begin() as c:
        with pytest.raises(InputError, match="超出可建分区的范围"):
            ensure_partitions(c, [date(2025, 5, 1), date(1850, 1, 1)])
        with pytest.raises(InputError, match="应为某月的第一天"):
            ensure_partitions(c, [date(2025, 5, 17)])
        assert list_partitions(c) == []  # nothing made when one month is wrong
        assert ensure_partitions(c, [date(2025, 12, 1)]) == ["cases_y2025m12"]
        assert ensure_partitions(c, [date(2025, 12, 1)]) == []  # idempotent
    assert partition_name(date(2026, 1, 1)) == "cases_y2026m01"


def test_a_dry_run_leaves_no_partition(pg: Storage) -> None:
    report = _import(pg, _table(pg, "2025-09", 4), dry_run=True)
    assert report.inserted == 4 and report.dry_run
    with pg.engine.connect() as c:
        assert list_partitions(c) == []


def _old_rows(url: str) -> None:
    """Cases, history and a photo written at revision 0012 (the unpartitioned table)."""
    s = Storage(url)
    cols = ("id, case_id, category, category_name, reported_at, status, description, address, "
            "source, coord_system, lon, lat, geom, updated_at")
    with s.engine.begin() as c:
        for pk, cid, when in ((5, "OLD5", "2025-04-30 23:30+00"), (9, "OLD9", "2025-05-01 00:10+00"),
                              (42, "OLD42", "2025-05-20 08:00+00")):
            c.execute(text(f"INSERT INTO cases ({cols}) VALUES (:pk, :cid, '占道经营', '', :w, "
                           "'上报', '', '', '', 'wgs84', 113.9, 30.9, ST_SetSRID(ST_MakePoint("
                           "113.9, 30.9), 4326), now())"), {"pk": pk, "cid": cid, "w": when})
            c.execute(text("INSERT INTO case_events (case_pk, to_status, at, actor, note) "
                           "VALUES (:pk, '上报', now(), 'old', '')"), {"pk": pk})
        c.execute(text("INSERT INTO case_photos (case_pk, content_type, size, sha256, data, "
                       "uploaded_by, created_at) VALUES (42, 'image/png', 1, '', '\\x00', '', now())"))
    s.engine.dispose()


def test_migration_copies_and_swaps_keeping_ids() -> None:
    for url in fresh_postgis():
        storage = Storage(url)
        cfg = alembic_config(storage.engine)
        command.upgrade(cfg, "0012")
        _old_rows(url)
        command.upgrade(cfg, "head")
        assert dict(_sql(storage, "SELECT case_id, id FROM cases")) == {
            "OLD5": 5, "OLD9": 9, "OLD42": 42}
        assert _rows_per_partition(storage) == {"cases_y2025m04": 1, "cases_y2025m05": 2}
        assert _sql(storage, "SELECT count(*) FROM case_events e JOIN case_keys k "
                             "ON k.id = e.case_pk")[0][0] == 3
        assert _sql(storage, "SELECT case_pk FROM case_photos") == [(42,)]
        _import(storage, _table(storage, "2025-05", 1, prefix="NEW"))
        new_id = _sql(storage, "SELECT id FROM cases WHERE case_id = 'NEW0000'")[0][0]
        assert new_id > 42  # the registry's sequence continues after the old ids
        command.downgrade(cfg, "0012")  # and back: one table, the same ids, unique numbers
        assert dict(_sql(storage, "SELECT case_id, id FROM cases")) == {
            "OLD5": 5, "OLD9": 9, "OLD42": 42, "NEW0000": new_id}
        assert _sql(storage, "SELECT relkind FROM pg_class WHERE relname = 'cases'") == [("r",)]
        assert _sql(storage, "SELECT to_regclass('case_keys')") == [(None,)]
        storage.engine.dispose()


def test_sqlite_keeps_one_table_behind_the_same_interface(tmp_path: Any) -> None:
    storage = Storage(f"sqlite:///{tmp_path / 'x.db'}")
    _import(storage, _table(storage, "2025-05", 6))
    moved = _table(storage, "2025-05", 6)
    moved.loc[:1, "reported_at"] = "2025-07-02 08:00"
    before = dict(_sql(storage, "SELECT case_id, id FROM cases"))
    assert _import(storage, moved).updated == 6
    assert dict(_sql(storage, "SELECT case_id, id FROM cases")) == before
    with storage.engine.connect() as c:
        assert not is_partitioned(c) and list_partitions(c) == []
        assert ensure_partitions(c, [date(2025, 5, 1)]) == []
    names = {n for (n,) in _sql(storage, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_cases_squad_reported" in names and "ix_cases_reported_at" not in names
    storage.engine.dispose()


def test_a_busy_table_makes_the_import_wait_then_give_up_clearly(pg: Storage) -> None:
    reader = pg.engine.connect()
    reader.execute(text("SELECT count(*) FROM cases"))  # a long report holds its lock
    try:
        with pytest.raises(PartitionBusy, match="稍后重试"):
            ensure_partitions_now(pg.engine, [date(2025, 10, 1)], tries=2, lock_timeout_s=0.1)
    finally:
        reader.rollback()
        reader.close()
    assert ensure_partitions_now(pg.engine, [date(2025, 10, 1)]) == ["cases_y2025m10"]
