"""A district relocation-point scenario in one call: stall demand, candidates, exclusions, sites.

:func:`relocation_scenario` chains :func:`geo.siting.inputs.stall_demand`,
:func:`geo.siting.inputs.candidate_grid` (or a planner's candidate layer),
:func:`geo.siting.inputs.apply_exclusions` with the landmark layers a deployment has (school
gates, main roads, green space; the squads' area) and
:func:`geo.siting.frames.locate_relocation_points`. The CLI demo, the service and notebooks share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from geo.crs import require_crs
from geo.errors import InputError
from geo.siting.frames import locate_relocation_points
from geo.siting.inputs import apply_exclusions, candidate_grid, stall_demand
from geo.siting.problem import ModelName
from geo.siting.result import RelocationSites, SitingSummary

LANDMARK_KINDS = {"schools": "school", "main_roads": "main_road", "green": "green_space"}
"""Landmark ``kind`` values used as exclusion layers (see ``data/boundaries/landmarks.geojson``)."""


@dataclass
class Scenario:
    """A solved scenario: the chosen sites (``result``: sites with ``catchment``, summary,
    assignment), the ``demand`` points, the kept ``candidates`` and the ``excluded`` ones with
    their reasons; all in the working CRS."""

    result: RelocationSites
    demand: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    excluded: gpd.GeoDataFrame

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """The chosen sites (``result.sites``)."""
        return self.result.sites

    @property
    def summary(self) -> SitingSummary:
        """Scenario totals and the solver's proof (``optimal``, ``gap``, ``method``)."""
        return self.result.summary


def exclusion_layers(landmarks: gpd.GeoDataFrame | None) -> dict[str, gpd.GeoDataFrame | None]:
    """Split a landmark layer (column ``kind``) into the exclusion layers of
    :func:`~geo.siting.inputs.apply_exclusions` (``schools``, ``main_roads``, ``green``)."""
    out: dict[str, gpd.GeoDataFrame | None] = dict.fromkeys(LANDMARK_KINDS)
    if landmarks is None or len(landmarks) == 0 or "kind" not in landmarks:
        return out
    for key, kind in LANDMARK_KINDS.items():
        sub = landmarks[landmarks["kind"] == kind]
        out[key] = sub if len(sub) else None
    return out


def relocation_scenario(
    cases: gpd.GeoDataFrame,
    *,
    at: str | pd.Timestamp,
    communities: gpd.GeoDataFrame,
    landmarks: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    model: ModelName = "mclp",
    sites: int = 5,
    radius_m: float = 500.0,
    spacing_m: float = 100.0,
    window_days: float = 365.0,
    working_crs: str = "EPSG:4547",
    time_limit_s: float = 20.0,
) -> Scenario:
    """Site relocation points for the stall demand of ``cases`` within ``communities``.

    Parameters
    ----------
    cases : GeoDataFrame
        Cases (contract columns); only stall categories before ``at`` count.
    at : str or Timestamp
        Reference time (recency is counted back from it).
    communities : GeoDataFrame
        The squads' area (candidates outside it are excluded).
    landmarks : GeoDataFrame, optional
        Layer with ``kind`` in {school, main_road, green_space} for the exclusion rules.
    candidates : GeoDataFrame, optional
        A planner's candidate points; default a grid of ``spacing_m`` inside the area.
    model, sites, radius_m, time_limit_s
        As :func:`geo.siting.frames.locate_relocation_points`.
    spacing_m : float
        Candidate grid spacing in metres.
    window_days : float
        Look-back window of the demand.
    working_crs : str
        Metric CRS of the analysis.

    Raises
    ------
    InputError
        No stall cases in the window, or every candidate excluded.
    """
    require_crs(communities, what="社区边界")
    area = communities.to_crs(working_crs)
    demand = stall_demand(cases, at=at, window_days=window_days, crs=working_crs)
    if len(demand) == 0:
        raise InputError("所选时段内没有摊贩类案件（09006/09001/09005/09002），无法为疏导点选址。")
    cand = candidates.to_crs(working_crs) if candidates is not None else \
        candidate_grid(area, spacing_m=spacing_m, crs=working_crs)
    layers = {k: (v.to_crs(working_crs) if v is not None else None)
              for k, v in exclusion_layers(landmarks).items()}
    kept, excluded = apply_exclusions(cand, service_area=area, schools=layers["schools"],
                                      main_roads=layers["main_roads"], green=layers["green"])
    chosen = locate_relocation_points(demand, kept, model=model, sites=sites, radius_m=radius_m,
                                      time_limit_s=time_limit_s)
    return Scenario(result=chosen, demand=demand, candidates=kept, excluded=excluded)
