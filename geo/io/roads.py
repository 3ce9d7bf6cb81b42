"""Read a road network (OpenStreetMap extract or GraphML) into a networkx graph.

This is the only file-reading part of the travel layer; the lead merges or re-exports it from
:mod:`geo.io.tables`. The result feeds :class:`geo.travel.NetworkTravel`.

Supported inputs:

* ``.osm`` / ``.xml`` / ``.osm.xml`` — OSM XML, read with :func:`osmnx.graph_from_xml`
  (one-way streets made bidirectional: patrols walk).
* ``.graphml`` — a graph saved by :func:`osmnx.save_graphml`, read with :func:`osmnx.load_graphml`.
* ``.osm.pbf`` / ``.pbf`` — only when the optional ``pyrosm`` package is installed; otherwise a
  :class:`~geo.errors.FileReadError` says how to convert the file to OSM XML.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from geo.errors import FileReadError

_XML_SUFFIXES = (".osm", ".xml", ".osm.xml")
_PBF_SUFFIXES = (".osm.pbf", ".pbf")


def read_road_graph(path: str | Path) -> nx.MultiDiGraph:
    """Read a road graph from an OSM extract or GraphML file.

    Parameters
    ----------
    path : str or Path
        ``.osm`` / ``.osm.xml`` (OSM XML), ``.graphml`` or ``.osm.pbf``.

    Returns
    -------
    networkx.MultiDiGraph
        osmnx-style graph: nodes with ``x``/``y`` (lon/lat unless the GraphML was projected),
        edges with ``length`` in metres, ``graph.graph["crs"]`` set.

    Raises
    ------
    FileReadError
        If the file is missing, of an unknown type, unreadable, or holds no roads.
    """
    p = Path(path)
    if not p.is_file():
        raise FileReadError(f"找不到道路网络文件：{p}。")
    name = p.name.lower()
    try:
        if name.endswith(_PBF_SUFFIXES):
            graph = _read_pbf(p)
        elif name.endswith(".graphml"):
            import osmnx

            graph = osmnx.load_graphml(p)
        elif name.endswith(_XML_SUFFIXES):
            import osmnx

            graph = osmnx.graph_from_xml(p, bidirectional=True, simplify=True, retain_all=False)
        else:
            raise FileReadError(
                f"无法识别道路网络文件类型：{p.name}；支持 .osm、.osm.xml、.graphml、.osm.pbf。"
            )
    except FileReadError:
        raise
    except Exception as exc:  # osmnx / XML parser errors of many kinds
        raise FileReadError(f"无法读取道路网络文件 {p.name}：{exc}") from exc
    if graph.number_of_edges() == 0:
        raise FileReadError(f"道路网络文件 {p.name} 中没有道路（way）；请换一个覆盖巡查区域的文件。")
    return graph


def _read_pbf(p: Path) -> nx.MultiDiGraph:
    try:
        import pyrosm
    except ImportError as exc:
        raise FileReadError(
            f"读取 {p.name}（.osm.pbf）需要可选依赖 pyrosm，当前未安装。请安装 pyrosm，"
            f"或先转换为 OSM XML：`osmium cat {p.name} -o roads.osm`（或 osmconvert），"
            "再使用 .osm 文件。"
        ) from exc
    osm = pyrosm.OSM(str(p))
    nodes, edges = osm.get_network(network_type="walking", nodes=True)
    graph = osm.to_graph(nodes, edges, graph_type="networkx")
    return nx.MultiDiGraph(graph)
