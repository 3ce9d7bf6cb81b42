"""A district relocation-point scenario in one call: stall demand, candidates, exclusions, sites.

:func:`relocation_scenario` chains :func:`geo.siting.inputs.stall_demand`,
:func:`geo.siting.inputs.candidate_grid` (or a planner's candidate layer),
:func:`geo.siting.inputs.apply_exclusions` with the landmark layers a deployment has (school
gates, main roads, green space; the squads' area) and
:func:`geo.siting.frames.locate_relocation_points`, then names each chosen site for people
(:func:`name_sites`: nearest landmark or road and community, ``城西社区 · 西大市场东侧约 120 米``).
The CLI demo, the service and notebooks share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from geo.crs import require_crs
from geo.errors import InputError
from geo.siting.frames import locate_relocation_points
from geo.siting.inputs import apply_exclusions, candidate_grid, stall_demand
from geo.siting.problem import ModelName
from geo.siting.result import RelocationSites, SitingSummary

POI_RADIUS_M = 600.0
"""A site is described from a landmark (market, school, compound, green…) at most this far."""
ROAD_RADIUS_M = 300.0
"""…else from a named road at most this far."""
_COMPASS = ("东", "东北", "北", "西北", "西", "西南", "南", "东南")

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


def _bearing(dx: float, dy: float) -> str:
    """The compass direction (8 sectors, Chinese) of the vector ``(dx, dy)`` (y north)."""
    angle = math.degrees(math.atan2(dy, dx)) % 360.0
    return _COMPASS[int(((angle + 22.5) % 360.0) // 45.0)]


def _near(site: BaseGeometry, name: str, geom: BaseGeometry, *, road: bool) -> tuple[str, str]:
    """``(short name, description)`` of ``site`` relative to the landmark ``name``/``geom``."""
    d = float(site.distance(geom))
    if d < 1.0 and not road:
        return f"{name}内", f"{name}内"
    if d < 30.0:
        return f"{name}旁", f"{name}旁"
    here = nearest_points(geom, site)[0]
    side = _bearing(site.x - here.x, site.y - here.y)
    return f"{name}{side}侧", f"{name}{side}侧约 {int(round(d / 10.0) * 10)} 米"


def _landmark_parts(landmarks: gpd.GeoDataFrame | None, crs: object
                    ) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    if landmarks is None or len(landmarks) == 0 or "name" not in landmarks:
        return None, None
    lm = landmarks.to_crs(crs)
    lm = lm[lm["name"].notna() & (lm["name"].astype(str).str.strip() != "")
            & lm.geometry.notna()]
    is_road = lm.geom_type.isin(["LineString", "MultiLineString"])
    if "kind" in lm:
        is_road = is_road | (lm["kind"] == "main_road")
    roads, pois = lm[is_road], lm[~is_road]
    return (pois if len(pois) else None), (roads if len(roads) else None)


def _community_of(site: BaseGeometry, comm: gpd.GeoDataFrame | None) -> str:
    if comm is None or len(comm) == 0:
        return ""
    inside = comm[comm.geometry.contains(site)]
    pick = inside if len(inside) else comm[comm.geometry.distance(site) <= 200.0]
    if not len(pick):
        return ""
    nearest = pick.geometry.distance(site).to_numpy().argmin()
    return str(pick["name"].iloc[int(nearest)])


def name_sites(sites: gpd.GeoDataFrame, *, landmarks: gpd.GeoDataFrame | None = None,
               communities: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Name each site for people from its nearest landmark or road and its community.

    Parameters
    ----------
    sites : GeoDataFrame
        Chosen sites (points, metric CRS), e.g. :attr:`Scenario.sites`.
    landmarks : GeoDataFrame, optional
        Named landmarks (``name``, ``kind``; points, polygons and road lines), e.g.
        :attr:`geo.boundaries.DefaultArea.landmarks`. A site is described from the nearest
        non-road landmark within :data:`POI_RADIUS_M`, else the nearest road within
        :data:`ROAD_RADIUS_M`.
    communities : GeoDataFrame, optional
        Community polygons with ``name``; the one containing the site (or within 200 m).

    Returns
    -------
    GeoDataFrame
        A copy with ``site_name`` (``西大市场东侧``), ``community`` (``城西社区``), ``landmark``,
        ``landmark_m`` (rounded to 10 m) and ``address`` (``城西社区 · 西大市场东侧约 120 米``);
        without a landmark nearby: ``城西社区 · 附近 600 米内没有登记的地标``.
    """
    out = sites.copy()
    crs = out.crs
    pois, roads = _landmark_parts(landmarks, crs)
    comm = None
    if communities is not None and len(communities) and "name" in communities:
        comm = communities.to_crs(crs)
    names, comms, marks, dists, addresses = [], [], [], [], []
    for k, site in enumerate(out.geometry):
        community = _community_of(site, comm)
        short, text, mark, dist = "", "", "", float("nan")
        for layer, limit, road in ((pois, POI_RADIUS_M, False), (roads, ROAD_RADIUS_M, True)):
            if layer is None:
                continue
            d = layer.geometry.distance(site).to_numpy()
            j = int(np.argmin(d))
            if d[j] <= limit:
                mark, dist = str(layer["name"].iloc[j]), float(d[j])
                short, text = _near(site, mark, layer.geometry.iloc[j], road=road)
                break
        if not short:
            short = f"{community}内" if community else f"疏导点 {k + 1}"
            text = f"附近 {POI_RADIUS_M:.0f} 米内没有登记的地标"
        names.append(short)
        comms.append(community)
        marks.append(mark)
        dists.append(round(dist / 10.0) * 10.0 if math.isfinite(dist) else float("nan"))
        addresses.append(f"{community} · {text}" if community else text)
    out["site_name"], out["community"], out["landmark"] = names, comms, marks
    out["landmark_m"], out["address"] = dists, addresses
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

    Returns
    -------
    Scenario
        The sites are named for people (:func:`name_sites`: ``site_name``, ``community``,
        ``address``…) from ``landmarks`` and ``communities``.

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
    named = name_sites(chosen.sites, landmarks=landmarks, communities=communities)
    named.attrs = dict(chosen.sites.attrs)
    return Scenario(result=replace(chosen, sites=named), demand=demand, candidates=kept,
                    excluded=excluded)
