"""Plans that know the clock: what ``POST /api/plans/{squad}/{date}`` (生成计划) makes of a day.

Where the clock (``now`` in the deployment zone; an admin may give another time of the day,
``at``, for rehearsals and tests) stands against the squad's shifts decides:

* **a day before today**: refused (:class:`PastDay`, 409) — a past day's plan is the record of
  that day, read with ``GET``;
* **a later day, or today before the squad's first shift starts**: the full day
  (:func:`service.pages_data.build_plan`);
* **today once a shift has started**: only what is left, from now — no stop is planned before
  now. With a stored plan this is exactly the re-plan of ``POST …/replan``
  (:func:`service.visits.replan_now`: stops the officers confirmed are kept as done, each team
  starts from its last confirmed stop, stops of cases closed since drop off). Without a stored
  plan the day is planned fresh and then cut at now the same way
  (:func:`geo.planning.replan.replan_day`), so the stored plan starts at now too.

Every generation counts against the user's limit (:func:`service.pages_data.check_generation_rate`,
429) and runs under the day's shared plan job (computed once across workers). :func:`prepare`
is the start-up preparation's version (only a missing plan, no limit, the same clock rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from geo.errors import InputError
from geo.planning.clock import DAY_S, day_start, team_shift_s
from service import pages_data, visits
from service.auth import Principal
from service.errors import ConflictError, PermissionDenied
from service.plans import load_plan, make_plan, plan_inputs, save_plan
from service.settings import Settings
from service.storage import Storage


class PastDay(ConflictError):  # noqa: N818 (reads better at raise sites)
    """A day before today: its plan is the record of that day and is not generated again (409)."""


def clock(at: datetime | None, user: Principal, tz: str) -> datetime:
    """The time to plan from: now in ``tz``, or ``at`` (admins only; naive ``at`` is in ``tz``).

    Raises
    ------
    PermissionDenied
        ``at`` given by someone who is not an admin.
    """
    zone = ZoneInfo(tz)
    if at is None:
        return datetime.now(zone)
    if user.role != "admin":
        raise PermissionDenied("只有管理员可以指定规划的时刻（at）；其他用户按现在的时间规划。")
    return (at if at.tzinfo is not None else at.replace(tzinfo=zone)).astimezone(zone)


def shift_span_s(squad: dict[str, Any], off: Sequence[str] = ()) -> tuple[float, float]:
    """The earliest shift start and the latest shift end of the squad's teams on duty (seconds
    of the plan day; an end past midnight is > 86 400); all teams when none is on duty."""
    teams = [t for t in squad.get("teams", []) if str(t.get("id")) not in off] or list(
        squad.get("teams", []))
    spans = [team_shift_s(t) for t in teams] or [(0.0, DAY_S)]
    return min(lo for lo, _ in spans), max(hi for _, hi in spans)


def seconds_into(day: date, now: datetime, tz: str) -> float:
    """Seconds from the local midnight that starts ``day`` to ``now`` (negative before it)."""
    return (now - day_start(day, tz)).total_seconds()


def _check_teams(squad: dict[str, Any], unavailable: Sequence[str]) -> None:
    own = {str(t.get("id")) for t in squad.get("teams", [])}
    if unknown := [u for u in unavailable if u not in own]:
        raise InputError(f"中队「{squad['name']}」没有队伍 {'、'.join(unknown)}；"
                         f"可用：{'、'.join(sorted(own))}。")


def generate(storage: Storage, settings: Settings, squad: dict[str, Any], day: date, *,
             now: datetime, unavailable: Sequence[str] = (),
             actor: str = "web") -> tuple[dict[str, Any], list[str] | None]:
    """Generate ``squad``'s plan of ``day`` as the clock ``now`` allows (see the module text).

    Parameters
    ----------
    storage, settings, squad, day
        As for :func:`service.pages_data.build_plan`.
    now : datetime
        The clock (tz-aware; :func:`clock`).
    unavailable : sequence of str
        Team ids off duty (from now on, for a day under way).
    actor : str
        User name (rate limit, ``created_by``).

    Returns
    -------
    plan : dict
        The stored plan's JSON form.
    changes : list of str or None
        For a day under way, what changed (Chinese, one line per team); None for a full day.

    Raises
    ------
    PastDay
        A day before today (409).
    InputError
        An unknown team (400).
    RateLimited
        Too many generations by ``actor`` (429).
    """
    if day < now.date():
        raise PastDay(f"{day.isoformat()} 已经过去，不再生成或重新规划这一天的计划；查看已存的"
                      f"计划请用 GET /api/plans/{squad['id']}/{day.isoformat()}，"
                      f"要规划今天请用今天的日期（{now.date().isoformat()}）。")
    if seconds_into(day, now, settings.timezone) < shift_span_s(squad, unavailable)[0]:
        return pages_data.build_plan(storage, settings, squad, day, unavailable=unavailable,
                                     actor=actor), None
    if load_plan(storage, squad["id"], day) is not None:
        return visits.replan_now(storage, settings, squad, day, unavailable=unavailable,
                                 at=now, actor=actor)
    _check_teams(squad, unavailable)
    pages_data.check_generation_rate(storage, actor)
    with pages_data.plan_job(storage, squad["id"], day):
        return _from_now(storage, settings, squad, day, now=now, off=tuple(unavailable),
                         actor=actor)


def prepare(storage: Storage, settings: Settings, squad: dict[str, Any], day: date, *,
            now: datetime, actor: str = "prepare") -> bool:
    """Make ``squad``'s missing plan of ``day`` ahead (no rate limit): the full day before its
    first shift, else only what is left from ``now``; whether a plan was made."""
    if load_plan(storage, squad["id"], day) is not None:
        return False
    if day != now.date() or seconds_into(day, now, settings.timezone) < shift_span_s(squad)[0]:
        pages_data.get_plan(storage, settings, squad, day, actor=actor)
        return True
    with pages_data.plan_job(storage, squad["id"], day):
        if load_plan(storage, squad["id"], day) is not None:  # another worker was faster
            return False
        _from_now(storage, settings, squad, day, now=now, off=(), actor=actor)
        return True


def remake(storage: Storage, settings: Settings, squad: dict[str, Any], day: date, *,
           actor: str = "prepare") -> None:
    """Plan ``squad``'s whole ``day`` again from today's data, replacing the stored plan (the
    daily refresh of plans made ahead; no rate limit, under the day's shared plan job)."""
    with pages_data.plan_job(storage, squad["id"], day):
        inputs = plan_inputs(storage, day, squads=[squad["id"]], working_crs=settings.working_crs)
        make_plan(storage, squad, inputs, revisit_days=settings.revisit_days,
                  working_crs=settings.working_crs, created_by=actor)


def _from_now(storage: Storage, settings: Settings, squad: dict[str, Any], day: date, *,
              now: datetime, off: tuple[str, ...], actor: str) -> tuple[dict[str, Any], list[str]]:
    """A fresh plan of ``day`` cut at ``now`` (confirmed visits, if any, kept), stored."""
    from geo.planning.replan import replan_day

    inputs = plan_inputs(storage, day, squads=[squad["id"]], working_crs=settings.working_crs)
    full = make_plan(storage, squad, inputs, revisit_days=settings.revisit_days,
                     unavailable_teams=off, working_crs=settings.working_crs, save=False,
                     created_by=actor)
    residual = replan_day(
        plan=full, now=now, stations=inputs.stations,
        confirmed=visits.list_visits(storage, squad["id"], day, tz=settings.timezone),
        unavailable_teams=off, squad=squad, travel=inputs.travel.travel,
        travel_source=inputs.travel.source)
    residual.plan.travel = dict(full.travel)
    save_plan(storage, residual.plan, created_by=actor)
    return residual.plan.to_json(), residual.changes
