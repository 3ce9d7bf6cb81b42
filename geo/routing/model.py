"""The numeric patrol problem: arrays the solvers, the scheduler and the checker share.

Node order in every matrix: the sites first (``site_ids``), then the stops (``stop_ids``).
Times are seconds from the start of the planning day; distances are metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from geo.errors import InfeasibleError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: What the solver optimises: ``priority`` (prize-collecting: summed priority first, then travel)
#: or ``distance`` (visit every stop, minimise travel).
Objective = Literal["priority", "distance"]
OBJECTIVES: tuple[Objective, ...] = get_args(Objective)
#: Tolerance in seconds for comparing times (float noise in schedules).
TIME_TOL_S = 1e-6


@dataclass(frozen=True)
class PatrolProblem:
    """A validated patrol problem in numeric form (see :func:`geo.routing.solve.parse_patrol_problem`).

    Attributes
    ----------
    team_ids, site_ids, stop_ids : tuple of str
        Identifiers in input order.
    team_start, team_end : ndarray of int, shape (T,)
        Site index (into ``site_ids``) where each team starts and ends.
    shift_s : ndarray, shape (T, 2)
        Each team's shift ``[start, end]`` in seconds.
    speed_mps : ndarray, shape (T,)
        Each team's speed.
    priority, service_s : ndarray, shape (S,)
        Per stop.
    windows_s : tuple of ndarray (k, 2)
        Per stop, sorted, non-overlapping time windows in which service must *start*.
    required : ndarray of bool, shape (S,)
        Stops that must be visited (all stops for the ``distance`` objective).
    cost : ndarray, shape (N, N)
        Objective travel cost between nodes: metres (euclidean) or matrix seconds (matrix).
    time_s : ndarray, shape (T, N, N)
        Travel time per team between nodes, seconds.
    dist_m : ndarray, shape (T, N, N)
        Travel distance per team between nodes, metres (matrix metric: seconds × speed).
    objective : {"priority", "distance"}
    time_limit_s : float or None
        Time limit given in the problem (the caller's argument wins).
    xy : ndarray, shape (N, 2), or None
        Node coordinates in the working CRS (None for a matrix without coordinates).
    crs : str or None
        The working CRS of ``xy`` (None: plain metres as given).
    """

    team_ids: tuple[str, ...]
    site_ids: tuple[str, ...]
    stop_ids: tuple[str, ...]
    team_start: IntArray
    team_end: IntArray
    shift_s: FloatArray
    speed_mps: FloatArray
    priority: FloatArray
    service_s: FloatArray
    windows_s: tuple[FloatArray, ...]
    required: BoolArray
    cost: FloatArray
    time_s: FloatArray
    dist_m: FloatArray
    objective: Objective = "priority"
    time_limit_s: float | None = None
    xy: FloatArray | None = None
    crs: str | None = None
    metric: str = "euclidean"
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def n_sites(self) -> int:
        """Number of sites (the first nodes of every matrix)."""
        return len(self.site_ids)

    @property
    def n_stops(self) -> int:
        """Number of stops."""
        return len(self.stop_ids)

    def stop_node(self, s: int) -> int:
        """Matrix node of stop ``s``."""
        return self.n_sites + s

    def must_visit(self) -> BoolArray:
        """Stops that every solution must visit."""
        if self.objective == "distance":
            return np.ones(self.n_stops, dtype=bool)
        return self.required


def earliest_service(
    problem: PatrolProblem, team: int, stop: int, t_from: float, node_from: int
) -> tuple[float, int] | None:
    """Earliest service start at ``stop`` for ``team`` leaving ``node_from`` at ``t_from``.

    Returns ``(start, window_index)`` or None when every window has closed.
    """
    arrive = t_from + float(problem.time_s[team, node_from, problem.stop_node(stop)])
    for k, (lo, hi) in enumerate(problem.windows_s[stop]):
        start = max(arrive, float(lo))
        if start <= hi + TIME_TOL_S:
            return start, k
    return None


def reach_reason(problem: PatrolProblem, team: int, stop: int) -> str | None:
    """Why ``team`` cannot serve ``stop`` on a route start → stop → end (None when it can)."""
    t0, t1 = (float(v) for v in problem.shift_s[team])
    start_node = int(problem.team_start[team])
    end_node = int(problem.team_end[team])
    got = earliest_service(problem, team, stop, t0, start_node)
    tid = problem.team_ids[team]
    if got is None:
        arrive = t0 + float(problem.time_s[team, start_node, problem.stop_node(stop)])
        close = float(problem.windows_s[stop][:, 1].max())
        return f"队伍 {tid} 最早 {arrive:.0f} 秒到达，晚于时间窗最晚开始 {close:.0f} 秒"
    start, _ = got
    back = start + float(problem.service_s[stop])
    back += float(problem.time_s[team, problem.stop_node(stop), end_node])
    if back > t1 + TIME_TOL_S:
        return f"队伍 {tid} 服务后最早 {back:.0f} 秒回到终点，晚于班次结束 {t1:.0f} 秒"
    return None


def check_reachability(problem: PatrolProblem) -> None:
    """Raise :class:`InfeasibleError` naming every must-visit stop no team can serve alone.

    Also checks that every team can go from its start to its end site within its shift.
    """
    lines: list[str] = []
    for t, tid in enumerate(problem.team_ids):
        t0, t1 = problem.shift_s[t]
        direct = problem.time_s[t, problem.team_start[t], problem.team_end[t]]
        if t0 + direct > t1 + TIME_TOL_S:
            lines.append(
                f"队伍 {tid}：从起点 {problem.site_ids[problem.team_start[t]]} 到终点 "
                f"{problem.site_ids[problem.team_end[t]]} 需 {direct:.0f} 秒，超过班次长度 "
                f"{t1 - t0:.0f} 秒；请延长班次或更换终点。"
            )
    for s in np.flatnonzero(problem.must_visit()):
        reasons = [reach_reason(problem, t, int(s)) for t in range(len(problem.team_ids))]
        if all(r is not None for r in reasons):
            lines.append(
                f"必访点 {problem.stop_ids[s]} 无法按时到达：" + "；".join(str(r) for r in reasons)
                + "。请放宽时间窗、延长班次或把该点设为非必访（required=false）。"
            )
    if lines:
        raise InfeasibleError("巡查问题无可行解：\n" + "\n".join(f"  - {x}" for x in lines))
