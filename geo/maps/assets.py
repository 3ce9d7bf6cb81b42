"""The JS/CSS assets of folium maps, and serving them locally (office networks, no internet).

folium's pages load Leaflet, jQuery, Bootstrap, Font Awesome and plugins (heat map, marker
cluster, OverlappingMarkerSpiderfier) from public CDNs.
:data:`VENDOR_ASSETS` lists, for every such URL, the npm package (or the file shipped inside the
folium package) that provides the same file and the path it gets under the service's
``static/vendor/`` directory; ``scripts/vendor_leaflet.sh`` fetches them with ``npm pack``.
:func:`localize_assets` rewrites a built map so its pages load ``{static_prefix}/<local path>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import folium
from branca.element import Element

#: Folium resources no npm package supplies; dropped when assets are served locally (the maps
#: built here use neither Glyphicons nor rotated Awesome Markers).
DROPPED_WHEN_LOCAL: frozenset[str] = frozenset({"glyphicons_css", "awesome_rotate_css"})


@dataclass(frozen=True)
class VendorAsset:
    """One file (or folder) a map page needs, with where it comes from and where it goes.

    Attributes
    ----------
    name : str
        folium's resource name (``"leaflet"``, ``"leaflet_css"``, …); ``""`` for support files.
    cdn_url : str
        The URL folium uses by default (``""`` for support files such as images and fonts).
    source : str
        ``"npm:<package>@<version>"`` or ``"folium"`` (a file inside the installed folium).
    src_path : str
        Path inside the npm tarball (``package/dist/leaflet.js``) or the folium package; a
        trailing ``/`` copies a whole folder.
    local : str
        Path under ``static/vendor/``; a trailing ``/`` marks a folder.
    """

    name: str
    cdn_url: str
    source: str
    src_path: str
    local: str


_JSD = "https://cdn.jsdelivr.net"
_CF = "https://cdnjs.cloudflare.com/ajax/libs"
_LEAFLET = "npm:leaflet@1.9.3"
_AWESOME = "npm:leaflet.awesome-markers@2.0.4"  # folium's CDN pins 2.0.2, not on npm
_CLUSTER = "npm:leaflet.markercluster@1.1.0"
_FA = "npm:@fortawesome/fontawesome-free@6.2.0"
_BS = "npm:bootstrap@5.2.2"
_OMS = "npm:overlapping-marker-spiderfier-leaflet@0.2.7"  # folium's CDN pins 0.2.6 (same code)
_VG = "npm:leaflet.vectorgrid@1.3.0"  # the case layer as vector tiles (geo.maps.case_tiles)

VENDOR_ASSETS: tuple[VendorAsset, ...] = (
    VendorAsset("leaflet", f"{_JSD}/npm/leaflet@1.9.3/dist/leaflet.js", _LEAFLET,
                "package/dist/leaflet.js", "leaflet/leaflet.js"),
    VendorAsset("leaflet_css", f"{_JSD}/npm/leaflet@1.9.3/dist/leaflet.css", _LEAFLET,
                "package/dist/leaflet.css", "leaflet/leaflet.css"),
    VendorAsset("", "", _LEAFLET, "package/dist/images/", "leaflet/images/"),
    VendorAsset("", "", _LEAFLET, "package/LICENSE", "leaflet/LICENSE"),
    VendorAsset("jquery", "https://code.jquery.com/jquery-3.7.1.min.js", "npm:jquery@3.7.1",
                "package/dist/jquery.min.js", "jquery/jquery.min.js"),
    VendorAsset("", "", "npm:jquery@3.7.1", "package/LICENSE.txt", "jquery/LICENSE.txt"),
    VendorAsset("bootstrap", f"{_JSD}/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js", _BS,
                "package/dist/js/bootstrap.bundle.min.js", "bootstrap/bootstrap.bundle.min.js"),
    VendorAsset("bootstrap_css", f"{_JSD}/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css", _BS,
                "package/dist/css/bootstrap.min.css", "bootstrap/bootstrap.min.css"),
    VendorAsset("", "", _BS, "package/LICENSE", "bootstrap/LICENSE"),
    VendorAsset("awesome_markers",
                f"{_CF}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js", _AWESOME,
                "package/dist/leaflet.awesome-markers.js",
                "awesome-markers/leaflet.awesome-markers.js"),
    VendorAsset("awesome_markers_css",
                f"{_CF}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css", _AWESOME,
                "package/dist/leaflet.awesome-markers.css",
                "awesome-markers/leaflet.awesome-markers.css"),
    VendorAsset("", "", _AWESOME, "package/dist/images/", "awesome-markers/images/"),
    VendorAsset("", "", _AWESOME, "package/LICENSE", "awesome-markers/LICENSE"),
    VendorAsset("awesome_markers_font_css",
                f"{_JSD}/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css", _FA,
                "package/css/all.min.css", "fontawesome/css/all.min.css"),
    VendorAsset("", "", _FA, "package/webfonts/*.woff2", "fontawesome/webfonts/"),
    VendorAsset("", "", _FA, "package/LICENSE.txt", "fontawesome/LICENSE.txt"),
    VendorAsset("leaflet-heat.js",
                f"{_JSD}/gh/python-visualization/folium@main/folium/templates/leaflet_heat.min.js",
                "folium", "templates/leaflet_heat.min.js", "leaflet-heat/leaflet_heat.min.js"),
    VendorAsset("", "", "npm:leaflet.heat@0.2.0", "package/LICENSE", "leaflet-heat/LICENSE"),
    VendorAsset("markerclusterjs", f"{_CF}/leaflet.markercluster/1.1.0/leaflet.markercluster.js",
                _CLUSTER, "package/dist/leaflet.markercluster.js",
                "markercluster/leaflet.markercluster.js"),
    VendorAsset("markerclustercss", f"{_CF}/leaflet.markercluster/1.1.0/MarkerCluster.css",
                _CLUSTER, "package/dist/MarkerCluster.css", "markercluster/MarkerCluster.css"),
    VendorAsset("markerclusterdefaultcss",
                f"{_CF}/leaflet.markercluster/1.1.0/MarkerCluster.Default.css", _CLUSTER,
                "package/dist/MarkerCluster.Default.css",
                "markercluster/MarkerCluster.Default.css"),
    VendorAsset("", "", _CLUSTER, "package/MIT-LICENCE.txt", "markercluster/MIT-LICENCE.txt"),
    VendorAsset("overlappingmarkerjs",
                f"{_CF}/OverlappingMarkerSpiderfier-Leaflet/0.2.6/oms.min.js", _OMS,
                "package/dist/oms.js", "oms/oms.min.js"),
    VendorAsset("", "", _OMS, "package/README.md", "oms/README.md"),  # holds the MIT licence
    VendorAsset("leaflet_vectorgrid",
                f"{_JSD}/npm/leaflet.vectorgrid@1.3.0/dist/Leaflet.VectorGrid.bundled.min.js",
                _VG, "package/dist/Leaflet.VectorGrid.bundled.min.js",
                "vectorgrid/Leaflet.VectorGrid.bundled.min.js"),
    VendorAsset("", "", _VG, "package/README.md", "vectorgrid/README.md"),  # Beerware licence
    # the bundle includes pbf and vector-tile (BSD-3-Clause): their licences go alongside
    VendorAsset("", "", "npm:pbf@3.2.1", "package/LICENSE", "vectorgrid/LICENSE-pbf"),
    VendorAsset("", "", "npm:vector-tile@1.3.0", "package/LICENSE.txt",
                "vectorgrid/LICENSE-vector-tile.txt"),
)

_BY_URL: dict[str, VendorAsset] = {a.cdn_url: a for a in VENDOR_ASSETS if a.cdn_url}
_BY_NAME: dict[str, VendorAsset] = {a.name: a for a in VENDOR_ASSETS if a.name}


def asset_urls() -> list[tuple[str, str]]:
    """``(cdn_url, local path under static/vendor/)`` for every resource folium maps reference."""
    return [(a.cdn_url, a.local) for a in VENDOR_ASSETS if a.cdn_url]


def vendor_manifest() -> str:
    """The fetch list for ``scripts/vendor_leaflet.sh``: ``source<TAB>src_path<TAB>local``."""
    return "\n".join(f"{a.source}\t{a.src_path}\t{a.local}" for a in VENDOR_ASSETS) + "\n"


def local_url(name: str, url: str, static_prefix: str) -> str | None:
    """The local URL replacing folium resource ``name``/``url``; None to drop it.

    Unknown resources keep their URL (they need internet); see :data:`VENDOR_ASSETS`.
    """
    asset = _BY_URL.get(url) or _BY_NAME.get(name)
    if asset is not None:
        return f"{static_prefix.rstrip('/')}/{asset.local}"
    if name in DROPPED_WHEN_LOCAL:
        return None
    return url


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def _rewrite(links: list[tuple[str, str]], static_prefix: str) -> list[tuple[str, str]]:
    out = []
    for name, url in links:
        new = local_url(name, url, static_prefix)
        if new is not None:
            out.append((name, new))
    return out


def localize_assets(m: folium.Map, static_prefix: str) -> folium.Map:
    """Point every JS/CSS link of ``m`` and its children at ``{static_prefix}/<local path>``.

    Call it after every layer and plugin has been added. Lists are replaced per element
    (folium's class-level defaults are left untouched).

    Parameters
    ----------
    m : folium.Map
        The map; changed in place and returned.
    static_prefix : str
        URL prefix where ``static/vendor/`` is served, e.g. ``"/static/vendor"``.
    """
    for element in _walk(m):
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if links:
                setattr(element, attr, _rewrite(list(links), static_prefix))
    return m
