"""Folium maps per squad and for the district: boundaries, stations, cases, hotspots, forecast,
routes and relocation points, with a legend, a layer control and a choice of base map.

Inputs are GeoDataFrames in any CRS (converted to EPSG:4326; a missing CRS raises
:class:`~geo.errors.CRSError`); every layer is optional except the communities. Column
expectations (all optional except geometry):

* ``communities``: Polygon; ``name``, ``street``, ``squad``, ``code``.
* ``stations``: Point; ``name``, ``community``.
* ``cases``: Point (heat map); weight column via ``case_weight``.
* ``hotspots``: Polygon; ``hotspot_id``, ``case_count``, ``category_name`` (or
  ``dominant_category_name``/``category``), ``peak_hours``, ``gi_confidence`` (99/95/90/0; or
  ``confidence``, ``p_value``, ``significance``), ``trend`` (or ``trend_zh``/``pattern_zh``).
* ``forecast``: Polygon cells; ``cell_id``, ``score``, ``rank``.
* ``routes``: LineString; ``team``, ``team_name``, ``distance_m``, ``duration_s``.
* ``stops``: Point; ``team``, ``seq``, ``kind``, ``arrive``, ``community``, ``address``, ``what``.
* ``relocation``: Point; ``site_id``/``name``, ``covered_weight``, ``capacity``, ``radius_m``;
  ``catchments``: Polygon with ``site_id``.

Stacked markers spread when clicked (:class:`geo.maps.legend.Spiderfier`), so each stop opens
its own popup; the legend lists every layer drawn (:func:`geo.maps.legend.legend_html`).

Base maps: ``osm`` (default), ``tianditu`` (needs a key, ``tk``), ``amap``, whose tiles are in
GCJ-02 — for it every overlay is shifted with :func:`geo.crs.wgs84_to_gcj02` —, ``local`` (an XYZ
tile URL template served inside the office network, ``tile_url``) and ``none`` (a blank
background: only the overlays, no request for tiles at all). With ``static_prefix`` the page loads
Leaflet & co. from the service (:mod:`geo.maps.assets`), so ``local`` and ``none`` maps work
without internet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal
from urllib.parse import quote

import folium
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from branca.element import MacroElement
from jinja2 import Template

from geo.crs import require_crs, wgs84_to_gcj02
from geo.errors import InputError
from geo.maps.assets import localize_assets
from geo.maps.layers import (
    add_case_heat,
    add_communities,
    add_forecast,
    add_hotspots,
    add_relocation,
    add_routes,
    add_stations,
    esc,
)
from geo.maps.legend import MAP_CSS, legend_html, spiderfier
from geo.maps.siting import add_demand

Basemap = Literal["osm", "tianditu", "amap", "local", "none"]
BASEMAPS: tuple[str, ...] = ("osm", "tianditu", "amap", "local", "none")
"""Every base-map choice :func:`add_basemap` knows."""
LOCAL_ATTRIBUTION = "本地瓦片服务"
_BLANK_CSS = "<style>.leaflet-container{background:#f2efe9}</style>"
_TDT = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
        "&TILECOL={x}&tk=")
_AMAP = ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
         "&x={x}&y={y}&z={z}")
TEMPLATE_TAGS: tuple[str, ...] = ("{{", "{%", "{#")
"""Jinja2 tag openers; folium compiles macro output again, so none may come from data."""


class _Html(MacroElement):
    """Fixed HTML (already escaped) added to the page header or body.

    folium/branca compile the rendered ``head``/``body`` again as a Jinja2 template, so both must
    be built from constant markup and :func:`~geo.maps.layers.esc`-escaped text only; a Jinja2
    tag opener in either raises :class:`ValueError` (a programming error, never user input).
    """

    _template = Template(
        "{% macro header(this, kwargs) %}{{ this.head }}{% endmacro %}"
        "{% macro html(this, kwargs) %}{{ this.body }}{% endmacro %}"
    )

    def __init__(self, *, head: str = "", body: str = "") -> None:
        if any(tag in part for part in (head, body) for tag in TEMPLATE_TAGS):
            raise ValueError("_Html content must be escaped with geo.maps.layers.esc")
        super().__init__()
        self._name = "XunchaHtml"
        self.head, self.body = head, body


class _PhoneLayout(MacroElement):
    """On a small screen (a phone, or a map embedded in a page) start with the layer control and
    the legend folded, so the map itself stays visible; both open with a tap."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "if (window.matchMedia('(max-width: 760px), (max-height: 520px)').matches) {"
        " {{ this.control }}.options.collapsed = true;"
        " {{ this.control }}.remove(); {{ this.control }}.addTo({{ this._parent.get_name() }});"
        " document.querySelectorAll('details.xc-legend').forEach(function (d) { d.open = false; });"
        "}"
        "{% endmacro %}"
    )

    def __init__(self, control: folium.LayerControl) -> None:
        super().__init__()
        self._name = "XunchaPhoneLayout"
        self.control = control.get_name()


class _MetricScale(MacroElement):
    """A metric-only scale bar (Leaflet's default also shows feet and miles)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "L.control.scale({imperial: false, maxWidth: 150}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )


def shift_to_gcj02(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` (EPSG:4326) with every coordinate moved to GCJ-02 (for Amap tiles)."""

    def shift(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    out = gdf.copy()
    out.geometry = shapely.transform(gdf.geometry.to_numpy(), shift)
    return out


def prepare(gdf: gpd.GeoDataFrame | gpd.GeoSeries | None, *, what: str,
            gcj02: bool = False) -> gpd.GeoDataFrame | None:
    """``gdf`` in EPSG:4326 without empty geometries (shifted to GCJ-02 if asked); None stays None.

    Raises
    ------
    CRSError
        If ``gdf`` has no CRS.
    InputError
        If it is not a GeoDataFrame or GeoSeries.
    """
    if gdf is None:
        return None
    if isinstance(gdf, gpd.GeoSeries):
        gdf = gdf.to_frame("geometry")
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"地图图层「{what}」应为 GeoDataFrame，收到 {type(gdf).__name__}。")
    require_crs(gdf, what=f"地图图层「{what}」")
    out = gdf.to_crs("EPSG:4326")
    out = out[out.geometry.notna() & ~out.geometry.is_empty]
    return shift_to_gcj02(out) if gcj02 else out


def check_tile_url(tile_url: str | None) -> str:
    """``tile_url`` if it is a usable XYZ template (``http(s)://…`` or ``/…`` with ``{z}``,
    ``{x}`` and ``{y}``, no quotes, spaces, angle brackets or Jinja2 tags such as ``{{``);
    :class:`InputError` otherwise."""
    url = (tile_url or "").strip()
    if not url:
        raise InputError("底图 local 需要瓦片地址模板（tile_url），"
                         "如 http://tiles.example.local/{z}/{x}/{y}.png。")
    missing = [k for k in ("{z}", "{x}", "{y}") if k not in url]
    if missing:
        raise InputError(f"瓦片地址模板「{url[:200]}」缺少 {'、'.join(missing)}；"
                         "应形如 http://主机/{z}/{x}/{y}.png。")
    if not url.startswith(("http://", "https://", "/")) or url.startswith("//"):
        raise InputError(f"瓦片地址模板「{url[:200]}」应以 http://、https:// 或 / 开头。")
    if any(c in url for c in "\"'<> \t\r\n`\\"):
        raise InputError(f"瓦片地址模板「{url[:200]}」含有引号、空白或尖括号等不允许的字符。")
    if any(tag in url for tag in TEMPLATE_TAGS):
        raise InputError(f"瓦片地址模板「{url[:200]}」含有 {{{{、{{% 或 {{# 等模板标记；"
                         "占位符只能写成单层花括号的 {z}、{x}、{y}。")
    return url


def add_basemap(m: folium.Map, basemap: str = "osm", *, tianditu_key: str | None = None,
                tile_url: str | None = None, tile_attribution: str | None = None) -> None:
    """Add the base tiles: OpenStreetMap, 天地图 (vector + imagery, with labels), 高德 (GCJ-02),
    a local XYZ tile service, or none at all.

    Parameters
    ----------
    m : folium.Map
        The map (changed in place).
    basemap : {"osm", "tianditu", "amap", "local", "none"}
        Which tiles. ``none`` adds nothing: the map shows the overlays on a blank background.
    tianditu_key : str, optional
        The Tianditu ``tk`` (required for ``tianditu``).
    tile_url : str, optional
        XYZ URL template of the ``local`` tiles, e.g. ``http://gis.bureau.local/tiles/{z}/{x}/{y}.png``
        (see :func:`check_tile_url`).
    tile_attribution : str, optional
        Attribution text of the ``local`` tiles (plain text; escaped). Default
        :data:`LOCAL_ATTRIBUTION`.

    Raises
    ------
    InputError
        For an unknown base map, Tianditu without a key, or ``local`` without a valid template.
    """
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", max_zoom=19).add_to(m)
    elif basemap == "tianditu":
        if not tianditu_key:
            raise InputError("使用天地图底图需要天地图密钥（tk）；请在配置中填写 tianditu_key，"
                             "或改用 basemap='osm'。")
        tk = quote(tianditu_key.strip(), safe="")
        attr = "&copy; 天地图 国家地理信息公共服务平台"
        for layer, name in (("vec", "天地图矢量"), ("img", "天地图影像")):
            folium.TileLayer(_TDT.replace("{layer}", layer) + tk, attr=attr, name=name,
                             subdomains="01234567", max_zoom=18, show=layer == "vec").add_to(m)
        folium.TileLayer(_TDT.replace("{layer}", "cva") + tk, attr=attr, name="天地图注记",
                         subdomains="01234567", max_zoom=18, overlay=True).add_to(m)
    elif basemap == "amap":
        folium.TileLayer(_AMAP, attr="&copy; 高德地图", name="高德地图", subdomains="1234",
                         max_zoom=18).add_to(m)
    elif basemap == "local":
        url = check_tile_url(tile_url)
        attr = esc((tile_attribution or "").strip() or LOCAL_ATTRIBUTION)
        folium.TileLayer(url, attr=attr, name="本地底图", max_zoom=19).add_to(m)
    elif basemap == "none":
        m.options.setdefault("maxZoom", 19)  # without tiles nothing caps the zoom
        m.get_root().add_child(_Html(head=_BLANK_CSS))
    else:
        raise InputError(f"未知底图「{basemap}」；可选 {'、'.join(BASEMAPS)}。")


def _bounds(layers: list[gpd.GeoDataFrame | None]) -> tuple[float, float, float, float] | None:
    frames = [g for g in layers if g is not None and len(g)]
    if not frames:
        return None
    b = np.array([g.total_bounds for g in frames])
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def squad_map(
    *,
    communities: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None = None,
    cases: gpd.GeoDataFrame | None = None,
    hotspots: gpd.GeoDataFrame | None = None,
    forecast: gpd.GeoDataFrame | None = None,
    routes: gpd.GeoDataFrame | None = None,
    stops: gpd.GeoDataFrame | None = None,
    relocation: gpd.GeoDataFrame | None = None,
    catchments: gpd.GeoDataFrame | None = None,
    demand: gpd.GeoDataFrame | None = None,
    basemap: Basemap = "osm",
    tianditu_key: str | None = None,
    tile_url: str | None = None,
    tile_attribution: str | None = None,
    static_prefix: str | None = None,
    title: str = "巡查地图",
    data_label: str = "",
    case_weight: str | None = None,
    forecast_top: int | None = None,
    labels: bool = True,
    extra_layers: Sequence[folium.FeatureGroup] = (),
    site_sets: dict[str, str] | None = None,
) -> folium.Map:
    """Build the interactive map of one squad (or of the district: pass all communities).

    Parameters
    ----------
    communities : GeoDataFrame
        Community polygons (any CRS); the map is fitted to them and the other layers.
    stations, cases, hotspots, forecast : GeoDataFrame, optional
        Further layers; see the module docstring for the columns each one uses.
    routes, stops, relocation, catchments : GeoDataFrame, optional
        Likewise.
    demand : GeoDataFrame, optional
        Stall demand points (``weight``, ``case_count``) drawn as circles sized by weight
        (:func:`geo.maps.siting.add_demand`), e.g. a siting scenario's demand.
    basemap : {"osm", "tianditu", "amap", "local", "none"}
        Base tiles (:func:`add_basemap`). ``amap`` shifts every overlay to GCJ-02; ``none`` and
        ``local`` need no internet.
    tianditu_key : str, optional
        The Tianditu ``tk`` (required for ``tianditu``).
    tile_url, tile_attribution : str, optional
        The XYZ template and attribution of the ``local`` tiles.
    static_prefix : str, optional
        Serve Leaflet, jQuery, Bootstrap… from ``{static_prefix}/…`` instead of CDNs
        (:func:`geo.maps.assets.localize_assets`), e.g. ``"/static/vendor"``.
    title, data_label : str
        Shown at the top of the map; ``data_label`` (e.g. ``模拟数据``) in red.
    case_weight : str, optional
        Column of ``cases`` weighting the heat map.
    forecast_top : int, optional
        Draw only the ``forecast_top`` best-ranked forecast cells.
    labels : bool
        Write community names on the map.
    extra_layers : sequence of folium.FeatureGroup
        Further layers, already escaped (e.g. :func:`geo.maps.siting.siting_layer` groups);
        they appear in the layer control.
    site_sets : dict of str to str, optional
        Legend entries ``scenario name → colour`` for those layers.

    Returns
    -------
    folium.Map
        Save with ``m.save(path)`` or embed with ``m.get_root().render()``.

    Raises
    ------
    CRSError
        If a layer has no CRS.
    InputError
        For an unknown base map, Tianditu without a key or ``local`` without a tile template.
    """
    gcj = basemap == "amap"
    comm = prepare(communities, what="社区边界", gcj02=gcj)
    layers = {name: prepare(g, what=name, gcj02=gcj) for name, g in (
        ("工作站", stations), ("案件", cases), ("热点", hotspots), ("预测网格", forecast),
        ("路线", routes), ("停靠点", stops), ("疏导点", relocation), ("步行覆盖范围", catchments),
        ("摊贩需求", demand))}
    bounds = _bounds([comm, layers["路线"], layers["停靠点"], layers["热点"], layers["疏导点"]])
    centre = [30.92, 113.92] if bounds is None else [(bounds[1] + bounds[3]) / 2,
                                                     (bounds[0] + bounds[2]) / 2]
    m = folium.Map(location=centre, zoom_start=14, tiles=None)
    m.add_child(_MetricScale())
    add_basemap(m, basemap, tianditu_key=tianditu_key, tile_url=tile_url,
                tile_attribution=tile_attribution)
    if comm is not None and len(comm):
        add_communities(m, comm, labels=labels)
    if layers["预测网格"] is not None:
        add_forecast(m, layers["预测网格"], top=forecast_top)
    if layers["案件"] is not None:
        add_case_heat(m, layers["案件"], weight=case_weight)
    if layers["热点"] is not None:
        add_hotspots(m, layers["热点"])
    if layers["摊贩需求"] is not None:
        add_demand(m, layers["摊贩需求"])
    if layers["疏导点"] is not None:
        add_relocation(m, layers["疏导点"], layers["步行覆盖范围"])
    teams: dict[str, str] = {}
    if layers["路线"] is not None or layers["停靠点"] is not None:
        teams = add_routes(m, layers["路线"], layers["停靠点"])
    if layers["工作站"] is not None:
        add_stations(m, layers["工作站"])
    legend = legend_html(
        hotspots=layers["热点"] is not None, forecast=layers["预测网格"] is not None, teams=teams,
        stops=layers["停靠点"] is not None, stations=layers["工作站"] is not None,
        relocation=layers["疏导点"] is not None, demand=layers["摊贩需求"] is not None,
        site_sets=site_sets)
    label = f'<div class="xc-label-data">{esc(data_label)}</div>' if data_label.strip() else ""
    body = f'<div class="xc-box xc-title">{esc(title)}{label}</div>{legend}'
    m.get_root().add_child(_Html(head=MAP_CSS, body=body))
    for extra in extra_layers:
        extra.add_to(m)
    spiderfier().add_to(m)
    control = folium.LayerControl(collapsed=False)
    control.add_to(m)
    m.add_child(_PhoneLayout(control))
    if bounds is not None:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    if static_prefix:
        localize_assets(m, static_prefix)
    return m


def district_map(*, communities: gpd.GeoDataFrame, title: str = "全区巡查总览",
                 **layers: object) -> folium.Map:
    """The district map: :func:`squad_map` over all communities (same options)."""
    return squad_map(communities=communities, title=title, **layers)  # type: ignore[arg-type]
