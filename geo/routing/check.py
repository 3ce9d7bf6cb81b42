"""Independent feasibility checker for patrol solutions (no solver code involved).

:func:`check_solution` re-derives travel times from the validated problem and walks each route:
teams exist and appear once, stops exist and are visited once, service starts within one of the
stop's windows and no earlier than the team can arrive, ``depart_s = arrive_s + service_s``, the
route starts no earlier than the shift and ends at the end site within it, required stops (all
stops for ``distance``) are visited, ``unvisited`` is exactly the complement, and the reported
distances, durations and priority total match.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geo.routing.model import PatrolProblem

_TOL_S = 1e-3
_REL = 1e-6


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-3 + _REL * max(abs(a), abs(b))


def _route_errors(p: PatrolProblem, route: dict[str, Any], t: int, seen: set[str]) -> list[str]:
    stop_index = {s: k for k, s in enumerate(p.stop_ids)}
    tid = p.team_ids[t]
    t0, t1 = (float(v) for v in p.shift_s[t])
    node, errors = int(p.team_start[t]), []
    clock = float(route.get("start_s", t0))
    if clock < t0 - _TOL_S:
        errors.append(f"队伍 {tid} 出发 {clock:.1f} 秒早于班次开始 {t0:.1f} 秒")
    start_clock, dist = clock, 0.0
    for v in route.get("visits", []):
        sid = v.get("id")
        if sid not in stop_index:
            errors.append(f"队伍 {tid} 访问了未知巡查点 {sid}")
            continue
        if sid in seen:
            errors.append(f"巡查点 {sid} 被访问了多次")
        seen.add(sid)
        s = stop_index[sid]
        nxt = p.stop_node(s)
        earliest = clock + float(p.time_s[t, node, nxt])
        dist += float(p.dist_m[t, node, nxt])
        arrive, depart = float(v.get("arrive_s", np.nan)), float(v.get("depart_s", np.nan))
        if not arrive >= earliest - _TOL_S:
            errors.append(f"巡查点 {sid}：开始 {arrive:.1f} 秒早于最早可到达 {earliest:.1f} 秒")
        if not any(lo - _TOL_S <= arrive <= hi + _TOL_S for lo, hi in p.windows_s[s]):
            errors.append(f"巡查点 {sid}：开始 {arrive:.1f} 秒不在时间窗 {p.windows_s[s].tolist()} 内")
        if not _close(depart, arrive + float(p.service_s[s])):
            errors.append(f"巡查点 {sid}：离开 {depart:.1f} 秒 ≠ 开始 + 服务时长 {p.service_s[s]:.1f}")
        clock, node = max(depart, arrive), nxt
    end = int(p.team_end[t])
    finish = clock + float(p.time_s[t, node, end])
    dist += float(p.dist_m[t, node, end])
    if "end_s" in route:
        if float(route["end_s"]) < finish - _TOL_S:
            errors.append(f"队伍 {tid} 的 end_s 早于最早可回到终点的 {finish:.1f} 秒")
        finish = max(finish, float(route["end_s"]))
    if finish > t1 + _TOL_S:
        errors.append(f"队伍 {tid} 回到终点 {finish:.1f} 秒晚于班次结束 {t1:.1f} 秒")
    if "distance_m" in route and not _close(float(route["distance_m"]), dist):
        errors.append(f"队伍 {tid} 的 distance_m={route['distance_m']} 与重算值 {dist:.3f} 不符")
    timed = "start_s" in route and "end_s" in route and "duration_s" in route
    if timed and not _close(float(route["duration_s"]), float(route["end_s"]) - start_clock):
        errors.append(f"队伍 {tid} 的 duration_s 与 end_s − start_s 不符")
    return errors


def check_solution(problem: PatrolProblem | dict[str, Any], solution: dict[str, Any]) -> list[str]:
    """Return every violation of ``solution`` against ``problem`` (empty list: feasible).

    Parameters
    ----------
    problem : PatrolProblem or dict
        A parsed problem, or the problem JSON dict (validated, not solved).
    solution : dict
        Solution JSON (design.md §5). Optional route fields ``start_s``/``end_s`` are honoured
        when present; without them the route is assumed to leave at the shift start.

    Returns
    -------
    list of str
        Human-readable violations (Chinese), empty when the solution is feasible.
    """
    if not isinstance(problem, PatrolProblem):
        from geo.routing.validate import parse_patrol_problem

        problem = parse_patrol_problem(problem, check=False)
    errors: list[str] = []
    team_index = {tid: k for k, tid in enumerate(problem.team_ids)}
    seen_teams: set[str] = set()
    seen: set[str] = set()
    dist_total = 0.0
    for route in solution.get("routes", []):
        tid = route.get("team")
        if tid not in team_index:
            errors.append(f"路线的队伍 {tid} 不存在")
            continue
        if tid in seen_teams:
            errors.append(f"队伍 {tid} 有多条路线")
        seen_teams.add(tid)
        errors += _route_errors(problem, route, team_index[tid], seen)
        dist_total += float(route.get("distance_m", 0.0))
    must = problem.must_visit()
    for s, sid in enumerate(problem.stop_ids):
        if must[s] and sid not in seen:
            errors.append(f"必访点 {sid} 未被访问")
    unvisited = set(solution.get("unvisited", []))
    expected = set(problem.stop_ids) - seen
    if unvisited != expected:
        errors.append(f"unvisited 与实际未访问点不一致：多 {sorted(unvisited - expected)}，"
                      f"少 {sorted(expected - unvisited)}")
    prio = sum(float(problem.priority[k]) for k, sid in enumerate(problem.stop_ids) if sid in seen)
    if "priority_total" in solution and not _close(float(solution["priority_total"]), prio):
        errors.append(f"priority_total={solution['priority_total']} 与重算值 {prio} 不符")
    if "distance_total_m" in solution and not _close(float(solution["distance_total_m"]), dist_total):
        errors.append("distance_total_m 与各路线 distance_m 之和不符")
    return errors
