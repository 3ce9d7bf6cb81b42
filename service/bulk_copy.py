"""Bulk writes of an import on PostgreSQL: ``COPY`` into a staging table, then one
``INSERT … SELECT … ON CONFLICT``, inside the import's own transaction.

:func:`copy_new_cases` streams the new rows with psycopg's binary ``COPY … FROM STDIN`` (about
3x less client time than text) into a temporary
table (dropped at commit), inserts them into ``cases`` in one statement that builds the point
geometry from ``lon``/``lat`` and returns every new row's id (so the history rows need no
lookup), and :func:`copy_events` streams the history rows straight into ``case_events``.

Integrity is that of the row-by-row path (:func:`service.importer._write`): the rows are the
new ones the importer decided on after reading (and, for guarded imports, locking) the stored
cases in the same transaction, so a re-import still never rewinds a status (updates are made by
the importer as before). ``ON CONFLICT (case_id) DO NOTHING`` only detects a case with the same
id committed by someone else meanwhile: then :class:`ImportConflict` is raised and the whole
import rolls back, as the unique constraint makes the row-by-row path fail. A killed process
leaves nothing either: the server rolls back the open transaction (staging table included).

The ``INSERT`` goes through SQLAlchemy, so :mod:`service.case_cache` sees the write and bumps the
data version at commit; only the staging table and the history rows travel by raw ``COPY``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import ConflictError

STAGE = "xuncha_stage_cases"
CASE_COLUMNS = ("case_id", "category", "category_name", "reported_at", "status", "status_flag",
                "closed_at", "deadline_at", "description", "address", "source", "coord_system",
                "community_code", "community", "squad_id", "lon", "lat", "location_precision",
                "batch_id", "updated_at")
"""The columns of a new case row an import writes (``geom`` is made from ``lon``/``lat``)."""
EVENT_COLUMNS = ("case_pk", "from_status", "to_status", "at", "actor", "note")
_TYPES = {"reported_at": "timestamptz", "closed_at": "timestamptz", "deadline_at": "timestamptz",
          "updated_at": "timestamptz", "at": "timestamptz", "lon": "float8", "lat": "float8",
          "batch_id": "int4", "case_pk": "int4"}
"""PostgreSQL types of the non-text columns (binary ``COPY`` needs every column's type)."""


class ImportConflict(ConflictError):  # noqa: N818 - reads better at the raise site
    """Cases with ids of this import's new rows were stored by another writer meanwhile (409)."""


def _raw(session: Session) -> Any:
    """The psycopg connection of ``session``'s transaction."""
    return session.connection().connection.dbapi_connection


def _copy(session: Session, table: str, columns: Sequence[str],
          rows: Iterable[Sequence[Any]]) -> None:
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with _raw(session).cursor() as cur, cur.copy(sql) as copy:
        copy.set_types([_TYPES.get(c, "text") for c in columns])
        for row in rows:
            copy.write_row(row)


def copy_new_cases(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert ``rows`` (dicts with :data:`CASE_COLUMNS`) into ``cases``; ``case_id → id``.

    Raises
    ------
    ImportConflict
        If a case with one of these ids exists now (the caller's transaction must roll back).
    """
    cols = ", ".join(CASE_COLUMNS)
    session.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    session.execute(text(f"CREATE TEMPORARY TABLE {STAGE} ON COMMIT DROP AS "
                         f"SELECT {cols} FROM cases WITH NO DATA"))
    _copy(session, STAGE, CASE_COLUMNS, ([r[c] for c in CASE_COLUMNS] for r in rows))
    inserted = session.execute(text(
        f"INSERT INTO cases ({cols}, geom) "
        f"SELECT {cols}, ST_SetSRID(ST_MakePoint(lon, lat), 4326) FROM {STAGE} "
        "ON CONFLICT (case_id) DO NOTHING RETURNING case_id, id")).all()
    created = {str(cid): int(pk) for cid, pk in inserted}
    if len(created) != len(rows):
        clash = [r["case_id"] for r in rows if r["case_id"] not in created]
        raise ImportConflict(
            f"导入期间另有 {len(clash)} 条同编号的案件被写入（如「{clash[0]}」），"
            "本次导入没有保存任何内容；请重新导入（这些案件将按更新处理）。")
    session.execute(text(f"DROP TABLE {STAGE}"))
    return created


def copy_events(session: Session, events: list[dict[str, Any]]) -> None:
    """Append ``events`` (dicts with :data:`EVENT_COLUMNS`) to ``case_events`` by ``COPY``."""
    if events:
        _copy(session, "case_events", EVENT_COLUMNS,
              ([e[c] for c in EVENT_COLUMNS] for e in events))
