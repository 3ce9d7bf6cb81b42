"""geo.siting."""

from __future__ import annotations

from geo.siting.district import LANDMARK_KINDS, Scenario, exclusion_layers, relocation_scenario
from geo.siting.frames import (
    DEFAULT_CIRCUITY,
    MAX_SQUARE_POINTS,
    compare_scenarios,
    coverage_curve,
    site_relocation_points,
    siting_geojson_frames,
    siting_tables,
    walking_distances,
)
from geo.siting.heuristics import (
    LagrangianResult,
    lscp_greedy,
    mclp_greedy,
    mclp_swap,
    pmedian_cost,
    pmedian_greedy,
    pmedian_ils,
    pmedian_lagrangian,
    pmedian_swap,
)
from geo.siting.inputs import (
    EXCLUSION_REASONS,
    MARKET_HOURS,
    STALL_CATEGORIES,
    STALL_NAMES,
    apply_exclusions,
    candidate_grid,
    stall_demand,
)
from geo.siting.lagrange import BRANCH, BnbResult, CoverBound, mclp_lagrangian, pmedian_bnb
from geo.siting.milp import (
    MilpOutcome,
    PMedianExact,
    capacitated_model,
    lscp_model,
    mclp_model,
    pmedian_exact,
    solve_milp,
)
from geo.siting.problem import MODEL_NAMES, MODELS, SitingProblem, parse_problem
from geo.siting.solve import (
    DEFAULT_TIME_LIMIT_S,
    MAX_COVER_NNZ,
    MAX_DENSE_CELLS,
    SitingResult,
    evaluate_siting,
    solve_matrix,
    solve_siting,
)

__all__ = ["BRANCH", "DEFAULT_CIRCUITY", "DEFAULT_TIME_LIMIT_S", "EXCLUSION_REASONS", "LANDMARK_KINDS", "MARKET_HOURS", "MAX_COVER_NNZ", "MAX_DENSE_CELLS", "MAX_SQUARE_POINTS", "MODELS", "MODEL_NAMES", "STALL_CATEGORIES", "STALL_NAMES", "BnbResult", "CoverBound", "LagrangianResult", "MilpOutcome", "PMedianExact", "Scenario", "SitingProblem", "SitingResult", "apply_exclusions", "candidate_grid", "capacitated_model", "compare_scenarios", "coverage_curve", "evaluate_siting", "exclusion_layers", "lscp_greedy", "lscp_model", "mclp_greedy", "mclp_lagrangian", "mclp_model", "mclp_swap", "parse_problem", "pmedian_bnb", "pmedian_cost", "pmedian_exact", "pmedian_greedy", "pmedian_ils", "pmedian_lagrangian", "pmedian_swap", "relocation_scenario", "site_relocation_points", "siting_geojson_frames", "siting_tables", "solve_matrix", "solve_milp", "solve_siting", "stall_demand", "walking_distances"]
