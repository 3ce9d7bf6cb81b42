"""Route sheets of a daily plan: the one place a :class:`TeamSheet` is built from a DailyPlan.

:func:`team_sheets` turns each :class:`geo.planning.model.TeamRoute` of a plan (a fresh one from
:func:`geo.planning.day.plan_day` or a stored one read back with
:meth:`geo.planning.model.DailyPlan.from_json`) into the sheet of that team: members named
from the squad's staff, the visits in order with their arrival and departure times, the route
drawn from the plan's path, the walk to each stop when the plan has it (``leg_m``/``leg_s`` of a
visit) and the lunch break as the header note.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

import geopandas as gpd

from geo.boundaries import Squad
from geo.planning.clock import hhmm
from geo.planning.model import DailyPlan, TeamRoute
from geo.sheets.model import SheetStop, TeamMember, TeamSheet

__all__ = ["team_sheets"]


def team_sheets(
    plan: DailyPlan,
    squad: Squad | Mapping[str, Any] | None = None,
    *,
    communities: gpd.GeoDataFrame | None = None,
    data_label: str = "",
    teams: Collection[str] | None = None,
) -> list[TeamSheet]:
    """One route sheet per team route of ``plan``, in the plan's team order.

    Parameters
    ----------
    plan : DailyPlan
        The plan (its routes, date and squad name).
    squad : Squad or mapping, optional
        Whose staff names the members (default ``plan.squad``); a member not among the staff
        is shown by id as 城管队员.
    communities : GeoDataFrame, optional
        Community polygons drawn under the route.
    data_label : str
        E.g. ``模拟数据，仅供演示`` when the data is simulated.
    teams : collection of str, optional
        Only these team ids (default every route).

    Returns
    -------
    list of TeamSheet
    """
    who = Squad.from_mapping(squad) if squad is not None else plan.squad
    name = str(plan.squad.get("name") or who.get("name") or plan.squad_id)
    return [_sheet(plan, r, who, name, communities, data_label)
            for r in plan.routes if teams is None or r.team_id in teams]


def _sheet(plan: DailyPlan, r: TeamRoute, squad: Squad, squad_name: str,
           communities: gpd.GeoDataFrame | None, data_label: str) -> TeamSheet:
    staff = {m.id: m for m in squad.staff}
    members = [TeamMember(staff[m].name, staff[m].role) if m in staff else TeamMember(m)
               for m in r.members]
    stops = [SheetStop(seq=v.seq, arrive=v.arrive, depart=v.depart, community=v.community,
                       address=v.address, what=v.what, category=v.category,
                       category_name=v.category_name, kind=v.kind, lon=v.lon, lat=v.lat,
                       leg_m=_number(getattr(v, "leg_m", None)),
                       leg_s=_number(getattr(v, "leg_s", None)))
             for v in r.visits]
    note = "" if r.break_s is None else (
        f"午休 {hhmm(r.break_s[0])}–{hhmm(r.break_s[1])}（回{r.start_name or '工作站'}）")
    start = r.start_lonlat if all(math.isfinite(c) for c in r.start_lonlat) else None
    return TeamSheet(
        squad_name=squad_name, team_name=r.team_name, members=members, date=plan.date,
        shift_start=r.time(r.shift_s[0]), shift_end=r.time(r.shift_s[1]), stops=stops,
        distance_m=r.distance_m, duration_s=r.duration_s, route_lonlat=r.geometry_wgs84,
        communities=communities, start_name=r.start_name, start_lonlat=start,
        data_label=data_label, note=note, mode=str(getattr(r, "mode", "walk") or "walk"))


def _number(value: object) -> float | None:
    """``value`` as a finite float, else None (plans written before legs were stored)."""
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
