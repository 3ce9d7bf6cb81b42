"""geo.maps."""

from __future__ import annotations

from geo.maps.assets import (
    DROPPED_WHEN_LOCAL,
    VENDOR_ASSETS,
    VendorAsset,
    asset_urls,
    local_url,
    localize_assets,
    vendor_manifest,
)
from geo.maps.layers import (
    FORECAST_COLOURS,
    SIGNIFICANCE_COLOURS,
    TEAM_COLOURS,
    add_case_heat,
    add_communities,
    add_forecast,
    add_hotspots,
    add_relocation,
    add_routes,
    add_stations,
    esc,
    first_col,
    fmt_value,
    forecast_classes,
    popup_table,
    significance_class,
    team_colours,
    trend_text,
)
from geo.maps.siting import SITE_COLOUR, siting_layer
from geo.maps.squad import (
    BASEMAPS,
    LOCAL_ATTRIBUTION,
    TEMPLATE_TAGS,
    add_basemap,
    check_tile_url,
    district_map,
    prepare,
    shift_to_gcj02,
    squad_map,
)

__all__ = ["BASEMAPS", "DROPPED_WHEN_LOCAL", "FORECAST_COLOURS", "LOCAL_ATTRIBUTION", "SIGNIFICANCE_COLOURS", "SITE_COLOUR", "TEAM_COLOURS", "TEMPLATE_TAGS", "VENDOR_ASSETS", "VendorAsset", "add_basemap", "add_case_heat", "add_communities", "add_forecast", "add_hotspots", "add_relocation", "add_routes", "add_stations", "asset_urls", "check_tile_url", "district_map", "esc", "first_col", "fmt_value", "forecast_classes", "local_url", "localize_assets", "popup_table", "prepare", "shift_to_gcj02", "significance_class", "siting_layer", "squad_map", "team_colours", "trend_text", "vendor_manifest"]
