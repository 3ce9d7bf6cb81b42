"""Siting of relocation points (疏导点) for street vendors: demand, candidates, models, results.

:func:`relocation_scenario` runs a district scenario in one call: stall demand from cases
(:func:`stall_demand`), a candidate grid (:func:`candidate_grid`) minus excluded places
(:func:`apply_exclusions`), and :func:`locate_relocation_points`, whose
:class:`RelocationSites` holds the chosen sites, their :class:`SitingSummary` and the
assignment. :func:`coverage_curve` and :func:`compare_scenarios` compare choices;
:func:`siting_tables` and :func:`siting_geojson_frames` export them. The generic problem of
design.md §5 is :func:`parse_problem` → :func:`solve_siting` (checked by
:func:`evaluate_siting`) for the models of :data:`ModelName`; the exact and heuristic solvers
are in :mod:`geo.siting.milp`, :mod:`geo.siting.lagrange` and :mod:`geo.siting.heuristics`.
"""

from __future__ import annotations

from geo.siting.district import Scenario, exclusion_layers, relocation_scenario
from geo.siting.frames import (
    compare_scenarios,
    coverage_curve,
    locate_relocation_points,
    site_relocation_points,
    siting_geojson_frames,
    siting_tables,
    walking_distances,
)
from geo.siting.inputs import apply_exclusions, candidate_grid, stall_demand
from geo.siting.problem import MODEL_NAMES, MODELS, ModelName, SitingProblem, parse_problem
from geo.siting.result import RelocationSites, SitingSummary, summary_of
from geo.siting.solve import SitingResult, evaluate_siting, solve_matrix, solve_siting

__all__ = [
    "MODELS",
    "MODEL_NAMES",
    "ModelName",
    "RelocationSites",
    "Scenario",
    "SitingProblem",
    "SitingResult",
    "SitingSummary",
    "apply_exclusions",
    "candidate_grid",
    "compare_scenarios",
    "coverage_curve",
    "evaluate_siting",
    "exclusion_layers",
    "locate_relocation_points",
    "parse_problem",
    "relocation_scenario",
    "site_relocation_points",
    "siting_geojson_frames",
    "siting_tables",
    "solve_matrix",
    "solve_siting",
    "stall_demand",
    "summary_of",
    "walking_distances",
]
