"""Daily patrol routing: team orienteering with time windows, and its visit-everything variant.

The public API (see :mod:`geo.routing.solve` for the contract of design.md §5):

* :func:`solve_patrol`, :func:`solve_problem`, :func:`solve_patrol_gdf` — solve;
* :func:`parse_patrol_problem`, :func:`check_reachability`, :func:`reach_reason` — validate;
* :func:`check_solution` — the independent feasibility checker;
* :class:`PatrolProblem`, :class:`Team`, :class:`PatrolPlan` — data;
* :data:`SolverName` / :data:`SOLVERS` / :data:`DEFAULT_SOLVER`, :data:`Objective` /
  :data:`OBJECTIVES`, :data:`DEFAULT_TIME_LIMIT_S` — names and defaults.

Modules: ``model`` (the numeric problem), ``validate``, ``check``, ``solve`` (schedules, JSON),
``backends`` (the dispatcher), ``intmodel`` (the integer model both back-ends share),
``pyvrp`` and ``ortools`` (the back-ends), ``polish`` (intra-route 2-opt/Or-opt).
Importing this package imports neither PyVRP nor OR-Tools: the back-ends load them when called.
"""

from __future__ import annotations

from geo.routing.backends import DEFAULT_SOLVER, SOLVERS, SolverName
from geo.routing.check import check_solution
from geo.routing.model import OBJECTIVES, Objective, PatrolProblem, check_reachability, reach_reason
from geo.routing.solve import (
    DEFAULT_TIME_LIMIT_S,
    PatrolPlan,
    Team,
    schedule_route,
    solve_patrol,
    solve_patrol_gdf,
    solve_problem,
)
from geo.routing.validate import parse_patrol_problem

__all__ = [
    "DEFAULT_SOLVER", "DEFAULT_TIME_LIMIT_S", "OBJECTIVES", "SOLVERS", "Objective", "PatrolPlan",
    "PatrolProblem", "SolverName", "Team", "check_reachability", "check_solution",
    "parse_patrol_problem", "reach_reason", "schedule_route", "solve_patrol", "solve_patrol_gdf",
    "solve_problem",
]
