"""Daily patrol planning of a squad: candidate stops, routes per team, checked, and the plan.

:func:`build_stops` turns hotspots, open cases, relocation points and the communities' last
visits into the day's candidate stops; :func:`plan_day` (:func:`plan_squads` for several
squads) solves the patrol problem for the squad's available teams with :mod:`geo.routing` and
returns a :class:`DailyPlan` checked independently by :func:`check_plan`.
:meth:`DailyPlan.to_json` / :meth:`DailyPlan.from_json` are its stored form; route sheets come
from :func:`geo.sheets.team_sheets`. Clock helpers live in :mod:`geo.planning.clock`; the
travel model of a plan (road network per mode, or the straight-line fallback) in
:mod:`geo.planning.travel`.
"""

from __future__ import annotations

from geo.planning.check import check_plan
from geo.planning.clock import as_date
from geo.planning.day import DEFAULT_TIME_LIMIT_S, plan_day, plan_squads
from geo.planning.model import DailyPlan, PlannedVisit, TeamRoute
from geo.planning.stops import KINDS, SERVICE_S, STOP_COLUMNS, build_stops
from geo.planning.travel import TravelChoice, UnreachableError, travel_info, with_travel

__all__ = [
    "DEFAULT_TIME_LIMIT_S",
    "KINDS",
    "SERVICE_S",
    "STOP_COLUMNS",
    "DailyPlan",
    "PlannedVisit",
    "TeamRoute",
    "TravelChoice",
    "UnreachableError",
    "as_date",
    "build_stops",
    "check_plan",
    "plan_day",
    "plan_squads",
    "travel_info",
    "with_travel",
]
