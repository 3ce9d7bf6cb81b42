"""Where cases concentrate: hotspots, their significance and their trend.

Public API (the submodules hold the numeric cores and their options):

* :func:`find_hotspots` — one polygon per hotspot, method one of :data:`METHODS`
  (``"background"`` by default: significant excess over the local background;
  ``"hdbscan"``/``"dbscan"``: density clustering); :func:`hotspots_to_geojson` for WGS84
  GeoJSON; :func:`cluster_cases` for the hotspot label of each case; :func:`select_cases` and
  :func:`resolve_category` for the category filter (:data:`CATEGORY_GROUPS`); the frame's
  columns are :data:`COLUMNS`.
* :func:`gi_star`, :func:`hotspot_grid`, :func:`tag_hotspots` — Getis–Ord Gi* with FDR
  (:mod:`geo.analysis.significance`).
* :func:`emerging_hotspots`, :func:`space_time_cube`, :func:`mann_kendall` — emerging hotspot
  analysis (:mod:`geo.analysis.trends`).
* :func:`time_profile` — peak hours, weekday profile and recency of labelled cases.
* :func:`exposure_aware_scores`, :func:`patrol_exposure`, :func:`rotation_floor` — patrol-effort-aware
  ranking (cases per patrol-hour for patrol-found cases; :mod:`geo.analysis.effort`), with the
  discovery-source vocabulary :func:`default_sources` / :data:`DISCOVERY_KINDS`.
"""

from __future__ import annotations

from geo.analysis.background import find_background_hotspots
from geo.analysis.effort import (
    EffortScores,
    PatrolExposure,
    exposure_aware_scores,
    patrol_exposure,
    rotation_floor,
)
from geo.analysis.frame import (
    CATEGORY_GROUPS,
    COLUMNS,
    hotspots_to_geojson,
    resolve_category,
    select_cases,
)
from geo.analysis.hotspots import METHODS, Method, cluster_cases, find_hotspots
from geo.analysis.profile import time_profile
from geo.analysis.significance import gi_star, hotspot_grid, tag_hotspots
from geo.analysis.sources import DISCOVERY_KINDS, default_sources
from geo.analysis.trends import emerging_hotspots, mann_kendall, space_time_cube

__all__ = ["CATEGORY_GROUPS", "COLUMNS", "DISCOVERY_KINDS", "METHODS", "EffortScores", "Method",
           "PatrolExposure", "cluster_cases", "default_sources", "emerging_hotspots",
           "exposure_aware_scores", "find_background_hotspots", "find_hotspots", "gi_star", "hotspot_grid",
           "hotspots_to_geojson", "mann_kendall", "patrol_exposure", "resolve_category",
           "rotation_floor", "select_cases", "space_time_cube", "tag_hotspots", "time_profile"]
