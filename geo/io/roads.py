"""Read a road network (OpenStreetMap extract or GraphML) into a networkx graph.

The result feeds :class:`geo.travel.NetworkTravel`. Supported inputs:

* ``.osm.pbf`` / ``.pbf`` and ``.osm`` / ``.xml`` / ``.osm.xml`` — an OpenStreetMap extract, read
  by :func:`geo.io.osm.read_osm_network` with pyosmium (walkable ways only, every street both
  ways, the full way geometry kept: no corner node is dropped by simplification; the largest
  connected part).
* ``.graphml`` — a graph saved by :func:`osmnx.save_graphml`, read with :func:`osmnx.load_graphml`
  as saved.

Street centre lines (``.gpkg``, ``.shp``, ``.geojson``) are read by
:func:`geo.io.osm.read_osm_network` itself, not here.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from geo.errors import FileReadError
from geo.io.osm import read_osm_network

_OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".xml", ".osm.xml")


def read_road_graph(path: str | Path) -> nx.MultiDiGraph:
    """Read a road graph from an OSM extract or GraphML file.

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf`` / ``.osm`` / ``.osm.xml`` (OpenStreetMap) or ``.graphml``.

    Returns
    -------
    networkx.MultiDiGraph
        osmnx-style graph: nodes with ``x``/``y`` (lon/lat unless the GraphML was projected),
        edges with ``length`` in metres, ``graph.graph["crs"]`` set; OSM edges also carry their
        ``geometry``, ``highway``, ``oneway`` and ``reversed`` (see :mod:`geo.io.osm`).

    Raises
    ------
    FileReadError
        If the file is missing, of an unknown type, unreadable, or holds no roads.
    """
    p = Path(path)
    if not p.is_file():
        raise FileReadError(f"找不到道路网络文件：{p}。")
    name = p.name.lower()
    if name.endswith(_OSM_SUFFIXES):
        return read_osm_network(p)
    if not name.endswith(".graphml"):
        raise FileReadError(
            f"无法识别道路网络文件类型：{p.name}；支持 .osm、.osm.xml、.osm.pbf、.graphml。"
        )
    try:
        import osmnx

        graph = osmnx.load_graphml(p)
    except Exception as exc:  # osmnx / XML parser errors of many kinds
        raise FileReadError(f"无法读取道路网络文件 {p.name}：{exc}") from exc
    if graph.number_of_edges() == 0:
        raise FileReadError(f"道路网络文件 {p.name} 中没有道路（way）；请换一个覆盖巡查区域的文件。")
    return graph
