"""What the plan, map, layer and page routers share: squad visibility, plans read or made on
demand, route sheets rebuilt from a stored plan, and the analysis layers (computed once per data
version and stored: :mod:`service.analysis_layers`, re-exported here).

Every function takes the caller (:class:`service.auth.Principal`) where visibility matters: a
squad-bound user asking for another squad gets :class:`NotFoundError` (404), exactly like a squad
that does not exist.

Reads never compute unbounded work: a plan is made on a read (:func:`get_plan`) only for a day in
:data:`PLAN_WINDOW` (yesterday … 7 days ahead), and then once whatever the number of workers
(the ``plan_jobs`` row of :func:`plan_job`); any other day answers :class:`PlanNotReady` (404,
尚未生成) until someone generates it on purpose (:func:`build_plan`: ``POST
/api/plans/{squad}/{date}``, the plan page's button, ``xuncha plan``), at most
:data:`GENERATIONS_PER_MINUTE` times a minute per user. Cached layers and maps are keyed on the
data versions in the database (:func:`service.case_cache.versions`), so every worker sees a
change at once.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import shape
from sqlalchemy import select

from geo.errors import InputError, NotFoundError
from geo.planning.clock import as_date
from service.analysis_layers import CACHE as CACHE  # the layers' home; routers call them here
from service.analysis_layers import forecast as forecast
from service.analysis_layers import hotspots as hotspots
from service.analysis_layers import recent_cases as recent_cases
from service.analysis_layers import significance as significance
from service.analysis_layers import trends as trends
from service.auth import Principal
from service.errors import ConflictError, RateLimited
from service.models import Case
from service.plans import SIM_TAG, load_plan, make_plan, plan_inputs
from service.settings import Settings
from service.storage import Storage

SIM_LABEL = "模拟数据，仅供演示"
PLAN_WINDOW = (-1, 7)
"""Days (from today, in the deployment zone) whose plan a read may make: yesterday … +7."""
GENERATIONS_PER_MINUTE = 10
"""Explicit plan generations (:func:`build_plan`) one user may start per minute (all workers)."""
PLAN_JOB_STALE_S = 300.0
"""A ``plan_jobs`` row older than this is a crashed worker's and is taken over."""
PLAN_WAIT_S = 120.0
"""How long a request waits for another worker's computation of the same plan."""
_OWNER = f"{socket.gethostname()[:40]}:{os.getpid()}"


class PlanNotReady(NotFoundError):  # noqa: N818 (reads better at raise sites)
    """The plan of a day outside :data:`PLAN_WINDOW` has not been generated (404, 尚未生成)."""


def visible_squad(storage: Storage, user: Principal, squad_id: str) -> dict[str, Any]:
    """The squad ``squad_id`` if it exists and ``user`` may see it; :class:`NotFoundError` else."""
    for sq in storage.squads():
        if sq["id"] == squad_id and user.may_see(squad_id):
            return sq
    raise NotFoundError(f"没有编号为「{squad_id[:40]}」的中队（或无权查看）。")


def visible_squads(storage: Storage, user: Principal) -> list[dict[str, Any]]:
    """Every squad ``user`` may see."""
    return [sq for sq in storage.squads() if user.may_see(sq["id"])]


def scope(user: Principal, squad: str | None) -> tuple[str, ...] | None:
    """The squads a layer request covers: ``squad`` if given (and visible), else the caller's."""
    if squad is None:
        return user.squads
    if not user.may_see(squad):
        raise NotFoundError(f"没有编号为「{squad[:40]}」的中队（或无权查看）。")
    return (squad,)


def parse_day(text: str | date | None, tz: str) -> date:
    """A plan day from ``YYYY-MM-DD`` (today in ``tz`` when empty); InputError when malformed."""
    if text is None or text == "":
        return pd.Timestamp.now(tz=tz).date()
    return as_date(text)


_PLAN_LOCKS: dict[tuple[str, str, date], threading.Lock] = {}
_PLAN_LOCKS_GUARD = threading.Lock()


def _plan_lock(storage: Storage, squad_id: str, day: date) -> threading.Lock:
    with _PLAN_LOCKS_GUARD:
        return _PLAN_LOCKS.setdefault((storage.url, squad_id, day), threading.Lock())


@contextmanager
def plan_job(storage: Storage, squad_id: str, day: date, *,
             wait_s: float = PLAN_WAIT_S) -> Iterator[None]:
    """Hold the plan job of ``squad_id``'s ``day`` for every process using the database: the
    ``plan_jobs`` row (``INSERT … ON CONFLICT DO NOTHING``, SQLite and PostgreSQL alike), behind
    a lock of this process's threads. Waits up to ``wait_s`` for another holder, then
    :class:`ConflictError` (409)."""
    deadline = time.monotonic() + wait_s
    with _plan_lock(storage, squad_id, day):
        while not storage.claim_plan_job(squad_id, day, owner=_OWNER, stale_s=PLAN_JOB_STALE_S):
            if time.monotonic() > deadline:
                raise ConflictError(f"{day.isoformat()} 的计划正在由另一个请求生成；请稍后刷新页面。")
            time.sleep(0.1)
        try:
            yield
        finally:
            storage.release_plan_job(squad_id, day)


def in_plan_window(day: date, tz: str) -> bool:
    """Whether a read may make the plan of ``day`` (:data:`PLAN_WINDOW` around today in ``tz``)."""
    today = pd.Timestamp.now(tz=tz).date()
    return today + timedelta(days=PLAN_WINDOW[0]) <= day <= today + timedelta(days=PLAN_WINDOW[1])


def check_generation_rate(storage: Storage, actor: str) -> None:
    """Count one explicit plan generation by ``actor``; :class:`RateLimited` (429) beyond
    :data:`GENERATIONS_PER_MINUTE` in the last minute (counted in the database: all workers)."""
    bucket = "plan:" + hashlib.sha256(actor.encode("utf-8", "surrogatepass")).hexdigest()[:48]
    n, first = storage.recent_events(bucket, window_s=60.0)
    if n >= GENERATIONS_PER_MINUTE and first is not None:
        wait = max(1, int(60 - (datetime.now(UTC) - first).total_seconds()) + 1)
        raise RateLimited(f"生成计划过于频繁：每人每分钟最多 {GENERATIONS_PER_MINUTE} 次；"
                          f"请 {wait} 秒后再试。", retry_after_s=wait)
    storage.add_events([bucket])


# ---------------------------------------------------------------- plans

def data_label(storage: Storage, squads: Sequence[str] | None) -> str:
    """``模拟数据，仅供演示`` when the squads' cases are simulated (the simulator's tag), else ``""``."""
    stmt = select(Case.id).where(Case.description.startswith(SIM_TAG)).limit(1)
    if squads is not None:
        stmt = stmt.where(Case.squad_id.in_(tuple(squads)))
    with storage.begin() as session:
        return SIM_LABEL if session.scalar(stmt) is not None else ""


def _make(storage: Storage, settings: Settings, squad: dict[str, Any], day: date, *,
          unavailable: Sequence[str], actor: str) -> dict[str, Any]:
    inputs = plan_inputs(storage, day, squads=[squad["id"]], working_crs=settings.working_crs)
    plan = make_plan(storage, squad, inputs, revisit_days=settings.revisit_days,
                     unavailable_teams=tuple(unavailable), working_crs=settings.working_crs,
                     created_by=actor)
    return plan.to_json()


def build_plan(storage: Storage, settings: Settings, squad: dict[str, Any], day: date, *,
               unavailable: Sequence[str] = (), actor: str = "web") -> dict[str, Any]:
    """Plan ``squad``'s ``day`` now (replacing a stored plan) and return its JSON form: the
    explicit generation, any day, rate-limited per ``actor`` (:func:`check_generation_rate`)."""
    own = {str(t.get("id")) for t in squad.get("teams", [])}
    unknown = [u for u in unavailable if u not in own]
    if unknown:
        raise InputError(f"中队「{squad['name']}」没有队伍 {'、'.join(unknown)}；"
                         f"可用：{'、'.join(sorted(own))}。")
    check_generation_rate(storage, actor)
    with plan_job(storage, squad["id"], day):
        return _make(storage, settings, squad, day, unavailable=unavailable, actor=actor)


def get_plan(storage: Storage, settings: Settings, squad: dict[str, Any], day: date, *,
             actor: str = "web") -> dict[str, Any]:
    """The stored plan of ``squad`` on ``day``; inside :data:`PLAN_WINDOW` made (once, by one
    worker, the others waiting for it) and stored on first request, else :class:`PlanNotReady`."""
    data = load_plan(storage, squad["id"], day)
    if data is not None:
        return data
    if not in_plan_window(day, settings.timezone):
        raise PlanNotReady(
            f"{squad['name']} {day.isoformat()} 的巡查计划尚未生成（打开页面时只自动生成昨天至 "
            f"{PLAN_WINDOW[1]} 天后的计划）。请规划人员或中队长点击「生成计划」，或调用 "
            f"POST /api/plans/{squad['id']}/{day.isoformat()}，或运行 xuncha plan --date "
            f"{day.isoformat()} --out 输出目录。")
    with plan_job(storage, squad["id"], day):
        data = load_plan(storage, squad["id"], day)  # another worker may have just made it
        if data is not None:
            return data
        return _make(storage, settings, squad, day, unavailable=(), actor=actor)


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def plan_sheets(storage: Storage, plan: dict[str, Any], squad: dict[str, Any], *,
                team: str | None = None) -> list[Any]:
    """Route sheets (:class:`geo.sheets.model.TeamSheet`) of a stored plan, one per team route
    (only ``team`` when given; :class:`NotFoundError` if the plan has no such team)."""
    routes = [r for r in plan.get("routes", []) if team is None or r.get("team") == team]
    if team is not None and not routes:
        teams = "、".join(str(r.get("team")) for r in plan.get("routes", []))
        raise NotFoundError(f"计划中没有队伍「{team[:40]}」；本日在岗队伍：{teams or '无'}。")
    if not routes:
        raise NotFoundError("本日计划没有在岗队伍，没有路线单可以输出。")
    from geo.planning import DailyPlan
    from geo.sheets import team_sheets

    comm = storage.communities(squads=(squad["id"],))
    label = data_label(storage, (squad["id"],))
    stored = DailyPlan.from_json(plan, squad=squad)
    return team_sheets(stored, squad, communities=comm, data_label=label,
                       teams=None if team is None else {team})


def plan_table(plan: dict[str, Any], *, team: str | None = None) -> pd.DataFrame:
    """Every planned visit of ``plan`` as a table with Chinese headers (the squad XLSX)."""
    rows = []
    for r in plan.get("routes", []):
        if team is not None and r.get("team") != team:
            continue
        for v in r.get("visits", []):
            rows.append({"队伍": r.get("team_name"), "序号": v.get("seq"),
                         "到达": (_dt(v.get("arrive")) or datetime.min).strftime("%H:%M"),
                         "离开": (_dt(v.get("depart")) or datetime.min).strftime("%H:%M"),
                         "类型": v.get("kind"), "社区": v.get("community"),
                         "地址": v.get("address"), "巡查内容": v.get("what"),
                         "问题类型": v.get("category_name"), "必访": "是" if v.get("required") else "",
                         "签字": ""})
    cols = ["队伍", "序号", "到达", "离开", "类型", "社区", "地址", "巡查内容", "问题类型", "必访", "签字"]
    return pd.DataFrame(rows, columns=cols)


def plan_frames(plan: dict[str, Any]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The ``routes`` and ``stops`` map layers (WGS84) of a stored plan."""
    routes, stops = [], []
    for r in plan.get("routes", []):
        geom = shape(r["geometry"]) if r.get("geometry") else None
        routes.append({"team": r.get("team"), "team_name": r.get("team_name"),
                       "distance_m": r.get("distance_m"), "duration_s": r.get("duration_s"),
                       "geometry": geom})
        for v in r.get("visits", []):
            stops.append({"team": r.get("team"), "team_name": r.get("team_name"),
                          "seq": v.get("seq"), "kind": v.get("kind"),
                          "arrive": (_dt(v.get("arrive")) or datetime.min).strftime("%H:%M"),
                          "community": v.get("community"), "address": v.get("address"),
                          "what": v.get("what"), "category_name": v.get("category_name"),
                          "geometry": gpd.points_from_xy([v.get("lon")], [v.get("lat")])[0]})
    rcols = ["team", "team_name", "distance_m", "duration_s", "geometry"]
    scols = ["team", "team_name", "seq", "kind", "arrive", "community", "address", "what",
             "category_name", "geometry"]
    rf = gpd.GeoDataFrame(pd.DataFrame(routes, columns=rcols), geometry="geometry", crs=4326)
    sf = gpd.GeoDataFrame(pd.DataFrame(stops, columns=scols), geometry="geometry", crs=4326)
    return rf[rf.geometry.notna()], sf
