"""Daily patrol plans (每日巡查计划) and their route sheets (巡查路线单).

``GET /api/plans/{squad}/{date}`` returns the stored plan; a day from yesterday to 7 days ahead
without one is made (once, whatever the number of workers: about 1–2 s) and stored on that first
request, any other day answers 404 (尚未生成) and is never computed by a read. ``POST`` generates
or re-plans the day on purpose, e.g. with a team marked unavailable (admin, planner, the squad's
leader; at most 10 generations a minute per user, then 429), knowing the clock
(:mod:`service.plan_clock`): a later day, or today before the first shift, gets the full day;
today once a shift has started only what is left from now (a stored plan is re-planned as by
``POST …/replan``: confirmed stops kept, closed cases dropped; the answer adds ``changes``); a
past day is refused (409). Sheets: ``…/sheet.pdf`` (every team
in one PDF, or ``?team=``), ``…/sheet.xlsx`` and ``…/sheet.html`` (print-friendly), each with an
``ETag`` of the data versions (``If-None-Match`` → 304 without work); a PDF is rendered once for
all workers. Squad-bound users reach only their own squad (others: 404).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from service import plan_clock
from service.auth import Principal
from service.case_cache import etag, not_modified, versions
from service.deps import CurrentUser, SettingsDep, StorageDep, require_roles
from service.pages_data import (
    get_plan,
    parse_day,
    plan_sheets,
    plan_table,
    visible_squad,
)
from service.schemas import ErrorBody
from service.sheet_cache import cached_render, sheet_key

router = APIRouter(prefix="/api/plans", tags=["plans"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
    404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody},
    429: {"model": ErrorBody}}
_SHEET_ERRORS: dict[int | str, dict[str, Any]] = {**_ERRORS, 304: {}}
SquadId = Annotated[str, Path(max_length=32, description="中队编号，如 shuyuan")]
Day = Annotated[str, Path(pattern=r"^\d{4}-\d{2}-\d{2}$", description="日期 YYYY-MM-DD")]
Team = Annotated[str | None, Query(max_length=64, description="只输出这个队伍（编号）")]
Planner = Annotated[Principal, Depends(require_roles("admin", "planner", "squad_leader"))]
_UNSAFE = re.compile(r'[\\/:*?"<>|\s\x00-\x1f]+')


class ReplanRequest(BaseModel):
    """Generate or re-plan a day: the teams that are not on duty and (admins only) the clock."""

    model_config = ConfigDict(extra="forbid")
    unavailable_teams: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=50, description="今天不在岗的队伍编号")
    at: datetime | None = Field(default=None, description=(
        "按此时刻规划（仅管理员，用于演练和测试；默认现在）：当天班次开始后只排此后的站点"))


def _filename(plan: dict[str, Any], team: str | None, ext: str) -> str:
    """``2026-12-01_书院中队_书院一组.pdf``: the team's Chinese name, never its id."""
    names = {str(r.get("team")): str(r.get("team_name") or r.get("team"))
             for r in plan.get("routes", [])}
    parts = [str(plan.get("date", "")), str(plan.get("squad_name") or plan.get("squad", "")),
             names.get(team, team) if team else "路线单"]
    stem = "_".join(_UNSAFE.sub("_", p).strip("._") or "x" for p in parts)
    return f"{stem}.{ext}"


def _download(body: bytes | str, media: str, name: str, *, inline: bool = False,
              tag: str | None = None) -> Response:
    kind = "inline" if inline else "attachment"
    disp = f"{kind}; filename=\"sheet.{name.rsplit('.', 1)[-1]}\"; filename*=UTF-8''{quote(name)}"
    headers = {"Content-Disposition": disp}
    if tag is not None:
        headers |= {"ETag": tag, "Cache-Control": "private, no-cache"}
    return Response(body, media_type=media, headers=headers)


def _sheet_tag(storage: StorageDep, squad_id: str, day: str, team: str | None, kind: str) -> str:
    """The ETag of a sheet: the data versions (cases: the sheet's data label; plans) and what
    selects the sheet (read before any work, one indexed query)."""
    return etag("sheet", storage.url, *versions(storage), squad_id, day, team, kind)


def _unchanged(request: Request, tag: str) -> Response | None:
    if not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    return None


@router.get("/{squad_id}/{day}", responses=_ERRORS, summary="某中队某日的巡查计划")
def get_day_plan(squad_id: SquadId, day: Day, storage: StorageDep, settings: SettingsDep,
                 user: CurrentUser) -> dict[str, Any]:
    """The plan (routes per team with visits, times, distances, warnings, unvisited stops).
    From yesterday to 7 days ahead a missing plan is made and stored on first request (about
    1–2 s, once for all workers); another day without a stored plan is 404 (尚未生成: ``POST``)."""
    squad = visible_squad(storage, user, squad_id)
    return get_plan(storage, settings, squad, parse_day(day, settings.timezone),
                    actor=user.username)


@router.post("/{squad_id}/{day}", responses=_ERRORS, summary="生成或重新规划（如某队伍不在岗）")
def replan(squad_id: SquadId, day: Day, body: ReplanRequest, storage: StorageDep,
           settings: SettingsDep, user: Planner) -> dict[str, Any]:
    """Generate the day's plan, or plan it again (admin, planner, or the squad's leader),
    replacing the stored plan. A later day (or today before the first shift): the full day;
    today during the shift: only what is left from now (admins may give ``at``), with
    ``changes``; a past day: 409. At most 10 generations a minute per user (429)."""
    squad = visible_squad(storage, user, squad_id)
    now = plan_clock.clock(body.at, user, settings.timezone)
    data, changes = plan_clock.generate(
        storage, settings, squad, parse_day(day, settings.timezone), now=now,
        unavailable=body.unavailable_teams, actor=user.username)
    return data if changes is None else {**data, "changes": changes}


def _plan_and_squad(storage: StorageDep, settings: SettingsDep, user: Principal, squad_id: str,
                    day: str) -> tuple[dict[str, Any], dict[str, Any]]:
    squad = visible_squad(storage, user, squad_id)
    return get_plan(storage, settings, squad, parse_day(day, settings.timezone),
                    actor=user.username), squad


@router.get("/{squad_id}/{day}/sheet.pdf", responses={**_SHEET_ERRORS, 200: {
    "content": {"application/pdf": {}}}}, summary="路线单 PDF")
def sheet_pdf(request: Request, squad_id: SquadId, day: Day, storage: StorageDep,
              settings: SettingsDep, user: CurrentUser, team: Team = None) -> Response:
    """Every team's route sheet in one A4 PDF, or only ``team``'s."""
    from geo.sheets import render_pdf_many

    visible_squad(storage, user, squad_id)
    if (same := _unchanged(request, _sheet_tag(storage, squad_id, day, team, "pdf"))) is not None:
        return same
    plan, squad = _plan_and_squad(storage, settings, user, squad_id, day)
    body = cached_render(sheet_key(plan, team),
                         lambda: render_pdf_many(plan_sheets(storage, plan, squad, team=team)),
                         storage=storage)
    return _download(body, "application/pdf", _filename(plan, team, "pdf"), inline=True,
                     tag=_sheet_tag(storage, squad_id, day, team, "pdf"))


@router.get("/{squad_id}/{day}/sheet.xlsx", responses={**_SHEET_ERRORS, 200: {"content": {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}},
            summary="路线单 XLSX")
def sheet_xlsx(request: Request, squad_id: SquadId, day: Day, storage: StorageDep,
               settings: SettingsDep, user: CurrentUser, team: Team = None) -> Response:
    """One team's route sheet workbook (``?team=``), or a table of every team's stops."""
    import io

    from geo.sheets import render_xlsx, write_xlsx_tables

    visible_squad(storage, user, squad_id)
    if (same := _unchanged(request, _sheet_tag(storage, squad_id, day, team, "xlsx"))) is not None:
        return same
    plan, squad = _plan_and_squad(storage, settings, user, squad_id, day)
    if team is not None:
        body = render_xlsx(plan_sheets(storage, plan, squad, team=team)[0])
    else:
        buf = io.BytesIO()  # user text (addresses, descriptions) is written as text, never a formula
        write_xlsx_tables(buf, {"巡查路线": plan_table(plan)})
        body = buf.getvalue()
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(body, media, _filename(plan, team, "xlsx"),
                     tag=_sheet_tag(storage, squad_id, day, team, "xlsx"))


def combine_html(pages: list[str]) -> str:
    """Several self-contained sheet pages as one document, each starting on a new printed page."""
    if len(pages) == 1:
        return pages[0]
    head = pages[0].split("<body>", 1)[0]
    bodies = [p.split("<body>", 1)[-1].rsplit("</body>", 1)[0] for p in pages]
    joined = '<div style="break-after:page"></div>'.join(bodies)
    return f"{head}<body>{joined}</body></html>"


@router.get("/{squad_id}/{day}/sheet.html", responses={**_SHEET_ERRORS, 200: {
    "content": {"text/html": {}}}}, summary="路线单（打印网页）")
def sheet_html(request: Request, squad_id: SquadId, day: Day, storage: StorageDep,
               settings: SettingsDep, user: CurrentUser, team: Team = None) -> Response:
    """Print-friendly HTML of every team's sheet (or ``team``'s); every value is escaped."""
    from geo.sheets import render_html

    visible_squad(storage, user, squad_id)
    if (same := _unchanged(request, _sheet_tag(storage, squad_id, day, team, "html"))) is not None:
        return same
    plan, squad = _plan_and_squad(storage, settings, user, squad_id, day)
    pages = [render_html(s) for s in plan_sheets(storage, plan, squad, team=team)]
    return Response(combine_html(pages), media_type="text/html; charset=utf-8",
                    headers={"ETag": _sheet_tag(storage, squad_id, day, team, "html"),
                             "Cache-Control": "private, no-cache"})
