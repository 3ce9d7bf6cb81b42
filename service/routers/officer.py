"""The officer's view: today's route on the phone, arrival confirmations, re-planning from now.

* ``GET /route`` — the signed-in officer's team route for the day (``?date=``, ``?team=`` to look
  at another team of the squad; admins add ``?squad=``): each stop with 到达确认 (time and, when
  the browser allows it, the phone's position), 记录发现 (a finding note on the visit) and 开案件
  (a 巡查发现 case at the stop's position, ``POST /api/cases``). Laid out for a 390 px phone.
* ``GET|POST /api/plans/{squad}/{date}/visits`` — the day's confirmed visits with planned vs
  done per team; confirm one (the officer of the stop's team, the squad's leader, an admin;
  confirming again changes nothing but the note).
* ``POST /api/plans/{squad}/{date}/replan`` and the dashboard's form ``POST
  /squad/{squad}/replan-now`` — re-plan knowing the clock (:func:`service.visits.replan_now`):
  during the plan day only what is left, from now; ``at`` (another clock time of that day) is
  accepted from admins only, for rehearsals and tests.

Squad-bound users reach only their own squad (another squad: 404, like a missing one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from geo.errors import NotFoundError, XunchaError
from geo.labels import CASE_SOURCE_PATROL
from service import pages_data, plan_clock, visits
from service.auth import Principal
from service.case_list import report_categories
from service.deps import CurrentUser, SettingsDep, StorageDep
from service.errors import AuthError, PermissionDenied
from service.plans import load_plan
from service.schemas import ErrorBody
from service.settings import Settings
from service.storage import Storage
from service.web import PageUser, login_redirect, render

router = APIRouter(tags=["plans"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    k: {"model": ErrorBody} for k in (400, 401, 403, 404, 409, 422, 429)}
SquadId = Annotated[str, Path(max_length=32, description="中队编号，如 shuyuan")]
Day = Annotated[str, Path(pattern=r"^\d{4}-\d{2}-\d{2}$", description="日期 YYYY-MM-DD")]


class VisitCreate(BaseModel):
    """Arrival at a stop of the day's plan (到达确认), optionally with a finding note."""

    model_config = ConfigDict(extra="forbid")
    stop_id: str = Field(min_length=1, max_length=64, description="巡查点编号（路线中的 stop_id）")
    lon: float | None = Field(default=None, ge=-180, le=180, description="手机定位经度（WGS84）")
    lat: float | None = Field(default=None, ge=-90, le=90, description="手机定位纬度（WGS84）")
    note: str | None = Field(default=None, max_length=visits.NOTE_MAX, description="发现情况")


class ClockReplan(BaseModel):
    """Re-plan from now: the teams off duty and (admins only) the clock time to plan from."""

    model_config = ConfigDict(extra="forbid")
    unavailable_teams: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=50, description="从现在起不在岗的队伍编号")
    at: datetime | None = Field(default=None, description="按此时刻重新规划（仅管理员；默认现在）")


def _day(text: str | None, tz: str) -> Any:
    return pages_data.parse_day(text, tz)


@router.get("/api/plans/{squad_id}/{day}/visits", responses=_ERRORS, summary="到达确认与完成情况")
def get_visits(squad_id: SquadId, day: Day, storage: StorageDep, settings: SettingsDep,
               user: CurrentUser) -> dict[str, Any]:
    """The day's confirmed visits and, per team, planned vs done stops."""
    squad = pages_data.visible_squad(storage, user, squad_id)
    d = _day(day, settings.timezone)
    done = visits.list_visits(storage, squad_id, d, tz=settings.timezone)
    return {"squad": squad_id, "date": d.isoformat(), "visits": done,
            "teams": visits.progress(load_plan(storage, squad_id, d), done, squad)}


@router.post("/api/plans/{squad_id}/{day}/visits", responses=_ERRORS, summary="到达确认")
def post_visit(squad_id: SquadId, day: Day, body: VisitCreate, response: Response,
               storage: StorageDep, settings: SettingsDep, user: CurrentUser) -> dict[str, Any]:
    """Confirm arrival at a stop of the squad's stored plan (201; 200 when already confirmed).
    Officers confirm their own team's stops; the squad's leader and admins any team's."""
    squad = pages_data.visible_squad(storage, user, squad_id)
    d = _day(day, settings.timezone)
    plan = load_plan(storage, squad_id, d)
    if plan is None:
        raise NotFoundError(f"{squad['name']} {d.isoformat()} 还没有巡查计划，无法确认到达。")
    visit, created = visits.confirm_visit(storage, user, squad, d, plan, stop_id=body.stop_id,
                                          lon=body.lon, lat=body.lat, note=body.note,
                                          tz=settings.timezone)
    response.status_code = 201 if created else 200
    return {**visit, "created": created}


def _may_replan(user: Principal) -> None:
    if user.role not in ("admin", "planner", "squad_leader"):
        raise PermissionDenied("只有中队长、规划和管理员可以重新规划。")


@router.post("/api/plans/{squad_id}/{day}/replan", responses=_ERRORS,
             summary="按当前时间重新规划（只排剩余站点）")
def post_replan(squad_id: SquadId, day: Day, body: ClockReplan, storage: StorageDep,
                settings: SettingsDep, user: CurrentUser) -> dict[str, Any]:
    """During the plan day only what is left is planned, from now (admins may give ``at``):
    confirmed stops stay done, each team starts from its last one, closed cases drop off; the
    answer is the stored plan with ``changes`` (what changed, in Chinese)."""
    _may_replan(user)
    squad = pages_data.visible_squad(storage, user, squad_id)
    data, changes = plan_clock.generate(
        storage, settings, squad, _day(day, settings.timezone),
        now=plan_clock.clock(body.at, user, settings.timezone),
        unavailable=body.unavailable_teams, actor=user.username)
    return {**data, "changes": changes or []}


@router.post("/squad/{squad_id}/replan", include_in_schema=False)
@router.post("/squad/{squad_id}/replan-now", include_in_schema=False)
async def form_replan(request: Request, squad_id: str, storage: StorageDep,
                      settings: SettingsDep, user: PageUser,
                      date: Annotated[str, Form(max_length=10)]) -> Response:
    """The dashboard's 重新规划 form: the unticked teams off duty, planned from now."""
    if user is None:
        raise AuthError("请先登录。")
    _may_replan(user)
    squad = pages_data.visible_squad(storage, user, squad_id)
    form = await request.form()
    on_duty = {str(v) for v in form.getlist("on_duty")}
    off = [str(t.get("id")) for t in squad.get("teams", []) if str(t.get("id")) not in on_duty]
    path = f"/squad/{quote(squad_id)}"
    try:
        day = _day(date, settings.timezone)
        now = plan_clock.clock(None, user, settings.timezone)
        _data, changes = plan_clock.generate(storage, settings, squad, day, now=now,
                                             unavailable=off, actor=user.username)
    except XunchaError as exc:
        return RedirectResponse(f"{path}?{urlencode({'msg': f'重新规划失败：{exc}', 'err': '1'})}",
                                status_code=303)
    names = "、".join(visits.team_name(squad, t) for t in off)
    head = "已重新规划" + (f"（不在岗：{names}）" if off else "")
    msg = head + ("：" + "；".join(changes) if changes else "")
    return RedirectResponse(f"{path}?{urlencode({'date': day.isoformat(), 'msg': msg[:1500]})}",
                            status_code=303)


def _route_context(storage: Storage, settings: Settings, user: Principal, squad: dict[str, Any],
                   day: Any, team: str | None) -> dict[str, Any]:
    teams = [{"id": str(t.get("id")), "name": str(t.get("name", t.get("id")))}
             for t in squad.get("teams", [])]
    mine = visits.user_team(storage, user, squad)
    chosen = team if team in {t["id"] for t in teams} else (mine or (teams[0]["id"] if teams else None))
    ctx: dict[str, Any] = {"squad": squad, "day": day.isoformat(), "teams": teams, "team": chosen,
                           "my_team": mine, "stops": [], "route": None, "changes": [],
                           "plan_error": "", "report_categories": report_categories(),
                           "patrol_source": CASE_SOURCE_PATROL,
                           "may_confirm": user.role in ("admin", "squad_leader") or (
                               user.role == "officer" and mine is not None and mine == chosen)}
    try:
        plan = pages_data.get_plan(storage, settings, squad, day, actor=user.username)
    except XunchaError as exc:
        ctx["plan_error"] = str(exc)
        return ctx
    done = {v["stop_id"]: v for v in visits.list_visits(storage, squad["id"], day,
                                                       tz=settings.timezone)}
    route = next((r for r in plan.get("routes", []) if r["team"] == chosen), None)
    ctx["changes"] = list(plan.get("warnings", []))
    if route is None:
        return ctx
    ctx["route"] = {"name": route.get("team_name", chosen), "shift": "–".join(
        s[11:16] for s in route.get("shift", [])), "n": len(route.get("visits", []))}
    ctx["stops"] = [{"seq": v["seq"], "stop_id": v["stop_id"], "arrive": v["arrive"][11:16],
                     "kind": v["kind"], "community": v.get("community", ""),
                     "what": v.get("what", ""), "address": v.get("address", ""),
                     "lon": v["lon"], "lat": v["lat"],
                     "done": done[v["stop_id"]]["confirmed_at"][11:16] if v["stop_id"] in done else "",
                     "note": done.get(v["stop_id"], {}).get("note", "")}
                    for v in route.get("visits", [])]
    ctx["n_done"] = sum(1 for s in ctx["stops"] if s["done"])
    return ctx


@router.get("/route", response_class=HTMLResponse, include_in_schema=False)
def route_page(request: Request, storage: StorageDep, settings: SettingsDep, user: PageUser,
               date: Annotated[str | None, Query(max_length=10)] = None,
               team: Annotated[str | None, Query(max_length=64)] = None,
               squad: Annotated[str | None, Query(max_length=32)] = None) -> Response:
    """Today's route of the officer's team, stop by stop, for the phone."""
    if user is None:
        return login_redirect(request)
    squad_id = squad or user.squad_id
    if not squad_id:
        sq = pages_data.visible_squads(storage, user)
        squad_id = sq[0]["id"] if sq else ""
    record = pages_data.visible_squad(storage, user, squad_id)
    day = _day(date, settings.timezone)
    return render(request, "route.html", user,
                  **_route_context(storage, settings, user, record, day, team))
