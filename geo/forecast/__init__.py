"""geo.forecast."""

from __future__ import annotations

from geo.forecast.backtest import COVERAGES, BacktestResult, hit_rate_pai, rolling_origin, top_cells
from geo.forecast.cells import BASELINES, DEFAULT_METHOD, METHODS, forecast_cells, rank_scores
from geo.forecast.models import (
    BLEND_HALF_LIVES_DAYS,
    BLEND_SIGMAS_CELLS,
    LN2,
    EventHistory,
    blend,
    blend_features,
    fit_mixture,
    kde,
    naive_4w,
    naive_all,
    prohot,
)

__all__ = ["BASELINES", "BLEND_HALF_LIVES_DAYS", "BLEND_SIGMAS_CELLS", "COVERAGES", "DEFAULT_METHOD", "LN2", "METHODS", "BacktestResult", "EventHistory", "blend", "blend_features", "fit_mixture", "forecast_cells", "hit_rate_pai", "kde", "naive_4w", "naive_all", "prohot", "rank_scores", "rolling_origin", "top_cells"]
