"""Stored daily plans: one Plan row per squad and day, one PlanVisit row per planned visit.

The visits are what makes "days since last visit" real: :func:`last_visits` reads, per
community, the latest plan day before a date on which some stop in that community was planned
(a hotspot, a re-inspection, a relocation point or the routine patrol all count). Re-planning a
squad's day replaces that day's plan and visits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import geopandas as gpd
from sqlalchemy import delete, func, select

from geo.errors import InputError
from geo.labels import OPEN_STATUSES
from geo.planning.clock import as_date, day_start
from geo.planning.day import build_stops, plan_day
from geo.planning.model import DailyPlan
from service.models import Plan, PlanVisit
from service.storage import CaseFilter, Storage

#: Hotspots for a plan are found among the cases of the last four weeks before the plan day.
HISTORY_DAYS = 28
SIM_TAG = "［模拟］"


def save_plan(storage: Storage, plan: DailyPlan, *, created_by: str = "") -> int:
    """Store ``plan`` (replacing any plan of the same squad and day); return the plan's row id.

    Parameters
    ----------
    storage : Storage
    plan : DailyPlan
        From :func:`geo.planning.day.plan_day`; stored as its :meth:`~DailyPlan.to_json` form.
    created_by : str
        User name or ``cli``.
    """
    data = plan.to_json()
    with storage.begin() as session:
        old = session.scalars(select(Plan.id).where(
            Plan.squad_id == plan.squad_id, Plan.plan_date == plan.date)).all()
        if old:
            session.execute(delete(PlanVisit).where(PlanVisit.plan_id.in_(old)))
            session.execute(delete(Plan).where(Plan.id.in_(old)))
            session.flush()
        row = Plan(squad_id=plan.squad_id, plan_date=plan.date, created_by=created_by, data=data)
        session.add(row)
        session.flush()
        session.add_all([
            PlanVisit(plan_id=row.id, squad_id=plan.squad_id, plan_date=plan.date,
                      community_code=v["community_code"], stop_id=v["stop_id"][:64],
                      kind=v["kind"])
            for v in plan.visits_by_community()
        ])
        return int(row.id)


def load_plan(storage: Storage, squad_id: str, day: date | str) -> dict[str, Any] | None:
    """The stored plan of ``squad_id`` on ``day`` as its JSON dict, or None when there is none."""
    with storage.begin() as session:
        row = session.scalar(select(Plan).where(Plan.squad_id == squad_id,
                                                Plan.plan_date == as_date(day)))
        return None if row is None else dict(row.data)


def last_visits(storage: Storage, squad_id: str, before: date | str) -> dict[str, date]:
    """Per community code, the latest planned visit day of ``squad_id`` strictly before ``before``."""
    stmt = (select(PlanVisit.community_code, func.max(PlanVisit.plan_date))
            .where(PlanVisit.squad_id == squad_id, PlanVisit.plan_date < as_date(before))
            .group_by(PlanVisit.community_code))
    with storage.begin() as session:
        rows = session.execute(stmt).all()
    return {str(code): as_date(day) for code, day in rows if day is not None}


def plan_dates(storage: Storage, squad_id: str) -> list[date]:
    """Days with a stored plan for ``squad_id``, oldest first."""
    with storage.begin() as session:
        rows = session.scalars(select(Plan.plan_date).where(Plan.squad_id == squad_id)
                               .order_by(Plan.plan_date)).all()
    return [as_date(d) for d in rows]


@dataclass
class PlanInputs:
    """What every squad's plan of one day is built from (read once from storage)."""

    day: date
    communities: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    hotspots: gpd.GeoDataFrame | None
    open_cases: gpd.GeoDataFrame
    recent_cases: int
    data_label: str


def plan_inputs(storage: Storage, day: date | str, *, squads: Sequence[str] | None = None,
                history_days: int = HISTORY_DAYS, working_crs: str | None = None) -> PlanInputs:
    """Read boundaries, recent cases (→ hotspots) and open cases for planning ``day``.

    Hotspots are found among the cases reported in the ``history_days`` before the plan day
    (:func:`geo.analysis.hotspots.find_hotspots`, recency counted back from the day's midnight); an area
    with too few cases simply has none. Open cases are those not 结案/作废 reported before the day.
    """
    from geo.analysis.hotspots import find_hotspots

    d = as_date(day)
    start = day_start(d, storage.tz)
    sq = tuple(squads) if squads is not None else None
    communities = storage.communities()
    recent = storage.query_cases(CaseFilter(squads=sq, start=start - timedelta(days=history_days),
                                            end=start))
    open_cases = storage.query_cases(CaseFilter(squads=sq, end=start, status=OPEN_STATUSES))
    hotspots = None
    if len(recent):
        try:
            hotspots = find_hotspots(recent, at=start, communities=communities,
                                     working_crs=working_crs)
        except InputError:
            hotspots = None
    simulated = any(str(t).startswith(SIM_TAG) for t in recent.get("description", []))
    return PlanInputs(day=d, communities=communities, stations=storage.stations(),
                      hotspots=hotspots, open_cases=open_cases, recent_cases=len(recent),
                      data_label="模拟数据，仅供演示" if simulated else "")


def make_plan(storage: Storage, squad: dict[str, Any], inputs: PlanInputs, *,
              revisit_days: int = 3, unavailable_teams: Sequence[str] = (),
              relocation_points: gpd.GeoDataFrame | None = None,
              time_limit_s: float = 1.0, working_crs: str | None = None,
              save: bool = True, created_by: str = "cli") -> DailyPlan:
    """Build, solve, check and (by default) store one squad's plan for ``inputs.day``.

    "Days since last visit" comes from the stored plans (:func:`last_visits`).
    """
    own = {t.get("id") for t in squad.get("teams", [])}
    off = tuple(u for u in unavailable_teams if u in own)
    stops = build_stops(squad=squad, date=inputs.day, communities=inputs.communities,
                        hotspots=inputs.hotspots, open_cases=inputs.open_cases,
                        relocation_points=relocation_points,
                        last_visit=last_visits(storage, squad["id"], inputs.day),
                        revisit_days=revisit_days, unavailable_teams=off, tz=storage.tz,
                        working_crs=working_crs)
    plan = plan_day(squad=squad, date=inputs.day, stops=stops, stations=inputs.stations,
                    time_limit_s=time_limit_s, unavailable_teams=off, tz=storage.tz)
    if save:
        save_plan(storage, plan, created_by=created_by)
    return plan
