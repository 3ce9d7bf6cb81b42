"""geo.simulate."""

from __future__ import annotations

from geo.simulate.generator import (
    BACKGROUND,
    CLOSE_MEDIAN_H,
    DAY,
    EVENING_NOISE,
    GREEN_DAY,
    MAX_OPEN_DAYS,
    MORNING,
    NIGHT,
    OPEN_STAGES,
    RECIPES,
    SCHOOL,
    SEASONS,
    SHOP,
    SIM_TAG,
    STALL_SET,
    TZ,
    WEEKLY,
    simulate_cases,
)
from geo.simulate.text import SOURCES, address_for, describe, direction, pick_sources

__all__ = ["BACKGROUND", "CLOSE_MEDIAN_H", "DAY", "EVENING_NOISE", "GREEN_DAY", "MAX_OPEN_DAYS", "MORNING", "NIGHT", "OPEN_STAGES", "RECIPES", "SCHOOL", "SEASONS", "SHOP", "SIM_TAG", "SOURCES", "STALL_SET", "TZ", "WEEKLY", "address_for", "describe", "direction", "pick_sources", "simulate_cases"]
