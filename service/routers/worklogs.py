"""Work logs (城管进社区工作日志): entries with time, 社区, station, team, place, problem, action,
reception outcome, linked cases and photo count; and the printed log of a station (PDF).

Squad-bound users read and write only their squad's log; officers and squad leaders write, admins
write for any squad (``squad_id`` required), planners only read. An entry is corrected (PATCH) or
voided (``POST /{id}/void`` with a reason) by its author, the squad leader of its squad or an
admin; another squad's entry is 404. Time and problem are required (422 with one problem per
field; the dashboard's form also requires place and action). **Entries are never deleted**: ``DELETE`` answers 409 with a message that
points to the void route (the entry is unchanged); a voided entry stays listed, marked
``voided`` with the reason, and can no longer be corrected (409).

A linked case id is normalised (:func:`geo.cases.normalise_case_id`) and must name a case of the
entry's squad, checked in the transaction that writes the entry; a case of another squad gets the
same answer as a missing one. Text with control characters is refused (422) before any database.
The rules live in :mod:`service.worklogs`; these routes parse the request and shape the answer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response

from service import pages_data, worklog_print, worklogs
from service.deps import CurrentUser, SettingsDep, StorageDep
from service.schemas import (
    ErrorBody,
    Outcome,
    WorkLogCreate,
    WorkLogPage,
    WorkLogPublic,
    WorkLogUpdate,
    WorkLogVoid,
)

router = APIRouter(prefix="/api/worklogs", tags=["worklogs"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
    404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}}
EntryId = Annotated[int, Path(ge=1, le=2_147_483_647)]


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
    return worklogs.list_logs(storage, user, tz=settings.timezone, squad=squad,
                              community=community, start=start, end=end, outcome=outcome,
                              limit=limit, offset=offset)


@router.post("", response_model=WorkLogPublic, status_code=201, responses=_ERRORS,
             summary="填写工作日志")
def add_log(body: WorkLogCreate, storage: StorageDep, settings: SettingsDep,
            user: CurrentUser) -> WorkLogPublic:
    """Add an entry; the author is the caller and squad-bound callers write to their squad."""
    return worklogs.add_log(storage, user, body, tz=settings.timezone)


@router.get("/print.pdf", responses={**_ERRORS, 200: {"content": {"application/pdf": {}}}},
            summary="打印《城管进社区工作日志》（PDF）")
def print_log(
    storage: StorageDep,
    settings: SettingsDep,
    user: CurrentUser,
    station: Annotated[str, Query(min_length=1, max_length=32, description="工作站编号")],
    day: Annotated[date, Query(alias="date", description="日期（按周打印时为该周任一天）")],
    period: Annotated[Literal["day", "week"], Query(description="day 按日，week 按周（周一至周日）")] = "day",
) -> Response:
    """The station's log of the day (or of the Monday–Sunday week holding it) as an A4 PDF:
    header with station, period and officers, the entries (voided ones marked 已作废 with the
    reason), signature lines. Another squad's station is 404."""
    from geo.sheets.worklog_pdf import render_worklog_pdf

    label = pages_data.data_label(storage, user.squads)
    sheet = worklog_print.station_sheet(storage, user, station, day, period=period,
                                        tz=settings.timezone, data_label=label)
    body = render_worklog_pdf(sheet)
    name = f"工作日志_{sheet.station_name}_{day.isoformat()}{'_周' if period == 'week' else ''}.pdf"
    disp = f"inline; filename=\"worklog.pdf\"; filename*=UTF-8''{quote(name)}"
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": disp})


@router.get("/{entry_id}", response_model=WorkLogPublic, responses=_ERRORS, summary="日志详情")
def get_log(entry_id: EntryId, storage: StorageDep, settings: SettingsDep,
            user: CurrentUser) -> WorkLogPublic:
    """One entry (404 for another squad's entry)."""
    return worklogs.get_log(storage, user, entry_id, tz=settings.timezone)


@router.patch("/{entry_id}", response_model=WorkLogPublic, responses=_ERRORS, summary="修改日志")
def patch_log(entry_id: EntryId, body: WorkLogUpdate, storage: StorageDep,
              settings: SettingsDep, user: CurrentUser) -> WorkLogPublic:
    """Correct an entry: its author, the squad leader of its squad, or an admin. Only the fields
    given change; another squad's entry is 404."""
    return worklogs.update_log(storage, user, entry_id, body, tz=settings.timezone)


@router.post("/{entry_id}/void", response_model=WorkLogPublic, responses=_ERRORS,
             summary="作废日志（须写明原因）")
def void_log(entry_id: EntryId, body: WorkLogVoid, storage: StorageDep, settings: SettingsDep,
             user: CurrentUser) -> WorkLogPublic:
    """Void an entry with a reason: its author, the squad leader of its squad, or an admin.
    The entry stays (``voided``, ``void_reason``, ``voided_by``, ``voided_at``); voiding it
    again is 409."""
    return worklogs.void_log(storage, user, entry_id, body, tz=settings.timezone)


@router.delete("/{entry_id}", status_code=409, responses=_ERRORS,
               summary="（不可删除：请作废）")
def delete_log(entry_id: EntryId, storage: StorageDep, user: CurrentUser) -> Response:
    """Always refused: a work log is a ledger and is never deleted. 409 with a message pointing
    to ``POST /api/worklogs/{id}/void``; 404 for a missing or another squad's entry."""
    worklogs.delete_log(storage, user, entry_id)
    return Response(status_code=409)  # not reached: delete_log raises
