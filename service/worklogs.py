"""Work logs (城管进社区工作日志): list, add, read, correct and void entries on behalf of a user.

Squad-bound users read and write only their squad's log; officers and squad leaders write, admins
write for any squad (``squad_id`` required), planners only read. An entry is corrected or voided
by its author, the squad leader of its squad or an admin (:func:`may_change`); another squad's
entry is "not found".

**Entries are never deleted.** The log is an official ledger (台账): a wrong entry is voided
(作废, :func:`void_log`) with a reason, and stays in the log marked 已作废 with who voided it, when
and why. :func:`delete_log` therefore refuses (:class:`ConflictError`, HTTP 409) and says to
void instead; a voided entry can no longer be corrected.

Time and problem (发现问题) are required by the API (the schemas refuse blank text); the
dashboard's form, the official log, also requires place and action (:data:`FORM_REQUIRED`). Linked case ids are
normalised (:func:`geo.cases.normalise_case_id`) and must name cases of the entry's squad, the
community, station and team must be the squad's; all checked in the transaction that writes the
entry, and a case of another squad gets the same answer as a missing one. The API
(:mod:`service.routers.worklogs`) and the squad dashboard (:mod:`service.routers.pages`) both
call these functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.cases import normalise_case_id, visible
from geo.errors import InputError, NotFoundError
from service.auth import Principal
from service.errors import ConflictError, PermissionDenied
from service.geojson import aware
from service.models import Case, Community, Squad, Station, WorkLogEntry
from service.schemas import WorkLogCreate, WorkLogPage, WorkLogPublic, WorkLogUpdate, WorkLogVoid
from service.storage import Storage

WRITERS = frozenset({"admin", "squad_leader", "officer"})
"""Roles that write work-log entries."""
_NOT_NULL = ("at", "place", "problem", "action")
FIELD_NAMES: dict[str, str] = {
    "at": "时间", "place": "地点", "problem": "发现问题", "action": "处置情况",
    "outcome": "接待结果", "community_code": "社区", "station_code": "工作站", "team_id": "队伍",
    "case_id": "关联案件", "case_ids": "关联案件", "photo_count": "照片张数",
    "reason": "作废原因", "squad_id": "中队"}
"""Chinese names of the entry's fields, for messages and form errors."""
FORM_REQUIRED = ("at", "place", "problem", "action")
"""Fields the dashboard's log form requires (the API requires ``at`` and ``problem``; API clients
that send no place or action keep working)."""
VOID_HINT = "工作日志是台账，不能删除；如填错请作废：POST /api/worklogs/{id}/void，写明作废原因。"


def public(e: WorkLogEntry, tz: str) -> WorkLogPublic:
    """The entry with its times in the deployment's zone ``tz``."""
    out = WorkLogPublic.model_validate(e, from_attributes=True)
    zone = ZoneInfo(tz)
    linked = list(e.case_ids or ([e.case_id] if e.case_id else []))
    return out.model_copy(update={
        "at": out.at.astimezone(zone), "created_at": out.created_at.astimezone(zone),
        "case_ids": linked, "photo_count": int(e.photo_count or 0),
        "voided": e.voided_at is not None,
        "voided_at": e.voided_at.astimezone(zone) if e.voided_at else None})


def form_errors(exc: ValidationError) -> dict[str, str]:
    """Per form field, the Chinese message of a schema validation error (first problem wins).

    Parameters
    ----------
    exc : pydantic.ValidationError
        From building :class:`WorkLogCreate` / :class:`WorkLogUpdate` / :class:`WorkLogVoid`.

    Returns
    -------
    dict of str to str
        Field name (``place``, ``case_ids`` …) → message such as ``地点：必填：不能为空，请填写。``.
    """
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
        field = loc[0] if loc else "form"
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        if err.get("type") == "missing":
            msg = "必填：不能为空，请填写。"
        elif err.get("type") in ("literal_error", "enum"):
            msg = "请从列表中选择。"
        out.setdefault(field, f"{FIELD_NAMES.get(field, field)}：{msg}")
    return out


def _linked(case_id: str | None, case_ids: Iterable[str] | None) -> list[str]:
    """``case_id`` and ``case_ids`` as one list without repeats, in the order given."""
    out: list[str] = []
    for cid in [case_id, *(case_ids or [])]:
        if cid and cid not in out:
            out.append(cid)
    return out


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


def _check_place(session: Session, squad: str, *, station_code: str | None = None,
                 team_id: str | None = None) -> None:
    """Raise :class:`InputError` unless the station and the team (when given) are ``squad``'s."""
    if station_code:
        st = session.get(Station, station_code)
        if st is None or st.squad_id != squad:
            raise InputError(f"工作站「{visible(station_code, limit=40)}」不属于中队「{squad}」；"
                             "请从列表中选择本中队的工作站。")
    if team_id:
        row = session.get(Squad, squad)
        teams = {str(t.get("id")) for t in ((row.data or {}).get("teams") or [])} if row else set()
        if team_id not in teams:
            raise InputError(f"队伍「{visible(team_id, limit=40)}」不属于中队「{squad}」；"
                             "请从列表中选择本中队的队伍。")


def _check_cases(session: Session, squad: str, case_ids: Iterable[str]) -> list[str]:
    """Every id of ``case_ids`` checked by :func:`_check_refs` (normalised, in order)."""
    return [ref for cid in case_ids if (ref := _check_refs(session, squad, None, cid))]


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
            raise InputError(f"社区「{visible(community_code, limit=40)}」不属于中队「{squad}」。")
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
        _check_refs(session, squad, body.community_code, None)
        _check_place(session, squad, station_code=body.station_code, team_id=body.team_id)
        refs = _check_cases(session, squad, _linked(body.case_id, body.case_ids))
        entry = WorkLogEntry(
            squad_id=squad, community_code=body.community_code, author=user.username, at=at,
            place=body.place, lon=body.lon, lat=body.lat, problem=body.problem,
            action=body.action, outcome=body.outcome or "", case_id=refs[0] if refs else None,
            case_ids=refs, station_code=body.station_code, team_id=body.team_id,
            photo_count=body.photo_count)
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
    """Whether ``user`` may correct or void ``entry`` (already known to be visible to them):
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
    if row.voided_at is not None:
        raise ConflictError(f"日志 {entry_id} 已作废（{row.void_reason or ''}），不能再{verb}。")
    return row


def check_may_change(storage: Storage, user: Principal, entry_id: int, *, verb: str = "修改"
                     ) -> None:
    """Raise as :func:`update_log` would before looking at the new values: missing or another
    squad's entry (:class:`NotFoundError`), not its author / leader / an admin
    (:class:`PermissionDenied`), already voided (:class:`ConflictError`)."""
    with storage.begin() as session:
        _changeable_entry(session, entry_id, user, verb)


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
        if "photo_count" in changes:
            changes["photo_count"] = changes["photo_count"] or 0
        _check_refs(session, row.squad_id, changes.get("community_code"), None)
        _check_place(session, row.squad_id, station_code=changes.get("station_code"),
                     team_id=changes.get("team_id"))
        if "case_id" in changes or "case_ids" in changes:
            given = (changes.get("case_ids") if "case_ids" in changes
                     else [c for c in (row.case_ids or []) if c != row.case_id])
            first = changes.get("case_id", row.case_id)
            refs = _check_cases(session, row.squad_id, _linked(first, given))
            changes["case_ids"], changes["case_id"] = refs, (refs[0] if refs else None)
        for key, value in changes.items():
            setattr(row, key, value)
        session.flush()
        return public(row, tz)


def void_log(storage: Storage, user: Principal, entry_id: int, body: WorkLogVoid, *,
             tz: str) -> WorkLogPublic:
    """Void (作废) entry ``entry_id`` with ``body.reason``: its author, the squad leader of its
    squad, or an admin. The entry stays, marked with the reason, who and when.

    Raises
    ------
    NotFoundError
        Missing, or of a squad ``user`` may not see.
    PermissionDenied
        ``user`` may not change the entry.
    ConflictError
        Already voided.
    """
    with storage.begin() as session:
        row = _changeable_entry(session, entry_id, user, "作废")
        row.voided_at, row.voided_by = datetime.now(UTC), user.username
        row.void_reason = body.reason.strip()
        session.flush()
        return public(row, tz)


def delete_log(storage: Storage, user: Principal, entry_id: int) -> None:
    """Refuse: entries are voided, never deleted (:data:`VOID_HINT`).

    Raises
    ------
    NotFoundError
        Missing, or of a squad ``user`` may not see (as for every other verb).
    ConflictError
        Always otherwise (HTTP 409), with the message pointing to :func:`void_log`.
    """
    with storage.begin() as session:
        row = session.get(WorkLogEntry, entry_id)
        if row is None or not user.may_see(row.squad_id):
            raise NotFoundError(f"没有编号为 {entry_id} 的日志（或无权查看）。")
    raise ConflictError(VOID_HINT.replace("{id}", str(entry_id)))


def squad_choices(storage: Storage, squad_id: str) -> dict[str, Any]:
    """The squad's communities, stations and teams for the log form's lists.

    Returns
    -------
    dict
        ``communities``, ``stations`` (``code``, ``name``, ``community_code``) and ``teams``
        (``id``, ``name``), each a list of dicts.
    """
    with storage.begin() as session:
        comms = session.execute(select(Community.code, Community.name)
                                .where(Community.squad_id == squad_id)
                                .order_by(Community.code)).all()
        stations = session.execute(select(Station.code, Station.name, Station.community_code)
                                   .where(Station.squad_id == squad_id)
                                   .order_by(Station.code)).all()
        row = session.get(Squad, squad_id)
        teams = ((row.data or {}).get("teams") or []) if row else []
    return {"communities": [{"code": c, "name": n} for c, n in comms],
            "stations": [{"code": c, "name": n, "community_code": k} for c, n, k in stations],
            "teams": [{"id": str(t.get("id")), "name": str(t.get("name") or t.get("id"))}
                      for t in teams]}


def log_rows(storage: Storage, user: Principal, squad_id: str, *, tz: str, limit: int = 30
             ) -> list[dict[str, Any]]:
    """The squad's latest entries for the dashboard table, newest first: times in ``tz``, the
    community's and station's names, linked cases, the void mark and whether ``user`` may
    correct or void the entry (``may_edit``)."""
    zone = ZoneInfo(tz)
    choices = squad_choices(storage, squad_id)
    comm = {c["code"]: c["name"] for c in choices["communities"]}
    stat = {s["code"]: s["name"] for s in choices["stations"]}
    team = {t["id"]: t["name"] for t in choices["teams"]}
    with storage.begin() as session:
        rows = session.scalars(select(WorkLogEntry).where(WorkLogEntry.squad_id == squad_id)
                               .order_by(WorkLogEntry.at.desc(), WorkLogEntry.id.desc())
                               .limit(limit)).all()
        out = []
        for e in rows:
            at = e.at.astimezone(zone)
            out.append({
                "id": e.id, "at": at.strftime("%m-%d %H:%M"), "day": at.date().isoformat(),
                "at_input": at.strftime("%Y-%m-%dT%H:%M"), "author": e.author,
                "community_code": e.community_code or "",
                "community": comm.get(e.community_code or "", e.community_code or ""),
                "station_code": e.station_code or "",
                "station": stat.get(e.station_code or "", e.station_code or ""),
                "team_id": e.team_id or "", "team": team.get(e.team_id or "", e.team_id or ""),
                "place": e.place, "problem": e.problem, "action": e.action,
                "outcome": e.outcome, "photo_count": int(e.photo_count or 0),
                "case_ids": list(e.case_ids or ([e.case_id] if e.case_id else [])),
                "voided": e.voided_at is not None, "void_reason": e.void_reason or "",
                "voided_by": e.voided_by or "",
                "may_edit": e.voided_at is None and may_change(user, e)})
        return out
