"""Fast density clustering of case points in metric coordinates (HDBSCAN, DBSCAN).

Both methods first snap the points to a fine square grid (``cell_m``, 10 m by default) and
work on the occupied cells, each weighted by its number of cases. Labels are then mapped back to
the points. At 10 m the snapping moves a case by at most 7 m — well below the scale of a city
block — while 1 million cases shrink to a few hundred thousand cells.

HDBSCAN (grid-weighted)
    The result is, up to MST ties and the two approximations below, HDBSCAN of the snapped
    points: each cell stands for ``count`` coincident cases.

    * Core distance of a cell (the distance to its ``min_samples``-th neighbouring case, the case
      itself included, as in scikit-learn): if the cell alone holds ``k = min_samples`` cases, its
      cases are taken as spread evenly over the cell, giving ``(cell_m / sqrt(pi)) * sqrt(k / count)``;
      otherwise the distance to the nearest cell at which the cumulative count reaches ``k``.
      This keeps core distances finite for duplicates (cases at one point).
    * Minimum spanning tree of the mutual-reachability graph restricted to each cell's
      ``k_graph`` nearest cells (scipy's MST). Components this graph leaves apart are joined by
      an MST over component centroids (they only meet at the very top of the hierarchy).

    The cases of each cell are linked to each other at the cell's core distance, and the tree
    over all cases goes through scikit-learn's own single-linkage, condensing and
    excess-of-mass routines, so ``min_cluster_size`` counts cases, not cells.

DBSCAN (grid-weighted)
    :class:`sklearn.cluster.DBSCAN` on the cell centres with ``sample_weight = count``: a cell is
    a core cell when the cases within ``eps_m`` number at least ``min_samples``. Clusters with
    fewer than ``min_cluster_size`` cases become noise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree
from sklearn.cluster import DBSCAN

from geo.analysis.grid_cells import (
    BACKGROUND_CELL_M,
    DEFAULT_CELL_M,
    MIN_BACKGROUND_AREA_M2,
    GridCells,
    aggregate_to_grid,
    background_density,
    weighted_background,
)
from geo.errors import InputError

__all__ = ["BACKGROUND_CELL_M", "DEFAULT_CELL_M", "DEFAULT_DENSITY_RATIO", "DEFAULT_EPS_M",
           "DEFAULT_K_GRAPH", "DEFAULT_MIN_SAMPLES", "MIN_BACKGROUND_AREA_M2", "NOISE",
           "DensityMethod", "GridCells", "aggregate_to_grid", "background_density",
           "dbscan_cells", "density_labels", "hdbscan_cells", "merge_close_clusters",
           "weighted_core_distances"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DensityMethod = Literal["hdbscan", "dbscan"]

DEFAULT_MIN_SAMPLES = 10
DEFAULT_EPS_M = 50.0
DEFAULT_K_GRAPH = 15
DEFAULT_DENSITY_RATIO = 4.0
NOISE = -1


def weighted_core_distances(
    cells: GridCells, *, min_samples: int, cell_m: float, tree: cKDTree | None = None
) -> FloatArray:
    """Distance from each cell to its ``min_samples``-th case (the cell's own cases included).

    See the module docstring for the within-cell rule. Returns an array of shape (m,), > 0.
    """
    m = len(cells.counts)
    k = int(min_samples)
    rho = cell_m / np.sqrt(np.pi)
    counts = cells.counts.astype(float)
    core = rho * np.sqrt(k / np.maximum(counts, 1.0))
    need = counts < k
    if need.any() and m > 1:
        tree = tree if tree is not None else cKDTree(cells.xy)
        q = min(k, m)  # every cell holds >= 1 case, so k cells always reach k cases
        idx_need = np.flatnonzero(need)
        dist, nbr = tree.query(cells.xy[idx_need], k=q, workers=-1)
        dist = dist.reshape(len(idx_need), q)
        nbr = nbr.reshape(len(idx_need), q)
        cum = np.cumsum(cells.counts[nbr], axis=1)
        reached = cum >= k
        first = np.where(reached.any(axis=1), reached.argmax(axis=1), q - 1)
        d = dist[np.arange(len(idx_need)), first]
        short = ~reached.any(axis=1)  # fewer than k cases in all: extrapolate by density
        d[short] = d[short] * np.sqrt(k / cum[short, -1])
        core[idx_need] = np.maximum(d, rho * np.sqrt(1.0 / k))
    return np.maximum(core, 1e-6)


def _cell_mst(cells: GridCells, core: FloatArray, tree: cKDTree, k_graph: int) -> tuple[
    IntArray, IntArray, FloatArray
]:
    """MST edges (a, b, mutual reachability) over the cells."""
    m = len(cells.counts)
    q = min(k_graph + 1, m)
    dist, nbr = tree.query(cells.xy, k=q, workers=-1)
    dist, nbr = dist[:, 1:], nbr[:, 1:]
    rows = np.repeat(np.arange(m), q - 1)
    cols = nbr.ravel()
    w = np.maximum(np.maximum(core[rows], core[cols]), dist.ravel())
    graph = sparse.csr_matrix((w, (rows, cols)), shape=(m, m))
    mst = minimum_spanning_tree(graph).tocoo()
    a, b, d = mst.row.astype(np.int64), mst.col.astype(np.int64), mst.data.astype(float)
    n_comp, comp = connected_components(mst, directed=False)
    if n_comp > 1:
        a2, b2, d2 = _join_components(cells.xy, core, comp, n_comp)
        a, b, d = np.r_[a, a2], np.r_[b, b2], np.r_[d, d2]
    return a, b, d


def _join_components(
    xy: FloatArray, core: FloatArray, comp: IntArray, n_comp: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Join graph components by an MST over their centroids (each represented by one cell)."""
    order = np.argsort(comp, kind="stable")
    first = order[np.searchsorted(comp[order], np.arange(n_comp))]
    cx = np.bincount(comp, weights=xy[:, 0], minlength=n_comp) / np.bincount(comp)
    cy = np.bincount(comp, weights=xy[:, 1], minlength=n_comp) / np.bincount(comp)
    cen = np.column_stack([cx, cy])
    k = min(n_comp, 16)
    tree = cKDTree(cen)
    dist, nbr = tree.query(cen, k=k)
    rows = np.repeat(np.arange(n_comp), k - 1)
    cols = nbr[:, 1:].ravel()
    w = np.maximum(dist[:, 1:].ravel(), 1e-6)
    g = sparse.csr_matrix((w, (rows, cols)), shape=(n_comp, n_comp))
    n2, _ = connected_components(g, directed=False)
    if n2 > 1:  # very scattered components: fall back to the complete graph on centroids
        from scipy.spatial.distance import pdist, squareform

        g = sparse.csr_matrix(np.maximum(squareform(pdist(cen)), 1e-6))
    t = minimum_spanning_tree(g).tocoo()
    a, b = first[t.row], first[t.col]
    w2 = np.maximum.reduce([t.data, core[a], core[b]])
    return a.astype(np.int64), b.astype(np.int64), w2.astype(float)


def _case_tree_labels(
    cells: GridCells,
    core: FloatArray,
    edges: tuple[IntArray, IntArray, FloatArray],
    *,
    min_cluster_size: int,
    cluster_selection_epsilon_m: float,
) -> IntArray:
    """Expand the cell MST into a case MST and run scikit-learn's HDBSCAN tree routines."""
    from sklearn.cluster._hdbscan._linkage import MST_edge_dtype, make_single_linkage
    from sklearn.cluster._hdbscan._tree import tree_to_labels

    counts = cells.counts
    n = int(counts.sum())
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])  # first case id of each cell
    # within-cell chains: case j -> j+1 at the cell's core distance
    within_src = np.setdiff1d(np.arange(n - 1), start[1:] - 1, assume_unique=True)
    within_cell = np.repeat(np.arange(len(counts)), counts)[within_src]
    a, b, d = edges
    mst = np.empty(n - 1, dtype=MST_edge_dtype)
    mst["current_node"] = np.r_[within_src, start[a]]
    mst["next_node"] = np.r_[within_src + 1, start[b]]
    mst["distance"] = np.r_[core[within_cell], d]
    mst = mst[np.argsort(mst["distance"], kind="stable")]
    slt = make_single_linkage(mst)
    case_labels, _ = tree_to_labels(
        slt, int(min_cluster_size), "eom", False, float(cluster_selection_epsilon_m), None
    )
    # all cases of a cell join at once, so they share a label: read the first one
    return np.asarray(case_labels, dtype=np.int64)[start]


def hdbscan_cells(
    cells: GridCells,
    *,
    min_cluster_size: int,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    cell_m: float = DEFAULT_CELL_M,
    cluster_selection_epsilon_m: float = 0.0,
    k_graph: int = DEFAULT_K_GRAPH,
    max_core_m: float | None = None,
) -> IntArray:
    """Grid-weighted HDBSCAN labels for the cells (``-1`` = noise).

    Cells whose core distance exceeds ``max_core_m`` (too sparse to be part of a hotspot) are
    noise and left out of the hierarchy; ``None`` keeps every cell (plain HDBSCAN semantics).
    """
    m = len(cells.counts)
    if int(cells.counts.sum()) < max(min_cluster_size, 2):
        return np.full(m, NOISE, np.int64)
    if m == 1:  # every case in one cell: one cluster (HDBSCAN needs a hierarchy to cut)
        return np.zeros(1, np.int64)
    tree = cKDTree(cells.xy)
    core = weighted_core_distances(cells, min_samples=min_samples, cell_m=cell_m, tree=tree)
    out = np.full(m, NOISE, np.int64)
    dense = np.flatnonzero(core <= max_core_m) if max_core_m else np.arange(m)
    if int(cells.counts[dense].sum()) < min_cluster_size:
        return out
    if len(dense) == 1:
        out[dense] = 0
        return out
    sub = GridCells(cells.xy[dense], cells.counts[dense], np.empty(0, np.int64))
    sub_tree = tree if len(dense) == m else cKDTree(sub.xy)
    edges = _cell_mst(sub, core[dense], sub_tree, max(k_graph, 1))
    out[dense] = _case_tree_labels(
        sub, core[dense], edges, min_cluster_size=min_cluster_size,
        cluster_selection_epsilon_m=cluster_selection_epsilon_m,
    )
    return out


def dbscan_cells(
    cells: GridCells,
    *,
    min_cluster_size: int,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    eps_m: float = DEFAULT_EPS_M,
) -> IntArray:
    """Grid-weighted DBSCAN labels for the cells (``-1`` = noise)."""
    m = len(cells.counts)
    if m == 0:
        return np.empty(0, np.int64)
    model = DBSCAN(eps=eps_m, min_samples=int(min_samples), algorithm="kd_tree", n_jobs=-1)
    labels = model.fit_predict(cells.xy, sample_weight=cells.counts).astype(np.int64)
    return _drop_small(labels, cells.counts, min_cluster_size)


def _drop_small(labels: IntArray, weights: IntArray, min_size: int) -> IntArray:
    """Turn clusters with fewer than ``min_size`` cases into noise and renumber 0..k-1."""
    out = np.full(len(labels), NOISE, np.int64)
    ok = labels >= 0
    if not ok.any():
        return out
    sizes = np.bincount(labels[ok], weights=weights[ok])
    keep = np.flatnonzero(sizes >= min_size)
    remap = np.full(len(sizes), NOISE, np.int64)
    remap[keep] = np.arange(len(keep))
    out[ok] = remap[labels[ok]]
    return out


def density_labels(
    xy: npt.ArrayLike,
    *,
    method: DensityMethod = "hdbscan",
    min_cluster_size: int = 15,
    min_samples: int | None = None,
    eps_m: float = DEFAULT_EPS_M,
    cell_m: float = DEFAULT_CELL_M,
    min_density_ratio: float | None = DEFAULT_DENSITY_RATIO,
    cluster_selection_epsilon_m: float = 0.0,
) -> IntArray:
    """Cluster points (metres) by density; return one label per point (``-1`` = noise).

    Parameters
    ----------
    xy : array_like of shape (n, 2)
        Coordinates in a projected CRS in metres.
    method : {"hdbscan", "dbscan"}
        Grid-weighted HDBSCAN (default) or DBSCAN; see the module docstring.
    min_cluster_size : int
        Fewest cases in a cluster.
    min_samples : int, optional
        HDBSCAN: cases within the core distance (default 10). DBSCAN: cases within ``eps_m`` for
        a core case (default: the larger of 10 and ``min_density_ratio`` times the background
        count expected in a disc of radius ``eps_m``).
    eps_m : float
        DBSCAN neighbourhood radius in metres (ignored by HDBSCAN).
    cell_m : float
        Side of the snapping grid in metres.
    min_density_ratio : float or None
        Density floor: a case belongs to a hotspot only where the local density (``min_samples``
        cases within the core distance) is at least this many times the background density
        (:func:`background_density`). Without it HDBSCAN also reports broad, low-density
        "clusters" that are mere fluctuations of a uniform background. ``None`` turns it off.
    cluster_selection_epsilon_m : float
        HDBSCAN: clusters closer than this (in mutual-reachability metres) are merged.

    Returns
    -------
    ndarray of shape (n,)
        Cluster labels 0..k-1, ``-1`` for noise, numbered by decreasing size.
    """
    if method not in ("hdbscan", "dbscan"):
        raise InputError(f"未知的聚类方法「{method}」；可选 hdbscan 或 dbscan。")
    if min_cluster_size < 2 or (min_samples is not None and min_samples < 1):
        raise InputError("min_cluster_size 至少为 2，min_samples 至少为 1。")
    cells = aggregate_to_grid(xy, cell_m=cell_m)
    if len(cells.counts) == 0:
        return np.empty(0, np.int64)
    bg = weighted_background(cells) if min_density_ratio else 0.0
    if method == "hdbscan":
        k = min_samples or DEFAULT_MIN_SAMPLES
        max_core = (float(np.sqrt(k / (np.pi * min_density_ratio * bg)))
                    if min_density_ratio and bg > 0 else None)
        cl = hdbscan_cells(
            cells, min_cluster_size=min_cluster_size, min_samples=k, cell_m=cell_m,
            cluster_selection_epsilon_m=cluster_selection_epsilon_m, max_core_m=max_core,
        )
    else:
        k = min_samples or max(
            DEFAULT_MIN_SAMPLES, int(np.ceil((min_density_ratio or 0) * bg * np.pi * eps_m**2))
        )
        cl = dbscan_cells(cells, min_cluster_size=min_cluster_size, min_samples=k, eps_m=eps_m)
    return _by_size(cl[cells.point_cell])


def _by_size(labels: IntArray) -> IntArray:
    """Renumber labels 0..k-1 by decreasing cluster size (noise stays -1)."""
    ok = labels >= 0
    if not ok.any():
        return labels
    sizes = np.bincount(labels[ok])
    order = np.argsort(-sizes, kind="stable")
    remap = np.full(len(sizes), NOISE, np.int64)
    remap[order] = np.arange(len(sizes))
    remap[sizes == 0] = NOISE
    out = labels.copy()
    out[ok] = remap[labels[ok]]
    return out


def merge_close_clusters(
    xy: npt.ArrayLike, labels: npt.ArrayLike, *, gap_m: float
) -> IntArray:
    """Merge clusters whose convex hulls come within ``gap_m`` metres of each other.

    HDBSCAN's excess-of-mass selection often splits one market or one street of stalls into
    neighbouring sub-clusters; for patrol purposes they are one hotspot. Merging is transitive
    (connected components of the "within ``gap_m``" graph). Returns labels numbered by size.
    """
    import shapely

    lab = np.asarray(labels, dtype=np.int64)
    k = int(lab.max()) + 1 if len(lab) else 0
    if k < 2 or gap_m <= 0:
        return lab
    pts = np.asarray(xy, dtype=float)
    ok = np.flatnonzero(lab >= 0)
    ok = ok[np.argsort(lab[ok], kind="stable")]
    hulls = shapely.convex_hull(shapely.multipoints(pts[ok], indices=lab[ok]))
    tree = shapely.STRtree(hulls)
    a, b = tree.query(hulls, predicate="dwithin", distance=gap_m)
    graph = sparse.csr_matrix((np.ones(len(a)), (a, b)), shape=(k, k))
    _, comp = connected_components(graph, directed=False)
    out = lab.copy()
    out[lab >= 0] = comp[lab[lab >= 0]]
    return _by_size(out)
