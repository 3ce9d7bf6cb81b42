"""Interactive Leaflet maps (folium) of squads and the district, and their layers.

:func:`squad_map` draws a squad's day (communities, stations, planned routes and stops, hotspots,
forecast cells); :func:`district_map` the whole district; :func:`siting_layer` a relocation
scenario. Every text is HTML-escaped and made template-safe (:func:`esc`). Base maps
(:data:`BASEMAPS`, :func:`check_tile_url`) and the vendored Leaflet assets
(:data:`VENDOR_ASSETS`, :func:`localize_assets`) let maps work offline. For planners,
:func:`siting_map` shows a scenario over its demand and :func:`comparison_map` several scenarios
(3 vs 5 points) on one map. Importing this package loads folium but not the routing solvers.
"""

from __future__ import annotations

from geo.maps.assets import VENDOR_ASSETS, asset_urls, localize_assets, vendor_manifest
from geo.maps.compare import compare_scenarios_view, comparison_map, siting_map
from geo.maps.layers import esc, forecast_classes, popup_table, significance_class
from geo.maps.siting import SITE_COLOUR, add_demand, siting_layer
from geo.maps.squad import BASEMAPS, check_tile_url, district_map, squad_map

__all__ = [
    "BASEMAPS",
    "SITE_COLOUR",
    "VENDOR_ASSETS",
    "add_demand",
    "asset_urls",
    "check_tile_url",
    "compare_scenarios_view",
    "comparison_map",
    "district_map",
    "esc",
    "forecast_classes",
    "localize_assets",
    "popup_table",
    "significance_class",
    "siting_layer",
    "siting_map",
    "squad_map",
    "vendor_manifest",
]
