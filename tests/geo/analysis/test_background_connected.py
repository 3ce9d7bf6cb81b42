"""Every hotspot of :func:`geo.analysis.background_grid.segment` is one connected region.

``scipy.ndimage.watershed_ift`` floods across the cells outside the support too, so a patch of
support cells away from a hotspot could get that hotspot's label (seen 500 m away in real data).
The grids here are built in code so that the plain watershed does exactly that."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from geo.analysis import background_grid as bgm

EIGHT = np.ones((3, 3), bool)
CELLS_APART = 5  # empty cells between the hotspot and the patch


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """A strong hotspot (5 x 5 cells of 1 case, 8 at the centre) and, 5 empty cells east, a
    3 x 3 patch of 4 cases per cell; background 0.05 per cell. The centre alone is significant
    (a strong hotspot, trimmed to its unusual cells)."""
    counts = np.zeros((12, 30), np.float32)
    counts[3:8, 3:8] = 1.0
    counts[5, 5] = 8.0
    counts[4:7, 14:17] = 4.0
    return counts, np.full(counts.shape, 0.05, np.float32)


def _segment(counts: np.ndarray, bg: np.ndarray) -> np.ndarray:
    return bgm.segment(counts, bg, counts >= 2, counts >= 8, sizes=[31], min_density_ratio=1.5,
                       smooth_cells=1.0, saddle_ratio=0.5)


def _pieces(labels: np.ndarray) -> dict[int, int]:
    return {lab: ndimage.label(labels == lab, structure=EIGHT)[1]
            for lab in range(1, int(labels.max()) + 1)}


def test_plain_watershed_gives_the_hotspot_detached_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    """The grid does trigger the flaw: without the fix, the hotspot's label has detached pieces
    (corner cells of the patch)."""
    monkeypatch.setattr(bgm, "_marker_pieces", lambda labels, _markers: labels)
    monkeypatch.setattr(bgm, "_regrow", lambda labels, _ratio, _support: labels)
    counts, bg = _grid()
    labels = _segment(counts, bg)
    hot = int(labels[5, 5])
    assert _pieces(labels)[hot] > 1
    assert (labels[:, 10:] == hot).any()  # cells of the patch, 5 cells away


def test_every_label_is_one_connected_region() -> None:
    counts, bg = _grid()
    labels = _segment(counts, bg)
    assert set(_pieces(labels).values()) == {1}
    hot, patch = int(labels[5, 5]), int(labels[5, 15])
    assert hot > 0 and patch > 0 and hot != patch
    assert not (labels[:, 9:] == hot).any()  # nothing east of the hotspot's own cells
    assert (labels[4:7, 14:17] == patch).all()  # the whole patch is one region of its own
    assert np.array_equal(np.unique(labels), [0, hot, patch])


def test_cells_cut_off_join_their_labelled_neighbour_of_highest_ratio() -> None:
    """One row: a peak (9) with a cell beside it (3), and far east a lone cell (2); the plain
    watershed gives the cell beside the peak the far cell's label."""
    ratio = np.array([[3.0, 9.0, 1.0, 1.0, 1.0, 2.0]], np.float32)
    support = np.array([[True, True, False, False, False, True]])
    comp, n = ndimage.label(support, structure=EIGHT)
    keep = np.r_[False, np.ones(n, bool)]
    labels = bgm._watershed(ratio, support, comp, keep, 0.5)
    assert labels[0, 0] == labels[0, 1] > 0
    assert labels[0, 5] > 0 and labels[0, 5] != labels[0, 1]
    assert (labels[0, 2:5] == 0).all()


def test_regrow_keeps_regions_connected_and_stops_where_nothing_is_in_reach() -> None:
    labels = np.array([[1, 0, 0, 0, 0, 0]], np.int64)
    ratio = np.array([[5.0, 4.0, 3.0, 1.0, 1.0, 1.0]], np.float32)
    support = np.array([[True, True, True, False, True, True]])
    out = bgm._regrow(labels, ratio, support)
    assert out.tolist() == [[1, 1, 1, 0, 0, 0]]  # the cells past the gap: no label in reach
