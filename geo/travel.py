"""Travel models: distance and time matrices between points in a metric working CRS.

Two models share one small protocol (:class:`TravelModel`):

* :class:`EuclideanTravel` — the embedded default. Straight-line distance in the working CRS times
  a *circuity factor* (network distance / straight-line distance). The default
  :data:`DEFAULT_CIRCUITY` = 1.3 follows two sources: on a rectangular street grid the expected
  ratio of the walked (Manhattan) distance to the straight line, over uniformly random directions,
  is 4/π ≈ 1.27; and measured road circuity factors are 1.2–1.4 for most countries (Ballou,
  Rahardja & Sakai 2002, "Selected country circuity factors for road travel distance estimation",
  *Transportation Research Part A* 36(9), 843–848). Dense residential communities with gates,
  fences and dead ends sit at the upper end, so 1.3 rather than 1.27.
* :class:`NetworkTravel` — shortest paths on a road graph (an OpenStreetMap extract read by
  :func:`geo.io_roads.read_road_graph`, or any networkx graph with node ``x``/``y`` and edge
  ``length`` in metres). Points are snapped to the nearest node of the graph's largest connected
  component; the straight snap legs are added to the network distance. Streets are walked in both
  directions (one-way rules do not bind pedestrians, and patrol e-bikes are walked against them).
  :meth:`NetworkTravel.path` returns the route geometry between two points.

Speeds: :data:`WALK_SPEED_MPS` = 1.2 m/s (4.3 km/h, the usual pedestrian design speed, e.g. the
U.S. Highway Capacity Manual's 1.2 m/s; a patrol that looks around walks no faster) and
:data:`EBIKE_SPEED_MPS` = 4.5 m/s (16 km/h: China's GB 17761-2018 caps electric bicycles at
25 km/h, and stops, crossings and pavements bring the urban average down to 15–18 km/h).
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol, runtime_checkable

import networkx as nx
import numpy as np
import numpy.typing as npt
from pyproj import CRS
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from geo.crs import require_metric
from geo.errors import InputError

FloatArray = npt.NDArray[np.float64]

DEFAULT_CIRCUITY = 1.3
WALK_SPEED_MPS = 1.2
EBIKE_SPEED_MPS = 4.5
SPEEDS_MPS = {"walk": WALK_SPEED_MPS, "ebike": EBIKE_SPEED_MPS}


@runtime_checkable
class TravelModel(Protocol):
    """What the routing core needs from a travel model (coordinates in metres)."""

    speed_mps: float

    def distance_matrix(self, xy: npt.ArrayLike) -> FloatArray:
        """Travel distances in metres between every pair of points, shape (n, n)."""
        ...

    def time_matrix(self, xy: npt.ArrayLike, *, speed_mps: float | None = None) -> FloatArray:
        """Travel times in seconds between every pair of points, shape (n, n)."""
        ...

    def path(self, a: tuple[float, float], b: tuple[float, float]) -> LineString:
        """The travelled geometry from point ``a`` to point ``b``."""
        ...


def _as_xy(xy: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(xy, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"坐标数组形状应为 (n, 2)，实际为 {arr.shape}。")
    if not np.isfinite(arr).all():
        raise InputError("坐标中有缺失值或无穷大；请先删除或修正这些点。")
    return arr


def _check_speed(speed_mps: float) -> float:
    if not np.isfinite(speed_mps) or speed_mps <= 0:
        raise InputError(f"速度 speed_mps 必须为正数（米/秒），实际为 {speed_mps}。")
    return float(speed_mps)


class EuclideanTravel:
    """Straight-line distance times a circuity factor, at a constant speed.

    Parameters
    ----------
    circuity : float, default 1.3
        Network distance / straight-line distance (≥ 1); see the module docstring for the source.
    speed_mps : float, default 1.2
        Travel speed in metres per second (walking; use :data:`EBIKE_SPEED_MPS` for e-bikes).
    """

    def __init__(
        self, *, circuity: float = DEFAULT_CIRCUITY, speed_mps: float = WALK_SPEED_MPS
    ) -> None:
        if not np.isfinite(circuity) or circuity < 1.0:
            raise InputError(f"绕行系数 circuity 必须 ≥ 1，实际为 {circuity}。")
        self.circuity = float(circuity)
        self.speed_mps = _check_speed(speed_mps)

    def distance_matrix(self, xy: npt.ArrayLike) -> FloatArray:
        """Distances in metres: ``circuity`` × straight line, shape (n, n)."""
        pts = _as_xy(xy)
        diff = pts[:, None, :] - pts[None, :, :]
        return np.asarray(np.hypot(diff[..., 0], diff[..., 1]) * self.circuity, dtype=float)

    def time_matrix(self, xy: npt.ArrayLike, *, speed_mps: float | None = None) -> FloatArray:
        """Travel times in seconds at ``speed_mps`` (default: the model's speed)."""
        speed = self.speed_mps if speed_mps is None else _check_speed(speed_mps)
        return self.distance_matrix(xy) / speed

    def path(self, a: tuple[float, float], b: tuple[float, float]) -> LineString:
        """The straight segment from ``a`` to ``b`` (the circuity is not drawn)."""
        return LineString([tuple(a), tuple(b)])


class NetworkTravel:
    """Shortest-path travel on a road graph in a metric CRS.

    Parameters
    ----------
    graph : networkx.Graph
        Nodes with ``x``/``y`` coordinates, edges with ``length`` in metres (as osmnx builds them);
        optional edge ``geometry`` (LineString) is used for :meth:`path`. The graph's CRS is
        ``graph.graph["crs"]``; a geographic graph is projected to ``crs`` with osmnx.
    crs : str or pyproj.CRS, optional
        Working CRS in metres. Required when the graph is geographic (lon/lat); when the graph
        is already metric and ``crs`` is given they must agree.
    speed_mps : float, default 1.2
        Travel speed (walking; :data:`EBIKE_SPEED_MPS` for e-bikes).

    Raises
    ------
    InputError
        If the graph has no nodes or edges, lacks coordinates, or the CRS is unusable.
    """

    def __init__(
        self, graph: nx.Graph, *, crs: Any = None, speed_mps: float = WALK_SPEED_MPS
    ) -> None:
        self.speed_mps = _check_speed(speed_mps)
        self.graph = _metric_graph(graph, crs)
        self.crs: CRS = require_metric(self.graph.graph["crs"], what="道路网络")
        self._nodes = list(self.graph.nodes)
        index = {n: i for i, n in enumerate(self._nodes)}
        self._xy = np.array(
            [[float(d["x"]), float(d["y"])] for _, d in self.graph.nodes(data=True)]
        )
        self._geom: dict[tuple[int, int], LineString] = {}
        geom_len: dict[tuple[int, int], float] = {}
        rows, cols, lens = [], [], []
        for u, v, d in _edges(self.graph):
            i, j, length = index[u], index[v], float(d.get("length", np.nan))
            if not np.isfinite(length):
                length = float(np.hypot(*(self._xy[i] - self._xy[j])))
            for a, b in ((i, j), (j, i)):
                rows.append(a)
                cols.append(b)
                lens.append(max(length, 1e-9))
            if "geometry" in d and length < geom_len.get((i, j), np.inf):
                self._geom[(i, j)] = d["geometry"]
                geom_len[(i, j)] = length
        # parallel edges (a multigraph, both directions): keep the shortest
        self._csr = _min_parallel(rows, cols, lens, len(self._nodes))
        _, labels = connected_components(self._csr, directed=False)
        main = np.bincount(labels).argmax()
        self._snap_ids = np.flatnonzero(labels == main)
        self._tree = cKDTree(self._xy[self._snap_ids])

    def snap(self, xy: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """Nearest node (internal index) of the main component and the snap distance in metres."""
        pts = _as_xy(xy)
        dist, k = self._tree.query(pts)
        return self._snap_ids[np.asarray(k, dtype=np.int64)], np.asarray(dist, dtype=float)

    def distance_matrix(self, xy: npt.ArrayLike) -> FloatArray:
        """Network distances in metres (snap leg + shortest path + snap leg), shape (n, n)."""
        pts = _as_xy(xy)
        node, snap_m = self.snap(pts)
        uniq, inv = np.unique(node, return_inverse=True)
        sp = dijkstra(self._csr, directed=True, indices=uniq)[:, uniq]
        out = sp[inv][:, inv] + snap_m[:, None] + snap_m[None, :]
        same = node[:, None] == node[None, :]
        diff = pts[:, None, :] - pts[None, :, :]
        straight = np.hypot(diff[..., 0], diff[..., 1])
        out = np.where(same, np.minimum(out, straight), out)
        np.fill_diagonal(out, 0.0)
        return np.asarray(out, dtype=float)

    def time_matrix(self, xy: npt.ArrayLike, *, speed_mps: float | None = None) -> FloatArray:
        """Travel times in seconds at ``speed_mps`` (default: the model's speed)."""
        speed = self.speed_mps if speed_mps is None else _check_speed(speed_mps)
        return self.distance_matrix(xy) / speed

    def path(self, a: tuple[float, float], b: tuple[float, float]) -> LineString:
        """The travelled geometry from ``a`` to ``b`` along the network (snap legs included)."""
        node, _ = self.snap(np.array([a, b], dtype=float))
        src, dst = int(node[0]), int(node[1])
        coords: list[tuple[float, float]] = [(float(a[0]), float(a[1]))]
        if src != dst:
            _, pred = dijkstra(self._csr, directed=True, indices=src, return_predecessors=True)
            seq = [dst]
            while seq[-1] != src:
                seq.append(int(pred[seq[-1]]))
            seq.reverse()
            coords.append(tuple(self._xy[src]))
            for i, j in itertools.pairwise(seq):
                coords.extend(self._edge_coords(i, j)[1:])
        coords.append((float(b[0]), float(b[1])))
        return LineString(coords)

    def _edge_coords(self, i: int, j: int) -> list[tuple[float, float]]:
        if (i, j) in self._geom:
            pts = [(float(x), float(y)) for x, y in self._geom[(i, j)].coords]
        elif (j, i) in self._geom:
            pts = [(float(x), float(y)) for x, y in self._geom[(j, i)].coords][::-1]
        else:
            return [tuple(self._xy[i]), tuple(self._xy[j])]
        if np.hypot(*(np.array(pts[0]) - self._xy[i])) > np.hypot(*(np.array(pts[-1]) - self._xy[i])):
            pts = pts[::-1]
        return [tuple(self._xy[i]), *pts[1:-1], tuple(self._xy[j])]


def _edges(graph: nx.Graph) -> list[tuple[Any, Any, dict[str, Any]]]:
    if graph.is_multigraph():
        return [(u, v, d) for u, v, _, d in graph.edges(keys=True, data=True)]
    return list(graph.edges(data=True))


def _min_parallel(rows: list[int], cols: list[int], lens: list[float], n: int) -> csr_matrix:
    best: dict[tuple[int, int], float] = {}
    for r, c, w in zip(rows, cols, lens, strict=True):
        if w < best.get((r, c), np.inf):
            best[(r, c)] = w
    if not best:
        return csr_matrix((n, n))
    keys = np.array(list(best.keys()), dtype=np.int64)
    return csr_matrix((np.array(list(best.values())), (keys[:, 0], keys[:, 1])), shape=(n, n))


def _metric_graph(graph: nx.Graph, crs: Any) -> nx.Graph:
    if graph.number_of_nodes() == 0 or graph.number_of_edges() == 0:
        raise InputError("道路网络没有节点或道路；请检查 OSM 文件是否覆盖了巡查区域。")
    if any("x" not in d or "y" not in d for _, d in graph.nodes(data=True)):
        raise InputError("道路网络的节点缺少 x/y 坐标；请用 osmnx 读取 OSM 文件。")
    g_crs = graph.graph.get("crs")
    if g_crs is None:
        if crs is None:
            raise InputError("道路网络没有坐标参考系（graph.graph['crs']）；请指定 crs。")
        graph = graph.copy()
        graph.graph["crs"] = crs
        return graph
    src = CRS.from_user_input(g_crs)
    if src.is_geographic:
        if crs is None:
            raise InputError(
                "道路网络为经纬度坐标，需要指定以米为单位的工作坐标系 crs（例如 EPSG:4547）。"
            )
        import osmnx  # local: heavy import, only needed for geographic graphs

        target = require_metric(crs, what="工作坐标系")
        return osmnx.project_graph(graph, to_crs=target)
    if crs is not None and CRS.from_user_input(crs) != src:
        import osmnx

        return osmnx.project_graph(graph, to_crs=require_metric(crs, what="工作坐标系"))
    return graph
