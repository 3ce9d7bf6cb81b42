"""The daily patrol plan of a squad: stops → patrol problem → routes per team, checked.

:func:`build_stops` (:mod:`geo.planning.stops`) turns hotspots, open cases, relocation points and
the communities' last visits into candidate stops; :func:`plan_day` builds the patrol problem of
design.md §5 for the squad's available teams, solves it with :func:`geo.routing.solve.solve_patrol`
and returns a :class:`DailyPlan`, checked twice: by the routing core's checker on the problem and
by :func:`geo.planning.check.check_plan`, which re-walks every team's day from the plan alone.

Lunch break: each team's shift is split at its break into two halves that the solver sees as two
teams (``<team>#1``, ``<team>#2``): the first half ends at the team's start station, the second
starts there — the team eats at its work station (工作站) and never serves a stop during the break.
This is exact (no approximation of a break "somewhere on the way") and needs nothing beyond the
JSON contract; the cost is the walk back to the station, which the plan counts.

Infeasible requirements degrade, never fail: a required stop that no team can reach in time is
made optional first; if the solver still cannot visit every required stop, the routine
community patrols (社区巡查) become optional with doubled priority, then the re-inspections (复查);
each step is written to ``warnings``.

Travel (:mod:`geo.planning.travel`): on a road network each team's distances and times come
from the network model of its mode (times at the team's speed, from per-edge times) and each
leg of a route is drawn with ``travel.path`` along the streets; every visit records ``leg_m``
and ``leg_s`` from the previous place and each route its ``legs``. A stop that no street
reaches is an :class:`InputError` naming it; the plan's ``travel`` says which model it used.
"""

from __future__ import annotations

import dataclasses
import time as _time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np

from geo.boundaries import Squad
from geo.crs import require_metric
from geo.errors import InfeasibleError, InputError
from geo.planning.assemble import Half, assemble_plan, station_row
from geo.planning.check import check_plan
from geo.planning.clock import as_date, team_break_s, team_shift_s
from geo.planning.model import DailyPlan, PlannedVisit, TeamRoute
from geo.planning.stops import KINDS, SERVICE_S, STOP_COLUMNS, build_stops
from geo.planning.travel import (
    TravelChoice,
    base_model,
    default_travel,
    is_network,
    travel_info,
    with_travel,
)
from geo.routing import SolverName
from geo.routing.model import PatrolProblem, check_reachability, reach_reason
from geo.routing.solve import check_solution, solve_patrol
from geo.routing.validate import parse_patrol_problem
from geo.travel import SPEEDS_MPS, WALK_SPEED_MPS, EuclideanTravel

__all__ = [
    "DEFAULT_TIME_LIMIT_S",
    "KINDS",
    "SERVICE_S",
    "STOP_COLUMNS",
    "DailyPlan",
    "PlannedVisit",
    "TeamRoute",
    "build_stops",
    "check_plan",
    "plan_day",
    "plan_squads",
]

DEFAULT_TIME_LIMIT_S = 1.0


def plan_day(
    *,
    squad: Squad | Mapping[str, Any],
    date: date | str,
    stops: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    travel: TravelChoice | None = None,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    unavailable_teams: Sequence[str] = (),
    tz: str = "Asia/Shanghai",
    solver: SolverName = "pyvrp",
    seed: int = 0,
    travel_source: str | None = None,
) -> DailyPlan:
    """Plan the squad's day: routes for its available teams over ``stops``.

    Parameters
    ----------
    squad : Squad or mapping
        ``id``, ``name``, ``teams`` (``id``, ``name``, ``members``, ``start_station``,
        ``end_station``, ``shift_start``, ``shift_end``, optional ``break``
        ``{start, end}``, ``mode`` walk|ebike), optional ``staff`` (a mapping is read with
        :meth:`geo.boundaries.Squad.from_mapping`).
    date : date or str
        The plan day (local, ``tz``).
    stops : GeoDataFrame
        From :func:`build_stops` (metric CRS; ``stop_id``, ``priority``, ``service_s``,
        ``windows_s``, ``required`` …).
    stations : GeoDataFrame
        Work stations (``code``, ``community_code``, ``name``); a team's station may be given
        by either code.
    travel : TravelModel or mapping of mode to TravelModel, optional
        Distances in the stops' CRS; default :class:`~geo.travel.EuclideanTravel` with circuity
        1.3. Speeds come from each team's ``mode`` (walk 1.2 m/s, ebike 4.5 m/s); a mapping
        (``{"walk": NetworkTravel(...), "ebike": NetworkTravel(..., mode="ebike")}``) gives
        each mode its own model (a missing mode uses ``walk``).
    time_limit_s : float
        Solver time budget per solve.
    unavailable_teams : sequence of str
        Team ids off duty today.
    tz : str
        Time zone of the plan day.
    solver, seed
        Passed to :func:`geo.routing.solve.solve_patrol`.
    travel_source : str, optional
        The road file's name, written into the plan's ``travel``.

    Returns
    -------
    DailyPlan
        ``violations`` is empty when both independent checks pass.

    Raises
    ------
    InputError
        No available team, an unknown station, stops without a metric CRS, or (on a road
        network) a station or stop that no street reaches (named).
    SolverError
        The solver failed.
    """
    t0 = _time.perf_counter()
    squad = Squad.from_mapping(squad)
    crs = require_metric(stops.crs, what="巡查点")
    travel = travel if travel is not None else default_travel()
    teams = _available(squad, unavailable_teams)
    stations_w = stations.to_crs(crs)
    halves = _halves(teams)
    site_xy = _site_xy(halves, stations_w)
    stops = _usable(stops.copy(), warnings := list(stops.attrs.get("warnings", [])))
    problem = _problem(halves, site_xy, stops, travel, time_limit_s, travel_source)
    parsed = _parse(problem, travel, halves, _names(site_xy, stations_w, stops))
    parsed = _drop_unreachable(parsed, problem, stops, warnings)
    solution, parsed = _solve(parsed, problem, stops, warnings, time_limit_s, solver, seed)
    violations = [f"路径检查：{v}" for v in check_solution(parsed, solution)]
    plan = assemble_plan(squad, as_date(date), tz, crs, halves, teams, stations_w, site_xy, stops,
                     solution, parsed, travel, warnings, tuple(unavailable_teams), problem)
    plan.travel = travel_info(travel, source=travel_source)
    plan.violations = violations + check_plan(plan, travel=travel)
    plan.solve_time_s = _time.perf_counter() - t0
    return plan


def plan_squads(
    *,
    squads: Sequence[Squad | Mapping[str, Any]],
    date: date | str,
    communities: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    hotspots: gpd.GeoDataFrame | None = None,
    open_cases: gpd.GeoDataFrame | None = None,
    relocation_points: gpd.GeoDataFrame | None = None,
    last_visits: Mapping[str, Mapping[str, date]] | None = None,
    revisit_days: int = 3,
    unavailable_teams: Sequence[str] = (),
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    travel: TravelChoice | None = None,
    tz: str = "Asia/Shanghai",
) -> list[DailyPlan]:
    """:func:`build_stops` + :func:`plan_day` for several squads (e.g. the whole district).

    ``last_visits`` maps squad id → community code → last visit day (default: none, so every
    community is due); ``unavailable_teams`` may mix teams of all squads.
    """
    plans = []
    for record in squads:
        squad = Squad.from_mapping(record)
        own = {t.get("id") for t in squad.teams}
        off = tuple(u for u in unavailable_teams if u in own)
        stops = build_stops(squad=squad, date=date, communities=communities, hotspots=hotspots,
                            open_cases=open_cases, relocation_points=relocation_points,
                            last_visit=(last_visits or {}).get(squad.id, {}),
                            revisit_days=revisit_days, unavailable_teams=off, tz=tz)
        plans.append(plan_day(squad=squad, date=date, stops=stops, stations=stations,
                              travel=travel, time_limit_s=time_limit_s,
                              unavailable_teams=off, tz=tz))
    return plans


def _available(squad: Squad, unavailable: Sequence[str]) -> list[dict[str, Any]]:
    known = {t.get("id") for t in squad.teams}
    unknown = [u for u in unavailable if u not in known]
    if unknown:
        raise InputError(f"中队 {squad.id} 没有队伍 {'、'.join(unknown)}；可用：{'、'.join(map(str, known))}。")
    teams = [t for t in squad.teams if t.get("id") not in set(unavailable)]
    if not teams:
        raise InputError(f"中队 {squad.id} 今天没有可用的队伍；请检查不在岗的队伍。")
    return teams


def _halves(teams: list[dict[str, Any]]) -> list[Half]:
    out = []
    for t in teams:
        lo, hi = team_shift_s(t)
        brk = team_break_s(t)
        speed = SPEEDS_MPS.get(str(t.get("mode", "walk")), WALK_SPEED_MPS)
        start, end = f"site-{t['start_station']}", f"site-{t.get('end_station') or t['start_station']}"
        if brk is None:
            out.append(Half(f"{t['id']}#1", t, start, end, (lo, hi), speed))
            continue
        out.append(Half(f"{t['id']}#1", t, start, start, (lo, brk[0]), speed))
        out.append(Half(f"{t['id']}#2", t, start, end, (brk[1], hi), speed))
    return out


def _site_xy(halves: list[Half], stations: gpd.GeoDataFrame) -> dict[str, tuple[float, float]]:
    out = {}
    for h in halves:
        for site in (h.start, h.end):
            if site not in out:
                p = station_row(stations, site.removeprefix("site-")).geometry
                out[site] = (float(p.x), float(p.y))
    return out


def _usable(stops: gpd.GeoDataFrame, warnings: list[str]) -> gpd.GeoDataFrame:
    missing = [c for c in ("stop_id", "priority", "service_s", "windows_s", "required") if c not in stops.columns]
    if missing:
        raise InputError(f"巡查点缺少列 {missing}；请用 build_stops() 生成。")
    # a boolean array, not a list: an empty list would select no columns of an empty frame
    empty = np.fromiter((len(w) == 0 for w in stops["windows_s"]), dtype=bool, count=len(stops))
    if empty.any():
        warnings.append(f"巡查点 {'、'.join(stops.loc[empty, 'stop_id'])} 没有班次内的时间窗，已略过。")
    stops = stops.loc[~empty].reset_index(drop=True)
    stops["required"] = stops["required"].astype(bool)
    return stops


def _names(site_xy: dict[str, tuple[float, float]], stations: gpd.GeoDataFrame,
           stops: gpd.GeoDataFrame) -> list[str]:
    """How a message names each node (sites, then stops): what it is and where."""
    out = []
    for site in site_xy:
        row = station_row(stations, site.removeprefix("site-"))
        out.append(f"工作站「{row.get('name', '')}」（{site.removeprefix('site-')}）")
    for r in stops.itertuples():
        where = "，".join(str(v) for v in (getattr(r, "community", ""), getattr(r, "what", "")) if v)
        ll = f"经纬度 {float(r.lon):.5f}, {float(r.lat):.5f}" if hasattr(r, "lon") else ""
        out.append(f"巡查点 {r.stop_id}（{'，'.join(x for x in (where, ll) if x)}）")
    return out


def _problem(halves: list[Half], site_xy: dict[str, tuple[float, float]], stops: gpd.GeoDataFrame,
             travel: TravelChoice, time_limit_s: float, source: str | None) -> dict[str, Any]:
    model = base_model(travel)
    circuity = model.circuity if isinstance(model, EuclideanTravel) else 1.0
    metric: dict[str, Any] = ({"metric": "network", **({"file": source} if source else {})}
                              if is_network(travel) else {"metric": "euclidean", "circuity": circuity})
    return {
        "teams": [{"id": h.id, "start": h.start, "end": h.end, "shift_s": list(h.shift_s),
                   "speed_mps": h.speed_mps} for h in halves],
        "sites": [{"id": s, "x": xy[0], "y": xy[1]} for s, xy in site_xy.items()],
        "stops": [{"id": str(r.stop_id), "x": float(r.geometry.x), "y": float(r.geometry.y),
                   "priority": float(r.priority), "service_s": float(r.service_s),
                   "windows_s": [[float(a), float(b)] for a, b in r.windows_s],
                   "required": bool(r.required)} for r in stops.itertuples()],
        "travel": metric,
        "objective": "priority", "time_limit_s": time_limit_s,
    }


def _parse(problem: dict[str, Any], travel: TravelChoice, halves: list[Half],
           names: list[str]) -> PatrolProblem:
    plain = {**problem, "travel": {"metric": "euclidean"}}  # coordinates only; matrices below
    base = parse_patrol_problem(plain, check=False)
    return with_travel(base, travel, [h.mode for h in halves], names)


def _with_required(parsed: PatrolProblem, problem: dict[str, Any], stops: gpd.GeoDataFrame,
                   keep: np.ndarray) -> PatrolProblem:
    stops["required"] = keep
    for d, r in zip(problem["stops"], keep, strict=True):
        d["required"] = bool(r)
    return dataclasses.replace(parsed, required=keep.copy())


def _drop_unreachable(parsed: PatrolProblem, problem: dict[str, Any], stops: gpd.GeoDataFrame,
                      warnings: list[str]) -> PatrolProblem:
    req = parsed.required.copy()
    lost = [s for s in np.flatnonzero(req)
            if all(reach_reason(parsed, t, int(s)) is not None for t in range(len(parsed.team_ids)))]
    if not lost:
        return parsed
    req[lost] = False
    warnings.append("以下必访点在任何队伍的班次内都无法按时到达，已改为非必访：" +
                    "、".join(parsed.stop_ids[s] for s in lost))
    return _with_required(parsed, problem, stops, req)


def _solve(parsed: PatrolProblem, problem: dict[str, Any], stops: gpd.GeoDataFrame,
           warnings: list[str], time_limit_s: float, solver: SolverName, seed: int
           ) -> tuple[dict[str, Any], PatrolProblem]:
    steps = [("社区巡查", "社区巡查必访点无法全部排入班次，已改为高优先级（×2）的非必访点，请人工关注："),
             ("复查", "到期复查无法全部排入班次，已改为非必访点，请人工安排："),
             (None, "其余必访点无法全部排入班次，已改为非必访点：")]
    while True:
        try:
            check_reachability(parsed)
            return solve_patrol(parsed, time_limit_s=time_limit_s, solver=solver, seed=seed), parsed
        except InfeasibleError:
            if not parsed.required.any() or not steps:
                raise
            kind, text = steps.pop(0)
            hit = parsed.required & (stops["kind"].to_numpy() == kind if kind else True)
            if not hit.any():
                continue
            warnings.append(text + "、".join(stops.loc[hit, "stop_id"]))
            if kind == "社区巡查":
                stops.loc[hit, "priority"] = stops.loc[hit, "priority"] * 2
                prio = parsed.priority.copy()
                prio[hit] *= 2
                for d, p in zip(problem["stops"], prio, strict=True):
                    d["priority"] = float(p)
                parsed = dataclasses.replace(parsed, priority=prio)
            parsed = _with_required(parsed, problem, stops, parsed.required & ~hit)
