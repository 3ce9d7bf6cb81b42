"""The dispatcher over the solver back-ends: PyVRP (default) and OR-Tools routing.

Both back-ends (:mod:`geo.routing.pyvrp`, :mod:`geo.routing.ortools`) take the shared integer
model (:class:`~geo.routing.intmodel.IntModel`) and return, per team, the ordered list of visited
stop indices; they never import this module. The solver packages themselves are imported inside
the back-end functions, so importing :mod:`geo.routing` loads neither.
"""

from __future__ import annotations

from typing import Literal, get_args

from geo.errors import InputError
from geo.routing.intmodel import IntModel
from geo.routing.model import PatrolProblem
from geo.routing.ortools import solve_ortools
from geo.routing.pyvrp import solve_pyvrp
from geo.routing.tsp import is_free_path, solve_free_path

__all__ = ["DEFAULT_SOLVER", "SOLVERS", "SolverName", "as_solver", "solve_routes"]

#: The solver back-ends by name.
SolverName = Literal["pyvrp", "ortools"]
SOLVERS: tuple[SolverName, ...] = get_args(SolverName)
DEFAULT_SOLVER: SolverName = "pyvrp"


def as_solver(name: str) -> SolverName:
    """``name`` as a :data:`SolverName`.

    Raises
    ------
    InputError
        Unknown solver name.
    """
    for known in SOLVERS:
        if name == known:
            return known
    raise InputError(f"未知求解器「{name}」；可用：{', '.join(SOLVERS)}。")


def solve_routes(
    problem: PatrolProblem, *, solver: str = DEFAULT_SOLVER, time_limit_s: float, seed: int = 0,
    iterations: int | None = None,
) -> list[list[int]]:
    """Solve ``problem`` and return, per team, the visited stop indices in visiting order.

    ``iterations`` fixes PyVRP's search effort (default: in proportion to ``time_limit_s``,
    :func:`geo.routing.ils.iteration_budget`); OR-Tools ignores it. With ``pyvrp``, a problem
    that is one free-order route through every stop (:func:`geo.routing.tsp.is_free_path`) goes
    to the dedicated path search of :mod:`geo.routing.tsp` (``iterations`` = its kicks); PyVRP
    runs when that route would overrun the shift.

    Raises
    ------
    InputError
        Unknown ``solver``.
    InfeasibleError
        No solution visits every required stop within windows and shifts.
    SolverError
        The solver failed.
    """
    name = as_solver(solver)
    if problem.n_stops == 0:
        return [[] for _ in problem.team_ids]
    if name == "pyvrp" and is_free_path(problem):
        routes = solve_free_path(problem, time_limit_s=time_limit_s, seed=seed, kicks=iterations)
        if routes is not None:
            return routes
    model = IntModel(problem)
    if name == "pyvrp":
        return solve_pyvrp(model, time_limit_s=time_limit_s, seed=seed, iterations=iterations)
    return solve_ortools(model, time_limit_s=time_limit_s, seed=seed)
