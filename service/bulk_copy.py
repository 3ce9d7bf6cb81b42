"""Bulk writes of an import on PostgreSQL: ``COPY`` into staging tables, then set-based
statements, inside the import's own transaction.

``cases`` is partitioned by month there (:mod:`service.partitions`) and its row ids come from
the registry ``case_keys (id, case_id UNIQUE)``. :func:`copy_new_cases` takes fresh ids from the
registry's sequence, registers the new case numbers (:func:`register_keys`), streams the rows
with psycopg's binary ``COPY … FROM STDIN`` (about 3x less client time than text) into a
temporary table (dropped at commit) and inserts them into ``cases`` in one statement that builds
the point geometry from ``lon``/``lat``; :func:`update_changed` applies a re-import's changed
rows in one ``UPDATE … FROM`` a staging table; :func:`copy_events` streams the history rows
straight into ``case_events``.

Integrity is that of the row-by-row path (:func:`service.importer._write`): the rows are the
ones the importer decided on after reading (and, for guarded imports, locking) the stored cases
in the same transaction. ``ON CONFLICT (case_id) DO NOTHING`` on ``case_keys`` detects a case
number registered by someone else meanwhile, and the update matches each row only while its
status is the one read: either way :class:`ImportConflict` is raised and the whole import rolls
back, so a re-import never rewinds a status. A killed process leaves nothing either: the server
rolls back the open transaction (staging tables included).

The ``INSERT`` and ``UPDATE`` of ``cases`` go through SQLAlchemy, so :mod:`service.case_cache`
sees the write and bumps the data version at commit; only the staging tables and the history
rows travel by raw ``COPY``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import text
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from service.errors import ConflictError

STAGE = "xuncha_stage_cases"
KEY_STAGE = "xuncha_stage_keys"
CHANGED_STAGE = "xuncha_stage_changed"
CASE_COLUMNS = ("case_id", "category", "category_name", "reported_at", "status", "status_flag",
                "closed_at", "deadline_at", "description", "address", "source", "coord_system",
                "community_code", "community", "squad_id", "lon", "lat", "location_precision",
                "batch_id", "updated_at")
"""The columns of a new case row an import writes (``geom`` is made from ``lon``/``lat``)."""
UPDATE_COLUMNS = ("category", "category_name", "reported_at", "status", "status_flag",
                  "closed_at", "deadline_at", "description", "address", "source", "coord_system",
                  "community_code", "community", "squad_id", "lon", "lat", "location_precision",
                  "batch_id", "updated_at")
"""The columns a re-import's changed row sets (``geom`` is made from ``lon``/``lat``)."""
EVENT_COLUMNS = ("case_pk", "from_status", "to_status", "at", "actor", "note")
_TYPES = {"id": "int4", "was_reported_at": "timestamptz", "reported_at": "timestamptz",
          "closed_at": "timestamptz", "deadline_at": "timestamptz", "updated_at": "timestamptz",
          "at": "timestamptz", "lon": "float8", "lat": "float8", "batch_id": "int4",
          "case_pk": "int4"}
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


def _stage(session: Session, name: str, columns: Sequence[str],
           rows: Iterable[Sequence[Any]]) -> None:
    """A temporary table ``name`` (dropped at commit) of ``columns`` filled by ``COPY``."""
    session.execute(text(f"DROP TABLE IF EXISTS {name}"))
    defs = ", ".join(f"{c} {_TYPES.get(c, 'text')}" for c in columns)
    session.execute(text(f"CREATE TEMPORARY TABLE {name} ({defs}) ON COMMIT DROP"))
    _copy(session, name, columns, rows)


def _clash(case_ids: list[str]) -> ImportConflict:
    return ImportConflict(
        f"导入期间另有 {len(case_ids)} 条同编号的案件被写入（如「{case_ids[0]}」），"
        "本次导入没有保存任何内容；请重新导入（这些案件将按更新处理）。")


def _new_ids(session: Session, n: int) -> list[int]:
    """``n`` fresh row ids from the sequence of ``case_keys``."""
    return [int(i) for i in session.execute(text(
        "SELECT nextval(pg_get_serial_sequence('case_keys', 'id')) "
        "FROM generate_series(1, :n)"), {"n": n}).scalars()]


def register_keys(session: Session, case_ids: list[str]) -> dict[str, int]:
    """Register ``case_ids`` (all new) in ``case_keys``; ``case_id → id``.

    ``INSERT … ON CONFLICT (case_id) DO NOTHING`` detects a case number registered by another
    writer since the importer looked (that writer's transaction is waited for first).

    Raises
    ------
    ImportConflict
        If one of ``case_ids`` is registered already (the transaction must roll back).
    """
    ids = dict(zip(case_ids, _new_ids(session, len(case_ids)), strict=True))
    if len(ids) != len(case_ids):  # the reader rejects a number repeated in a file
        raise ValueError("register_keys: case numbers repeated among the new rows")
    _stage(session, KEY_STAGE, ("id", "case_id"), ((i, c) for c, i in ids.items()))
    stored = session.execute(text(
        f"WITH k AS (INSERT INTO case_keys (id, case_id) SELECT id, case_id FROM {KEY_STAGE} "
        "ON CONFLICT (case_id) DO NOTHING RETURNING 1) SELECT count(*) FROM k")).scalar()
    if stored != len(ids):
        clash = session.execute(text(
            f"SELECT s.case_id FROM {KEY_STAGE} s JOIN case_keys k USING (case_id) "
            "WHERE k.id <> s.id ORDER BY s.id LIMIT 5")).scalars().all()
        raise _clash([str(c) for c in clash] or ["?"])
    session.execute(text(f"DROP TABLE {KEY_STAGE}"))
    return ids


def copy_new_cases(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert ``rows`` (dicts with :data:`CASE_COLUMNS`) into ``cases``; ``case_id → id``.

    The ids come from :func:`register_keys`; the rows go by ``COPY`` into a staging table and
    from there into ``cases`` (the partition of each row's month, which the importer created
    beforehand: :func:`service.partitions.ensure_partitions`) in one ``INSERT … SELECT`` that
    builds the point geometry.

    Raises
    ------
    ImportConflict
        If a case with one of these ids exists now (the caller's transaction must roll back).
    """
    created = register_keys(session, [r["case_id"] for r in rows])
    cols = ", ".join(("id", *CASE_COLUMNS))
    _stage(session, STAGE, ("id", *CASE_COLUMNS),
           ([created[r["case_id"]], *(r[c] for c in CASE_COLUMNS)] for r in rows))
    session.execute(text(f"INSERT INTO cases ({cols}, geom) "
                         f"SELECT {cols}, ST_SetSRID(ST_MakePoint(lon, lat), 4326) FROM {STAGE}"))
    session.execute(text(f"DROP TABLE {STAGE}"))
    return created


def update_changed(session: Session, rows: list[dict[str, Any]]) -> None:
    """Apply the changed rows of a re-import in one ``UPDATE cases … FROM`` a staging table.

    Each row carries its ``id`` and, as ``_was_reported_at`` and ``_was_status``, what the
    importer read: the update matches the row in its partition by the full key ``(id,
    reported_at)``, and only while its status is still the one the merge was decided on. A
    changed ``reported_at`` moves the row to its new month's partition (PostgreSQL's row
    movement). A case changed or moved by someone else since it was read fails the whole
    import (:class:`ImportConflict`, nothing stored) instead of being overwritten.
    """
    if not rows:
        return
    cols = ("id", "_was_reported_at", "_was_status", *UPDATE_COLUMNS)
    _stage(session, CHANGED_STAGE, [c.lstrip("_") for c in cols],
           ([r[c] for c in cols] for r in rows))
    sets = ", ".join(f"{c} = s.{c}" for c in UPDATE_COLUMNS)
    try:
        done = cast(CursorResult[Any], session.execute(text(
            f"UPDATE cases c SET {sets}, geom = ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) "
            f"FROM {CHANGED_STAGE} s WHERE c.id = s.id AND c.reported_at = s.was_reported_at "
            "AND c.status = s.was_status"))).rowcount
    except DBAPIError as exc:  # 40001: moved to another partition by a concurrent update
        if getattr(exc.orig, "sqlstate", None) != "40001":
            raise
        raise _moved() from exc
    if done != len(rows):
        raise _moved()
    session.execute(text(f"DROP TABLE {CHANGED_STAGE}"))


def _moved() -> ImportConflict:
    return ImportConflict("导入期间有案件被他人修改（状态或上报时间已变），本次导入没有保存任何内容；"
                          "请重新导入，将按最新的案件状态合并。")


def copy_events(session: Session, events: list[dict[str, Any]]) -> None:
    """Append ``events`` (dicts with :data:`EVENT_COLUMNS`) to ``case_events`` by ``COPY``."""
    if events:
        _copy(session, "case_events", EVENT_COLUMNS,
              ([e[c] for c in EVENT_COLUMNS] for e in events))
