"""Layers of the folium maps (:mod:`geo.maps.squad`): one function per layer, all text escaped.

Each ``add_*`` function takes a GeoDataFrame already in EPSG:4326 (and already shifted to GCJ-02
for Amap; :func:`geo.maps.squad.prepare` does both), adds a ``folium.FeatureGroup`` to the map and
returns it. Only pre-escaped strings and numbers reach the page: popups, tooltips, labels and
layer names are built here with :func:`esc`, the one escaping rule of every map. It also
neutralises the characters that matter inside folium's JavaScript template literals (`` ` ``,
``$``, ``\\``) and every brace: folium 0.20 compiles rendered popup, tooltip and macro content
again as a Jinja2 template, so user text must never contain ``{{``, ``{%`` or ``{#``
(:func:`geo.safe_text.template_safe`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.plugins import HeatMap

from geo.labels import KIND_COLOURS, format_distance, format_duration
from geo.safe_text import template_safe

#: Fill colour of hotspot polygons by Gi* confidence class.
SIGNIFICANCE_COLOURS: dict[str, str] = {
    "99%": "#b2182b", "95%": "#ef8a62", "90%": "#fdae61", "不显著": "#9e9e9e",
}
#: Forecast score classes (quintiles), lowest to highest.
FORECAST_COLOURS: tuple[str, ...] = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
#: Route colours, one per team in order.
TEAM_COLOURS: tuple[str, ...] = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
)
_TREND_ZH = {"increasing": "上升", "decreasing": "下降", "no trend": "平稳", "up": "上升",
             "down": "下降", "stable": "平稳", "none": "平稳"}


def esc(value: object) -> str:
    """Escape ``value`` for HTML, for folium's JS template literals and for Jinja2.

    Every user string that reaches folium/branca content goes through here. The result has no
    ``<``, ``>``, ``&`` (other than character references), quote, backtick, ``$``, backslash or
    brace, so it can be neither markup, nor a ``${…}`` substitution, nor a ``{{ … }}``,
    ``{% … %}`` or ``{# … #}`` tag when folium compiles the rendered content again as a
    template. Browsers show the character references as the characters typed.

    Examples
    --------
    >>> esc("{{7*7}}")
    '&#123;&#123;7*7&#125;&#125;'
    >>> esc("`${x}`")
    '&#96;&#36;&#123;x&#125;&#96;'
    """
    text = template_safe(html.escape(fmt_value(value), quote=True))
    return text.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def fmt_value(value: object) -> str:
    """Plain text of a data value: ``—`` for missing, lists joined with ``、``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "—"
    if isinstance(value, float | np.floating):
        if not math.isfinite(float(value)):
            return "—"
        return f"{float(value):.0f}" if float(value).is_integer() else f"{float(value):.3g}"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | np.ndarray | pd.Series):
        return "、".join(fmt_value(v) for v in value) or "—"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def popup_table(rows: Iterable[tuple[str, object]], *, title: object = None) -> str:
    """An HTML table of ``(label, value)`` rows with every label and value escaped."""
    head = f"<b>{esc(title)}</b>" if title is not None else ""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<div class="xc-pop">{head}<table>{body}</table></div>'


def first_col(gdf: gpd.GeoDataFrame, names: Sequence[str]) -> str | None:
    """The first of ``names`` that is a column of ``gdf``."""
    return next((n for n in names if n in gdf.columns), None)


def _get(row: pd.Series, names: Sequence[str], default: object = None) -> Any:
    for n in names:
        if n in row.index:
            v = row[n]
            missing = pd.isna(v) if np.isscalar(v) or v is pd.NA or v is pd.NaT else False
            if not missing:
                return v
    return default


def _geojson_layer(
    gdf: gpd.GeoDataFrame, tips: list[str], popups: list[str] | None, style: Any,
    group: folium.FeatureGroup,
) -> None:
    """A GeoJson of ``gdf``'s geometry with only the pre-escaped ``tip``/``popup`` properties."""
    data = {"tip": tips, "style": [style(i) for i in range(len(gdf))]}
    if popups is not None:
        data["popup"] = popups
    clean = gpd.GeoDataFrame(data, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    folium.GeoJson(
        clean.__geo_interface__,
        style_function=lambda f: f["properties"]["style"],
        highlight_function=lambda f: {"weight": 3},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False) if popups else None,
    ).add_to(group)


def add_communities(
    m: folium.Map, gdf: gpd.GeoDataFrame, *, labels: bool = True
) -> folium.FeatureGroup:
    """Community boundaries with names (``name``; optional ``street``, ``squad``, ``code``)."""
    group = folium.FeatureGroup(name="社区边界", show=True)
    names = [_get(r, ("name", "community"), "") for _, r in gdf.iterrows()]
    popups = [popup_table([("街道", _get(r, ("street",), "—")), ("中队", _get(r, ("squad",), "—")),
                           ("编码", _get(r, ("code",), "—"))], title=n)
              for n, (_, r) in zip(names, gdf.iterrows(), strict=True)]
    style = {"color": "#555555", "weight": 1.5, "fillColor": "#888888", "fillOpacity": 0.04}
    _geojson_layer(gdf, [esc(n) for n in names], popups, lambda i: style, group)
    if labels:
        for name, geom in zip(names, gdf.geometry, strict=True):
            if not name or geom is None or geom.is_empty:
                continue
            p = geom.representative_point()
            folium.Marker(
                [p.y, p.x],
                icon=folium.DivIcon(html=f'<div class="xc-label">{esc(name)}</div>',
                                    icon_size=(0, 0), icon_anchor=(0, 0)),
            ).add_to(group)
    group.add_to(m)
    return group


def add_stations(m: folium.Map, gdf: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """Work stations (工作站): points with ``name`` and optional ``community``."""
    group = folium.FeatureGroup(name="工作站", show=True)
    for _, r in gdf.iterrows():
        p = r.geometry.representative_point()
        name = _get(r, ("name",), "工作站")
        folium.Marker(
            [p.y, p.x],
            icon=folium.DivIcon(html='<div class="xc-station">站</div>', icon_size=(18, 18),
                                icon_anchor=(9, 9)),
            tooltip=folium.Tooltip(esc(name)),
            popup=folium.Popup(popup_table([("社区", _get(r, ("community", "community_name")))],
                                           title=name), max_width=300),
        ).add_to(group)
    group.add_to(m)
    return group


def add_case_heat(m: folium.Map, gdf: gpd.GeoDataFrame, *, weight: str | None = None,
                  radius: int = 18) -> folium.FeatureGroup:
    """A heat map of case points (optionally weighted by column ``weight``)."""
    group = folium.FeatureGroup(name=f"案件热力（{len(gdf)} 件）", show=True)
    pts = gdf.geometry.representative_point()
    data: list[list[float]] = [[float(p.y), float(p.x)] for p in pts]
    if weight and weight in gdf.columns:
        w = pd.to_numeric(gdf[weight], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        data = [[*d, float(v)] for d, v in zip(data, w, strict=True)]
    if data:
        HeatMap(data, radius=radius, blur=15, min_opacity=0.3).add_to(group)
    group.add_to(m)
    return group


def significance_class(row: pd.Series) -> str:
    """``99%``/``95%``/``90%``/``不显著`` from ``gi_confidence``/``confidence`` (percent or
    fraction), ``p_value``, or a ``significance`` text such as ``hot_95``."""
    conf = _get(row, ("gi_confidence", "confidence"))
    if conf is not None and isinstance(conf, int | float | np.number):
        c = float(conf) * (100.0 if float(conf) <= 1.0 else 1.0)
        return next((f"{t}%" for t in (99, 95, 90) if c >= t - 1e-9), "不显著")
    p = _get(row, ("p_value", "gi_p"))
    if p is not None and isinstance(p, int | float | np.number):
        return next((f"{t}%" for t, a in ((99, .01), (95, .05), (90, .10)) if p <= a), "不显著")
    text = str(_get(row, ("significance", "gi_class"), ""))
    return next((f"{t}%" for t in (99, 95, 90) if str(t) in text and "cold" not in text),
                "不显著")


def trend_text(row: pd.Series) -> object:
    """Trend as Chinese text from ``trend``/``trend_zh``/``pattern_zh``/``pattern``."""
    value = _get(row, ("trend_zh", "pattern_zh", "trend", "pattern"))
    if isinstance(value, str):
        return _TREND_ZH.get(value.strip().lower(), value)
    return value


def add_hotspots(m: folium.Map, gdf: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """Hotspot polygons coloured by significance, popups with counts, peak hours and trend.

    Columns used (all optional but geometry): ``hotspot_id``, ``case_count``,
    ``category_name``/``dominant_category_name``/``category``, ``peak_hours``,
    ``gi_confidence``/``confidence``/``p_value``/``significance``,
    ``trend``/``trend_zh``/``pattern_zh``, ``community``.
    """
    group = folium.FeatureGroup(name="热点区域", show=True)
    classes = [significance_class(r) for _, r in gdf.iterrows()]
    tips, popups = [], []
    for (_, r), cls in zip(gdf.iterrows(), classes, strict=True):
        hid = _get(r, ("hotspot_id",), "")
        cat = _get(r, ("category_name", "dominant_category_name", "category"))
        n = fmt_value(_get(r, ("case_count",)))
        tips.append(esc(f"热点 {fmt_value(hid)} · {fmt_value(cat)} · {n} 件"))
        popups.append(popup_table([
            ("问题类型", cat), ("案件数", _get(r, ("case_count",))),
            ("高峰时段", _get(r, ("peak_hours",))), ("显著性", cls),
            ("趋势", trend_text(r)), ("社区", _get(r, ("community",))),
        ], title=f"热点 {fmt_value(hid)}"))

    def style(i: int) -> dict[str, Any]:
        colour = SIGNIFICANCE_COLOURS[classes[i]]
        return {"color": colour, "weight": 2, "fillColor": colour, "fillOpacity": 0.45}

    _geojson_layer(gdf, tips, popups, style, group)
    group.add_to(m)
    return group


def forecast_classes(scores: Sequence[float]) -> list[int]:
    """Quintile class 0–4 of each score (ties and constant scores handled)."""
    s = np.asarray(scores, dtype=float)
    if s.size == 0:
        return []
    finite = s[np.isfinite(s)]
    if finite.size == 0 or np.ptp(finite) == 0:
        return [4] * len(s)
    edges = np.quantile(finite, [0.2, 0.4, 0.6, 0.8])
    return [int(np.searchsorted(edges, v, side="left")) if np.isfinite(v) else 0 for v in s]


def add_forecast(m: folium.Map, gdf: gpd.GeoDataFrame, *, top: int | None = None,
                 show: bool = False) -> folium.FeatureGroup:
    """Forecast grid cells coloured by ``score`` quintile (``cell_id``, ``score``, ``rank``).

    ``top`` keeps only the ``top`` best-ranked cells.
    """
    data = gdf
    if top is not None and "rank" in gdf.columns:
        data = gdf[pd.to_numeric(gdf["rank"], errors="coerce") <= top]
    group = folium.FeatureGroup(name="预测网格", show=show)
    scores = pd.to_numeric(data["score"], errors="coerce") if "score" in data.columns else \
        pd.Series(np.zeros(len(data)), index=data.index)
    classes = forecast_classes(scores.to_numpy(dtype=float))
    tips = [esc(f"预测第 {fmt_value(_get(r, ('rank',)))} 名 · 得分 {fmt_value(_get(r, ('score',)))}")
            for _, r in data.iterrows()]

    def style(i: int) -> dict[str, Any]:
        colour = FORECAST_COLOURS[classes[i]]
        return {"color": colour, "weight": 0.5, "fillColor": colour, "fillOpacity": 0.5}

    _geojson_layer(data, tips, None, style, group)
    group.add_to(m)
    return group


def team_colours(teams: Iterable[object]) -> dict[str, str]:
    """A colour per team id, in order of first appearance."""
    out: dict[str, str] = {}
    for t in teams:
        key = fmt_value(t)
        if key not in out:
            out[key] = TEAM_COLOURS[len(out) % len(TEAM_COLOURS)]
    return out


def _stop_marker(r: pd.Series, colour: str, team_label: str) -> folium.Marker:
    seq = _get(r, ("seq",), "")
    kind = str(_get(r, ("kind",), ""))
    border = KIND_COLOURS.get(kind, "#ffffff")
    p = r.geometry.representative_point()
    rows = [("队组", team_label), ("类型", kind or None),
            ("到达", _get(r, ("arrive", "arrive_time", "window"))),
            ("社区", _get(r, ("community",))), ("地址", _get(r, ("address",))),
            ("事项", _get(r, ("what", "description", "name"))),
            ("问题类型", _get(r, ("category_name", "category")))]
    label = esc(seq)
    return folium.Marker(
        [p.y, p.x],
        icon=folium.DivIcon(
            html=f'<div class="xc-stop" style="background:{colour};border-color:{border}">'
                 f"{label}</div>", icon_size=(22, 22), icon_anchor=(11, 11)),
        tooltip=folium.Tooltip(esc(f"{team_label} 第 {fmt_value(seq)} 站")),
        popup=folium.Popup(popup_table([(k, v) for k, v in rows if v is not None],
                                       title=f"第 {fmt_value(seq)} 站"), max_width=320),
    )


def _team_ids(gdf: gpd.GeoDataFrame | None) -> list[str]:
    if gdf is None:
        return []
    if "team" not in gdf.columns:
        return ["路线"] * len(gdf)
    return [fmt_value(t) for t in gdf["team"]]


def _route_tip(label: str, r: pd.Series) -> str:
    parts = [label]
    dist, dur = _get(r, ("distance_m",)), _get(r, ("duration_s",))
    if isinstance(dist, int | float | np.number):
        parts.append(f"路程 {format_distance(float(dist))}")
    if isinstance(dur, int | float | np.number):
        parts.append(f"用时 {format_duration(float(dur))}")
    return " · ".join(parts)


def add_routes(m: folium.Map, routes: gpd.GeoDataFrame | None, stops: gpd.GeoDataFrame | None,
               ) -> dict[str, str]:
    """Each team's route (LineString) and numbered stops, one layer per team.

    ``routes`` columns: ``team`` (id), optional ``team_name``, ``distance_m``, ``duration_s``.
    ``stops`` columns: ``team``, ``seq``; optional ``team_name``, ``kind``, ``arrive``,
    ``community``, ``address``, ``what``, ``category_name``. Teams are shown by name (a team id
    only when no name is given). Returns each team's label and colour.
    """
    r_teams, s_teams = _team_ids(routes), _team_ids(stops)
    colours = team_colours([*r_teams, *s_teams])
    names: dict[str, str] = dict.fromkeys(colours, "")
    for frame, ids in ((stops, s_teams), (routes, r_teams)):  # a route's name wins
        if frame is not None and "team_name" in frame.columns:
            for t, n in zip(ids, frame["team_name"], strict=True):
                if isinstance(n, str) and n.strip():
                    names[t] = n
    groups = {t: folium.FeatureGroup(name=esc(f"路线：{names[t] or t}"), show=True) for t in colours}
    if routes is not None:
        for t, (_, r) in zip(r_teams, routes.iterrows(), strict=True):
            label = names[t] or t
            tip = _route_tip(label, r)
            folium.GeoJson(
                gpd.GeoSeries([r.geometry], crs=routes.crs).__geo_interface__,
                style_function=lambda f, c=colours[t]: {"color": c, "weight": 4, "opacity": 0.85},
                tooltip=folium.Tooltip(esc(tip)),
            ).add_to(groups[t])
    if stops is not None:
        order = stops.assign(_team=s_teams)
        if "seq" in order.columns:
            order = order.sort_values("seq", kind="stable")
        for _, r in order.iterrows():
            t = r["_team"]
            _stop_marker(r, colours[t], names[t] or t).add_to(groups[t])
    for g in groups.values():
        g.add_to(m)
    return {names[t] or t: c for t, c in colours.items()}


def add_relocation(m: folium.Map, points: gpd.GeoDataFrame,
                   catchments: gpd.GeoDataFrame | None = None, *,
                   radius_m: float = 500.0) -> folium.FeatureGroup:
    """Relocation points (疏导点) with their walking catchments.

    ``points`` columns: optional ``name``/``site_id``, ``covered_weight``, ``demand``,
    ``capacity``, ``radius_m``, ``note``. ``catchments``: polygons with ``site_id`` (or
    ``name``); without them a circle of ``radius_m`` (or the point's ``radius_m``) is drawn.
    """
    group = folium.FeatureGroup(name="疏导点及步行覆盖范围", show=True)
    colour = KIND_COLOURS["疏导点"]
    if catchments is not None and len(catchments):
        tips = [esc(f"疏导点 {fmt_value(_get(r, ('site_id', 'name'), ''))} 步行覆盖范围")
                for _, r in catchments.iterrows()]
        _geojson_layer(catchments, tips, None, lambda i: {
            "color": colour, "weight": 1.5, "dashArray": "5 4", "fillColor": colour,
            "fillOpacity": 0.12}, group)
    for _, r in points.iterrows():
        p = r.geometry.representative_point()
        name = _get(r, ("name", "site_id"), "疏导点")
        rad = _get(r, ("radius_m",), radius_m)
        if catchments is None or not len(catchments):
            folium.Circle([p.y, p.x], radius=float(rad), color=colour, weight=1.5,
                          fill=True, fill_opacity=0.12, dash_array="5 4").add_to(group)
        rows = [("编号", _get(r, ("site_id",))), ("覆盖需求", _get(r, ("covered_weight", "demand"))),
                ("容量", _get(r, ("capacity",))), ("步行半径（米）", rad),
                ("说明", _get(r, ("note",)))]
        folium.Marker(
            [p.y, p.x],
            icon=folium.DivIcon(html='<div class="xc-reloc">疏</div>', icon_size=(20, 20),
                                icon_anchor=(10, 10)),
            tooltip=folium.Tooltip(esc(name)),
            popup=folium.Popup(popup_table([(k, v) for k, v in rows if v is not None],
                                           title=name), max_width=300),
        ).add_to(group)
    group.add_to(m)
    return group
