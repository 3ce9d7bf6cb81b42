"""Case import: validate a file, store every valid row atomically, report every rejected row.

Re-importing a case (same ``case_id``) updates it in place and records a status change in its
history; it never creates a duplicate. A file that cannot be read stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from geo.cases import ParseResult, parse_cases
from geo.catalogue import default_catalogue
from geo.errors import Problem
from geo.io import MAX_TABLE_BYTES, read_table
from service.models import Case, CaseEvent, ImportBatch, utcnow
from service.storage import Storage, ewkt

_CHUNK = 5000


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
                coords: str = "wgs84", actor: str = "", max_bytes: int = MAX_TABLE_BYTES
                ) -> ImportReport:
    """Read ``path`` (or upload bytes) and import it; raises FileReadError if unreadable."""
    name = filename or (Path(path).name if not isinstance(path, bytes) else "")
    table = read_table(path, filename=name, max_bytes=max_bytes)
    return import_table(storage, table, filename=name, coords=coords, actor=actor)


def import_table(storage: Storage, table: pd.DataFrame, *, filename: str = "",
                 coords: str = "wgs84", actor: str = "") -> ImportReport:
    """Validate ``table`` and store its valid rows in one transaction."""
    storage.init()
    parsed = parse_cases(table, coords=coords, tz=storage.tz, communities=storage.communities())
    rows = _case_rows(parsed)
    with storage.begin() as session:
        batch = ImportBatch(filename=filename[:255], coords=coords, created_by=actor,
                            n_rows=parsed.n_rows, n_rejected=len(parsed.rejected_rows),
                            report=[vars(p) for p in parsed.problems[:5000]])
        session.add(batch)
        session.flush()
        for r in rows:
            r["batch_id"] = batch.id
        inserted, updated = _upsert(session, rows, actor=actor)
        batch.n_inserted, batch.n_updated = inserted, updated
        batch_id = batch.id
    return ImportReport(batch_id, parsed.n_rows, inserted, updated, parsed.problems)


def _case_rows(parsed: ParseResult) -> list[dict[str, Any]]:
    cat = default_catalogue()
    cases = parsed.cases
    now = utcnow()
    hours = cases["category"].map(cat.deadline_hours)
    deadline = cases["reported_at"] + pd.to_timedelta(hours, unit="h")
    out = []
    for i, rec in enumerate(cases.itertuples(index=False)):
        closed = None if pd.isna(rec.closed_at) else rec.closed_at.to_pydatetime()
        out.append({
            "case_id": rec.case_id, "category": rec.category, "category_name": rec.category_name,
            "reported_at": rec.reported_at.to_pydatetime(), "status": rec.status,
            "closed_at": closed, "deadline_at": deadline.iat[i].to_pydatetime(),
            "description": rec.description, "address": rec.address, "source": rec.source,
            "coord_system": rec.coord_system, "community_code": rec.community_code,
            "community": rec.community, "squad_id": rec.squad, "lon": float(rec.lon),
            "lat": float(rec.lat), "geom": ewkt(rec.geometry), "updated_at": now,
        })
    return out


def _existing(session: Session, ids: list[str]) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k:k + _CHUNK]
        stmt = select(Case.case_id, Case.id, Case.status).where(Case.case_id.in_(chunk))
        found.update({cid: (pk, st) for cid, pk, st in session.execute(stmt)})
    return found


def _upsert(session: Session, rows: list[dict[str, Any]], *, actor: str) -> tuple[int, int]:
    existing = _existing(session, [r["case_id"] for r in rows])
    new = [r for r in rows if r["case_id"] not in existing]
    old = [{**r, "id": existing[r["case_id"]][0]} for r in rows if r["case_id"] in existing]
    now = utcnow()
    for k in range(0, len(new), _CHUNK):
        session.execute(insert(Case), new[k:k + _CHUNK])
    if old:
        session.execute(update(Case), old)
    created = _existing(session, [r["case_id"] for r in new])
    events = [{"case_pk": created[r["case_id"]][0], "from_status": None, "to_status": r["status"],
               "at": r["reported_at"], "actor": actor or "导入", "note": "导入"} for r in new]
    events += [{"case_pk": r["id"], "from_status": existing[r["case_id"]][1],
                "to_status": r["status"], "at": now, "actor": actor or "导入", "note": "重新导入"}
               for r in old if existing[r["case_id"]][1] != r["status"]]
    for k in range(0, len(events), _CHUNK):
        session.execute(insert(CaseEvent), events[k:k + _CHUNK])
    return len(new), len(old)


def deadline_for(category: str, reported_at: Any) -> Any:
    """The local handling deadline of a case of ``category`` reported at ``reported_at``."""
    return reported_at + timedelta(hours=default_catalogue().deadline_hours(category))
