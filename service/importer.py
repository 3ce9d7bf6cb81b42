"""Case import: validate a file, store every valid row atomically, report every rejected row.

Re-importing a case (same ``case_id``, after :func:`geo.cases.normalise_case_id`) updates it in
place; it never creates a duplicate, and it never loses work done in the service:

- a file without a status (no status column, or an empty / flag-only cell, and no closure
  time) never changes a stored status, flag or closure time;
- a file whose status is behind the stored one (库中已到派遣, 文件为上报) keeps the stored one and
  says so per row (:attr:`ImportReport.notices`);
- every status an import does change is listed in :attr:`ImportReport.status_changes` and in the
  case's history with the batch;
- a row equal to the stored case is not written at all, so importing a file twice changes
  nothing the second time (it counts in ``updated`` and in ``unchanged``).

A file that cannot be read stores nothing; ``dry_run`` runs everything in a transaction that is
rolled back, so it reports the mapping, the problems and what would change, storing nothing.

Rows without coordinates (12345 field set A) are placed by name through the deployment's gazetteer
(:func:`service.deployment.deployment_gazetteer`: its communities, its landmarks and the bureau's own table
``<data_dir>/gazetteer.csv``); each case stores its ``location_precision`` (``point``,
``landmark``, ``community``) and the report lists which name placed which row (``located``).
No online geocoder is called.

A caller bound to squads (``squads=``) writes only rows it may write: the check is made in the
transaction that writes, on the rows it writes (existing rows locked), and a refused row is
reported per row with :data:`NO_RIGHT`, which says nothing about whether or where the case exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pandas as pd
from sqlalchemy import ARRAY, String, Table, any_, bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.case_merge import merge_case
from geo.case_times import MAX_FUTURE
from geo.cases import ParseResult, parse_cases, visible
from geo.catalogue import Catalogue, default_catalogue
from geo.errors import Problem
from geo.gazetteer import Gazetteer
from geo.io.tables import MAX_TABLE_BYTES
from service.bulk_copy import copy_events, copy_new_cases, register_keys, update_changed
from service.deployment import deployment_catalogue, deployment_gazetteer
from service.import_rows import case_rows
from service.models import Case, CaseEvent, ImportBatch, utcnow
from service.partitions import (
    analyze_months,
    ensure_partitions,
    ensure_partitions_now,
    missing_partition,
    months_of,
)
from service.settings import Settings
from service.storage import Storage

_CHUNK = 5000
BULK_COPY = True
"""On PostgreSQL, write new cases and history rows by ``COPY`` (:mod:`service.bulk_copy`);
``False`` uses the row-by-row ``INSERT`` path of SQLite (for comparisons, benchmarks)."""
_CASES = cast(Table, Case.__table__)
_EVENTS = cast(Table, CaseEvent.__table__)
NO_RIGHT = "案件编号无效或无权修改。"
"""Reason for a row that would overwrite a case the caller may not change (never says whose)."""
EXISTS = "案件编号已存在；修改状态请用状态流转接口。"
"""Reason for a row of a create-only import whose case exists and is the caller's to see."""
OUTSIDE = "该位置不在你的中队范围内；只能上报或导入本中队的案件。"
"""Reason for a row of a squad-bound caller located outside the caller's squads."""
STORED_COLUMNS = ("category", "category_name", "reported_at", "status", "status_flag",
                  "closed_at", "deadline_at", "description", "address", "source", "coord_system",
                  "community_code", "community", "squad_id", "lon", "lat", "location_precision")
"""The case columns an import writes and compares with the stored case."""


@dataclass
class ImportReport:
    """What an import stored, changed, kept and rejected."""

    batch_id: int
    n_rows: int
    inserted: int
    updated: int
    problems: list[Problem] = field(default_factory=list)
    unchanged: int = 0
    """Of ``updated``: rows equal to the stored case (nothing written)."""
    status_changes: list[dict[str, Any]] = field(default_factory=list)
    """``{"row", "case_id", "from_status", "to_status"}`` for every status this import changed."""
    notices: list[Problem] = field(default_factory=list)
    """Rows stored with a remark (a stored status kept because the file's is behind it)."""
    located: list[Problem] = field(default_factory=list)
    """Rows without coordinates placed by name: which name, at which precision."""
    mapping: list[str] = field(default_factory=list)
    """Which column filled which role (:meth:`geo.case_columns.ColumnMap.describe`)."""
    notes: list[str] = field(default_factory=list)
    """What the reader decided for the whole file (header row, coordinate system …)."""
    dry_run: bool = False

    @property
    def rejected(self) -> int:
        """Number of rejected rows."""
        return len({p.row for p in self.problems if p.row})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (API responses, batch records)."""
        return {"batch_id": self.batch_id, "n_rows": self.n_rows, "inserted": self.inserted,
                "updated": self.updated, "unchanged": self.unchanged, "rejected": self.rejected,
                "dry_run": self.dry_run, "mapping": self.mapping, "notes": self.notes,
                "status_changes": self.status_changes,
                "notices": [vars(p) for p in self.notices],
                "located": [vars(p) for p in self.located],
                "problems": [vars(p) for p in self.problems]}


class _RollBack(Exception):  # noqa: N818 - control flow of a dry run, never seen by a caller
    """Raised inside the transaction of a dry run so that nothing it wrote is kept."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("dry run")
        self.report = report


@dataclass
class _Plan:
    """What an import writes: new rows, changed rows (with ``id``), events, and the report."""

    new: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    matched: int = 0
    unchanged: int = 0
    new_events: list[dict[str, Any]] = field(default_factory=list)
    change_events: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)


def _plan(rows: list[dict[str, Any]], existing: dict[str, dict[str, Any]], *, batch_id: int,
          actor: str, filename: str, status_column: str) -> _Plan:
    """Split ``rows`` into inserts and updates by :func:`geo.case_merge.merge_case`."""
    plan = _Plan()
    now = utcnow()
    who = actor or "导入"
    where = f"导入批次 {batch_id}（{visible(filename, limit=80) or '未命名文件'}）"
    for r in rows:
        row, given, text_ = r["_row"], r["_given"], r["_text"]
        values = {k: v for k, v in r.items() if not k.startswith("_")}
        stored = existing.get(r["case_id"])
        if stored is None:
            plan.new.append({**values, "batch_id": batch_id, "updated_at": now})
            plan.new_events.append({"_case_id": r["case_id"], "from_status": None,
                                    "to_status": values["status"], "at": values["reported_at"],
                                    "actor": who, "note": f"{where}，第 {row} 行"})
            continue
        plan.matched += 1
        merged = merge_case(values, stored, given=given, compare=STORED_COLUMNS)
        if merged.kept:
            plan.notices.append(Problem(row, status_column, text_ or values["status"],
                                        merged.kept))
        if merged.same:
            plan.unchanged += 1
            continue
        plan.changed.append({**merged.values, "id": stored["id"], "batch_id": batch_id,
                             "updated_at": now, "_was_reported_at": stored["reported_at"],
                             "_was_status": stored["status"]})
        if merged.change:
            old, new = merged.change
            plan.changes.append({"row": row, "case_id": r["case_id"], "from_status": old,
                                 "to_status": new})
            plan.change_events.append({"case_pk": stored["id"], "from_status": old,
                                       "to_status": new, "at": now, "actor": who,
                                       "note": f"{where}，第 {row} 行：{old} → {new}"})
    return plan


def import_file(storage: Storage, path: str | Path | bytes, *, filename: str = "",
                coords: str | None = None, actor: str = "", max_bytes: int = MAX_TABLE_BYTES,
                settings: Settings | None = None, columns: dict[str, str] | None = None,
                dry_run: bool = False, allow_future: bool = False) -> ImportReport:
    """Read ``path`` (or upload bytes) in the capped worker and import it.

    The file is parsed by :func:`service.upload_worker.read_upload` within the ``XUNCHA_UPLOAD_*``
    limits and the worker's memory and time caps of ``settings`` (default: read from the
    environment); raises FileReadError if unreadable, PayloadTooLarge (413) past a limit.
    ``columns`` (``--map``), ``dry_run`` and ``allow_future`` are as for :func:`import_table`;
    the deployment's alias table comes from ``settings`` (:func:`deployment_catalogue`).
    """
    from service.upload_worker import read_upload

    settings = settings or Settings()
    name = filename or (Path(path).name if not isinstance(path, bytes) else "")
    source = path if isinstance(path, bytes) else Path(path)
    table = read_upload(source, filename=name, settings=settings, max_bytes=max_bytes)
    catalogue, hint = deployment_catalogue(settings)
    return import_table(storage, table, filename=name, coords=coords, actor=actor,
                        columns=columns, dry_run=dry_run, catalogue=catalogue, alias_hint=hint,
                        max_future=None if allow_future else MAX_FUTURE,
                        gazetteer=deployment_gazetteer(storage, settings))


def import_table(storage: Storage, table: pd.DataFrame, *, filename: str = "",
                 coords: str | None = None, actor: str = "",
                 squads: tuple[str, ...] | None = None, create_only: bool = False,
                 columns: dict[str, str] | None = None, dry_run: bool = False,
                 catalogue: Catalogue | None = None, alias_hint: str | None = None,
                 max_future: timedelta | None = MAX_FUTURE,
                 gazetteer: Gazetteer | None = None) -> ImportReport:
    """Validate ``table`` and store its valid rows in one transaction.

    Parameters
    ----------
    storage : Storage
        Where the cases go.
    table : pandas.DataFrame
        Raw case table (see :func:`geo.cases.parse_cases`).
    filename, coords, actor : str
        Recorded with the import batch; ``coords`` is also the coordinate system of the table
        (``None``: decided from the headers and values).
    squads : tuple of str, optional
        The squads the caller may change (``None``: all, for admins and the CLI). A row that
        would update a case of another squad (or of none) is refused with :data:`NO_RIGHT`, a
        row located outside these squads with :data:`OUTSIDE`.
    create_only : bool
        Refuse every row whose case exists already (:data:`EXISTS` when the caller may see it,
        :data:`NO_RIGHT` otherwise) instead of updating it.
    columns : dict, optional
        ``{列名: role}`` overrides of the header guess (``--map``).
    dry_run : bool
        Do everything, report it, store nothing (``batch_id`` is 0).
    catalogue, alias_hint
        The deployment's catalogue and how to add an alias (:func:`deployment_catalogue`).
    max_future : timedelta or None
        Case times later than now + this are rejected (``None``: any time).
    gazetteer : Gazetteer, optional
        Place names for rows without coordinates (default :func:`deployment_gazetteer` without
        the bureau's table; :func:`import_file` adds it).

    Returns
    -------
    ImportReport
        Counts, status changes, kept statuses and every problem, in row order.
    """
    storage.init()
    cat = catalogue or default_catalogue()
    hint = alias_hint or deployment_catalogue(None)[1]
    comm = storage.communities()
    parsed = parse_cases(table, coords=coords, tz=storage.tz, communities=comm,
                         catalogue=cat, columns=columns, max_future=max_future, alias_hint=hint,
                         gazetteer=gazetteer or deployment_gazetteer(storage, communities=comm))
    rows = case_rows(parsed, cat)
    guarded = squads is not None or create_only
    months = months_of(r["reported_at"] for r in rows)
    if not dry_run:  # committed on its own: the import's transaction must not lock the parent
        ensure_partitions_now(storage.engine, months)
    try:
        with storage.begin() as session:
            if dry_run:
                ensure_partitions(session, months)
            existing = _existing(session, [r["case_id"] for r in rows], lock=guarded)
            refused: list[Problem] = []
            if guarded:
                rows, refused = _guard(rows, parsed, existing, squads=squads,
                                       create_only=create_only)
            problems = sorted(parsed.problems + refused, key=lambda p: (p.row, p.column))
            batch = ImportBatch(filename=visible(filename, limit=255)[:255],
                                coords=visible(coords or "auto", limit=32)[:32],
                                created_by=actor, n_rows=parsed.n_rows,
                                n_rejected=len({p.row for p in problems if p.row}),
                                report=[vars(p) for p in problems[:5000]])
            session.add(batch)
            session.flush()
            plan = _plan(rows, existing, batch_id=batch.id, actor=actor, filename=filename,
                             status_column=parsed.columns.get("status")
                             or parsed.columns.get("closed_at", "status"))
            _write_or_explain(session, plan, months)
            batch.n_inserted, batch.n_updated = len(plan.new), plan.matched
            report = ImportReport(
                0 if dry_run else batch.id, parsed.n_rows, len(plan.new), plan.matched,
                problems, unchanged=plan.unchanged, status_changes=plan.changes,
                notices=plan.notices,
                located=[p for p in parsed.located if p.row in {r["_row"] for r in rows}],
                mapping=parsed.mapping.describe(), notes=parsed.notes, dry_run=dry_run)
            if dry_run:
                raise _RollBack(report)
    except _RollBack as done:
        return done.report
    # every import path keeps the query planner's statistics current
    if (plan.new or plan.changed) and not analyze_months(storage.engine, months):
        storage.analyze()
    return report


def _write_or_explain(session: Session, plan: _Plan, months: set[Any]) -> None:
    """:func:`_write`, with the server's "no partition for this row" said in words."""
    try:
        _write(session, plan)
    except DBAPIError as exc:
        explained = missing_partition(exc, months)
        if explained is None:
            raise
        raise explained from exc


def _guard(rows: list[dict[str, Any]], parsed: ParseResult,
           existing: dict[str, dict[str, Any]], *, squads: tuple[str, ...] | None,
           create_only: bool) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The rows the caller may write, and a problem for each other row.

    A row located outside ``squads`` is refused first (whether its id exists or not), so the
    answer for another squad's id and for a new id differ only where the caller could have
    created the case.
    """
    id_col = parsed.columns.get("case_id", "case_id")
    lon_col = parsed.columns.get("lon", "lon")
    keep: list[dict[str, Any]] = []
    refused: list[Problem] = []
    for r in rows:
        found = existing.get(r["case_id"])
        if squads is not None and r["squad_id"] not in squads:
            refused.append(Problem(r["_row"], lon_col, f"{r['lon']:.6f},{r['lat']:.6f}", OUTSIDE))
        elif found is not None and squads is not None and found["squad_id"] not in squads:
            refused.append(Problem(r["_row"], id_col, r["case_id"], NO_RIGHT))
        elif found is not None and create_only:
            refused.append(Problem(r["_row"], id_col, r["case_id"], EXISTS))
        else:
            keep.append(r)
    return keep, refused


def _existing(session: Session, ids: list[str], *, lock: bool = False
              ) -> dict[str, dict[str, Any]]:
    """``case_id → stored values`` (``id`` and :data:`STORED_COLUMNS`) of the stored cases among
    ``ids`` (rows locked for the transaction when ``lock``, so what was checked is what gets
    written)."""
    cols = [Case.id, Case.case_id, *(getattr(Case, c) for c in STORED_COLUMNS)]
    found: dict[str, dict[str, Any]] = {}
    # PostgreSQL: one array parameter per 100k ids (= ANY), not thousands of bound values
    chunk = _CHUNK * 20 if BULK_COPY and session.get_bind().dialect.name == "postgresql" else 0
    if chunk:  # only the numbers registered in case_keys can be stored (none: a new import)
        ids = _registered(session, ids, chunk)
    for k in range(0, len(ids), chunk or _CHUNK):
        part = ids[k:k + (chunk or _CHUNK)]
        where = Case.case_id == any_(bindparam("ids", part, type_=ARRAY(String))) if chunk \
            else Case.case_id.in_(part)
        stmt = select(*cols).where(where)
        if lock:
            stmt = stmt.with_for_update()
        found.update({row.case_id: dict(row._mapping) for row in session.execute(stmt)})
    return found


def _registered(session: Session, ids: list[str], chunk: int) -> list[str]:
    """The case numbers among ``ids`` registered in ``case_keys`` (PostgreSQL)."""
    found: list[str] = []
    for k in range(0, len(ids), chunk):
        found += session.execute(text("SELECT case_id FROM case_keys WHERE case_id = ANY(:ids)"),
                                 {"ids": ids[k:k + chunk]}).scalars().all()
    return found


def _write(session: Session, plan: _Plan) -> None:
    """Insert the new rows, update the changed ones, record the events.

    The existing map was read (and, for guarded imports, checked and locked) earlier in the
    same transaction: a row counted as new is inserted, never turned into an update of a case
    that appeared since (registering its number, or the unique constraint on SQLite, fails the
    import instead). On PostgreSQL the new rows, the changed rows and the history go by
    ``COPY`` and set-based statements (:mod:`service.bulk_copy`, same rules) unless
    :data:`BULK_COPY` is off; there the row ids always come from ``case_keys``.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and BULK_COPY:
        created = copy_new_cases(session, plan.new) if plan.new else {}
        update_changed(session, plan.changed)
        copy_events(session, _events(plan, created))
        return
    created = register_keys(session, [r["case_id"] for r in plan.new]) \
        if postgres and plan.new else {}
    for k in range(0, len(plan.new), _CHUNK):
        part = plan.new[k:k + _CHUNK]
        session.execute(insert(_CASES), [{**r, "id": created[r["case_id"]]} for r in part]
                        if created else part)
    for k in range(0, len(plan.changed), _CHUNK):
        session.execute(update(Case), [{c: v for c, v in r.items() if not c.startswith("_")}
                                       for r in plan.changed[k:k + _CHUNK]])
    if plan.new and not created:
        found = _existing(session, [e["_case_id"] for e in plan.new_events])
        created = {cid: row["id"] for cid, row in found.items()}
    events = _events(plan, created)
    for k in range(0, len(events), _CHUNK):
        session.execute(insert(_EVENTS), events[k:k + _CHUNK])


def _events(plan: _Plan, created: dict[str, int]) -> list[dict[str, Any]]:
    """The history rows of ``plan``: one per new case (by its new id), one per status change."""
    events = [{**{k: v for k, v in e.items() if k != "_case_id"}, "case_pk": created[e["_case_id"]]}
              for e in plan.new_events]
    return events + plan.change_events
