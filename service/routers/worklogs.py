"""Work logs (城管进社区工作日志): entries with time, place, problem, action and reception outcome.

Squad-bound users read and write only their squad's log; officers and squad leaders write, admins
write for any squad (``squad_id`` required), planners only read. An entry is corrected (PATCH) or
deleted by its author, the squad leader of its squad or an admin; another squad's entry is 404.

A linked case id is normalised (:func:`geo.cases.normalise_case_id`) and must name a case of the
entry's squad, checked in the transaction that writes the entry; a case of another squad gets the
same answer as a missing one. Text with control characters is refused (422) before any database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.cases import normalise_case_id, visible
from geo.errors import InputError, NotFoundError
from service.auth import Principal
from service.deps import CurrentUser, SettingsDep, StorageDep
from service.errors import PermissionDenied
from service.geojson import aware
from service.models import Case, Community, Squad, WorkLogEntry
from service.schemas import (
    CaseRef,
    ErrorBody,
    FreeText,
    Line,
    Outcome,
    WorkLogCreate,
    WorkLogPage,
    WorkLogPublic,
)

router = APIRouter(prefix="/api/worklogs", tags=["worklogs"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
    404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
EntryId = Annotated[int, Path(ge=1, le=2_147_483_647)]
_WRITERS = frozenset({"admin", "squad_leader", "officer"})


class WorkLogUpdate(BaseModel):
    """A correction of a work-log entry: only the fields given change (``null`` clears the
    outcome, community, position or case). The squad and the author never change."""

    model_config = ConfigDict(extra="forbid")
    at: datetime | None = Field(default=None, description="时间；不带时区按部署时区")
    place: FreeText | None = Field(default=None, max_length=500)
    problem: FreeText | None = Field(default=None, max_length=4000)
    action: FreeText | None = Field(default=None, max_length=4000)
    outcome: Outcome | None = Field(default=None, description="接待结果")
    community_code: Line | None = Field(default=None, max_length=16)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    case_id: CaseRef = Field(default=None, max_length=64)


_NOT_NULL = ("at", "place", "problem", "action")


def _public(e: WorkLogEntry, tz: str) -> WorkLogPublic:
    """The entry with its times in the deployment's zone."""
    out = WorkLogPublic.model_validate(e, from_attributes=True)
    zone = ZoneInfo(tz)
    return out.model_copy(update={"at": out.at.astimezone(zone),
                                  "created_at": out.created_at.astimezone(zone)})


def _target_squad(user: Principal, squad_id: str | None) -> str:
    if user.role not in _WRITERS:
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


@router.get("", response_model=WorkLogPage, responses=_ERRORS, summary="工作日志列表")
def list_logs(
    storage: StorageDep,
    settings: SettingsDep,
    user: CurrentUser,
    squad: Annotated[str | None, Query(max_length=32)] = None,
    community: Annotated[str | None, Query(max_length=16, description="社区代码")] = None,
    start: Annotated[datetime | None, Query(description="时间下限（含）")] = None,
    end: Annotated[datetime | None, Query(description="时间上限（不含）")] = None,
    outcome: Outcome | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> WorkLogPage:
    """Entries the caller may see, newest first."""
    stmt = select(WorkLogEntry)
    if squad is not None and not user.may_see(squad):
        raise PermissionDenied(f"无权查看中队「{squad}」的工作日志。")
    squads = (squad,) if squad is not None else user.squads
    if squads is not None:
        stmt = stmt.where(WorkLogEntry.squad_id.in_(squads))
    if community:
        stmt = stmt.where(WorkLogEntry.community_code == community)
    lo, hi = aware(start, settings.timezone), aware(end, settings.timezone)
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
        return WorkLogPage(total=int(total), items=[_public(r, settings.timezone) for r in rows])


@router.post("", response_model=WorkLogPublic, status_code=201, responses=_ERRORS,
             summary="填写工作日志")
def add_log(body: WorkLogCreate, storage: StorageDep, settings: SettingsDep,
            user: CurrentUser) -> WorkLogPublic:
    """Add an entry; the author is the caller and squad-bound callers write to their squad."""
    squad = _target_squad(user, body.squad_id)
    at = aware(body.at, settings.timezone)
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
        return _public(entry, settings.timezone)


def _visible_entry(storage: StorageDep, entry_id: int, user: Principal) -> WorkLogEntry:
    with storage.begin() as session:
        entry = session.get(WorkLogEntry, entry_id)
        if entry is None or not user.may_see(entry.squad_id):
            raise NotFoundError(f"没有编号为 {entry_id} 的日志（或无权查看）。")
        return entry


@router.get("/{entry_id}", response_model=WorkLogPublic, responses=_ERRORS, summary="日志详情")
def get_log(entry_id: EntryId, storage: StorageDep, settings: SettingsDep,
            user: CurrentUser) -> WorkLogPublic:
    """One entry (404 for another squad's entry)."""
    return _public(_visible_entry(storage, entry_id, user), settings.timezone)


def may_change(user: Principal, entry: WorkLogEntry) -> bool:
    """Whether ``user`` may correct or delete ``entry`` (already known to be visible to them):
    its author, a squad leader of its squad, or an admin."""
    if user.role == "admin":
        return True
    if user.role == "squad_leader":
        return user.squad_id == entry.squad_id
    return user.role in _WRITERS and entry.author == user.username


def _changeable_entry(session: Session, entry_id: int, user: Principal, verb: str
                      ) -> WorkLogEntry:
    """Entry ``entry_id`` locked in ``session``, if ``user`` may see and change it."""
    row = session.get(WorkLogEntry, entry_id, with_for_update=True)
    if row is None or not user.may_see(row.squad_id):
        raise NotFoundError(f"没有编号为 {entry_id} 的日志（或无权查看）。")
    if not may_change(user, row):
        raise PermissionDenied(f"只有作者、本中队中队长或管理员可以{verb}日志。")
    return row


def update_log(storage: StorageDep, settings: SettingsDep, user: Principal, entry_id: int,
               body: WorkLogUpdate) -> WorkLogPublic:
    """Apply ``body`` to entry ``entry_id`` on behalf of ``user`` (see :func:`patch_log`); the
    caller's right is checked on the row written, in the transaction that writes it."""
    changes = body.model_dump(exclude_unset=True)
    with storage.begin() as session:
        row = _changeable_entry(session, entry_id, user, "修改")
        if not changes:
            raise InputError("请给出要修改的字段（at、place、problem、action、outcome 等）。")
        empty = [k for k in _NOT_NULL if k in changes and changes[k] is None]
        if empty:
            raise InputError(f"字段 {'、'.join(empty)} 不能为空（null）；不改就不要给出。")
        if "at" in changes:
            changes["at"] = aware(changes["at"], settings.timezone)
        if "outcome" in changes:
            changes["outcome"] = changes["outcome"] or ""
        ref = _check_refs(session, row.squad_id, changes.get("community_code"),
                          changes.get("case_id"))
        if changes.get("case_id"):
            changes["case_id"] = ref
        for key, value in changes.items():
            setattr(row, key, value)
        session.flush()
        return _public(row, settings.timezone)


@router.patch("/{entry_id}", response_model=WorkLogPublic, responses=_ERRORS, summary="修改日志")
def patch_log(entry_id: EntryId, body: WorkLogUpdate, storage: StorageDep,
              settings: SettingsDep, user: CurrentUser) -> WorkLogPublic:
    """Correct an entry: its author, the squad leader of its squad, or an admin. Only the fields
    given change; another squad's entry is 404."""
    return update_log(storage, settings, user, entry_id, body)


@router.delete("/{entry_id}", status_code=204, responses=_ERRORS, summary="删除日志")
def delete_log(entry_id: EntryId, storage: StorageDep, user: CurrentUser) -> Response:
    """Delete an entry: its author, the squad leader of its squad, or an admin."""
    with storage.begin() as session:
        session.delete(_changeable_entry(session, entry_id, user, "删除"))
    return Response(status_code=204)
