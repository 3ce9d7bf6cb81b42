"""Siting maps for planners: one scenario over its demand, or several side by side on one map.

:func:`siting_map` draws a scenario's sites (named, numbered, with walking catchments) over the
stall demand they serve; :func:`comparison_map` draws two (or more) scenarios — e.g. 3 vs 5
points — in different colours over the same demand, with a legend per site set. The matching
table is :func:`geo.siting.result.compare_site_sets`; :func:`compare_scenarios_view` returns
both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import folium
import geopandas as gpd
import pandas as pd

from geo.errors import InputError
from geo.maps.siting import COMPARE_COLOURS, SITE_COLOUR, siting_layer
from geo.maps.squad import prepare, squad_map
from geo.siting.result import RelocationSites, compare_site_sets, sites_frame

Result: TypeAlias = RelocationSites | gpd.GeoDataFrame


def _fit(m: folium.Map, frames: list[gpd.GeoDataFrame]) -> None:
    pts = [prepare(sites_frame(f), what="疏导点") for f in frames]
    boxes = [p.total_bounds for p in pts if p is not None and len(p)]
    if not boxes:
        return
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y1 = max(b[3] for b in boxes)
    m.fit_bounds([[y0, x0], [y1, x1]], padding=(30, 30))


def comparison_map(scenarios: Mapping[str, Result], *, communities: gpd.GeoDataFrame,
                   demand: gpd.GeoDataFrame | None = None, title: str = "疏导点方案比较",
                   **options: Any) -> folium.Map:
    """One map with the site sets of several scenarios in different colours.

    Parameters
    ----------
    scenarios : mapping of str to RelocationSites or GeoDataFrame
        Scenario name (``3 个点``) → its result, in display order (at most 4).
    communities : GeoDataFrame
        Community polygons drawn under the sites.
    demand : GeoDataFrame, optional
        Stall demand points (``weight``, ``case_count``; e.g. :attr:`Scenario.demand`), drawn
        as circles sized by weight.
    title : str
        Map title (escaped).
    **options
        Further :func:`geo.maps.squad.squad_map` options (``basemap``, ``static_prefix``,
        ``data_label``…).

    Raises
    ------
    InputError
        No scenario, or more than there are colours.
    """
    if not scenarios:
        raise InputError("没有可比较的选址方案；请至少提供一个方案。")
    if len(scenarios) > len(COMPARE_COLOURS):
        raise InputError(f"一张地图最多比较 {len(COMPARE_COLOURS)} 个方案，收到 {len(scenarios)} 个。")
    colours = dict(zip(scenarios, COMPARE_COLOURS, strict=False))
    if len(scenarios) == 1:
        colours = dict.fromkeys(scenarios, SITE_COLOUR)
    n = len(scenarios)
    layers = [siting_layer(r, name=f"{name}：疏导点及步行范围", colour=colours[name],
                           marker_dx=0 if n == 1 else round(26 * (i - (n - 1) / 2)))
              for i, (name, r) in enumerate(scenarios.items())]
    m = squad_map(communities=communities, demand=demand, title=title, extra_layers=layers,
                  site_sets=colours, **options)
    _fit(m, list(scenarios.values()))
    return m


def siting_map(result: Result, *, communities: gpd.GeoDataFrame,
               demand: gpd.GeoDataFrame | None = None, name: str = "疏导点建议",
               title: str = "疏导点选址", **options: Any) -> folium.Map:
    """The map of one scenario: its named sites and catchments over the demand they serve
    (:func:`comparison_map` with one scenario; same options)."""
    return comparison_map({name: result}, communities=communities, demand=demand, title=title,
                          **options)


def compare_scenarios_view(scenarios: Mapping[str, Result], *, communities: gpd.GeoDataFrame,
                           demand: gpd.GeoDataFrame | None = None, **options: Any
                           ) -> tuple[folium.Map, pd.DataFrame]:
    """The comparison map and table of ``scenarios`` (:func:`comparison_map`,
    :func:`geo.siting.result.compare_site_sets`)."""
    return (comparison_map(scenarios, communities=communities, demand=demand, **options),
            compare_site_sets(scenarios))
