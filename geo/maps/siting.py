"""Folium layers of siting scenarios: relocation points (疏导点), their walking catchments and the
stall demand they serve.

Each site is named for people (``site_name``/``address`` from
:func:`geo.siting.district.name_sites`, e.g. ``城西社区 · 西大市场东侧约 120 米``) and its numbers
are rounded: whole cases, shares with one decimal, metres to 10 m.
"""

from __future__ import annotations

import math

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from geo.labels import format_share, round_metres
from geo.maps.layers import esc, popup_table
from geo.siting.result import RelocationSites, sites_frame, summary_dict

SITE_COLOUR = "#2e7d32"
DEMAND_COLOUR = "#8e44ad"
COMPARE_COLOURS: tuple[str, ...] = ("#1565c0", "#e65100", "#6a1b9a", "#2e7d32")
"""Colours of the site sets of a comparison, in order."""


def _num(value: object) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
    return out


def _cases(value: object) -> int | None:
    v = _num(value)
    return round(v) if math.isfinite(v) else None


def site_label(row: pd.Series, k: int) -> str:
    """``疏导点 2 · 西大市场东侧`` (or ``疏导点 2`` when the site has no name)."""
    rank = row.get("rank", k + 1)
    name = row.get("site_name")
    head = f"疏导点 {int(rank) if isinstance(rank, int | float | np.integer) else rank}"
    return f"{head} · {name}" if isinstance(name, str) and name.strip() else head


def site_popup_rows(row: pd.Series, radius: object) -> list[tuple[str, object]]:
    """The popup rows of one site, numbers rounded for people."""
    walk = round_metres(_num(row.get("mean_walk_m")))
    rows: list[tuple[str, object]] = [
        ("位置", row.get("address") or None), ("所在社区", row.get("community") or None),
        ("服务案件数", _cases(row.get("served_cases"))),
        ("服务需求占比", format_share(_num(row.get("served_share")))),
        ("估计可容纳摊贩数", _cases(row.get("vendors_estimate"))),
        ("平均步行距离（米）", walk),
        ("步行半径（米）", round_metres(_num(radius))),
        ("候选点编号", row.get("candidate_id")),
    ]
    return [(k, v) for k, v in rows if v is not None]


def _site_icon(colour: str, rank: object, dx: int = 0) -> folium.DivIcon:
    text = esc(int(rank) if isinstance(rank, int | float | np.integer) else rank)
    return folium.DivIcon(
        html=f'<div class="xc-reloc" style="background:{colour};width:24px;height:24px;'
             f'font:bold 12px/20px sans-serif">{text}</div>',
        icon_size=(24, 24), icon_anchor=(12 - dx, 12))


def siting_layer(result: RelocationSites | gpd.GeoDataFrame, *, name: str = "疏导点建议",
                 colour: str = SITE_COLOUR, marker_dx: int = 0) -> folium.FeatureGroup:
    """A feature group with one catchment polygon and one numbered marker per chosen site.

    Parameters
    ----------
    result : RelocationSites or GeoDataFrame
        A result of :func:`geo.siting.frames.locate_relocation_points` or its sites frame
        (any CRS; drawn in WGS84); named sites (``site_name``, ``address``, ``community``)
        show their names.
    name : str
        Layer name shown in the layer control (escaped).
    colour : str
        Catchment and marker colour (hex).
    marker_dx : int
        Shift the markers this many pixels right of their site (negative: left), so the sets
        of a comparison stay visible where they pick the same place.

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
        label = site_label(row, k)
        html = popup_table(site_popup_rows(row, radius), title=label)
        if areas is not None:
            folium.GeoJson(
                areas.iloc[k].__geo_interface__,
                style_function=lambda _f, c=colour: {"color": c, "weight": 1.5,
                                                     "dashArray": "5 4", "fillColor": c,
                                                     "fillOpacity": 0.10},
                tooltip=esc(f"{label} 的步行服务范围"),
            ).add_to(group)
        folium.Marker(
            [row.geometry.y, row.geometry.x],
            popup=folium.Popup(html, max_width=340),
            tooltip=esc(label),
            icon=_site_icon(colour, row.get("rank", k + 1), marker_dx),
        ).add_to(group)
    return group


def add_demand(m: folium.Map, demand: gpd.GeoDataFrame, *, name: str = "摊贩需求",
               colour: str = DEMAND_COLOUR, show: bool = True) -> folium.FeatureGroup:
    """Stall demand points as circles whose area grows with ``weight``.

    ``demand``: points in EPSG:4326 (:func:`geo.maps.squad.prepare`) with ``weight`` and
    optional ``case_count`` (as :func:`geo.siting.inputs.stall_demand` gives).
    """
    group = folium.FeatureGroup(name=esc(name), show=show)
    w = pd.to_numeric(demand["weight"], errors="coerce").fillna(0.0).to_numpy(dtype=float) \
        if "weight" in demand else np.ones(len(demand))
    top = float(w.max()) if len(w) and float(w.max()) > 0 else 1.0
    cases = demand["case_count"] if "case_count" in demand else pd.Series([None] * len(demand))
    for (geom, weight), n in zip(zip(demand.geometry, w, strict=True), cases, strict=True):
        if geom is None or geom.is_empty:
            continue
        p = geom.representative_point()
        count = _cases(n)
        tip = f"摊贩需求：{count} 件案件" if count is not None else "摊贩需求"
        folium.CircleMarker(
            [p.y, p.x], radius=2.0 + 10.0 * math.sqrt(max(weight, 0.0) / top), weight=0,
            color=colour, fill=True, fill_color=colour, fill_opacity=0.35,
            tooltip=esc(tip)).add_to(group)
    group.add_to(m)
    return group
