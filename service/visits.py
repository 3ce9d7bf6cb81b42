"""Confirmed visits (到达确认): what officers really did at the stops of a day's plan.

An officer confirms arrival at a stop of their own team's route (:func:`confirm_visit`): the
server's time, the phone's position when the browser allows it, and optionally a finding note
(记录发现). Confirming a stop again changes nothing but the note (one row per squad, day and
stop). The squad's leader (and the admin) may confirm for any team of the squad. The leader's
dashboard reads planned vs done per team (:func:`progress`), the re-plan during the shift
(:func:`replan_now`, :func:`geo.planning.replan.replan_day`) keeps the confirmed stops as done
and starts each team from its last one, and "days since last visit" counts confirmed visits
once a squad has any (:func:`service.plans.last_visits`).

Officers and teams: a user's ``team_id`` (``xuncha users add … --team``, ``xuncha users team``)
names the team; without one, a username equal to a staff id among a team's ``members`` in
``squads.json`` is that team's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from geo.errors import InputError, NotFoundError
from geo.labels import CLOSED_STATUSES
from service.auth import Principal
from service.errors import PermissionDenied
from service.models import Case, ConfirmedVisit, Plan, User
from service.storage import Storage

NOTE_MAX = 2000


def user_team(storage: Storage, user: Principal, squad: dict[str, Any]) -> str | None:
    """The team id of ``user`` in ``squad`` (its ``team_id``, else staff membership), or None."""
    with storage.begin() as session:
        team = session.scalar(select(User.team_id).where(User.id == user.id))
    ids = [str(t.get("id")) for t in squad.get("teams", [])]
    if team and team in ids:
        return str(team)
    for t in squad.get("teams", []):
        if user.username in [str(m) for m in t.get("members", [])]:
            return str(t.get("id"))
    return None


def set_user_team(storage: Storage, username: str, team: str | None) -> None:
    """Set (or clear, ``None``) the patrol team of ``username``; the team must be of its squad."""
    with storage.begin() as session:
        row = session.scalar(select(User).where(User.username == username))
        if row is None:
            raise NotFoundError(f"没有用户「{username}」。")
        if team:
            squad = next((s for s in storage.squads() if s["id"] == row.squad_id), None)
            ids = [str(t.get("id")) for t in (squad or {}).get("teams", [])]
            if team not in ids:
                raise InputError(f"用户「{username}」所在中队（{row.squad_id or '无'}）没有队伍「{team}」；"
                                 f"可用：{'、'.join(ids) or '无'}。")
        session.execute(update(User).where(User.id == row.id).values(team_id=team or None))


def _stop_team(plan: dict[str, Any], stop_id: str) -> tuple[str, dict[str, Any]]:
    for r in plan.get("routes", []):
        for v in r.get("visits", []):
            if v.get("stop_id") == stop_id:
                return str(r["team"]), v
    raise NotFoundError(f"今天的路线中没有巡查点「{stop_id[:64]}」；请刷新页面后再确认。")


def _public(row: ConfirmedVisit, tz: str) -> dict[str, Any]:
    return {"stop_id": row.stop_id, "team": row.team_id, "kind": row.kind,
            "community_code": row.community_code,
            "confirmed_at": row.confirmed_at.astimezone(pd.Timestamp.now(tz=tz).tzinfo).isoformat(),
            "lon": row.lon, "lat": row.lat, "officer": row.officer, "note": row.note}


def confirm_visit(storage: Storage, user: Principal, squad: dict[str, Any], day: date,
                  plan: dict[str, Any], *, stop_id: str, lon: float | None = None,
                  lat: float | None = None, note: str | None = None,
                  now: datetime | None = None, tz: str = "Asia/Shanghai"
                  ) -> tuple[dict[str, Any], bool]:
    """Confirm arrival at ``stop_id`` of ``plan`` (the stored plan of ``squad`` on ``day``).

    Returns the visit and whether it was new. Confirming again keeps the first time and
    position; a non-empty ``note`` replaces the note.

    Raises
    ------
    PermissionDenied
        A planner, an officer without a team, or an officer of another team.
    NotFoundError
        The stop is not on the plan's routes.
    """
    team, visit = _stop_team(plan, stop_id)
    if user.role == "officer":
        mine = user_team(storage, user, squad)
        if mine is None:
            raise PermissionDenied("您的账号还没有分配巡查组；请管理员运行 "
                                   "xuncha users team 用户名 队伍编号。")
        if mine != team:
            raise PermissionDenied(f"巡查点 {stop_id[:64]} 属于 {team_name(squad, team)} 的路线，"
                                   "只能确认本组的站点。")
    elif user.role not in ("squad_leader", "admin"):
        raise PermissionDenied("只有本组队员、中队长和管理员可以确认到达。")
    text = (note or "").strip()[:NOTE_MAX]
    key = (ConfirmedVisit.squad_id == squad["id"], ConfirmedVisit.plan_date == day,
           ConfirmedVisit.stop_id == stop_id)
    for _attempt in range(2):
        try:
            with storage.begin() as session:
                row = session.scalar(select(ConfirmedVisit).where(*key))
                created = row is None
                if row is None:
                    plan_id = session.scalar(select(Plan.id).where(
                        Plan.squad_id == squad["id"], Plan.plan_date == day))
                    row = ConfirmedVisit(
                        plan_id=plan_id, squad_id=squad["id"], team_id=team, plan_date=day,
                        stop_id=stop_id, kind=str(visit.get("kind", ""))[:16],
                        community_code=visit.get("community_code"),
                        confirmed_at=now or datetime.now(UTC), lon=lon, lat=lat,
                        officer=user.username, note=text)
                    session.add(row)
                elif text:
                    row.note = text
                session.flush()
                return _public(row, tz), created
        except IntegrityError:  # another request confirmed the same stop at the same moment
            continue
    raise InputError("到达确认未保存：同一站点同时收到多次确认，请刷新后重试。")


def team_name(squad: dict[str, Any], team: str) -> str:
    """The team's Chinese name (people never see an id such as ``shuyuan-2``)."""
    return next((str(t.get("name", team)) for t in squad.get("teams", [])
                 if str(t.get("id")) == team), team)


def list_visits(storage: Storage, squad_id: str, day: date, *, tz: str = "Asia/Shanghai"
                ) -> list[dict[str, Any]]:
    """The confirmed visits of ``squad_id`` on ``day``, in confirmation order."""
    with storage.begin() as session:
        rows = session.scalars(select(ConfirmedVisit).where(
            ConfirmedVisit.squad_id == squad_id, ConfirmedVisit.plan_date == day)
            .order_by(ConfirmedVisit.confirmed_at, ConfirmedVisit.id)).all()
        return [_public(r, tz) for r in rows]


def progress(plan: dict[str, Any] | None, visits: Sequence[dict[str, Any]],
             squad: dict[str, Any]) -> list[dict[str, Any]]:
    """Planned vs done per team: ``team``, ``team_name``, ``planned`` (stops on its route or
    confirmed by it), ``done`` (confirmed), ``pending`` and ``last`` (time of the last one)."""
    routes = {str(r["team"]): r for r in (plan or {}).get("routes", [])}
    out = []
    for t in squad.get("teams", []):
        tid = str(t.get("id"))
        mine = [v for v in visits if v["team"] == tid]
        planned = {v["stop_id"] for v in routes.get(tid, {}).get("visits", [])}
        planned |= {v["stop_id"] for v in mine}
        done = {v["stop_id"] for v in mine}
        out.append({"team": tid, "team_name": str(t.get("name", tid)), "planned": len(planned),
                    "done": len(done), "pending": len(planned - done),
                    "last": mine[-1]["confirmed_at"][11:16] if mine else ""})
    return out


def closed_cases(storage: Storage, plan: dict[str, Any]) -> list[str]:
    """Case ids of the plan's 复查 stops (``chk-<case id>``) whose case is now 结案 or 作废."""
    ids = [str(v["stop_id"])[4:] for r in plan.get("routes", []) for v in r.get("visits", [])
           if str(v.get("stop_id", "")).startswith("chk-")]
    if not ids:
        return []
    with storage.begin() as session:
        return list(session.scalars(select(Case.case_id).where(
            Case.case_id.in_(ids), Case.status.in_(tuple(CLOSED_STATUSES)))).all())


def replan_now(storage: Storage, settings: Any, squad: dict[str, Any], day: date, *,
               unavailable: Sequence[str] = (), at: datetime | None = None,
               actor: str = "web") -> tuple[dict[str, Any], list[str]]:
    """Re-plan ``squad``'s ``day`` knowing the clock: the plan's JSON form and what changed.

    On the plan day itself (``at``, default now, in the deployment zone) with a stored plan,
    only what is left is planned (:func:`geo.planning.replan.replan_day`: from ``at``, from
    each team's last confirmed stop, confirmed stops kept, closed cases' stops dropped); any
    other day, or a day without a stored plan, gets the normal plan
    (:func:`service.pages_data.build_plan`). Rate-limited and locked like every generation.
    """
    from zoneinfo import ZoneInfo

    from geo.planning.model import DailyPlan
    from geo.planning.replan import replan_day
    from geo.planning.travel import default_travel
    from service import pages_data
    from service.plans import PlanTravel, load_plan, plan_travel, save_plan

    zone = ZoneInfo(settings.timezone)
    now = (at or datetime.now(zone)).astimezone(zone)
    if now.date() != day or load_plan(storage, squad["id"], day) is None:
        data = pages_data.build_plan(storage, settings, squad, day, unavailable=unavailable,
                                     actor=actor)
        return data, []
    own = {str(t.get("id")) for t in squad.get("teams", [])}
    if unknown := [u for u in unavailable if u not in own]:
        raise InputError(f"中队「{squad['name']}」没有队伍 {'、'.join(unknown)}；"
                         f"可用：{'、'.join(sorted(own))}。")
    pages_data.check_generation_rate(storage, actor)
    with pages_data.plan_job(storage, squad["id"], day):
        stored = load_plan(storage, squad["id"], day)
        assert stored is not None
        network = (stored.get("travel") or {}).get("model") == "network"
        travel = (plan_travel(working_crs=settings.working_crs) if network
                  else PlanTravel(default_travel()))
        residual = replan_day(
            plan=DailyPlan.from_json(stored, squad=squad), now=now,
            stations=storage.stations(), confirmed=list_visits(storage, squad["id"], day),
            closed_cases=closed_cases(storage, stored), unavailable_teams=tuple(unavailable),
            squad=squad, travel=travel.travel, travel_source=travel.source)
        residual.plan.travel = travel.info()
        save_plan(storage, residual.plan, created_by=actor)
    return residual.plan.to_json(), residual.changes
