"""Work logs (城管进社区工作日志): list, add, read, correct and delete entries on behalf of a user.

Squad-bound users read and write only their squad's log; officers and squad leaders write, admins
write for any squad (``squad_id`` required), planners only read. An entry is corrected or deleted
by its author, the squad leader of its squad or an admin (:func:`may_change`); another squad's
entry is "not found".

A linked case id is normalised (:func:`geo.cases.normalise_case_id`) and must name a case of the
entry's squad, checked in the transaction that writes the entry; a case of another squad gets the
same answer as a missing one. The API (:mod:`service.routers.worklogs`) and the squad dashboard
(:mod:`service.routers.pages`) both call these functions.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.cases import normalise_case_id, visible
from geo.errors import InputError, NotFoundError
from service.auth import Principal
from service.errors import PermissionDenied
from service.geojson import aware
from service.models import Case, Community, Squad, WorkLogEntry
from service.schemas import WorkLogCreate, WorkLogPage, WorkLogPublic, WorkLogUpdate
from service.storage import Storage

WRITERS = frozenset({"admin", "squad_leader", "officer"})
"""Roles that write work-log entries."""
_NOT_NULL = ("at", "place", "problem", "action")


def public(e: WorkLogEntry, tz: str) -> WorkLogPublic:
    """The entry with its times in the deployment's zone ``tz``."""
    out = WorkLogPublic.model_validate(e, from_attributes=True)
    zone = ZoneInfo(tz)
    return out.model_copy(update={"at": out.at.astimezone(zone),
                                  "created_at": out.created_at.astimezone(zone)})


def _target_squad(user: Principal, squad_id: str | None) -> str:
    if user.role not in WRITERS:
        raise PermissionDenied(f"角色 {user.role} 不能填写工作日志。")
    if user.squad_id and user.squads is not None:
        if squad_id not in (None, user.squad_id):
            raise PermissionDenied("只能填写本中队的工作日志。")
        return user.squad_id
    if not squad_id:
        raise InputError("请指定 squad_id（日志所属中队）。")
    return squad_id


def _check_refs(session: Session, squad: str, community_code: str | None,
                case_id: str | None) -> str | None:
    """Raise unless the community and the case (when given) belong to ``squad``; return the
    normalised case id to store (``None`` when no case is linked).

    A case of another squad, a missing case and an id that cannot name a case all get the same
    :class:`NotFoundError`; the case row is read with a shared lock, in the caller's transaction.
    """
    if community_code:
        comm = session.get(Community, community_code)
        if comm is None or comm.squad_id != squad:
            raise InputError(f"社区「{community_code}」不属于中队「{squad}」。")
    if not case_id:
        return None
    try:
        ref: str | None = normalise_case_id(case_id)
    except InputError:
        ref = None
    case_squad = None if ref is None else session.scalar(
        select(Case.squad_id).where(Case.case_id == ref).with_for_update(read=True))
    if case_squad is None or case_squad != squad:
        raise NotFoundError(f"本中队没有编号为「{visible(ref or case_id, limit=64)}」的案件。")
    return ref


def list_logs(storage: Storage, user: Principal, *, tz: str, squad: str | None = None,
              community: str | None = None, start: datetime | None = None,
              end: datetime | None = None, outcome: str | None = None, limit: int = 100,
              offset: int = 0) -> WorkLogPage:
    """Entries ``user`` may see, newest first, filtered by squad, community, time (``start``
    inclusive, ``end`` exclusive; naive times in zone ``tz``) and outcome.

    Raises
    ------
    PermissionDenied
        ``squad`` is not one ``user`` may see.
    """
    stmt = select(WorkLogEntry)
    if squad is not None and not user.may_see(squad):
        raise PermissionDenied(f"无权查看中队「{squad}」的工作日志。")
    squads = (squad,) if squad is not None else user.squads
    if squads is not None:
        stmt = stmt.where(WorkLogEntry.squad_id.in_(squads))
    if community:
        stmt = stmt.where(WorkLogEntry.community_code == community)
    lo, hi = aware(start, tz), aware(end, tz)
    if lo is not None:
        stmt = stmt.where(WorkLogEntry.at >= lo)
    if hi is not None:
        stmt = stmt.where(WorkLogEntry.at < hi)
    if outcome:
        stmt = stmt.where(WorkLogEntry.outcome == outcome)
    with storage.begin() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(WorkLogEntry.at.desc(), WorkLogEntry.id.desc())
                               .limit(limit).offset(offset)).all()
        return WorkLogPage(total=int(total), items=[public(r, tz) for r in rows])


def add_log(storage: Storage, user: Principal, body: WorkLogCreate, *, tz: str) -> WorkLogPublic:
    """Add an entry; the author is ``user`` and squad-bound users write to their squad."""
    squad = _target_squad(user, body.squad_id)
    at = aware(body.at, tz)
    with storage.begin() as session:
        if session.get(Squad, squad) is None:
            raise NotFoundError(f"没有编号为「{squad}」的中队。")
        case_ref = _check_refs(session, squad, body.community_code, body.case_id)
        entry = WorkLogEntry(
            squad_id=squad, community_code=body.community_code, author=user.username, at=at,
            place=body.place, lon=body.lon, lat=body.lat, problem=body.problem,
            action=body.action, outcome=body.outcome or "", case_id=case_ref)
        session.add(entry)
        session.flush()
        return public(entry, tz)


def get_log(storage: Storage, user: Principal, entry_id: int, *, tz: str) -> WorkLogPublic:
    """Entry ``entry_id``; :class:`NotFoundError` when missing or of a squad ``user`` may not see."""
    with storage.begin() as session:
        entry = session.get(WorkLogEntry, entry_id)
        if entry is None or not user.may_see(entry.squad_id):
            raise NotFoundError(f"没有编号为 {entry_id} 的日志（或无权查看）。")
        return public(entry, tz)


def may_change(user: Principal, entry: WorkLogEntry) -> bool:
    """Whether ``user`` may correct or delete ``entry`` (already known to be visible to them):
    its author, a squad leader of its squad, or an admin."""
    if user.role == "admin":
        return True
    if user.role == "squad_leader":
        return user.squad_id == entry.squad_id
    return user.role in WRITERS and entry.author == user.username


def _changeable_entry(session: Session, entry_id: int, user: Principal, verb: str
                      ) -> WorkLogEntry:
    """Entry ``entry_id`` locked in ``session``, if ``user`` may see and change it."""
    row = session.get(WorkLogEntry, entry_id, with_for_update=True)
    if row is None or not user.may_see(row.squad_id):
        raise NotFoundError(f"没有编号为 {entry_id} 的日志（或无权查看）。")
    if not may_change(user, row):
        raise PermissionDenied(f"只有作者、本中队中队长或管理员可以{verb}日志。")
    return row


def update_log(storage: Storage, user: Principal, entry_id: int, body: WorkLogUpdate, *,
               tz: str) -> WorkLogPublic:
    """Apply ``body`` to entry ``entry_id`` on behalf of ``user``: only the fields given change.
    The caller's right is checked on the row written, in the transaction that writes it."""
    changes = body.model_dump(exclude_unset=True)
    with storage.begin() as session:
        row = _changeable_entry(session, entry_id, user, "修改")
        if not changes:
            raise InputError("请给出要修改的字段（at、place、problem、action、outcome 等）。")
        empty = [k for k in _NOT_NULL if k in changes and changes[k] is None]
        if empty:
            raise InputError(f"字段 {'、'.join(empty)} 不能为空（null）；不改就不要给出。")
        if "at" in changes:
            changes["at"] = aware(changes["at"], tz)
        if "outcome" in changes:
            changes["outcome"] = changes["outcome"] or ""
        ref = _check_refs(session, row.squad_id, changes.get("community_code"),
                          changes.get("case_id"))
        if changes.get("case_id"):
            changes["case_id"] = ref
        for key, value in changes.items():
            setattr(row, key, value)
        session.flush()
        return public(row, tz)


def delete_log(storage: Storage, user: Principal, entry_id: int) -> None:
    """Delete entry ``entry_id``: its author, the squad leader of its squad, or an admin."""
    with storage.begin() as session:
        session.delete(_changeable_entry(session, entry_id, user, "删除"))
