"""Read a walkable / e-bike-able road network into an osmnx-style ``networkx.MultiDiGraph``.

Inputs, chosen by file name:

* ``.osm.pbf`` / ``.pbf`` and ``.osm`` / ``.osm.xml`` / ``.xml`` (also ``.osm.gz`` / ``.osm.bz2``) —
  an OpenStreetMap extract, read with pyosmium (one code path for PBF and XML).
* ``.graphml`` — a graph saved by :func:`osmnx.save_graphml`.
* ``.gpkg`` / ``.shp`` / ``.geojson`` / ``.json`` — a bureau's own street centre lines
  (LineStrings). Graph nodes are put at line ends; ends closer than ``snap_tolerance_m`` are
  merged, and a line is split where one of its inner vertices meets another line's end.

Kept ways: ``highway`` in :data:`WALKABLE_HIGHWAYS`; dropped: motorway / trunk and their links and
every other type, ``access=private|no`` (unless ``foot`` allows), ``foot=no``, ``area=yes``.
Geometry is never simplified: each OSM way is split only at nodes shared with another kept way
(or its ends), and the full polyline is the edge ``geometry``; ``length`` is the geodesic length
(WGS 84) along that polyline. Every street gets both directions (walking ignores one-way rules);
``oneway`` is True for streets one-way for bicycles (``oneway=yes|-1``, roundabouts, unless
``oneway:bicycle=no``) and ``reversed`` marks the edge drawn against the legal direction, as in
osmnx, so :class:`geo.travel.NetworkTravel` can let e-bikes obey it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from pyproj import Geod
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from geo.errors import FileReadError, InputError

WALKABLE_HIGHWAYS = frozenset({
    "footway", "path", "pedestrian", "living_street", "residential", "service", "unclassified",
    "tertiary", "tertiary_link", "secondary", "secondary_link", "primary", "primary_link",
    "track", "steps", "cycleway", "corridor", "road", "bridleway",
})
_OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.xml", ".xml", ".osm.gz", ".osm.bz2")
_LINE_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json")
_GEOD = Geod(ellps="WGS84")
MIN_COVERAGE = 0.95
#: An OSM extract is read only where a way's bounding box meets the service area's, widened by
#: this much (about 2 km): a province's extract is not built into a network of the province.
WINDOW_MARGIN_DEG = 0.02

Segment = tuple[list[Any], list[tuple[float, float]], dict[str, Any]]
Bounds = tuple[float, float, float, float]  # lon/lat: west, south, east, north


def read_osm_network(
    path: str | Path,
    *,
    service_area: BaseGeometry | Any | None = None,
    service_area_crs: Any = "EPSG:4326",
    keep_largest: bool = True,
    snap_tolerance_m: float = 0.5,
    layer: str | None = None,
) -> nx.MultiDiGraph:
    """Read a road network for walking and e-bike patrols.

    Parameters
    ----------
    path : str or Path
        OSM extract (``.osm.pbf``, ``.osm``), ``.graphml``, or centre lines (``.gpkg``, ``.shp``,
        ``.geojson``).
    service_area : shapely geometry or GeoSeries/GeoDataFrame, optional
        Keep only streets that touch this area (streets crossing its edge are kept whole). The
        file must cover at least 95 % of the area's bounding box, else :class:`InputError`.
    service_area_crs : str or CRS, default "EPSG:4326"
        CRS of a plain shapely ``service_area`` (a GeoSeries/GeoDataFrame brings its own).
    keep_largest : bool, default True
        Keep only the largest connected part; ``graph.graph["parts_dropped"]`` and
        ``["edges_dropped"]`` say how much was dropped.
    snap_tolerance_m : float, default 0.5
        Centre lines only: line ends closer than this are joined into one node.
    layer : str, optional
        Centre lines only: the layer of a multi-layer GeoPackage.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes with ``x``/``y`` (lon/lat); edges with ``length`` (m), ``geometry`` (LineString),
        ``highway``, ``name`` (when the way has one), ``oneway``, ``reversed``, ``osmid``;
        ``graph["crs"] = "EPSG:4326"``.

    Raises
    ------
    FileReadError
        Missing, unknown or unreadable file, not a road network, or no walkable streets.
    InputError
        The file does not cover ``service_area``, or an option is invalid.
    """
    p = Path(path)
    if not p.is_file():
        raise FileReadError(f"找不到道路网络文件：{p}。")
    if not np.isfinite(snap_tolerance_m) or snap_tolerance_m < 0:
        raise InputError(f"端点吸附容差 snap_tolerance_m 必须 ≥ 0（米），实际为 {snap_tolerance_m}。")
    name = p.name.lower()
    try:
        if name.endswith(_OSM_SUFFIXES):
            window = None if service_area is None else _window(service_area, service_area_crs)
            segments, extent = _read_osm_ways(p, window)
            graph = _build(segments)
        elif name.endswith(".graphml"):
            graph, extent = _read_graphml(p), None
        elif name.endswith(_LINE_SUFFIXES):
            segments = _read_lines(p, layer=layer, tol=snap_tolerance_m)
            graph, extent = _build(segments), None
        else:
            raise FileReadError(
                f"无法识别道路网络文件类型：{p.name}；支持 .osm.pbf、.osm、.graphml、.gpkg、.shp、.geojson。"
            )
    except (FileReadError, InputError):
        raise
    except Exception as exc:  # pyosmium / GDAL / XML errors of many kinds
        raise FileReadError(f"无法读取道路网络文件 {p.name}：{exc}；请确认它是道路网络文件且未损坏。") from exc
    if graph.number_of_edges() == 0 and (service_area is None or extent is None):
        raise FileReadError(
            f"道路网络文件 {p.name} 中没有可步行或骑行的道路（highway=footway/residential 等）；"
            "请换一个覆盖巡查区域的道路文件。"
        )
    extent = extent or _node_bounds(graph)
    if service_area is not None:  # an extract read around the area: its coverage is checked here
        graph = _clip(graph, service_area, service_area_crs, extent, p.name)
    parts, dropped = 1, 0
    if keep_largest:
        graph, parts, dropped = _largest_part(graph)
    graph.graph.update(parts_dropped=parts - 1, edges_dropped=dropped, source=p.name)
    return graph


# ---------------------------------------------------------------------------------------------
# OpenStreetMap (pyosmium)


def keep_way(tags: dict[str, str]) -> bool:
    """Whether an OSM way with these tags is walkable (see the module docstring)."""
    if tags.get("highway") not in WALKABLE_HIGHWAYS:
        return False
    if tags.get("area") == "yes" or tags.get("foot") == "no":
        return False
    return not (tags.get("access") in {"private", "no"}
                and tags.get("foot") not in {"yes", "designated", "permissive"})


def _oneway(tags: dict[str, str]) -> int:
    """+1 one-way along the drawing order, -1 against it, 0 two-way (for bicycles)."""
    if tags.get("oneway:bicycle") == "no" or tags.get("cycleway", "").startswith("opposite"):
        return 0
    value = tags.get("oneway", "")
    if value in {"yes", "true", "1"}:
        return 1
    if value in {"-1", "reverse"}:
        return -1
    if value != "no" and tags.get("junction") in {"roundabout", "circular"}:
        return 1
    return 0


def _read_osm_ways(p: Path, window: Bounds | None = None) -> tuple[list[Segment], Bounds | None]:
    """Walkable ways of an OSM extract and the lon/lat extent of all its roads.

    With ``window`` (lon/lat bounds) only the ways whose bounding box meets it are kept, so
    that a province's extract is read without building the province's network.
    """
    import osmium  # local: only needed for OSM extracts

    fmt = "pbf" if p.name.lower().endswith(".pbf") else "osm"
    if fmt == "osm" and p.name.lower().endswith((".gz", ".bz2")):
        fmt = "osm." + p.name.lower().rsplit(".", 1)[1]
    processor = (
        osmium.FileProcessor(osmium.io.File(str(p), fmt), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    ways: list[Segment] = []
    n_highway = 0
    extent: Bounds | None = None
    for way in processor:
        if not isinstance(way, osmium.osm.Way):
            continue
        n_highway += 1
        bounds = _way_bounds(way)
        if bounds is not None:
            extent = bounds if extent is None else (
                min(extent[0], bounds[0]), min(extent[1], bounds[1]),
                max(extent[2], bounds[2]), max(extent[3], bounds[3]))
        if window is not None and (bounds is None or not _meets(bounds, window)):
            continue
        tags = {t.k: t.v for t in way.tags}
        if not keep_way(tags):
            continue
        run_ids: list[Any] = []
        run_xy: list[tuple[float, float]] = []
        attrs = {"osmid": way.id, "highway": tags["highway"],
                 "name": tags.get("name") or tags.get("name:zh"), "_oneway": _oneway(tags)}
        for nd in way.nodes:  # a node missing from the extract cuts the way
            if not nd.location.valid():
                if len(run_ids) > 1:
                    ways.append((run_ids, run_xy, attrs))
                run_ids, run_xy = [], []
            elif not run_ids or run_ids[-1] != nd.ref:
                run_ids.append(nd.ref)
                run_xy.append((nd.location.lon, nd.location.lat))
        if len(run_ids) > 1:
            ways.append((run_ids, run_xy, attrs))
    if not ways and n_highway == 0:
        raise FileReadError(f"{p.name} 中没有任何道路（带 highway 标签的 way）；它不是道路网络文件。")
    return ways, extent


def _way_bounds(way: Any) -> Bounds | None:
    """Lon/lat bounds of a way's located nodes (None if none is located)."""
    lons, lats = [], []
    for nd in way.nodes:
        loc = nd.location
        if loc.valid():
            lons.append(loc.lon)
            lats.append(loc.lat)
    return (min(lons), min(lats), max(lons), max(lats)) if lons else None


def _meets(a: Bounds, b: Bounds) -> bool:
    return a[0] <= b[2] and a[2] >= b[0] and a[1] <= b[3] and a[3] >= b[1]


# ---------------------------------------------------------------------------------------------
# Street centre lines (GeoPackage / Shapefile / GeoJSON)


def _read_lines(p: Path, *, layer: str | None, tol: float) -> list[Segment]:
    import geopandas as gpd

    gdf = gpd.read_file(p, layer=layer) if layer else gpd.read_file(p)
    if gdf.crs is None:
        raise FileReadError(f"道路中心线文件 {p.name} 没有坐标参考系；请补上 .prj 或在 GIS 中设置 CRS。")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].explode(index_parts=False)
    if len(gdf) == 0 or not set(gdf.geom_type) <= {"LineString", "LinearRing"}:
        raise FileReadError(
            f"道路中心线文件 {p.name} 应只含线（LineString），实际为 {sorted(set(gdf.geom_type))}。"
        )
    cols = {c.lower(): c for c in gdf.columns}
    hw_col = cols.get("highway") or cols.get("fclass")
    if hw_col is not None:
        gdf = gdf[[keep_way({"highway": str(v)}) for v in gdf[hw_col]]]
    metric = gdf.to_crs(gdf.estimate_utm_crs()) if len(gdf) else gdf
    lines = [np.asarray(g.coords, dtype=float)[:, :2] for g in metric.geometry]
    lonlat = [np.asarray(g.coords, dtype=float)[:, :2] for g in gdf.to_crs(4326).geometry]
    ends = np.array([ln[k] for ln in lines for k in (0, -1)]).reshape(-1, 2)
    if not len(ends):
        return []
    label = _cluster(ends, tol)
    node_at = cKDTree(ends)
    name_col = cols.get("name") or cols.get("名称")
    ow_col = cols.get("oneway")
    out: list[Segment] = []
    for k, (xy, ll, (_, row)) in enumerate(zip(lines, lonlat, gdf.iterrows(), strict=True)):
        ids: list[Any] = [int(label[2 * k])]
        for v in range(1, len(xy) - 1):  # inner vertex on another line's end: split there
            hit = node_at.query_ball_point(xy[v], tol + 1e-9)
            ids.append(int(label[hit[0]]) if hit else None)
        ids.append(int(label[2 * k + 1]))
        attrs = {"osmid": k, "highway": str(row[hw_col]) if hw_col else "unclassified",
                 "name": _text(row[name_col]) if name_col else None,
                 "_oneway": _oneway_column(row[ow_col]) if ow_col else 0}
        out.append((ids, [(float(x), float(y)) for x, y in ll], attrs))
    return out


def _cluster(points: np.ndarray, tol: float) -> np.ndarray:
    """Component label of each point, points within ``tol`` metres joined (single linkage)."""
    pairs = cKDTree(points).query_pairs(max(tol, 1e-9), output_type="ndarray")
    n = len(points)
    adj = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return np.asarray(connected_components(adj, directed=False)[1])


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _oneway_column(value: Any) -> int:
    text = str(value).strip().lower()
    return {"f": 1, "t": -1, "ft": 1, "tf": -1}.get(text, _oneway({"oneway": text}))


# ---------------------------------------------------------------------------------------------
# Graph building, GraphML, clipping, components


def _build(ways: Iterable[Segment]) -> nx.MultiDiGraph:
    ways = list(ways)
    uses: dict[Any, int] = {}
    for ids, _, _ in ways:
        for n in ids:
            if n is not None:
                uses[n] = uses.get(n, 0) + 1
    graph = nx.MultiDiGraph(crs="EPSG:4326")
    for ids, xy, attrs in ways:
        meta = {k: v for k, v in attrs.items() if v is not None}  # no "None" names in GraphML
        direction = meta.pop("_oneway", 0)
        if direction < 0:
            ids, xy = ids[::-1], xy[::-1]
        cut = [k for k, n in enumerate(ids)
               if k in (0, len(ids) - 1) or (n is not None and uses[n] > 1)]
        for a, b in itertools.pairwise(cut):
            u, v = ids[a], ids[b]
            coords = list(xy[a:b + 1])
            for n, (x, y) in ((u, coords[0]), (v, coords[-1])):
                if n not in graph:
                    graph.add_node(n, x=x, y=y)
            # joined line ends (centre lines) meet exactly at their node
            coords[0] = (graph.nodes[u]["x"], graph.nodes[u]["y"])
            coords[-1] = (graph.nodes[v]["x"], graph.nodes[v]["y"])
            line = LineString(coords)
            lons, lats = np.asarray(coords).T
            length = float(_GEOD.line_length(lons, lats))
            base = {**meta, "length": length, "oneway": bool(direction)}
            graph.add_edge(u, v, **base, geometry=line, reversed=False)
            graph.add_edge(v, u, **base, geometry=line.reverse(), reversed=True)
    return graph


def _read_graphml(p: Path) -> nx.MultiDiGraph:
    import osmnx

    graph = osmnx.load_graphml(p)
    if any("x" not in d or "y" not in d for _, d in graph.nodes(data=True)):
        raise FileReadError(f"GraphML 文件 {p.name} 的节点缺少 x/y 坐标；它不是 osmnx 道路网络。")
    drop = []
    for u, v, k, d in graph.edges(keys=True, data=True):
        hw = d.get("highway")
        values = hw if isinstance(hw, list) else [hw]
        if hw is not None and not any(keep_way({"highway": str(h)}) for h in values):
            drop.append((u, v, k))
        elif "geometry" not in d:
            d["geometry"] = LineString([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in (u, v)])
    graph.remove_edges_from(drop)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    graph.graph.setdefault("crs", "EPSG:4326")
    return graph


def _node_bounds(graph: nx.MultiDiGraph) -> tuple[float, float, float, float]:
    xy = np.array([[d["x"], d["y"]] for _, d in graph.nodes(data=True)], dtype=float)
    return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())


def _area_shape(area: Any, area_crs: Any, crs: Any) -> BaseGeometry:
    """The service area as one shape in ``crs``."""
    import geopandas as gpd

    series = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
    if not isinstance(series, gpd.GeoSeries):
        series = gpd.GeoSeries([series], crs=area_crs)
    if series.crs is None:
        raise InputError("巡查区域 service_area 没有坐标参考系；请设置 CRS。")
    shape = series.to_crs(crs).union_all()
    if shape.is_empty or shape.area <= 0:
        raise InputError("巡查区域 service_area 为空或不是面；请提供辖区边界多边形。")
    return shape


def _window(area: Any, area_crs: Any) -> Bounds:
    """Lon/lat bounds of the service area widened by :data:`WINDOW_MARGIN_DEG` on every side."""
    x0, y0, x1, y1 = _area_shape(area, area_crs, "EPSG:4326").bounds
    m = WINDOW_MARGIN_DEG
    return x0 - m, y0 - m, x1 + m, y1 + m


def _clip(graph: nx.MultiDiGraph, area: Any, area_crs: Any, extent: Bounds,
          fname: str) -> nx.MultiDiGraph:
    from shapely import STRtree, box

    shape = _area_shape(area, area_crs, graph.graph.get("crs", "EPSG:4326"))
    env = box(*shape.bounds)
    cover = env.intersection(box(*extent)).area / env.area
    if cover < MIN_COVERAGE:
        raise InputError(
            f"道路网络文件 {fname} 只覆盖了巡查区域范围的 {cover:.0%}；"
            "请下载覆盖整个巡查区域的 OSM extract（或更完整的道路中心线）。"
        )
    edges = list(graph.edges(keys=True, data="geometry"))
    tree = STRtree([g for *_, g in edges])
    keep = set(tree.query(shape, predicate="intersects").tolist())
    sub = nx.MultiDiGraph(**graph.graph)
    sub.add_edges_from((u, v, k, graph.edges[u, v, k]) for i, (u, v, k, _) in enumerate(edges)
                       if i in keep)
    for n in sub.nodes:
        sub.nodes[n].update(graph.nodes[n])
    if sub.number_of_edges() == 0:
        raise InputError(
            f"道路网络文件 {fname} 在巡查区域内没有可步行或骑行的道路（highway=footway/residential "
            "等）；请检查区域与文件是否对应。"
        )
    return sub


def _largest_part(graph: nx.MultiDiGraph) -> tuple[nx.MultiDiGraph, int, int]:
    parts = list(nx.weakly_connected_components(graph))
    if len(parts) <= 1:
        return graph, len(parts), 0
    main = max(parts, key=len)
    sub = graph.subgraph(main).copy()
    return sub, len(parts), graph.number_of_edges() - sub.number_of_edges()
