"""Stored daily plans: one Plan row per squad and day, one PlanVisit row per planned visit.

The visits are what makes "days since last visit" real: :func:`last_visits` reads, per
community, the latest plan day before a date on which some stop in that community was planned
(a hotspot, a re-inspection, a relocation point or the routine patrol all count). Re-planning a
squad's day replaces that day's plan and visits.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, func, select

from geo.planning_model import DailyPlan
from geo.planning_time import as_date
from service.models import Plan, PlanVisit
from service.storage import Storage


def save_plan(storage: Storage, plan: DailyPlan, *, created_by: str = "") -> int:
    """Store ``plan`` (replacing any plan of the same squad and day); return the plan's row id.

    Parameters
    ----------
    storage : Storage
    plan : DailyPlan
        From :func:`geo.planning.plan_day`; stored as its :meth:`~DailyPlan.to_json` form.
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
