"""Re-planning during the shift: plan only what is left of a stored day plan, from now.

:func:`replan_day` takes the stored :class:`~geo.planning.model.DailyPlan`, the clock time
``now``, the stops the officers confirmed (:class:`Confirmed`) and the cases closed since the
plan was made, and returns the residual day (:class:`Residual`):

* every confirmed stop is kept, as done, at the head of its team's route (``arrive`` = the
  confirmation time) and is not planned again;
* a 复查 stop (``chk-<case id>``) whose case is now closed (结案/作废) drops off;
* a stop whose every time window has passed drops off (said in the changes);
* every other stop of the plan is planned again with :func:`geo.planning.day.plan_day` for the
  teams still on duty: each starts at ``now`` (shift start = max(shift start, now)) from the
  position of its last confirmed stop, else from its work station, and still eats at its work
  station (the part of the shift before the lunch break ends there, the part after starts there);
* ``changes`` says, per team and in Chinese, what changed ("书院一组：已完成 2 站，取消 1 站
  （案件已结案），剩余 5 站自 14:35 起").

How the halves are solved: each remaining piece of a team's shift (before and after its break) is
given to :func:`plan_day` as a team of its own without a break, whose start "station" may be the
team's current position (a stand-in station ``@<team>``); the pieces are then joined back into
one :class:`~geo.planning.model.TeamRoute` per team, with the team's real stations, shift and
break. ``violations`` are those of the independent checks of that residual problem. The joined
route's ``legs``, ``distance_m`` and geometry describe what is left (from the current position);
the done visits carry no leg. A team marked unavailable that had already confirmed stops keeps a
route with those stops only (what it did before going off duty).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from geo.boundaries import Squad
from geo.errors import InputError
from geo.planning.clock import day_start, hhmm, team_break_s, team_shift_s
from geo.planning.day import DEFAULT_TIME_LIMIT_S, plan_day
from geo.planning.model import DailyPlan, PlannedVisit
from geo.planning.replan_parts import Piece, join_routes, merged_plan, stops_frame
from geo.planning.travel import TravelChoice

__all__ = ["Confirmed", "Residual", "case_stop_id", "replan_day"]

_MIN_PIECE_S = 60.0
"""A piece of shift shorter than this is not planned (nothing fits)."""


def case_stop_id(case_id: str) -> str:
    """The stop id of the re-inspection (复查) of case ``case_id`` (as :func:`build_stops` names it)."""
    return f"chk-{case_id}"


@dataclass(frozen=True)
class Confirmed:
    """A stop an officer confirmed on site: its team, stop id, time (tz-aware) and position."""

    team: str
    stop_id: str
    at: datetime
    lon: float | None = None
    lat: float | None = None

    @classmethod
    def from_mapping(cls, record: Mapping[str, Any]) -> Confirmed:
        """From a record with ``team`` (or ``team_id``), ``stop_id``, ``confirmed_at`` (or ``at``)."""
        at = record.get("confirmed_at", record.get("at"))
        when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        if when.tzinfo is None:
            raise InputError(f"到达确认 {record.get('stop_id')} 的时间没有时区。")
        lon, lat = record.get("lon"), record.get("lat")
        return cls(team=str(record.get("team", record.get("team_id", ""))),
                   stop_id=str(record["stop_id"]), at=when,
                   lon=None if lon is None else float(lon), lat=None if lat is None else float(lat))


@dataclass
class Residual:
    """The re-planned day: the plan (done visits kept), what changed, and the clock it used."""

    plan: DailyPlan
    changes: list[str]
    at: datetime
    done: dict[str, list[str]] = field(default_factory=dict)
    """Per team, the confirmed stop ids kept as done."""


def replan_day(
    *,
    plan: DailyPlan,
    now: datetime,
    stations: gpd.GeoDataFrame,
    confirmed: Sequence[Confirmed | Mapping[str, Any]] = (),
    closed_cases: Collection[str] = (),
    unavailable_teams: Sequence[str] | None = None,
    squad: Squad | Mapping[str, Any] | None = None,
    travel: TravelChoice | None = None,
    travel_source: str | None = None,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> Residual:
    """Plan what is left of ``plan`` from ``now``.

    Parameters
    ----------
    plan : DailyPlan
        The stored plan of the day (e.g. :meth:`DailyPlan.from_json`).
    now : datetime
        The clock time (tz-aware); no planned visit starts before it.
    stations : GeoDataFrame
        Work stations (``code``, ``community_code``, ``name``), as for :func:`plan_day`.
    confirmed : sequence of Confirmed or mapping
        The day's confirmed stops (any order); those not in the plan are ignored.
    closed_cases : collection of str
        Case ids closed (结案/作废) since the plan was made; their 复查 stops drop off.
    unavailable_teams : sequence of str, optional
        Teams off duty from now; default the plan's own.
    squad : Squad or mapping, optional
        The squad (teams with shifts, stations); default ``plan.squad``.
    travel, travel_source, time_limit_s
        As for :func:`plan_day` (use the plan's own travel model).

    Returns
    -------
    Residual

    Raises
    ------
    InputError
        ``now`` is naive, a team is unknown, or (from :func:`plan_day`) a station is unknown.
    """
    if now.tzinfo is None:
        raise InputError("重新规划的时间必须带时区。")
    sq = Squad.from_mapping(squad if squad is not None else plan.squad)
    off = tuple(plan.unavailable_teams if unavailable_teams is None else unavailable_teams)
    known = {str(t.get("id")) for t in sq.teams}
    if unknown := [u for u in off if u not in known]:
        raise InputError(f"中队 {sq.id} 没有队伍 {'、'.join(unknown)}；可用：{'、'.join(sorted(known))}。")
    midnight = day_start(plan.date, plan.tz)
    now_s = (now - midnight).total_seconds()
    planned = {v.stop_id: (r.team_id, v) for r in plan.routes for v in r.visits}
    done = _done_by_team(confirmed, planned)
    done_ids = {c.stop_id for cs in done.values() for c in cs}
    closed_ids = {case_stop_id(str(c)) for c in closed_cases}
    dropped: dict[str, list[str]] = {"closed": [], "passed": []}
    rows: list[PlannedVisit] = []
    for sid, (_team, v) in planned.items():
        if sid in done_ids:
            continue
        if sid in closed_ids:
            dropped["closed"].append(sid)
            continue
        wins = [[max(a, now_s), b] for a, b in v.windows_s if b >= now_s]
        if not wins:
            dropped["passed"].append(sid)
            continue
        rows.append(dataclasses.replace(v, windows_s=wins))
    teams = [t for t in sq.teams if str(t.get("id")) not in off]
    crs = plan.crs
    where = _positions(plan, done)
    moved = {t: (cs[-1].at - midnight).total_seconds() for t, cs in done.items() if cs}
    pieces = [p for t in teams for p in _pieces(t, now_s, moved.get(str(t["id"])))]
    residual = _solve(plan, sq, pieces, rows, stations, where, crs, travel, travel_source,
                      time_limit_s)
    routes = join_routes(plan, sq, off, pieces, residual, done, midnight, stations, crs)
    out = merged_plan(plan, sq, routes, rows, residual, done, off, dropped, crs)
    starts: dict[str, float] = {}
    for p in pieces:
        starts.setdefault(str(p.team["id"]), p.lo)
    changes = _changes(sq, out, done, dropped, planned, starts, off, where)
    out.warnings = [*changes, *out.warnings]
    return Residual(plan=out, changes=changes, at=now,
                    done={t: [c.stop_id for c in cs] for t, cs in done.items()})


def _done_by_team(confirmed: Sequence[Confirmed | Mapping[str, Any]],
                  planned: Mapping[str, tuple[str, PlannedVisit]]) -> dict[str, list[Confirmed]]:
    out: dict[str, list[Confirmed]] = {}
    for rec in confirmed:
        c = rec if isinstance(rec, Confirmed) else Confirmed.from_mapping(rec)
        if c.stop_id not in planned:
            continue
        team = c.team or planned[c.stop_id][0]
        out.setdefault(team, []).append(dataclasses.replace(c, team=team))
    for cs in out.values():
        cs.sort(key=lambda c: c.at)
    return out


def _positions(plan: DailyPlan, done: Mapping[str, list[Confirmed]]
               ) -> dict[str, tuple[PlannedVisit, tuple[float, float]]]:
    """Per team with a confirmed stop: that last stop and its position (working CRS)."""
    by_id = {v.stop_id: v for v in plan.visits()}
    return {team: (by_id[cs[-1].stop_id], (by_id[cs[-1].stop_id].x, by_id[cs[-1].stop_id].y))
            for team, cs in done.items() if cs}


def _pieces(team: dict[str, Any], now_s: float, moved_s: float | None) -> list[Piece]:
    """What is left of the team's shift from ``now_s``, split at its lunch break.

    ``moved_s``: when the team confirmed its last stop (None: it has not left its station).
    The team starts from that stop (``@<team>``) unless it has been back at the station for
    lunch since; it eats at its station, so the piece before the break ends there and the
    piece after starts there.
    """
    tid = str(team["id"])
    station = str(team["start_station"])
    end = str(team.get("end_station") or station)
    lo, hi = team_shift_s(team)
    brk = team_break_s(team)
    here = f"@{tid}" if moved_s is not None else station
    if brk is None:
        spans = [(lo, hi, here, end)]
    else:
        after_lunch = moved_s is not None and moved_s >= brk[1]
        spans = [(lo, brk[0], here, station),
                 (brk[1], hi, here if after_lunch and now_s > brk[1] else station, end)]
    out = []
    for k, (a, b, s, e) in enumerate(spans):
        a = max(a, now_s)
        if b - a >= _MIN_PIECE_S:
            out.append(Piece(team, f"{tid}~{k}", s, e, a, b))
    return out


def _solve(plan: DailyPlan, sq: Squad, pieces: list[Piece], rows: list[PlannedVisit],
           stations: gpd.GeoDataFrame, where: Mapping[str, tuple[PlannedVisit, tuple[float, float]]],
           crs: str, travel: TravelChoice | None, source: str | None, time_limit_s: float
           ) -> DailyPlan | None:
    if not pieces:
        return None
    fake = [{**{k: v for k, v in p.team.items() if k != "break"}, "id": p.key,
             "start_station": p.start, "end_station": p.end, "shift_start": p.lo,
             "shift_end": p.hi} for p in pieces]
    sub = Squad.from_mapping({**sq.to_dict(), "teams": fake})
    here = [{"code": f"@{t}", "community_code": f"@{t}",
             "name": f"当前位置（{v.community or v.what}）", "geometry": Point(xy)}
            for t, (v, xy) in where.items()]
    st = stations.to_crs(crs)
    if here:
        st = pd.concat([st, gpd.GeoDataFrame(here, geometry="geometry", crs=crs)],
                       ignore_index=True)
    stops = stops_frame(rows, crs)
    return plan_day(squad=sub, date=plan.date, stops=stops, stations=gpd.GeoDataFrame(st, crs=crs),
                    travel=travel, time_limit_s=time_limit_s, tz=plan.tz,
                    travel_source=source)


def _changes(sq: Squad, out: DailyPlan, done: Mapping[str, list[Confirmed]],
             dropped: Mapping[str, list[str]], planned: Mapping[str, tuple[str, PlannedVisit]],
             starts: Mapping[str, float], off: tuple[str, ...],
             where: Mapping[str, tuple[PlannedVisit, tuple[float, float]]]) -> list[str]:
    routes = {r.team_id: r for r in out.routes}
    done_ids = {c.stop_id for cs in done.values() for c in cs}
    lines = []
    for t in sq.teams:
        tid = str(t["id"])
        name = str(t.get("name", tid))
        parts = [f"已完成 {len(done.get(tid, []))} 站"]
        for key, why in (("closed", "案件已结案"), ("passed", "时间已过")):
            n = sum(1 for s in dropped[key] if planned[s][0] == tid)
            if n:
                parts.append(f"取消 {n} 站（{why}）")
        r = routes.get(tid)
        left = [v for v in r.visits if v.stop_id not in done_ids] if r is not None else []
        if tid in off:
            parts.append("此后不在岗，其余站点已交给其他队伍或未安排")
        elif tid not in starts:
            parts.append("班次已结束")
        else:
            start = starts[tid]
            src = f"从{where[tid][0].community or where[tid][0].what}出发" if tid in where else "从工作站出发"
            parts.append(f"剩余 {len(left)} 站自 {hhmm(start)} 起（{src}）")
        lines.append(f"{name}：{'，'.join(parts)}")
    if out.unvisited:
        lines.append(f"另有 {len(out.unvisited)} 站未能排入今天剩余的班次。")
    return lines
