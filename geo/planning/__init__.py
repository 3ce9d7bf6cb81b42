"""geo.planning."""

from __future__ import annotations

from geo.planning.check import TOL_S
from geo.planning.clock import (
    DAY_S,
    as_date,
    at_seconds,
    clock_s,
    day_start,
    hhmm,
    hour_windows_s,
    intersect,
    merge_intervals,
    parse_hours_text,
    team_break_s,
    team_shift_s,
    working_intervals,
)
from geo.planning.day import (
    DEFAULT_TIME_LIMIT_S,
    KINDS,
    SERVICE_S,
    STOP_COLUMNS,
    DailyPlan,
    PlannedVisit,
    TeamRoute,
    build_stops,
    check_plan,
    plan_day,
    plan_squads,
)
from geo.planning.inputs import (
    communities_working,
    deadlines,
    hotspot_category,
    located,
    number,
    peak_windows,
    text,
)
from geo.planning.stops import CLOSED_STATUSES, DEFAULT_RECHECKS_PER_TEAM, MARKET_HOURS

__all__ = ["CLOSED_STATUSES", "DAY_S", "DEFAULT_RECHECKS_PER_TEAM", "DEFAULT_TIME_LIMIT_S", "KINDS", "MARKET_HOURS", "SERVICE_S", "STOP_COLUMNS", "TOL_S", "DailyPlan", "PlannedVisit", "TeamRoute", "as_date", "at_seconds", "build_stops", "check_plan", "clock_s", "communities_working", "day_start", "deadlines", "hhmm", "hotspot_category", "hour_windows_s", "intersect", "located", "merge_intervals", "number", "parse_hours_text", "peak_windows", "plan_day", "plan_squads", "team_break_s", "team_shift_s", "text", "working_intervals"]
