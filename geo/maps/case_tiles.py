"""The case layer of a map drawn from Mapbox Vector Tiles (Leaflet.VectorGrid), for many cases.

A heat map carries every case point inside the page; past a few thousand cases that page gets
heavy and slow. :class:`CaseTileLayer` instead draws the cases from an XYZ vector-tile URL
(``…/{z}/{x}/{y}.mvt``, layer ``cases``: one point per grid cell with ``n`` cases and, for a
single case, ``case_id``, ``status``, ``category_name`` and ``reported_at``) with
`Leaflet.VectorGrid <https://github.com/Leaflet/Leaflet.VectorGrid>`_ on canvas tiles. Points
are red while open, grey once closed (:data:`geo.labels.CLOSED_STATUSES`), orange and larger
where several cases share a point; a click opens a popup written with ``textContent`` only (no
value from a tile is ever parsed as HTML). The script is served locally like Leaflet itself
(:mod:`geo.maps.assets`, ``leaflet_vectorgrid``).
"""

from __future__ import annotations

import json

import folium
from folium.elements import JSCSSMixin
from jinja2 import Template

from geo.labels import CLOSED_STATUSES

VECTORGRID_JS = ("https://cdn.jsdelivr.net/npm/leaflet.vectorgrid@1.3.0/dist/"
                 "Leaflet.VectorGrid.bundled.min.js")
_TAGS = ("{{", "{%", "{#")


class CaseTileLayer(JSCSSMixin, folium.FeatureGroup):
    """A map layer of the cases read from vector tiles.

    Parameters
    ----------
    url : str
        XYZ template of the tiles, e.g. ``/tiles/cases/{z}/{x}/{y}.mvt?squad=shuyuan``
        (same origin: the page's cookies are sent).
    count : int
        How many cases the layer holds (shown in the layer control).
    show : bool
        Whether the layer is on when the page opens.

    Raises
    ------
    ValueError
        If ``url`` lacks ``{z}``, ``{x}`` or ``{y}`` or holds a Jinja2 tag opener (folium
        compiles page parts again; a programming error, never user input).
    """

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = (function () {"
        " var closed = {{ this.closed }};"
        " function style(p) {"
        "  var many = p.n > 1, shut = !many && closed.indexOf(p.status) >= 0;"
        "  return {radius: many ? 6 : 4, weight: 1, color: '#ffffff', fill: true,"
        "          fillOpacity: 0.85,"
        "          fillColor: many ? '#ef6c00' : (shut ? '#9e9e9e' : '#c62828')};"
        " }"
        " var layer = L.vectorGrid.protobuf({{ this.url }}, {"
        "  rendererFactory: L.canvas.tile, interactive: true, maxNativeZoom: 22, maxZoom: 22,"
        "  fetchOptions: {credentials: 'same-origin'},"
        "  vectorTileLayerStyles: {cases: style}});"
        " layer.on('click', function (e) {"
        "  var p = (e.layer && e.layer.properties) || {}, box = document.createElement('div');"
        "  function line(text, bold) {"
        "   var el = document.createElement(bold ? 'b' : 'div'); el.textContent = text;"
        "   box.appendChild(el); if (bold) { box.appendChild(document.createElement('br')); }"
        "  }"
        "  if (p.n > 1) { line('此处 ' + p.n + ' 件案件（放大查看）', true); }"
        "  else {"
        "   line(String(p.case_id || ''), true);"
        "   line(String(p.category_name || '') + ' · ' + String(p.status || ''));"
        "   if (p.reported_at) { line('上报：' + new Date(p.reported_at).toLocaleString('zh-CN')); }"
        "  }"
        "  L.popup().setLatLng(e.latlng).setContent(box).openOn({{ this._parent.get_name() }});"
        " });"
        " return layer;"
        "})();"
        "{% endmacro %}"
    )

    default_js = [("leaflet_vectorgrid", VECTORGRID_JS)]  # noqa: RUF012 (folium reads it)

    def __init__(self, url: str, *, count: int, show: bool = True) -> None:
        missing = [k for k in ("{z}", "{x}", "{y}") if k not in url]
        if missing or any(tag in url for tag in _TAGS):
            raise ValueError(f"vector tile URL needs {{z}}/{{x}}/{{y}} and no template tags: {url!r}")
        super().__init__(name=f"案件（矢量瓦片，{count} 件）", show=show)
        self._name = "CaseTileLayer"
        # json.dumps with the HTML-sensitive characters escaped: safe inside <script>
        self.url = _script_json(url)
        self.closed = _script_json(sorted(CLOSED_STATUSES))
        self.count = count


def _script_json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
