"""Shortest-path travel on a road graph (see :mod:`geo.travel` for the snapping and mode rules)."""

from __future__ import annotations

import itertools
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from shapely.geometry import LineString
from shapely.ops import substring

from geo.crs import require_metric
from geo.errors import InputError
from geo.travel.protocol import (
    DEFAULT_MAX_SNAP_M,
    NO_EBIKE_HIGHWAYS,
    SPEEDS_MPS,
    STEPS_FACTOR,
    WALK_SPEED_MPS,
    WALKED_HIGHWAYS,
    FloatArray,
    Mode,
    as_xy,
    check_speed,
)


class NetworkTravel:
    """Shortest-path travel on a road graph in a metric CRS (see the module docstring).

    Parameters
    ----------
    graph : networkx.Graph
        Nodes with ``x``/``y``, edges with ``length`` in metres and optional ``geometry``
        (LineString; a straight segment otherwise), ``highway``, ``oneway``, ``reversed``.
        ``graph.graph["crs"]`` is its CRS; a geographic graph is projected to ``crs`` with osmnx.
    crs : str or pyproj.CRS, optional
        Working CRS in metres; required when the graph is geographic (lon/lat).
    mode : {"walk", "ebike"}, default "walk"
        ``"ebike"``: no steps, bike pushed at walking speed on footway/pedestrian/corridor.
    speed_mps : float, optional
        Speed on ordinary streets; default 1.2 (walk) or 4.5 (ebike).
    max_snap_m : float, default 300
        A point farther than this from every street of the main network is an error.
    respect_oneway : bool, optional
        Obey one-way streets; default True for ``"ebike"`` and False for ``"walk"``.

    Raises
    ------
    InputError
        Empty graph, missing coordinates, unusable CRS or options; later, a point too far from
        the network (naming its index) or two points with no path between them (naming both).
    """

    def __init__(
        self, graph: nx.Graph, *, crs: Any = None, mode: Mode = "walk",
        speed_mps: float | None = None, max_snap_m: float = DEFAULT_MAX_SNAP_M,
        respect_oneway: bool | None = None,
    ) -> None:
        if mode not in SPEEDS_MPS:
            raise InputError(f"出行方式 mode 只能是 walk 或 ebike，实际为 {mode!r}。")
        if not np.isfinite(max_snap_m) or max_snap_m < 0:
            raise InputError(f"最大吸附距离 max_snap_m 必须 ≥ 0（米），实际为 {max_snap_m}。")
        self.mode: Mode = mode
        self.speed_mps = check_speed(SPEEDS_MPS[mode] if speed_mps is None else speed_mps)
        self.max_snap_m = float(max_snap_m)
        self.respect_oneway = (mode == "ebike") if respect_oneway is None else bool(respect_oneway)
        self.graph = _metric_graph(graph, crs)
        self.crs: CRS = require_metric(self.graph.graph["crs"], what="道路网络")
        self._nodes = list(self.graph.nodes)
        index = {n: i for i, n in enumerate(self._nodes)}
        self._xy = np.array([[float(d["x"]), float(d["y"])] for _, d in self.graph.nodes(data=True)])
        e = _physical_edges(self.graph, index, self._xy, mode=mode, oneway=self.respect_oneway)
        self._a, self._b, self._len, self._cls, self._fwd, self._bwd, self._geom = e
        if not len(self._a):
            raise InputError("道路网络中没有该出行方式可用的道路；请检查道路文件与出行方式 mode。")
        n = len(self._nodes)
        csr = self._csr(self._len)
        _, labels = connected_components(csr, directed=True, connection="strong")
        main = np.bincount(labels).argmax()
        self._in_main = labels == main
        ok = self._in_main[self._a] & self._in_main[self._b] & (self._fwd | self._bwd)
        self._snap_ids = np.flatnonzero(ok)
        if not len(self._snap_ids):
            raise InputError("道路网络没有相互连通的道路（单行道全部同向？）；请检查道路文件。")
        self._tree = shapely.STRtree(self._geom[self._snap_ids])
        self._all_tree = shapely.STRtree(self._geom)
        self._weights: dict[tuple[str, float], tuple[csr_matrix, FloatArray]] = {}
        self._n = n

    # -- snapping ---------------------------------------------------------------------------

    def snap(self, xy: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
        """Snap points to the main network.

        Returns
        -------
        edge : ndarray of int
            Internal index of the nearest street edge.
        frac : ndarray of float
            Position of the foot point along that edge, 0 at its first node, 1 at its second.
        dist : ndarray of float
            Straight snap distance in metres.
        """
        pts = as_xy(xy)
        geoms = shapely.points(pts)
        (qi, ti), dist = self._tree.query_nearest(geoms, return_distance=True, all_matches=False)
        edge = np.empty(len(pts), dtype=np.int64)
        snap_m = np.empty(len(pts))
        edge[qi], snap_m[qi] = self._snap_ids[ti], dist
        lines = self._geom[edge]
        glen = shapely.length(lines)
        along = shapely.line_locate_point(lines, geoms)
        frac = np.where(glen > 0, along / np.where(glen > 0, glen, 1.0), 0.0)
        far = np.flatnonzero(snap_m > self.max_snap_m + 1e-9)
        if len(far):
            raise InputError(self._far_message(pts, far, snap_m))
        return edge, np.clip(frac, 0.0, 1.0), snap_m

    def _far_message(self, pts: FloatArray, far: npt.NDArray[np.int64], snap_m: FloatArray) -> str:
        i = int(far[0])
        near = float(shapely.distance(
            self._geom[self._all_tree.nearest(shapely.points(pts[i]))], shapely.points(pts[i])))
        head = (f"第 {i} 号点（从 0 起算，坐标 {pts[i, 0]:.1f}, {pts[i, 1]:.1f}）离主路网最近的道路"
                f" {snap_m[i]:.0f} 米，超过 max_snap_m = {self.max_snap_m:.0f} 米")
        more = f"（共 {len(far)} 个点超出）" if len(far) > 1 else ""
        if near <= self.max_snap_m:
            return (f"{head}{more}；它 {near:.0f} 米处的道路与主路网不连通（道路文件缺少连接的路段或桥梁）。"
                    "请补全道路文件，或移动该点。")
        return f"{head}{more}；请确认道路文件覆盖该点，或检查该点坐标。"

    # -- matrices ---------------------------------------------------------------------------

    def distance_matrix(self, xy: npt.ArrayLike) -> FloatArray:
        """Network distances in metres between every pair of points, shape (n, n)."""
        pts = as_xy(xy)
        return self._matrix(pts, pts, kind="m", speed=self.speed_mps, square=True)

    def distance_matrix_m(self, from_xy: npt.ArrayLike, to_xy: npt.ArrayLike) -> FloatArray:
        """Network distances in metres from each of ``from_xy`` to each of ``to_xy``."""
        return self._matrix(as_xy(from_xy), as_xy(to_xy), kind="m", speed=self.speed_mps,
                            square=False)

    def time_matrix(self, xy: npt.ArrayLike, *, speed_mps: float | None = None) -> FloatArray:
        """Fastest travel times in seconds from per-edge times; ``speed_mps`` replaces the base speed."""
        speed = self.speed_mps if speed_mps is None else check_speed(speed_mps)
        pts = as_xy(xy)
        return self._matrix(pts, pts, kind="s", speed=speed, square=True)

    def _speeds(self, speed: float) -> FloatArray:
        """Speed of each way class (0 street, 1 walked, 2 steps) and of the snap legs (index 3)."""
        pushed = min(speed, WALK_SPEED_MPS) if self.mode == "ebike" else speed
        return np.array([speed, pushed, pushed * STEPS_FACTOR, pushed])

    def _cost(self, kind: str, speed: float) -> tuple[csr_matrix, FloatArray]:
        key = (kind, speed if kind == "s" else 0.0)
        if key not in self._weights:
            cost = self._len if kind == "m" else self._len / self._speeds(speed)[self._cls]
            self._weights[key] = (self._csr(cost), cost)
        return self._weights[key]

    def _csr(self, cost: FloatArray) -> csr_matrix:
        rows = np.concatenate([self._a[self._fwd], self._b[self._bwd]])
        cols = np.concatenate([self._b[self._fwd], self._a[self._bwd]])
        w = np.maximum(np.concatenate([cost[self._fwd], cost[self._bwd]]), 1e-9)
        order = np.lexsort((w, cols, rows))
        rows, cols, w = rows[order], cols[order], w[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])  # shortest parallel edge
        n = len(self._xy)
        return csr_matrix((w[first], (rows[first], cols[first])), shape=(n, n))

    def _ends(self, edge: npt.NDArray[np.int64], frac: FloatArray, cost: FloatArray,
              *, leaving: bool) -> tuple[list[npt.NDArray[np.int64]], list[FloatArray]]:
        """End nodes of the snapped edges and the cost to leave to (or arrive from) each."""
        to_a = self._bwd[edge] if leaving else self._fwd[edge]
        to_b = self._fwd[edge] if leaving else self._bwd[edge]
        c = cost[edge]
        return ([self._a[edge], self._b[edge]],
                [np.where(to_a, frac * c, np.inf), np.where(to_b, (1 - frac) * c, np.inf)])

    def _matrix(self, src: FloatArray, dst: FloatArray, *, kind: str, speed: float,
                square: bool) -> FloatArray:
        csr, cost = self._cost(kind, speed)
        es, fs, ss = self.snap(src)
        ed, fd, sd = (es, fs, ss) if square else self.snap(dst)
        out_n, out_c = self._ends(es, fs, cost, leaving=True)
        in_n, in_c = self._ends(ed, fd, cost, leaving=False)
        u_src, u_dst = np.unique(np.concatenate(out_n)), np.unique(np.concatenate(in_n))
        sp = dijkstra(csr, directed=True, indices=u_src)[:, u_dst]
        best = np.full((len(src), len(dst)), np.inf)
        for k, m in itertools.product(range(2), range(2)):
            sub = sp[np.searchsorted(u_src, out_n[k])][:, np.searchsorted(u_dst, in_n[m])]
            best = np.minimum(best, out_c[k][:, None] + sub + in_c[m][None, :])
        same = es[:, None] == ed[None, :]
        delta = fd[None, :] - fs[:, None]
        ok = np.where(delta >= 0, self._fwd[es][:, None], self._bwd[es][:, None])
        best = np.where(same & ok, np.minimum(best, np.abs(delta) * cost[es][:, None]), best)
        leg = 1.0 if kind == "m" else 1.0 / self._speeds(speed)[3]
        best = best + (ss[:, None] + sd[None, :]) * leg
        diff = src[:, None, :] - dst[None, :, :]
        best[np.hypot(diff[..., 0], diff[..., 1]) == 0] = 0.0
        bad = np.argwhere(~np.isfinite(best))
        if len(bad):
            i, j = (int(v) for v in bad[0])
            raise InputError(
                f"从第 {i} 号点到第 {j} 号点（从 0 起算）在道路网络上没有可走的路径"
                f"（共 {len(bad)} 对）：{'单行道限制了电动车方向；' if self.respect_oneway else ''}"
                "请检查道路文件的连通性，或移动这些点。"
            )
        return np.asarray(best, dtype=float)

    # -- geometry ---------------------------------------------------------------------------

    def path(self, a: tuple[float, float], b: tuple[float, float]) -> LineString:
        """The travelled street geometry from ``a`` to ``b`` (shortest by distance).

        It starts at ``a``, goes straight to its foot point on the nearest street, follows the
        partial edge, the whole edges between, the last partial edge and ends at ``b``.
        """
        pts = as_xy(np.array([a, b], dtype=float))
        csr, cost = self._cost("m", self.speed_mps)
        e, f, _ = self.snap(pts)
        out_n, out_c = self._ends(e[:1], f[:1], cost, leaving=True)
        in_n, in_c = self._ends(e[1:], f[1:], cost, leaving=False)
        starts = np.array([out_n[0][0], out_n[1][0]])
        sp, pred = dijkstra(csr, directed=True, indices=starts, return_predecessors=True)
        options = [(out_c[k][0] + sp[k, in_n[m][0]] + in_c[m][0], k, m)
                   for k, m in itertools.product(range(2), range(2))]
        coords: list[tuple[float, float]] = [(float(pts[0, 0]), float(pts[0, 1]))]
        g0, g1 = self._geom[e[0]], self._geom[e[1]]
        delta = f[1] - f[0]
        direct = abs(delta) * cost[e[0]] if e[0] == e[1] and (
            self._fwd[e[0]] if delta >= 0 else self._bwd[e[0]]) else np.inf
        best = min(options)
        if direct <= best[0]:
            coords += _part(g0, f[0], f[1])
        else:
            _, k, m = best
            coords += _part(g0, f[0], float(k))
            seq = [int(in_n[m][0])]
            while seq[-1] != starts[k]:
                seq.append(int(pred[k, seq[-1]]))
            for i, j in itertools.pairwise(seq[::-1]):
                coords += self._edge_coords(i, j)
            coords += _part(g1, float(m), f[1])
        coords.append((float(pts[1, 0]), float(pts[1, 1])))
        clean = [c for n, c in enumerate(coords) if n == 0 or c != coords[n - 1]]
        return LineString(clean if len(clean) > 1 else clean * 2)

    def _edge_coords(self, i: int, j: int) -> list[tuple[float, float]]:
        fwd = np.flatnonzero((self._a == i) & (self._b == j) & self._fwd)
        bwd = np.flatnonzero((self._a == j) & (self._b == i) & self._bwd)
        cand = [(self._len[k], k, False) for k in fwd] + [(self._len[k], k, True) for k in bwd]
        _, k, rev = min(cand)
        pts = [(float(x), float(y)) for x, y in self._geom[k].coords]
        return pts[::-1] if rev else pts


def _part(line: LineString, f0: float, f1: float) -> list[tuple[float, float]]:
    """Coordinates of ``line`` from fraction ``f0`` to ``f1`` (reversed when ``f1 < f0``)."""
    piece = substring(line, f0, f1, normalized=True)
    return [(float(x), float(y)) for x, y, *_ in piece.coords]


def _truthy(value: Any) -> bool:
    if isinstance(value, list):
        return any(_truthy(v) for v in value)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "1", "-1"}
    return bool(value) if value is not None and value == value else False


def _way_class(highway: Any, mode: str) -> int | None:
    """0 ordinary street, 1 walked (e-bike pushed), 2 steps; None when ``mode`` may not use it."""
    values = [str(h) for h in (highway if isinstance(highway, list) else [highway])]
    if mode == "ebike" and all(h in NO_EBIKE_HIGHWAYS for h in values):
        return None
    if "steps" in values:
        return 2
    return 1 if mode == "ebike" and any(h in WALKED_HIGHWAYS for h in values) else 0


def _physical_edges(graph: nx.Graph, index: dict[Any, int], xy: FloatArray, *, mode: str,
                    oneway: bool) -> tuple[Any, ...]:
    """One record per street (both directions of a street merged), oriented low → high node."""
    seen: dict[tuple[int, int, float, str], int] = {}
    rec: list[list[Any]] = []  # a, b, length, class, geometry, forward ok, backward ok
    directed = graph.is_directed()
    for u, v, d in _edges(graph):
        c = _way_class(d.get("highway"), mode)
        if c is None:
            continue
        i, j = index[u], index[v]
        geom = d.get("geometry")
        if geom is None or geom.is_empty:
            geom = LineString([xy[i], xy[j]])
        start = np.asarray(geom.coords[0][:2])
        if i != j and np.hypot(*(start - xy[i])) > np.hypot(*(start - xy[j])):
            geom = geom.reverse()
        length = float(d.get("length", np.nan))
        length = length if np.isfinite(length) else float(geom.length)
        forward = i <= j
        if not forward:
            i, j, geom = j, i, geom.reverse()
        allowed = not (oneway and _truthy(d.get("oneway")) and _truthy(d.get("reversed")))
        key = (i, j, round(length, 3), str(d.get("highway")))
        if key not in seen:
            seen[key] = len(rec)
            rec.append([i, j, length, c, geom, False, False])
        r = rec[seen[key]]
        if not (directed and oneway):
            r[5] = r[6] = True
        else:
            r[5 if forward else 6] = r[5 if forward else 6] or allowed
    cols = list(zip(*rec, strict=True)) if rec else [()] * 7
    geoms = np.empty(len(rec), dtype=object)
    geoms[:] = list(cols[4])
    return (np.array(cols[0], dtype=np.int64), np.array(cols[1], dtype=np.int64),
            np.array(cols[2], dtype=float), np.array(cols[3], dtype=np.int64),
            np.array(cols[5], dtype=bool), np.array(cols[6], dtype=bool), geoms)


def _edges(graph: nx.Graph) -> list[tuple[Any, Any, dict[str, Any]]]:
    if graph.is_multigraph():
        return [(u, v, d) for u, v, _, d in graph.edges(keys=True, data=True)]
    return list(graph.edges(data=True))


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
