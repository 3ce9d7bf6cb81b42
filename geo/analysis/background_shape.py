"""The extent of a weak hotspot: grown inside the scan windows that found it, drawn as cells.

A weak hotspot (a disc 60–120 m wide at a few times the background, no cell unusual on its own)
is significant only through a window wider than the cell. The cells that pass the density floor
of :func:`geo.analysis.background_grid.segment` are a noisy part of it, and the concave hull of
their few cases (the polygon of a strong hotspot) is smaller still: on the simulated district at
100,000 cases it covered 40–80 % of a weak disc and sometimes missed its centre by a few metres.
:func:`grow_weak` therefore grows each weak hotspot, one ring of cells at a time, while the ring
still holds ``min_density_ratio`` times its background, inside the union of its seeds' best
windows (:attr:`geo.analysis.background_scan.Scan.best`) and its own territory (cells nearer to
it than to any other hotspot, so adjacent hotspots stay apart); :func:`cell_polygons` draws it
as the dissolved union of its cells. A weak cluster of a few addresses in sparse data does not
grow (the ring around it is empty); a weak disc grows to its edge. Hotspots holding a cell
significant on its own (a market gate, a lane of stalls) keep the hull of their cases: the
window around a thin lane is much wider than the lane.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely
from scipy import ndimage

from geo.analysis.background_grid import CountGrid
from geo.analysis.background_scan import disc_sum

__all__ = ["cell_polygons", "grow_weak"]

F32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
EIGHT = np.ones((3, 3), bool)


def _territory(labels: IntArray) -> tuple[IntArray, npt.NDArray[np.float64]]:
    """Nearest hotspot label of every cell and its distance (cells) to that hotspot."""
    dist, idx = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    return labels[idx[0], idx[1]], dist


def _box(shape: tuple[int, int], ix: IntArray, iy: IntArray,
         margin: int) -> tuple[slice, slice]:
    """The bounding box of cells ``(ix, iy)`` grown by ``margin`` cells, inside the grid."""
    return (slice(max(0, int(ix.min()) - margin), min(shape[0], int(ix.max()) + margin + 1)),
            slice(max(0, int(iy.min()) - margin), min(shape[1], int(iy.max()) + margin + 1)))


def _union_of_discs(shape: tuple[int, int], ix: IntArray, iy: IntArray,
                    diam: F32Array) -> BoolArray:
    """Cells (of a grid of ``shape``) whose centres lie in the disc of diameter ``diam[i]``
    around cell ``(ix[i], iy[i])``."""
    out = np.zeros(shape, bool)
    for d in np.unique(diam):
        mark = np.zeros(shape, np.float32)
        sel = diam == d
        mark[ix[sel], iy[sel]] = 1.0
        out |= disc_sum(mark, float(d)) > 0.5
    return out


def _extent(counts: F32Array, bg: F32Array, labels: IntArray, owner: IntArray, h: int,
            ix: IntArray, iy: IntArray, diam: F32Array, floor: float) -> BoolArray:
    """Cells of weak hotspot ``h`` (all arrays cropped alike): see :func:`grow_weak`."""
    own = labels == h
    allowed = (owner == h) & ((labels == 0) | own)
    reach = _union_of_discs(labels.shape, ix, iy, diam) & allowed
    region = own.copy()
    while True:
        ring = ndimage.binary_dilation(region, structure=EIGHT) & reach & ~region
        if not ring.any() or counts[ring].sum() < floor * bg[ring].sum():
            break
        region |= ring
    comp, _ = ndimage.label(region, structure=EIGHT)
    found = comp[ix, iy]
    region = np.isin(comp, np.unique(found[found > 0] if (found > 0).any() else comp[own]))
    return ndimage.binary_fill_holes(region) & allowed


def grow_weak(labels: IntArray, seeds: BoolArray, best: F32Array, weak: BoolArray,
              counts: F32Array, bg: F32Array, *, floor: float) -> IntArray:
    """Labels with each weak hotspot grown inside its significant windows while dense.

    Parameters
    ----------
    labels : ndarray of shape (nx, ny)
        Hotspot of each cell, ``0`` none, ``1..k``.
    seeds : ndarray of bool
        Cells significant after the false-discovery correction.
    best : ndarray
        Diameter (cells) of the best window at each cell (:class:`~geo.analysis.background_scan.Scan`).
    weak : ndarray of bool, shape (k + 1,)
        Which labels to grow (index 0 ignored).
    counts, bg : ndarray
        Cases and expected background per cell.
    floor : float
        Density floor of a ring, as a multiple of its background (``min_density_ratio``).

    Returns
    -------
    ndarray
        New labels. A weak hotspot ``h`` takes its *seeds*: the seeds nearer to ``h`` than to
        any other hotspot whose best-window disc reaches ``h``'s cells. Its *reach* is the
        cells inside those discs, nearer to ``h`` than to any other hotspot and not another
        hotspot's. From its own cells it grows by one ring (8-neighbourhood) of reachable cells
        at a time while the ring holds at least ``floor`` times the ring's expected background;
        of the result it keeps the parts connected to its seeds (a stray cell of its own
        elsewhere is dropped), with holes filled. Other hotspots are not changed.
    """
    if not weak[1:].any():
        return labels
    owner, dist = _territory(labels)
    s = np.flatnonzero(seeds.ravel() & (best.ravel() > 0))
    near = owner.ravel()[s]
    s = s[weak[near] & (dist.ravel()[s] <= best.ravel()[s] / 2.0)]
    s = s[np.argsort(owner.ravel()[s], kind="stable")]
    s_lab = owner.ravel()[s]
    cells = np.flatnonzero(weak[labels.ravel()])
    cells = cells[np.argsort(labels.ravel()[cells], kind="stable")]
    c_lab = labels.ravel()[cells]
    out = labels.copy()
    for h in np.unique(s_lab):
        mine = s[np.searchsorted(s_lab, h):np.searchsorted(s_lab, h, side="right")]
        own = cells[np.searchsorted(c_lab, h):np.searchsorted(c_lab, h, side="right")]
        diam = best.ravel()[mine]
        ix, iy = np.unravel_index(mine, labels.shape)
        ox, oy = np.unravel_index(own, labels.shape)
        margin = int(np.ceil(float(diam.max()))) + 2
        box = _box(labels.shape, np.r_[ix, ox], np.r_[iy, oy], margin)
        out[ox, oy] = 0
        grown = _extent(counts[box], bg[box], labels[box], owner[box], int(h),
                        ix - box[0].start, iy - box[1].start, diam, floor)
        out[box][grown] = h
    return out


def cell_polygons(grid: CountGrid, labels: IntArray, ids: IntArray,
                  others: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Polygon of each label in ``ids``: the dissolved union of its cells, closed by a cell.

    The union of the cells is closed by one cell (buffered out and back in: notches and
    diagonal contacts filled, the outline of a disc drawn in cells keeps about its area) and
    clipped off the polygons ``others`` (all hotspots' polygons, label ``h`` at index
    ``h - 1``; those of ``ids`` themselves are skipped).
    """
    c = grid.cell_m
    ix, iy = np.nonzero(np.isin(labels, ids))
    lab = labels[ix, iy]
    order = np.argsort(lab, kind="stable")
    x, y = grid.x0 + ix[order] * c, grid.y0 + iy[order] * c
    boxes = shapely.box(x, y, x + c, y + c)
    starts = np.searchsorted(lab[order], ids)
    ends = np.searchsorted(lab[order], ids, side="right")
    cells = np.array([shapely.coverage_union_all(boxes[a:b])
                      for a, b in zip(starts, ends, strict=True)], dtype=object)
    smooth = shapely.buffer(shapely.buffer(cells, c), -c)
    poly = np.where(shapely.is_empty(smooth), cells, smooth)
    a_idx, b_idx = shapely.STRtree(others).query(poly, predicate="intersects")
    other = b_idx + 1 != np.asarray(ids)[a_idx]
    for i in np.unique(a_idx[other]):
        near = b_idx[other & (a_idx == i)]
        poly[i] = shapely.difference(poly[i], shapely.union_all(others[near]))
    return np.asarray(poly, dtype=object)
