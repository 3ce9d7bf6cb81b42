"""Simulated 城管 cases for demos, tests and benchmarks (never real data).

:func:`simulate_cases` draws a year of cases over the embedded Xiaonan communities from the
recipes in :data:`RECIPES` (hotspots with their seasons and hours, a uniform background, the
workflow from report to close); every description starts with :data:`SIM_TAG`, which is how the
service knows data is simulated. Texts (addresses, descriptions, sources) come from
:mod:`geo.simulate.text`.
"""

from __future__ import annotations

from geo.simulate.generator import RECIPES, SIM_TAG, simulate_cases

__all__ = ["RECIPES", "SIM_TAG", "simulate_cases"]
