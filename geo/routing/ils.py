"""The search loop of the PyVRP back-end: iterated local search with repair, polish and a fixed effort.

PyVRP supplies the local search (its operators on a granular neighbourhood, random perturbation)
and the penalty manager; this module runs the loop around them, because three things that make
the patrol problem hard are not in PyVRP's own loop, and a fourth that a single trajectory lacks:

* **Repair.** With prizes, the search is steered by a *low* time-warp penalty (it must be able to
  cross infeasible ground to swap stops), but then its feasible solutions are rare and poor: on
  Chao's TOP p6.4.k PyVRP's loop often ends without any feasible solution, and on p4.2.k it scores
  a few per cent below the best known. Here every candidate whose objective beats the best
  feasible one, even if it is late, is repaired by a local search with a prohibitive penalty
  (which drops or moves the stops that make it late), polished, and kept if it is then on time
  and better.
* **Polish.** PyVRP has no intra-route 2-opt; routes whose windows cannot bind are re-ordered by
  :func:`geo.routing.polish.improve_path` (2-opt/Or-opt) whenever a solution is repaired, and the strict local search then uses the time that saves. A late candidate
  is repaired up to :data:`REPAIRS_PER_CANDIDATE` times (the local search is randomised, so a
  second repair of the same candidate can find another on-time solution).
* **Restarts.** After :data:`NO_IMPROVEMENT_SHARE` of the budget without a new best solution
  the search goes on from the best solution with a fresh acceptance history, until the budget
  is spent (the previous rule stopped there). Measured on Chao at the 10-s budget: p7.2.m
  seed 0 804 → 808 (best known 827), p4.2.k and p4.2.f unchanged; restarting from a new
  random solution instead (a multi-start) narrowed p7.2.m's seed spread (812–816 over four
  seeds, against 804–827) but lost 10 points on p4.2.f (678 → 668), whose best solutions need
  one long trajectory.
* **A fixed effort.** The search stops after an iteration budget derived from the time limit
  (:func:`iteration_budget`) or a work budget of operator moves (:func:`move_budget`),
  whichever comes first; both are deterministic. The clock is only a cap, at :data:`CPU_GUARD`
  times the limit in CPU seconds of this process (:class:`Deadline`), above what the budgets
  take on this project's machines, so that a budget, not the clock, ends the search; as
  everything is seeded, the same data, seed and time limit then give the same routes.
  Counting CPU seconds means other processes on a shared machine do not cut the search short;
  a wall-clock guard at :data:`WALL_GUARD` times the limit still stops it on a machine loaded
  beyond that. Why a work budget: an iteration of a Solomon instance with tight
  windows costs about 5 ms against 1.5 ms on Chao, and with iterations alone 3 of 12 Solomon
  runs at 5 s (c101 with 2 and 4 teams, c201 with 2) were cut by the clock after 923-1152 of
  their 1665 iterations, so their routes depended on the machine. Measured
  on a 2-core machine shared by about eight sessions (load 6–8): a 10-s Chao run got 3.3 s of
  CPU, and with a wall-clock limit 15 of 35 runs were cut by the clock, some after a tenth of
  their budget (Chao p4.2.f: 656 instead of 678).
* **Recombination.** Every on-time route of every candidate and repaired solution goes into a
  :class:`geo.routing.pool.RoutePool`; at the end the best combination of pooled routes
  (set-packing MILP) replaces the best solution when it is better, with the prize pass before
  and after (:func:`_finish`). Measured on Chao, seeds 0-4 at 10 s (search trajectories
  unchanged, so each seed's score can only rise): spread p7.2.m 1.33 → 0.97 points (816-827 →
  819-827), p4.2.f 1.31 → 0.87 (678-687 → 681-687), p6.4.k 1.10 → 0 (all 528, the proven
  optimum), p4.2.k 1.27 → 1.17 (1009-1022 → 1010-1022); p5.4.o 685-690 → all 690. Pools hold
  1,000-5,000 routes; the MILP takes 0.2-0.6 s. Tried and dropped: recombining five times during
  the search and going on from the result (p4.2.f 678-684 and 7-19 s of CPU, p4.2.k 1009-1017);
  two half-budget trajectories sharing one pool (p4.2.f 677-687); trimming late routes into
  on-time ones for the pool (+1 on one p4.2.k seed, a pool a third larger and a slower MILP);
  with recombination, stronger perturbation (3-30 moves: p4.2.k 1014-1022 but p4.2.f 678-687;
  5-40: p7.2.m cut by the clock) and a longer history (600: p4.2.k 1009-1011).

What did *not* help at the 10-s budget (Chao, seeds 0-4, measured 2026-12-01, see
benchmarks/results/routing_chao_weak_5seeds_before.json for the instances): twice the iterations (p4.2.k
mean 1011.6 against 1014.2; p6.4.k unchanged at 10 000 iterations), half the budget twice with two
sub-seeds keeping the better (p4.2.k best-of-two 1003-1021, p4.2.f 672-685, both below one full
run), stronger perturbation (5-40 moves: p4.2.k 1011-1016 but p7.2.m 806-819 and 50 % more CPU), a
higher penalty range (0.3-3: p4.2.k 1001-1010), a shorter late-acceptance history (100), an earlier
restart (25 % of the budget), or alternating the final prize pass (geo.routing.prizes) with polish
and the strict local search (p7.2.m, p4.2.k, p4.2.f unchanged). The weak small instances are not
short of effort: p1.3.o scores 205 for every seed, at 10 000 iterations and with times in
microseconds instead of milliseconds; p6.4.k 522-528 likewise (10 000 iterations: seeds 0, 1
unchanged).

Acceptance is late-acceptance hill climbing on the penalised cost (Burke and Bykov 2017), as in
PyVRP: accept a candidate better than the current solution or than the one ``history`` steps ago.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.routing.intmodel import IntModel
from geo.routing.polish import improve_path
from geo.routing.pool import RoutePool
from geo.routing.prizes import improve_prizes

__all__ = [
    "CPU_GUARD",
    "ITERATIONS_PER_S",
    "MOVES_PER_S",
    "NO_IMPROVEMENT_SHARE",
    "WALL_GUARD",
    "Deadline",
    "SearchStats",
    "iterated_search",
    "iteration_budget",
    "move_budget",
]

#: Search effort: iterations per second of time limit (deterministic; see above).
ITERATIONS_PER_S = 333
#: Search work: operator moves evaluated per second of time limit. A search also stops at this
#: many moves, so that problems whose iterations are expensive (tight time windows, long
#: routes) end by work, not by the clock. Measured on this project's 2-core machines: 22-36
#: million moves per CPU second, Python and the pool included (Solomon c101 with 2 teams 22.7M,
#: Chao p4.2.k 28M), so the work budget ends a search within about 0.9 of its time limit, well
#: before the CPU cap (:data:`CPU_GUARD`). Chao's 100-stop instances need up to 220M moves for
#: their 3330 iterations; at 10 s the largest of them now stop at 200M.
MOVES_PER_S = 20_000_000
#: Restart (from the best solution) after this share of the budget without a new best.
NO_IMPROVEMENT_SHARE = 0.5
#: Whether a stalled search restarts (True) or stops ("stall").
RESTART_ON_STALL = True
#: Repairs of one late candidate (the local search is randomised: a second repair can differ).
REPAIRS_PER_CANDIDATE = 3
#: Late-acceptance history length.
HISTORY = 300
#: Polish rounds (2-opt/Or-opt, then a strict local search) per new best solution.
POLISH_ROUNDS = 3
#: Whether every new best solution goes through the prize post-optimisation (geo.routing.prizes).
#: Off: measured on Chao p4.2.k, p4.2.f, p6.4.k (seeds 0-4, 3330 iterations) it changed the
#: trajectories but not the level (p4.2.k mean 1007.6 against 1014.2); :func:`_finish` applies it
#: to the final solution, where it can only add.
PRIZES_ON_BEST = False
#: Whether the search pools its on-time routes and ends with their best combination
#: (geo.routing.pool), with the prize pass before and after. Measured: see the module docstring.
RECOMBINE = True
#: The CPU cap: a search stops at this many times its limit in CPU seconds (the budgets end it
#: before; see :data:`MOVES_PER_S`).
CPU_GUARD = 1.5
#: The wall-clock guard: a search stops at this many times its limit in wall-clock seconds.
WALL_GUARD = 3.0


class Deadline:
    """A time limit in CPU seconds of this process, with a wall-clock guard.

    ``Deadline(limit_s)`` has passed once the process has used ``CPU_GUARD × limit_s`` CPU
    seconds since it was made, or ``WALL_GUARD × limit_s`` wall-clock seconds have gone by.
    The CPU clock makes the limit independent of other processes' load (and so the result, see
    the module docstring); the guard bounds the wait on a machine loaded beyond ``WALL_GUARD``.
    """

    def __init__(self, limit_s: float) -> None:
        self.cpu = time.process_time() + CPU_GUARD * limit_s
        self.wall = time.perf_counter() + WALL_GUARD * limit_s

    def passed(self) -> bool:
        """Whether the CPU limit or the wall-clock guard has been reached."""
        return time.process_time() >= self.cpu or time.perf_counter() >= self.wall

    @classmethod
    def never(cls) -> Deadline:
        """A deadline that never passes (the budget alone ends the search)."""
        d = cls(0.0)
        d.cpu = d.wall = float("inf")
        return d


def move_budget(time_limit_s: float) -> int:
    """Operator moves for a time limit: ``MOVES_PER_S × time_limit_s`` (see :data:`MOVES_PER_S`)."""
    return max(1, round(time_limit_s * MOVES_PER_S))


def iteration_budget(time_limit_s: float) -> int:
    """Iterations for a time limit: ``ITERATIONS_PER_S × time_limit_s`` (at least 100).

    An iteration (PyVRP's perturbation, the local search around it and the repairs it triggers)
    costs up to about 1.5 ms for the 40–100 stops of a day or a Chao instance on this project's
    machines; the budget assumes about 3 ms, so that it, not the clock, ends the search.
    """
    return max(100, round(time_limit_s * ITERATIONS_PER_S))


@dataclass(frozen=True)
class SearchStats:
    """How a search ended: ``iterations`` run, ``stop``, restarts and operator ``moves`` evaluated.

    ``stop`` is "budget" (the iterations), "work" (the moves), "stall" or "time" (the clock:
    only this one can depend on the machine).
    """

    iterations: int
    stop: str
    restarts: int = 0
    moves: int = 0


class _Search:
    """Local search, penalty manager and the strict evaluator for one problem."""

    def __init__(self, data: Any, m: IntModel, params: Any, seed: int) -> None:
        from pyvrp import CostEvaluator, PenaltyManager, RandomNumberGenerator
        from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours

        self.data, self.m = data, m
        self.rng = RandomNumberGenerator(seed=seed)
        neighbours = compute_neighbours(data, params.neighbourhood)
        self._ls = LocalSearch(data, self.rng, neighbours, PerturbationManager(params.perturbation))
        for op in params.operators:
            if op.supports(data):
                self._ls.add_operator(op(data))
        self.moves = 0  # operator moves evaluated so far: the search's work
        self.pm = PenaltyManager(params.penalty.midpoint_penalties(data), params.penalty)
        # one ms late must cost more than any prize or travel it could buy
        big = float(max(int(m.prize.max(initial=0)), int(m.cost.max(initial=0)), 1)) * 10.0
        self.strict = CostEvaluator([0.0] * data.num_load_dimensions, big, big)
        clients = data.clients()
        self.loc = np.array([c.location for c in clients], dtype=np.int64)
        self.free_client = np.array([c.group is None for c in clients], dtype=bool)
        self.early = np.array([c.tw_early for c in clients], dtype=np.int64)
        self.late = np.array([c.tw_late for c in clients], dtype=np.int64)

    def ls(self, sol: Any, evaluator: Any, *, exhaustive: bool) -> Any:
        """PyVRP's local search, counting the operator moves it evaluates."""
        out = self._ls(sol, evaluator, exhaustive=exhaustive)
        self.moves += int(self._ls.statistics.num_moves)
        return out

    def repair(self, sol: Any) -> Any:
        """Strict local search: drops or moves the stops that make ``sol`` late."""
        return self.ls(sol, self.strict, exhaustive=True)

    def improve(self, sol: Any) -> Any:
        """Polish the routes whose order is free, each time followed by a strict local search."""
        out = sol
        for _ in range(POLISH_ROUNDS):
            polished = self.polish(out)
            if polished is None:
                break
            out = self.ls(polished, self.strict, exhaustive=True)
        return out

    def polish(self, sol: Any) -> Any | None:
        """Re-order each route whose windows cannot bind by 2-opt/Or-opt; None if none changed."""
        import pyvrp

        m, routes, changed = self.m, [], False
        for route in sol.routes():
            vt = route.vehicle_type()
            visits = [a.idx for a in route.schedule() if a.is_client()]
            lo, hi = int(m.shift[vt, 0]), int(m.shift[vt, 1])
            idx = np.asarray(visits, dtype=np.int64)
            free = len(visits) >= 3 and bool(
                self.free_client[idx].all() and (self.early[idx] <= lo).all()
                and (self.late[idx] >= hi).all()
            )
            if free:
                path = np.r_[int(m.p.team_start[vt]), self.loc[idx], int(m.p.team_end[vt])]
                by_node = {int(self.loc[c]): c for c in visits}
                order = [by_node[int(x)] for x in improve_path(m.cost, path)[1:-1]]
                if order != visits:
                    new = pyvrp.Route(self.data, order, vt)
                    if new.time_warp() <= route.time_warp() and new.distance() < route.distance():
                        routes.append(new)
                        changed = True
                        continue
            routes.append(pyvrp.Route(self.data, visits, vt))
        return pyvrp.Solution(self.data, routes) if changed else None


def objective(sol: Any) -> int:
    """Travel cost minus prizes (the integer objective, penalties left out)."""
    return int(sol.distance_cost()) - int(sol.prizes())


def _better(a: Any, b: Any) -> bool:
    if a.is_feasible() != b.is_feasible():
        return bool(a.is_feasible())
    return objective(a) < objective(b)


def _finish(s: _Search, pool: RoutePool | None, best: Any) -> Any:
    """End of a search: the prize pass, then the best combination of pooled routes and the pass again.

    The prize pass (:func:`geo.routing.prizes.improve_prizes`, ``priority`` objective only) and
    the recombination (:meth:`geo.routing.pool.RoutePool.recombine`) are deterministic and can
    only improve a feasible ``best``; an infeasible one is returned as it is.
    """
    if not best.is_feasible():
        return best
    priority = s.m.p.objective == "priority"
    if priority:
        best = improve_prizes(s.data, s.m, best)
    mixed = pool.recombine(best, gap=s.m.prize_unit / 100) if pool is not None else None
    if mixed is None:
        return best
    mixed = s.improve(s.repair(mixed))
    if priority:
        mixed = improve_prizes(s.data, s.m, mixed)
    return mixed if _better(mixed, best) else best


def iterated_search(
    data: Any, m: IntModel, params: Any, *, seed: int, iterations: int,
    deadline: Deadline | float, initial: Any = None, moves: int | None = None,
) -> tuple[Any, SearchStats]:
    """Run the search; return the best solution (feasible if any was found) and how it ended.

    Parameters
    ----------
    data : pyvrp.ProblemData
    m : IntModel
    params : pyvrp.SolveParams
        Penalty, neighbourhood, perturbation and operators.
    seed : int
        Seed of PyVRP's random number generator (the only randomness).
    iterations : int
        Iteration budget; after ``NO_IMPROVEMENT_SHARE`` of it without a new best the search
        restarts (or, with ``RESTART_ON_STALL`` off, stops).
    deadline : Deadline or float
        When the search stops regardless: a :class:`Deadline`, or a ``time.perf_counter()``
        value (wall clock).
    initial : pyvrp.Solution, optional
        Start here instead of a repaired random solution.
    moves : int, optional
        Work budget: stop once this many operator moves have been evaluated (default none).
    """
    from pyvrp import Solution

    passed = deadline.passed if isinstance(deadline, Deadline) else (
        lambda: time.perf_counter() >= deadline)
    s = _Search(data, m, params, seed)
    start = initial if initial is not None else Solution.make_random(data, s.rng)
    init = s.improve(s.repair(start))
    best = curr = init
    history: deque[Any] = deque(maxlen=HISTORY)
    tried: dict[tuple[int, int, int], int] = {}
    stall_limit = max(1, int(iterations * NO_IMPROVEMENT_SHARE))
    since, it, stop, restarts = 0, 0, "budget", 0
    pool = RoutePool(data) if RECOMBINE else None
    while it < iterations:
        if passed():
            stop = "time"
            break
        if moves is not None and s.moves >= moves:
            stop = "work"
            break
        if since >= stall_limit:
            if not RESTART_ON_STALL:
                stop = "stall"
                break
            init = curr = best  # go on from the best solution with a fresh history
            since = 0
            history.clear()
            restarts += 1
        it += 1
        since += 1
        evaluator = s.pm.cost_evaluator()
        cand = s.ls(curr, evaluator, exhaustive=False)
        s.pm.register(cand)
        if pool is not None:
            pool.add(cand)
        if objective(cand) < objective(best) or not best.is_feasible():
            # a late candidate is repaired once (the search revisits the same ones often)
            key = (int(cand.distance()), int(cand.prizes()), int(cand.time_warp()))
            tried[key] = tried.get(key, 0) + 1
            if cand.is_feasible() or tried[key] <= REPAIRS_PER_CANDIDATE:
                fixed = s.improve(s.repair(cand))
                if pool is not None:
                    pool.add(fixed)
                if PRIZES_ON_BEST and _better(fixed, best) and m.p.objective == "priority":
                    fixed = improve_prizes(data, m, fixed)
                if _better(fixed, best):
                    best, since = fixed, 0
                    cand = fixed  # go on from the repaired, polished solution
        cand_cost, curr_cost = evaluator.penalised_cost(cand), evaluator.penalised_cost(curr)
        late = history[0] if len(history) == HISTORY else None
        late_cost = evaluator.penalised_cost(late if late is not None else init)
        if cand_cost < late_cost or cand_cost < curr_cost:
            curr, curr_cost = cand, cand_cost
        if late is None or curr_cost < late_cost:
            history.append(curr)
        else:
            history.rotate(-1)  # the late solution moves to the back: the history advances
    return _finish(s, pool, best), SearchStats(it, stop, restarts, s.moves)
