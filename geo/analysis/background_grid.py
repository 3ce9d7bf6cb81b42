"""Numeric core of the background-contrast hotspot detector (see :mod:`geo.analysis.background`).

Everything here works on a fine square grid of case counts (numpy arrays, ``[ix, iy]`` order):

* :func:`count_grid` — counts per cell with ``np.bincount``;
* :func:`local_background` — expected count per cell from a robust local median of coarse counts;
* :func:`window_sum` — counts in the square window around each cell;
* :func:`fdr_seeds` — Benjamini–Hochberg over the cells of the study area;
* :func:`segment` — support mask, connected components, watershed split at deep saddles (every
  hotspot one connected region);
* :func:`hotspot_polygons` — the concave hull of each hotspot's cases, inside its cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy import ndimage, stats
from scipy.spatial import cKDTree

from geo.errors import InputError

__all__ = ["CountGrid", "count_grid", "fdr_seeds", "hotspot_polygons", "local_background",
           "segment", "window_sum"]

FloatArray = npt.NDArray[np.float64]
F32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MAX_CELLS = 40_000_000
MIN_COARSE_COUNT = 20.0  # the background median is taken over coarse cells this full, at least
MEDIAN_HALF_WIDTH = 2  # coarse cells each side of the median window (5 x 5 coarse cells)
EIGHT = np.ones((3, 3), bool)


@dataclass(frozen=True)
class CountGrid:
    """Case counts on a square grid.

    Attributes
    ----------
    counts : ndarray of shape (nx, ny), float32
        Cases per cell.
    x0, y0 : float
        South-west corner of cell ``[0, 0]`` (metres, working CRS).
    cell_m : float
        Cell side in metres.
    point_cell : ndarray of shape (n,)
        Flat index ``ix * ny + iy`` of each case's cell.
    """

    counts: F32Array
    x0: float
    y0: float
    cell_m: float
    point_cell: IntArray


def count_grid(xy: FloatArray, *, cell_m: float) -> CountGrid:
    """Counts of the points on a grid of side ``cell_m`` anchored at multiples of ``cell_m``.

    Raises
    ------
    InputError
        If the grid would exceed :data:`MAX_CELLS` cells (then ``cell_m`` should grow).
    """
    lo = np.floor(xy.min(axis=0) / cell_m) * cell_m
    ij = np.floor((xy - lo) / cell_m).astype(np.int64)
    nx, ny = (int(v) + 1 for v in ij.max(axis=0))
    if nx * ny > MAX_CELLS:
        raise InputError(
            f"案件范围太大：{cell_m:g} 米网格需要 {nx * ny:,} 个单元（上限 {MAX_CELLS:,}）；"
            "请增大 cell_m（例如 25 米），或按区域分别计算。")
    flat = ij[:, 0] * ny + ij[:, 1]
    counts = np.bincount(flat, minlength=nx * ny).astype(np.float32).reshape(nx, ny)
    return CountGrid(counts, float(lo[0]), float(lo[1]), float(cell_m), flat)


def _block_sum(a: F32Array, f: int) -> F32Array:
    nx, ny = a.shape
    px, py = -nx % f, -ny % f
    b = np.pad(a, ((0, px), (0, py)))
    return b.reshape(b.shape[0] // f, f, b.shape[1] // f, f).sum(axis=(1, 3))


def _window_nanmedian(a: FloatArray, h: int) -> FloatArray:
    """Median of the finite values in the ``(2h+1)^2`` window around each cell (NaN: none)."""
    pad = np.pad(a, h, constant_values=np.nan)
    nx, ny = a.shape
    stack = np.stack([pad[i:i + nx, j:j + ny] for i in range(2 * h + 1)
                      for j in range(2 * h + 1)])
    out = np.full(a.shape, np.nan)
    ok = np.isfinite(stack).any(axis=0)
    if ok.any():
        out[ok] = np.nanmedian(stack[:, ok], axis=0)
    return out


def local_background(counts: F32Array, *, cell_m: float,
                     background_radius_m: float) -> tuple[F32Array, BoolArray]:
    """Expected background count per fine cell, and the study-area mask.

    Coarse cells of side about ``background_radius_m / 2`` (grown until the occupied ones hold at
    least :data:`MIN_COARSE_COUNT` cases at the median, for sparse data) are counted; the
    background of a coarse cell is the median over the occupied coarse cells of its 5 x 5
    neighbourhood (about ``background_radius_m`` each side), so that hotspots — a few coarse
    cells at most — do not raise it and a gradient or a dense core is followed. Empty coarse
    cells without occupied neighbours get the median of all occupied ones. The surface is
    interpolated bilinearly to the fine cells. The study area is the fine cells inside
    occupied coarse cells.
    """
    nx, ny = counts.shape
    f = max(1, round(background_radius_m / 2.0 / cell_m))
    while True:
        coarse = _block_sum(counts, f).astype(np.float64)
        valid = _block_sum(np.ones_like(counts), f).astype(np.float64)
        occupied = coarse > 0
        dens = np.where(occupied, coarse / valid, np.nan)  # cases per fine cell
        med_count = float(np.median(coarse[occupied])) if occupied.any() else 0.0
        if med_count >= MIN_COARSE_COUNT or min(coarse.shape) <= 2 * MEDIAN_HALF_WIDTH + 1:
            break
        f *= 2
    med = _window_nanmedian(dens, MEDIAN_HALF_WIDTH)
    overall = float(np.nanmedian(dens)) if occupied.any() else 0.0
    med = np.where(np.isfinite(med), med, overall)
    cx = (np.arange(nx) + 0.5) / f - 0.5
    cy = (np.arange(ny) + 0.5) / f - 0.5
    gx, gy = np.meshgrid(cx.astype(np.float32), cy.astype(np.float32), indexing="ij")
    bg = ndimage.map_coordinates(med.astype(np.float32), [gx, gy], order=1, mode="nearest")
    study = np.repeat(np.repeat(occupied, f, axis=0), f, axis=1)[:nx, :ny]
    return np.maximum(bg, np.float32(1e-6)), study


def window_sum(a: F32Array, k: int) -> F32Array:
    """Sum over the ``k x k`` window centred on each cell (zeros outside the grid)."""
    if k == 1:
        return a
    out = ndimage.uniform_filter(a, size=k, mode="constant") * np.float32(k * k)
    return np.maximum(out, np.float32(0.0))


def fdr_seeds(p: F32Array, study: BoolArray, *, alpha: float) -> BoolArray:
    """Cells rejected by Benjamini–Hochberg at false-discovery rate ``alpha`` (study area only).

    All study cells count as tests; only those with ``p <= alpha`` need sorting (the others can
    never be rejected), so this equals BH over every cell.
    """
    m = int(study.sum())
    flat = np.where(study, p, np.float32(1.0)).ravel()
    cand = np.flatnonzero(flat <= alpha)
    out = np.zeros(p.size, bool)
    if m == 0 or len(cand) == 0:
        return out.reshape(p.shape)
    order = cand[np.argsort(flat[cand], kind="stable")]
    passed = flat[order] <= alpha * np.arange(1, len(order) + 1) / m
    if passed.any():
        out[order[: int(np.flatnonzero(passed)[-1]) + 1]] = True
    return out.reshape(p.shape)


def segment(counts: F32Array, bg: F32Array, seeds: BoolArray, cell_hits: BoolArray, *,
            sizes: list[int], min_density_ratio: float, smooth_cells: float,
            saddle_ratio: float, cell_p: float = 0.05) -> IntArray:
    """Hotspot label of each cell (0 = none, 1..k).

    Support: a cell whose own count and 3 x 3 neighbourhood count both reach
    ``min_density_ratio`` times the background (and at least one case), closed by one 3 x 3
    step, within half the largest scan window of a seed. Components (8-neighbourhood) of the
    support holding a seed are hotspots. A component holding a cell significant on its own
    (``cell_hits``: strong hotspots, e.g. a lane of stalls) is trimmed to its cells whose own
    count is unusual for the background (``P(X >= count) <= cell_p``; one-cell gaps closed), so
    that a strong hotspot is not widened by the odd background case beside it. Each hotspot is
    then split by a watershed on the Gaussian-smoothed ratio ``count / background`` (sigma
    ``smooth_cells``) from its local maxima, and neighbouring basins are merged again unless
    the excess at their saddle is below ``saddle_ratio`` times the excess at the lower peak.
    Every label is one connected region (8-neighbourhood) holding its peak: cells the
    watershed gave a basin they do not touch join a neighbouring basin (:func:`_marker_pieces`).
    """
    if not seeds.any():
        return np.zeros(counts.shape, np.int64)
    floor = np.float32(min_density_ratio)
    own = counts >= np.maximum(floor * bg, np.float32(1.0))
    c3 = window_sum(counts, 3)
    support = (c3 >= floor * window_sum(bg, 3)) & (c3 >= 1.5) & (own | (counts == 0))
    reach = max(1, max(sizes) // 2)
    zone = ndimage.binary_dilation(seeds, structure=EIGHT, iterations=reach)
    support = (ndimage.binary_closing(support, structure=EIGHT) | support) & zone
    comp, n = ndimage.label(support, structure=EIGHT)
    keep = np.zeros(n + 1, bool)
    keep[np.unique(comp[seeds & support])] = True
    keep[0] = False
    strong_comp = np.zeros(n + 1, bool)
    strong_comp[np.unique(comp[cell_hits & support])] = True
    strong_comp &= keep
    strong = own.copy()
    nz = np.flatnonzero(own.ravel())
    strong.ravel()[nz] = stats.poisson.sf(counts.ravel()[nz] - 1.0, bg.ravel()[nz]) <= cell_p
    strong = ndimage.binary_closing(strong, structure=EIGHT) | strong
    in_strong = strong_comp[comp]
    support = (keep[comp] & ~in_strong) | (in_strong & strong)
    comp, n = ndimage.label(support, structure=EIGHT)
    keep = np.ones(n + 1, bool)
    keep[0] = False
    ratio = (ndimage.gaussian_filter(counts, smooth_cells, truncate=3.0)
             / ndimage.gaussian_filter(bg, smooth_cells, truncate=3.0)).astype(np.float32)
    labels = _watershed(ratio, support, comp, keep, smooth_cells)
    return _merge_saddles(labels, ratio, saddle_ratio)


def _watershed(ratio: F32Array, support: BoolArray, comp: IntArray, keep: BoolArray,
               smooth_cells: float) -> IntArray:
    """Watershed of ``-log(ratio)`` inside the support from its local maxima; each label one
    connected region holding its marker (:func:`_marker_pieces`, :func:`_regrow`)."""
    size = 2 * max(1, round(2 * smooth_cells)) + 1
    peaks = support & (ratio >= ndimage.maximum_filter(ratio, size=size)) & (ratio > 1.0)
    # every kept component gets a marker, at its maximum
    cells = np.flatnonzero(support.ravel() & keep[comp.ravel()])
    if len(cells):
        lab = comp.ravel()[cells]
        order = np.lexsort((-ratio.ravel()[cells], lab))
        first = np.r_[True, lab[order][1:] != lab[order][:-1]]
        peaks.ravel()[cells[order[first]]] = True
    markers, _ = ndimage.label(peaks, structure=EIGHT)
    if not support.any():
        return np.zeros(ratio.shape, np.int64)
    lr = np.log(np.maximum(ratio, np.float32(1e-3)))
    lo, hi = float(lr[support].min()), float(lr[support].max())
    scale = 60000.0 / max(hi - lo, 1e-6)
    level = np.full(ratio.shape, 65535, np.uint16)
    level[support] = np.rint((hi - lr[support]) * scale).astype(np.uint16)
    lab = ndimage.watershed_ift(level, markers.astype(np.int32), structure=EIGHT)
    lab = np.where(support, lab, 0).astype(np.int64)
    return _regrow(_marker_pieces(lab, markers), ratio, support)


def _marker_pieces(labels: IntArray, markers: npt.NDArray[np.int32]) -> IntArray:
    """``labels`` with each label kept only on its connected pieces (8-neighbourhood) that hold
    a cell of its marker; the other cells become 0.

    ``scipy.ndimage.watershed_ift`` floods across the cells outside the support too, so a patch
    of support cells can get the label of a basin it does not touch (seen 500 m away).
    """
    out = labels.copy()
    for lab, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        mine = labels[box] == lab
        pieces, n = ndimage.label(mine, structure=EIGHT)
        if n < 2:
            continue
        held = np.zeros(n + 1, bool)
        held[pieces[mine & (markers[box] == lab)]] = True
        held[0] = True  # cells of other labels: untouched
        out[box][~held[pieces]] = 0
    return out


def _regrow(labels: IntArray, ratio: F32Array, support: BoolArray) -> IntArray:
    """Give the support cells left without a label (:func:`_marker_pieces`) the label of their
    labelled neighbour (8-neighbourhood) of the highest ratio, one ring at a time, so that every
    label stays one connected region; cells with no labelled neighbour in reach stay 0. Each
    piece of such cells is done in its own box (pieces never touch)."""
    todo = support & (labels == 0)
    if not todo.any():
        return labels
    out = labels.copy()
    pieces, _ = ndimage.label(todo, structure=EIGHT)
    for k, piece in enumerate(ndimage.find_objects(pieces), start=1):
        if piece is None:
            continue
        box = tuple(slice(max(sl.start - 1, 0), min(sl.stop + 1, n))
                    for sl, n in zip(piece, labels.shape, strict=True))
        out[box] = _grow_rings(out[box], ratio[box], pieces[box] == k)
    return out


def _grow_rings(lab: IntArray, r: F32Array, left: BoolArray) -> IntArray:
    """``lab`` with the ``left`` cells labelled ring by ring from their labelled neighbours."""
    lab, left = lab.copy(), left.copy()
    while left.any():
        best = np.full(lab.shape, -np.inf, np.float32)
        pick = np.zeros_like(lab)
        for dx, dy in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
            n_lab, n_r = _shift(lab, dx, dy, 0), _shift(r, dx, dy, -np.inf)
            better = (n_lab > 0) & (n_r > best)
            best[better], pick[better] = n_r[better], n_lab[better]
        grow = left & (pick > 0)
        if not grow.any():
            break
        lab[grow] = pick[grow]
        left &= ~grow
    return lab


def _shift(a: npt.NDArray[Any], dx: int, dy: int, fill: float) -> npt.NDArray[Any]:
    """``out[i, j] = a[i + dx, j + dy]`` (``fill`` outside)."""
    out = np.full_like(a, fill)
    nx, ny = a.shape
    out[max(0, -dx):nx - max(0, dx), max(0, -dy):ny - max(0, dy)] = \
        a[max(0, dx):nx - max(0, -dx), max(0, dy):ny - max(0, -dy)]
    return out


def _merge_saddles(labels: IntArray, ratio: F32Array, saddle_ratio: float) -> IntArray:
    """Merge neighbouring basins whose saddle is not deep enough; renumber 1..k."""
    k = int(labels.max())
    if k == 0:
        return labels
    excess = np.maximum(ratio - 1.0, 0.0).astype(np.float64)
    peak = np.zeros(k + 1)
    np.maximum.at(peak, labels.ravel(), excess.ravel())
    pairs_a, pairs_b, sad = [], [], []
    nx, ny = labels.shape
    for dx, dy in ((1, 0), (0, 1), (1, 1), (1, -1)):
        a = labels[max(0, -dx):nx - max(0, dx), max(0, -dy):ny - max(0, dy)]
        b = labels[max(0, dx):nx - max(0, -dx), max(0, dy):ny - max(0, -dy)]
        ea = excess[max(0, -dx):nx - max(0, dx), max(0, -dy):ny - max(0, dy)]
        eb = excess[max(0, dx):nx - max(0, -dx), max(0, dy):ny - max(0, -dy)]
        m = (a > 0) & (b > 0) & (a != b)
        pairs_a.append(np.minimum(a[m], b[m]))
        pairs_b.append(np.maximum(a[m], b[m]))
        sad.append(np.minimum(ea[m], eb[m]))
    pa, pb, ps = np.concatenate(pairs_a), np.concatenate(pairs_b), np.concatenate(sad)
    parent = np.arange(k + 1)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    if len(pa):
        key = pa * (k + 1) + pb
        uniq, inv = np.unique(key, return_inverse=True)
        best = np.zeros(len(uniq))
        np.maximum.at(best, inv, ps)
        for u, s in zip(uniq, best, strict=True):
            a_i, b_i = int(u // (k + 1)), int(u % (k + 1))
            if s >= saddle_ratio * min(peak[a_i], peak[b_i]):
                ra, rb = find(a_i), find(b_i)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(k + 1)])
    roots[0] = 0
    _, new = np.unique(roots, return_inverse=True)
    return new.reshape(-1)[labels.ravel()].reshape(labels.shape).astype(np.int64)


def _core_points(xy: FloatArray, point_label: IntArray, *,
                 cell_m: float) -> tuple[FloatArray, IntArray]:
    """The cases of each hotspot without its stray background cases, snapped to 1 m, unique.

    A case is stray when its 4th-nearest neighbour among the hotspot's cases is farther than
    three times the hotspot's median such distance (and more than 1 m): the odd
    background case in a cell on the edge of a lane of stalls. Sorted by label.
    """
    inside = np.flatnonzero(point_label >= 0)
    lab = point_label[inside]
    pts = xy[inside]
    k = 5
    if len(pts) > k:
        span = float(np.ptp(pts[:, 0])) + 1e4
        shifted = pts - pts.min(axis=0)
        shifted[:, 0] += lab * span  # hotspots far apart: one tree, neighbours within a hotspot
        dist = cKDTree(shifted).query(shifted, k=k)[0][:, -1]
        med = np.zeros(int(lab.max()) + 1)
        for i in np.unique(lab):
            med[i] = np.median(dist[lab == i])
        ok = dist <= np.maximum(3.0 * med[lab], min(1.0, cell_m / 2.0))
        # a hotspot never loses all its cases
        ok |= ~np.isin(lab, np.unique(lab[ok]))
        pts, lab = pts[ok], lab[ok]
    key = np.unique(np.column_stack([lab, np.rint(pts)]), axis=0)
    return key[:, 1:], key[:, 0].astype(np.int64)


def hotspot_polygons(grid: CountGrid, labels: IntArray, ids: IntArray, xy: FloatArray,
                     point_label: IntArray, *, buffer_m: float,
                     hull_ratio: float) -> npt.NDArray[np.object_]:
    """Polygon of each label in ``ids``: the concave hull of its cases, hugging them.

    The hull (``shapely.concave_hull`` of the cases in the hotspot's cells, ``hull_ratio``) is
    buffered by ``buffer_m``, kept inside the dissolved union of the hotspot's cells (buffered
    alike) and clipped off the cells of every other hotspot, so neighbouring hotspots split at a
    saddle do not overlap.
    """
    ix, iy = np.nonzero(labels)
    lab = labels[ix, iy]
    c = grid.cell_m
    x = grid.x0 + ix * c
    y = grid.y0 + iy * c
    boxes = shapely.box(x, y, x + c, y + c)
    order = np.argsort(lab, kind="stable")
    starts = np.searchsorted(lab[order], ids)
    ends = np.searchsorted(lab[order], ids, side="right")
    cells = np.array([shapely.coverage_union_all(boxes[order[s:e]])
                      for s, e in zip(starts, ends, strict=True)], dtype=object)
    pts, lab_pts = _core_points(xy, point_label, cell_m=c)
    hulls = shapely.concave_hull(shapely.multipoints(pts, indices=lab_pts), ratio=hull_ratio)
    b = max(buffer_m, 0.5)
    poly = shapely.intersection(shapely.buffer(hulls, b), shapely.buffer(cells, b,
                                                                          join_style="mitre"))
    tree = shapely.STRtree(cells)
    a_idx, b_idx = tree.query(poly, predicate="intersects")
    other = a_idx != b_idx
    for i in np.unique(a_idx[other]):
        near = b_idx[other & (a_idx == i)]
        poly[i] = shapely.difference(poly[i], shapely.union_all(cells[near]))
    return np.asarray(poly, dtype=object)
