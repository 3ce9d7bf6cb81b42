"""Case import: validate a file, store every valid row atomically, report every rejected row.

Re-importing a case (same ``case_id``, after :func:`geo.cases.normalise_case_id`) updates it in
place and records a status change in its history; it never creates a duplicate. A file that cannot
be read stores nothing.

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
from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.orm import Session

from geo.cases import ParseResult, parse_cases, visible
from geo.catalogue import default_catalogue
from geo.errors import Problem
from geo.io.tables import MAX_TABLE_BYTES
from service.models import Case, CaseEvent, ImportBatch, utcnow
from service.settings import Settings
from service.storage import Storage

_CHUNK = 5000
_CASES = cast(Table, Case.__table__)
_EVENTS = cast(Table, CaseEvent.__table__)
NO_RIGHT = "案件编号无效或无权修改。"
"""Reason for a row that would overwrite a case the caller may not change (never says whose)."""
EXISTS = "案件编号已存在；修改状态请用状态流转接口。"
"""Reason for a row of a create-only import whose case exists and is the caller's to see."""
OUTSIDE = "该位置不在你的中队范围内；只能上报或导入本中队的案件。"
"""Reason for a row of a squad-bound caller located outside the caller's squads."""


@dataclass
class ImportReport:
    """What an import stored and what it rejected."""

    batch_id: int
    n_rows: int
    inserted: int
    updated: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Number of rejected rows."""
        return len({p.row for p in self.problems if p.row})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (API responses, batch records)."""
        return {"batch_id": self.batch_id, "n_rows": self.n_rows, "inserted": self.inserted,
                "updated": self.updated, "rejected": self.rejected,
                "problems": [vars(p) for p in self.problems]}


def import_file(storage: Storage, path: str | Path | bytes, *, filename: str = "",
                coords: str = "wgs84", actor: str = "", max_bytes: int = MAX_TABLE_BYTES,
                settings: Settings | None = None) -> ImportReport:
    """Read ``path`` (or upload bytes) in the capped worker and import it.

    The file is parsed by :func:`service.upload_worker.read_upload` within the ``XUNCHA_UPLOAD_*``
    limits and the worker's memory and time caps of ``settings`` (default: read from the
    environment); raises FileReadError if unreadable, PayloadTooLarge (413) past a limit.
    """
    from service.upload_worker import read_upload

    name = filename or (Path(path).name if not isinstance(path, bytes) else "")
    source = path if isinstance(path, bytes) else Path(path)
    table = read_upload(source, filename=name, settings=settings or Settings(),
                        max_bytes=max_bytes)
    return import_table(storage, table, filename=name, coords=coords, actor=actor)


def import_table(storage: Storage, table: pd.DataFrame, *, filename: str = "",
                 coords: str = "wgs84", actor: str = "", squads: tuple[str, ...] | None = None,
                 create_only: bool = False) -> ImportReport:
    """Validate ``table`` and store its valid rows in one transaction.

    Parameters
    ----------
    storage : Storage
        Where the cases go.
    table : pandas.DataFrame
        Raw case table (see :func:`geo.cases.parse_cases`).
    filename, coords, actor : str
        Recorded with the import batch; ``coords`` is also the coordinate system of the table.
    squads : tuple of str, optional
        The squads the caller may change (``None``: all, for admins and the CLI). A row that
        would update a case of another squad (or of none) is refused with :data:`NO_RIGHT`, a
        row located outside these squads with :data:`OUTSIDE`.
    create_only : bool
        Refuse every row whose case exists already (:data:`EXISTS` when the caller may see it,
        :data:`NO_RIGHT` otherwise) instead of updating it.

    Returns
    -------
    ImportReport
        Counts and every problem: the table's and the refused rows', in row order.
    """
    storage.init()
    parsed = parse_cases(table, coords=coords, tz=storage.tz, communities=storage.communities())
    rows = _case_rows(parsed)
    guarded = squads is not None or create_only
    with storage.begin() as session:
        existing = _existing(session, [r["case_id"] for r in rows], lock=guarded)
        refused: list[Problem] = []
        if guarded:
            rows, refused = _guard(rows, parsed, existing, squads=squads,
                                   create_only=create_only)
        problems = sorted(parsed.problems + refused, key=lambda p: (p.row, p.column))
        n_rejected = len({p.row for p in problems if p.row})
        batch = ImportBatch(filename=visible(filename, limit=255)[:255],
                            coords=visible(coords, limit=32)[:32], created_by=actor,
                            n_rows=parsed.n_rows, n_rejected=n_rejected,
                            report=[vars(p) for p in problems[:5000]])
        session.add(batch)
        session.flush()
        for r in rows:
            r["batch_id"] = batch.id
        inserted, updated = _upsert(session, rows, existing, actor=actor)
        batch.n_inserted, batch.n_updated = inserted, updated
        batch_id = batch.id
    if inserted or updated:
        storage.analyze()  # every import path keeps the query planner's statistics current
    return ImportReport(batch_id, parsed.n_rows, inserted, updated, problems)


def _guard(rows: list[dict[str, Any]], parsed: ParseResult,
           existing: dict[str, tuple[int, str, str | None]], *, squads: tuple[str, ...] | None,
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
    for r, file_row in zip(rows, parsed.cases["row"].tolist(), strict=True):
        found = existing.get(r["case_id"])
        if squads is not None and r["squad_id"] not in squads:
            refused.append(Problem(int(file_row), lon_col, f"{r['lon']:.6f},{r['lat']:.6f}",
                                   OUTSIDE))
        elif found is not None and squads is not None and found[2] not in squads:
            refused.append(Problem(int(file_row), id_col, r["case_id"], NO_RIGHT))
        elif found is not None and create_only:
            refused.append(Problem(int(file_row), id_col, r["case_id"], EXISTS))
        else:
            keep.append(r)
    return keep, refused


def _datetimes(values: pd.Series) -> list[Any]:
    """Python datetimes (tz-aware) or None, vectorised."""
    arr = values.dt.tz_convert("UTC").dt.to_pydatetime() if len(values) else []
    return [None if pd.isna(v) else v for v in arr]


def _case_rows(parsed: ParseResult) -> list[dict[str, Any]]:
    cat = default_catalogue()
    cases = parsed.cases
    hours = cases["category"].map({c: cat.deadline_hours(c) for c in cases["category"].unique()})
    deadline = cases["reported_at"] + pd.to_timedelta(hours, unit="h")
    lon = cases["lon"].astype(float).tolist()
    lat = cases["lat"].astype(float).tolist()
    columns: dict[str, list[Any]] = {
        "case_id": cases["case_id"].tolist(), "category": cases["category"].tolist(),
        "category_name": cases["category_name"].tolist(),
        "reported_at": _datetimes(cases["reported_at"]), "status": cases["status"].tolist(),
        "closed_at": _datetimes(pd.to_datetime(cases["closed_at"], utc=True)),
        "deadline_at": _datetimes(deadline),
        "description": cases["description"].tolist(), "address": cases["address"].tolist(),
        "source": cases["source"].tolist(), "coord_system": cases["coord_system"].tolist(),
        "community_code": cases["community_code"].tolist(),
        "community": cases["community"].tolist(), "squad_id": cases["squad"].tolist(),
        "lon": lon, "lat": lat,
        "geom": [f"SRID=4326;POINT ({x!r} {y!r})" for x, y in zip(lon, lat, strict=True)],
    }
    now = utcnow()
    keys = list(columns)
    return [{**dict(zip(keys, vals, strict=True)), "updated_at": now}
            for vals in zip(*columns.values(), strict=True)]


def _existing(session: Session, ids: list[str], *, lock: bool = False
              ) -> dict[str, tuple[int, str, str | None]]:
    """``case_id → (pk, status, squad_id)`` of the stored cases among ``ids`` (rows locked for
    the transaction when ``lock``, so what was checked is what gets written)."""
    found: dict[str, tuple[int, str, str | None]] = {}
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k:k + _CHUNK]
        stmt = select(Case.case_id, Case.id, Case.status, Case.squad_id).where(
            Case.case_id.in_(chunk))
        if lock:
            stmt = stmt.with_for_update()
        found.update({cid: (pk, st, sq) for cid, pk, st, sq in session.execute(stmt)})
    return found


def _upsert(session: Session, rows: list[dict[str, Any]],
            existing: dict[str, tuple[int, str, str | None]], *, actor: str) -> tuple[int, int]:
    """Insert the rows whose id is not in ``existing`` and update the others.

    ``existing`` is the map read (and, for guarded imports, checked and locked) earlier in the
    same transaction: a row counted as new is inserted, never turned into an update of a case
    that appeared since (the unique constraint fails the import instead).
    """
    new = [r for r in rows if r["case_id"] not in existing]
    old = [{**r, "id": existing[r["case_id"]][0]} for r in rows if r["case_id"] in existing]
    now = utcnow()
    for k in range(0, len(new), _CHUNK):
        session.execute(insert(_CASES), new[k:k + _CHUNK])
    if old:
        session.execute(update(Case), old)
    if new and session.get_bind().dialect.name == "postgresql":
        # fresh statistics, or PostgreSQL plans the id lookups below as sequential scans of a
        # table it believes empty (an import of 66k rows spent over 50 s in them)
        session.execute(text("ANALYZE cases"))
    created = _existing(session, [r["case_id"] for r in new])
    events = [{"case_pk": created[r["case_id"]][0], "from_status": None, "to_status": r["status"],
               "at": r["reported_at"], "actor": actor or "导入", "note": "导入"} for r in new]
    events += [{"case_pk": r["id"], "from_status": existing[r["case_id"]][1],
                "to_status": r["status"], "at": now, "actor": actor or "导入", "note": "重新导入"}
               for r in old if existing[r["case_id"]][1] != r["status"]]
    for k in range(0, len(events), _CHUNK):
        session.execute(insert(_EVENTS), events[k:k + _CHUNK])
    return len(new), len(old)


def deadline_for(category: str, reported_at: Any) -> Any:
    """The local handling deadline of a case of ``category`` reported at ``reported_at``."""
    return reported_at + timedelta(hours=default_catalogue().deadline_hours(category))
