"""geo.routing."""

from __future__ import annotations

from geo.routing.backends import PRIORITY_COST_UNITS, TIME_SCALE, IntModel, infeasible, solve_routes
from geo.routing.model import (
    OBJECTIVES,
    TIME_TOL_S,
    check_reachability,
    earliest_service,
    reach_reason,
)
from geo.routing.polish import improve_path, path_cost
from geo.routing.pyvrp import PENALTY_RANGE, SEARCH_ROUNDS, solve_pyvrp
from geo.routing.solve import (
    DEFAULT_SOLVER,
    DEFAULT_TIME_LIMIT_S,
    SOLVERS,
    PatrolPlan,
    PatrolProblem,
    Team,
    check_solution,
    parse_patrol_problem,
    schedule_route,
    solve_patrol,
    solve_patrol_gdf,
    solve_problem,
)

__all__ = ["DEFAULT_SOLVER", "DEFAULT_TIME_LIMIT_S", "OBJECTIVES", "PENALTY_RANGE", "PRIORITY_COST_UNITS", "SEARCH_ROUNDS", "SOLVERS", "TIME_SCALE", "TIME_TOL_S", "IntModel", "PatrolPlan", "PatrolProblem", "Team", "check_reachability", "check_solution", "earliest_service", "improve_path", "infeasible", "parse_patrol_problem", "path_cost", "reach_reason", "schedule_route", "solve_patrol", "solve_patrol_gdf", "solve_problem", "solve_pyvrp", "solve_routes"]
