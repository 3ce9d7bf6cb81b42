"""Folium layer of a siting scenario: relocation points (疏导点) and their walking catchments."""

from __future__ import annotations

import folium
import geopandas as gpd

from geo.maps.layers import esc, popup_table
from geo.siting.result import RelocationSites, sites_frame, summary_dict

SITE_COLOUR = "#2e7d32"


def siting_layer(result: RelocationSites | gpd.GeoDataFrame, *, name: str = "疏导点建议",
                 colour: str = SITE_COLOUR) -> folium.FeatureGroup:
    """A feature group with one catchment polygon and one marker per chosen site.

    Parameters
    ----------
    result : RelocationSites or GeoDataFrame
        A result of :func:`geo.siting.frames.locate_relocation_points` or its sites frame
        (any CRS; drawn in WGS84).
    name : str
        Layer name shown in the layer control (escaped).
    colour : str
        Fill / marker colour.

    Returns
    -------
    folium.FeatureGroup
        Add it to a map with ``layer.add_to(m)``. Every text is HTML-escaped.
    """
    group = folium.FeatureGroup(name=esc(name))
    sites = sites_frame(result)
    radius = summary_dict(result).get("radius_m")
    pts = sites.to_crs("EPSG:4326")
    areas = gpd.GeoSeries(sites["catchment"].values, crs=sites.crs).to_crs("EPSG:4326") \
        if "catchment" in sites else None
    for k, (_, row) in enumerate(pts.iterrows()):
        rows = [("候选点编号", row.get("candidate_id")), ("服务需求权重", row.get("served_weight")),
                ("服务需求占比", f"{float(row.get('served_share', 0.0)):.1%}"),
                ("服务案件数", row.get("served_cases")),
                ("估计可容纳摊贩数", row.get("vendors_estimate")),
                ("平均步行距离（米）", row.get("mean_walk_m")),
                ("步行半径（米）", radius)]
        html = popup_table(rows, title=f"疏导点 {row.get('rank', k + 1)}")
        if areas is not None:
            folium.GeoJson(
                areas.iloc[k].__geo_interface__,
                style_function=lambda _f, c=colour: {"color": c, "weight": 1.5,
                                                     "fillColor": c, "fillOpacity": 0.12},
                tooltip=esc(f"疏导点 {row.get('rank', k + 1)} 的步行服务范围"),
            ).add_to(group)
        folium.Marker(
            [row.geometry.y, row.geometry.x],
            popup=folium.Popup(html, max_width=320),
            tooltip=esc(f"疏导点 {row.get('rank', k + 1)}：{row.get('candidate_id')}"),
            icon=folium.Icon(color="green", icon="shopping-cart", prefix="fa"),
        ).add_to(group)
    return group
