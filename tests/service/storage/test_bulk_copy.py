"""Import by COPY on a real PostGIS (:mod:`service.bulk_copy`): the same rows, geometry and history
as the row-by-row path, a re-import never rewinds a status, and a failed, killed or clashing
import leaves nothing of itself."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from api_support import stall_cases
from sqlalchemy import text

import service.bulk_copy as bulk_copy
import service.importer as importer
from service.bulk_copy import ImportConflict
from service.importer import import_table
from service.storage import Storage

pytestmark = pytest.mark.postgis
REPO = Path(__file__).resolve().parents[3]


def _table(storage: Storage, n: int, prefix: str = "CP", **extra: Any) -> pd.DataFrame:
    return stall_cases(storage, n, prefix=prefix, lon_step=1e-6, **extra,
                       reported_at=lambda i: f"2026-05-{1 + i % 28:02d} 07:{i % 60:02d}")


def _counts(storage: Storage) -> tuple[int, int, int]:
    with storage.begin() as s:
        return tuple(int(s.execute(text(f"select count(*) from {t}")).scalar() or 0)  # type: ignore[return-value]
                     for t in ("cases", "case_events", "import_batches"))


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = importer.copy_new_cases

    def spy(session: Any, rows: list[dict[str, Any]]) -> dict[str, int]:
        calls.append(len(rows))
        return real(session, rows)

    monkeypatch.setattr(importer, "copy_new_cases", spy)
    return calls


def test_copy_stores_rows_geometry_and_history(pg: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(monkeypatch)
    report = import_table(pg, _table(pg, 300), filename="copy.csv", actor="tester")
    assert calls == [300] and report.inserted == 300 and not report.problems
    assert _counts(pg) == (300, 300, 1)
    with pg.begin() as s:
        bad_geom = s.execute(text("select count(*) from cases where not ST_Equals(geom, "
                                  "ST_SetSRID(ST_MakePoint(lon, lat), 4326)) "
                                  "or ST_SRID(geom) <> 4326")).scalar()
        orphans = s.execute(text("select count(*) from case_events e left join cases c "
                                 "on c.id = e.case_pk where c.case_id is null")).scalar()
        stage = s.execute(text("select to_regclass('pg_temp.xuncha_stage_cases')")).scalar()
    assert bad_geom == 0 and orphans == 0 and stage is None
    case = pg.get_case("CP0007")
    assert case is not None and case["history"][0]["to_status"] == "上报"
    assert "导入批次" in case["history"][0]["note"] and case["history"][0]["actor"] == "tester"


def test_reimport_by_copy_never_rewinds_a_status(pg: Storage) -> None:
    import_table(pg, _table(pg, 50, status="派遣"))
    behind = import_table(pg, _table(pg, 60, status="上报"))  # 50 known (behind), 10 new
    assert (behind.inserted, behind.updated) == (10, 50)
    assert len(behind.notices) == 50 and not behind.status_changes
    silent = import_table(pg, _table(pg, 60).assign(description="改了描述"))
    assert silent.inserted == 0 and not silent.status_changes
    cases = pg.query_cases().set_index("case_id")
    assert (cases.loc[[f"CP{i:04d}" for i in range(50)], "status"] == "派遣").all()
    assert (cases.loc[[f"CP{i:04d}" for i in range(50, 60)], "status"] == "上报").all()
    assert (cases["description"] == "改了描述").all()
    assert [h["to_status"] for h in pg.get_case("CP0001")["history"]] == ["派遣"]  # type: ignore[index]


def test_failure_after_the_copy_leaves_nothing(pg: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_session: Any, events: list[dict[str, Any]]) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "copy_events", boom)
    with pytest.raises(RuntimeError):
        import_table(pg, _table(pg, 200))
    assert _counts(pg) == (0, 0, 0)


def test_a_case_stored_meanwhile_fails_the_whole_import(pg: Storage,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real = bulk_copy.copy_new_cases

    def racing(session: Any, rows: list[dict[str, Any]]) -> dict[str, int]:
        monkeypatch.setattr(importer, "copy_new_cases", real)  # the other writer: plain import
        other = import_table(pg, _table(pg, 1, prefix="CP").iloc[[0]], filename="other.csv")
        assert other.inserted == 1
        return real(session, rows)

    monkeypatch.setattr(importer, "copy_new_cases", racing)
    with pytest.raises(ImportConflict, match="CP0000"):
        import_table(pg, _table(pg, 100))
    assert _counts(pg) == (1, 1, 1)  # only the other writer's case and batch
    assert pg.get_case("CP0001") is None


def test_killed_import_leaves_nothing(pg: Storage, tmp_path: Path) -> None:
    csv = tmp_path / "big.csv"
    _table(pg, 2000).to_csv(csv, index=False)
    script = textwrap.dedent(f"""
        import os, signal
        import service.importer as importer
        from service.importer import import_file
        from service.storage import Storage

        def die(session, events):  # after COPY + INSERT ... SELECT of every case row
            n = session.execute(importer.text("select count(*) from cases")).scalar()
            print("in transaction:", n, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        importer.copy_events = die
        import_file(Storage({pg.url!r}), {str(csv)!r})
        """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300, cwd=REPO)
    assert done.returncode == -9, done.stderr[-2000:]
    assert "in transaction: 2000" in done.stdout
    assert _counts(pg) == (0, 0, 0)
