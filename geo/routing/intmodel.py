"""The integer model both solver back-ends share (:mod:`geo.routing.pyvrp`, :mod:`geo.routing.ortools`).

Times are given to the solvers in integer milliseconds, rounded so that the integer model is never
looser than the real one (travel and service rounded up, window and shift ends rounded down):
every integer-feasible route is feasible in exact arithmetic.

Objective in integers. ``distance``: the travel cost (metres, or matrix seconds) in millimetres
(milli-seconds). ``priority``: prize-collecting; each priority unit is worth more than the
largest possible total travel cost, so the solver maximises the summed priority first and breaks
ties by shorter travel.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from geo.errors import InfeasibleError, InputError
from geo.routing.model import PatrolProblem

__all__ = ["PRIORITY_COST_UNITS", "TIME_SCALE", "IntModel", "infeasible"]

IntArray = npt.NDArray[np.int64]
TIME_SCALE = 1000  # solver time unit: milliseconds
_EPS = 1e-6
#: priority objective: the travel-cost bound is expressed in at most this many integer units, so a
#: priority unit (worth bound + 1) stays small enough for the solvers' time-warp penalties.
PRIORITY_COST_UNITS = 1e5


class IntModel:
    """Integer data shared by both back-ends (see the module docstring for the rounding)."""

    def __init__(self, p: PatrolProblem) -> None:
        self.p = p
        s = TIME_SCALE
        self.speeds, self.profile = np.unique(p.speed_mps, return_inverse=True)
        first = [int(np.flatnonzero(self.profile == k)[0]) for k in range(len(self.speeds))]
        self.durations = [np.ceil(p.time_s[t] * s - _EPS).astype(np.int64) for t in first]
        self.service = np.ceil(p.service_s * s - _EPS).astype(np.int64)
        self.windows = [
            np.column_stack([np.ceil(w[:, 0] * s - _EPS), np.floor(w[:, 1] * s + _EPS)]).astype(
                np.int64
            )
            for w in p.windows_s
        ]
        self.shift = np.column_stack(
            [np.ceil(p.shift_s[:, 0] * s - _EPS), np.floor(p.shift_s[:, 1] * s + _EPS)]
        ).astype(np.int64)
        n_teams, n_nodes = len(p.team_ids), p.cost.shape[0]
        max_cost = float(p.cost.max()) if p.cost.size else 0.0
        if p.objective == "distance":
            self.cost_scale = 1000.0
            self.prize_unit = 0
        else:
            bound = max_cost * (n_nodes + n_teams)
            self.cost_scale = min(1000.0, PRIORITY_COST_UNITS / bound) if bound > 0 else 1000.0
            self.prize_unit = math.ceil(bound * self.cost_scale) + 1
        self.cost = np.rint(p.cost * self.cost_scale).astype(np.int64)
        integral = np.allclose(p.priority, np.rint(p.priority))
        self.prio_scale = 1 if integral else 100
        self.prize = np.rint(p.priority * self.prio_scale).astype(np.int64) * self.prize_unit
        self.must = p.must_visit()
        if int(self.prize.sum()) > 2**62:
            raise InputError("优先级或距离数值过大，无法求解；请缩小 priority 的量级。")


def infeasible(problem: PatrolProblem, missing: list[int]) -> InfeasibleError:
    """The error for a solve that could not visit all must-visit stops together."""
    names = ", ".join(problem.stop_ids[s] for s in missing[:20]) or "（未知）"
    return InfeasibleError(
        "求解器找不到同时满足全部必访点、时间窗和班次的路线；"
        f"无法同时按时完成的必访点：{names}。每个点单独都可到达，但合在一起超出了队伍的时间；"
        "请增加队伍、延长班次、放宽时间窗，或把部分点设为非必访（required=false）。"
    )
