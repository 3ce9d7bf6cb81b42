"""Independent feasibility check of a :class:`~geo.planning.model.DailyPlan`.

Nothing here comes from the solver or the routing core: the check re-walks each team's day from
the plan's own records (stations, shift, break, visits with their windows and service times) and
recomputes travel with the travel model (the team's mode's model when one is given per mode;
times from its ``time_matrix`` at the team's speed). It verifies that

* only available teams have routes, each once, starting at its start station and ending at its
  end station, inside its shift;
* visits are in time order, each starts inside one of its stop's windows and no earlier than
  the team can get there, lasts its service time, and none overlaps the lunch break;
* the team is back at its start station for the whole break (and can get there in time);
* the route's distance matches the recomputed one, and its legs add up to it;
* no stop is visited twice, every visit is an offered stop, every required stop is visited and
  the plan's unvisited list is exactly the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from geo.planning.travel import TravelChoice, model_for

if TYPE_CHECKING:
    from geo.planning.model import DailyPlan, TeamRoute
    from geo.travel import TravelModel

TOL_S = 1.0
_REL = 1e-6


class _Legs:
    """Distances (m) and times (s) between a route's places, one matrix pass for the route."""

    def __init__(self, travel: TravelModel, route: TeamRoute) -> None:
        pts = [route.start_xy, route.end_xy, *((v.x, v.y) for v in route.visits)]
        self._at = {p: k for k, p in enumerate(dict.fromkeys(pts))}
        xy = np.array(list(self._at), dtype=float)
        self._m = travel.distance_matrix(xy)
        self._s = travel.time_matrix(xy, speed_mps=route.speed_mps)

    def __call__(self, a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        if a == b:
            return 0.0, 0.0
        i, j = self._at[a], self._at[b]
        return float(self._m[i, j]), float(self._s[i, j])


def _stations_ok(route: TeamRoute, team: dict[str, Any] | None) -> list[str]:
    tid = route.team_id
    if team is None:
        return [f"队伍 {tid} 不在中队数据中"]
    out = []
    if str(team.get("start_station")) != route.start_station:
        out.append(f"队伍 {tid} 的起点 {route.start_station} 不是其工作站 {team.get('start_station')}")
    end = str(team.get("end_station") or team.get("start_station"))
    if end != route.end_station:
        out.append(f"队伍 {tid} 的终点 {route.end_station} 不是 {end}")
    return out


def _walk(route: TeamRoute, travel: TravelModel) -> list[str]:
    """Re-walk the team's day; return every violation."""
    tid = route.team_id
    out: list[str] = []
    lo, hi = route.shift_s
    if route.leave_s < lo - TOL_S:
        out.append(f"队伍 {tid} 出发早于班次开始")
    pos, clock, dist = route.start_xy, route.leave_s, 0.0
    brk = route.break_s
    had_break = brk is None
    leg = _Legs(travel, route)

    def go(to: tuple[float, float]) -> float:
        nonlocal pos, dist
        d, s = leg(pos, to)
        dist += d
        pos = to
        return s

    def take_break() -> None:
        nonlocal clock, had_break
        assert brk is not None
        clock += go(route.start_xy)
        if clock > brk[0] + TOL_S:
            out.append(f"队伍 {tid} 无法在午休 {brk[0]:.0f} 秒前回到工作站（最早 {clock:.0f} 秒）")
        clock, had_break = max(clock, brk[1]), True

    last = -np.inf
    for v in route.visits:
        if v.arrive_s < last - TOL_S:
            out.append(f"队伍 {tid} 的访问顺序与时间不一致（{v.stop_id}）")
        last = v.arrive_s
        if not had_break and brk is not None and v.arrive_s >= brk[0] - TOL_S:
            take_break()
        earliest = clock + go((v.x, v.y))
        if v.arrive_s < earliest - TOL_S:
            out.append(f"队伍 {tid} 在 {v.arrive_s:.0f} 秒开始 {v.stop_id}，但最早 {earliest:.0f} 秒才能到达")
        if not any(a - TOL_S <= v.arrive_s <= b + TOL_S for a, b in v.windows_s):
            out.append(f"{v.stop_id} 开始于 {v.arrive_s:.0f} 秒，不在时间窗 {v.windows_s} 内")
        if abs(v.depart_s - v.arrive_s - v.service_s) > TOL_S:
            out.append(f"{v.stop_id} 的停留时间不等于服务时长 {v.service_s:.0f} 秒")
        if brk is not None and v.arrive_s < brk[1] - TOL_S and v.depart_s > brk[0] + TOL_S:
            out.append(f"队伍 {tid} 在 {v.stop_id} 的工作与午休 {brk} 重叠")
        clock = max(clock, v.depart_s)
    if not had_break:
        take_break()
    clock += go(route.end_xy)
    if clock > route.return_s + TOL_S or route.return_s > hi + TOL_S:
        out.append(f"队伍 {tid} 最早 {clock:.0f} 秒回到终点，记录为 {route.return_s:.0f} 秒，班次结束 {hi:.0f} 秒")
    if abs(dist - route.distance_m) > 1.0 + _REL * dist:
        out.append(f"队伍 {tid} 的路程 {route.distance_m:.1f} 米与重算的 {dist:.1f} 米不符")
    if route.legs:
        legs_m = sum(float(leg["distance_m"]) for leg in route.legs)
        if abs(legs_m - route.distance_m) > 1.0 + _REL * legs_m:
            out.append(f"队伍 {tid} 各段路程之和 {legs_m:.1f} 米与总路程 {route.distance_m:.1f} 米不符")
    return out


def check_plan(plan: DailyPlan, *, travel: TravelChoice) -> list[str]:
    """Every feasibility violation of ``plan`` (empty list: feasible).

    Parameters
    ----------
    plan : DailyPlan
    travel : TravelModel or mapping of mode to TravelModel
        The travel model(s) the plan was made with (distances in the plan's CRS).

    Returns
    -------
    list of str
        Violations in Chinese.
    """
    out: list[str] = []
    teams = {str(t.get("id")): t for t in plan.squad.teams}
    seen_teams: set[str] = set()
    for r in plan.routes:
        if r.team_id in plan.unavailable_teams:
            out.append(f"不在岗的队伍 {r.team_name or r.team_id} 被安排了路线")
        if r.team_id in seen_teams:
            out.append(f"队伍 {r.team_id} 有多条路线")
        seen_teams.add(r.team_id)
        out += _stations_ok(r, teams.get(r.team_id))
        out += _walk(r, model_for(travel, r.mode))
    offered = set(plan.stops["stop_id"]) if len(plan.stops) else set()
    required = set(plan.stops.loc[plan.stops["required"], "stop_id"]) if len(plan.stops) else set()
    visited: set[str] = set()
    for v in plan.visits():
        if v.stop_id in visited:
            out.append(f"巡查点 {v.stop_id} 被访问了多次")
        if v.stop_id not in offered:
            out.append(f"访问了未提供的巡查点 {v.stop_id}")
        visited.add(v.stop_id)
    for sid in sorted(required - visited):
        out.append(f"必访点 {sid} 未被安排")
    listed = {u["stop_id"] for u in plan.unvisited}
    if listed != offered - visited:
        out.append("未访问清单与实际不符")
    return out
