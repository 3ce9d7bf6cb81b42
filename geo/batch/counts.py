"""The per-partition work: stream one Parquet file into sparse (category, day, cell) counts.

Each batch of ``lon, lat, category, reported_at`` is projected with pyproj to the plan's working
CRS, binned to the district's grid (:meth:`geo.grid.GridSpec.cell_index`), and the rows are
packed into one int64 key per row, ``(category · n_days + day) · n_cells + cell``, counted with
``np.bincount`` over the keys' range (or ``np.unique`` when the range is sparse). A partition's
result is a :class:`Partial` — unique keys and counts — whose size is bounded by the grid × days,
not by the number of cases. :class:`DistrictCounts` adds partials into dense per-district arrays;
integer sums do not depend on the order, so any execution path gives identical counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import CRS, Transformer

from geo.batch.plan import BatchPlan, batch_columns, district_groups
from geo.crs import WGS84
from geo.io.parquet import Fragment, iter_batches

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Partial:
    """Sparse counts of one district in one partition: sorted unique ``keys`` and ``counts``."""

    keys: IntArray
    counts: IntArray
    outside: int = 0

    @staticmethod
    def combine(parts: list[Partial]) -> Partial:
        """Sum several partials of the same district."""
        if len(parts) == 1:
            return parts[0]
        keys = np.concatenate([p.keys for p in parts])
        counts = np.concatenate([p.counts for p in parts])
        uniq, inv = np.unique(keys, return_inverse=True)
        summed = np.bincount(inv.ravel(), weights=counts, minlength=len(uniq))
        return Partial(uniq, np.rint(summed).astype(np.int64), sum(p.outside for p in parts))


@lru_cache(maxsize=8)
def _transformer(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(WGS84, CRS.from_wkt(crs_wkt), always_xy=True)


def _count_keys(keys: IntArray) -> tuple[IntArray, IntArray]:
    if keys.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo < 4 * keys.size + 1_000_000:
        dense = np.bincount(keys - lo, minlength=hi - lo + 1)
        nz = np.flatnonzero(dense)
        return (nz + lo).astype(np.int64), dense[nz].astype(np.int64)
    uniq, counts = np.unique(keys, return_counts=True)
    return uniq.astype(np.int64), counts.astype(np.int64)


def fragment_counts(fragment: Fragment, plan: BatchPlan) -> dict[str, Partial]:
    """Count one Parquet file: a :class:`Partial` per district present in it.

    Rows without valid coordinates, time or category, reported on or after the forecast origin,
    or in a district unknown to the plan are left out (``outside`` counts those that fell
    outside the district's grid, which the plan's padding makes impossible for valid rows).
    """
    to_xy = _transformer(plan.crs.to_wkt())
    value_set = pa.array(plan.categories, type=pa.string())
    found: dict[str, list[Partial]] = {}
    for batch in iter_batches(fragment, optional=("district",), batch_rows=plan.batch_rows):
        cols = batch_columns(batch, plan.tz)
        cat_arr = pc.cast(batch.column("category"), pa.string())
        cat = pc.index_in(cat_arr, value_set=value_set).to_numpy(zero_copy_only=False)
        cat = np.where(np.isnan(cat.astype(float)), -1, cat).astype(np.int64)
        day = cols["day"] - plan.day0
        ok = cols["ok"] & (cat >= 0) & (day >= 0) & (day < plan.n_days)
        for name, rows in district_groups(batch, fragment):
            grid = plan.grids.get(name)
            if grid is None:
                continue
            sel = np.flatnonzero(ok) if rows is None else rows[ok[rows]]
            x, y = to_xy.transform(cols["lon"][sel], cols["lat"][sel])
            cell = grid.cell_index(x, y)
            inside = cell >= 0
            n_cells = grid.nx * grid.ny
            keys = (cat[sel][inside] * plan.n_days + day[sel][inside]) * n_cells + cell[inside]
            uniq, counts = _count_keys(keys)
            found.setdefault(name, []).append(Partial(uniq, counts, int((~inside).sum())))
    return {name: Partial.combine(parts) for name, parts in found.items()}


@dataclass
class DistrictCounts:
    """Dense counts of one district, filled from :class:`Partial` results.

    Attributes
    ----------
    cat_cell : ndarray of int64, shape (n_categories, n_cells)
        Cases per category and cell (all days before the origin).
    day_cell : ndarray of int32, shape (n_days, n_cells)
        Cases of every category per day and cell.
    cat_day : ndarray of int64, shape (n_categories, n_days)
        Cases per category and day (for the statistics).
    outside : int
        Valid rows that fell outside the grid (0 unless the plan is wrong).
    """

    district: str
    cat_cell: IntArray
    day_cell: npt.NDArray[np.int32]
    cat_day: IntArray
    outside: int = 0

    @classmethod
    def empty(cls, district: str, plan: BatchPlan) -> DistrictCounts:
        """Zero counts on the district's grid."""
        grid = plan.grids[district]
        n_cells, n_cat = grid.nx * grid.ny, len(plan.categories)
        return cls(district, np.zeros((n_cat, n_cells), np.int64),
                   np.zeros((plan.n_days, n_cells), np.int32),
                   np.zeros((n_cat, plan.n_days), np.int64))

    def add(self, part: Partial) -> None:
        """Add one partial (in place)."""
        n_cells = self.cat_cell.shape[1]
        n_days = self.day_cell.shape[0]
        cat, rest = np.divmod(part.keys, n_days * n_cells)
        day, cell = np.divmod(rest, n_cells)
        np.add.at(self.cat_cell, (cat, cell), part.counts)
        np.add.at(self.day_cell, (day, cell), part.counts.astype(np.int32))
        np.add.at(self.cat_day, (cat, day), part.counts)
        self.outside += part.outside


def accumulate(district: str, parts: Iterable[dict[str, Partial]], plan: BatchPlan
               ) -> DistrictCounts:
    """Dense counts of ``district`` from the partials of the fragments that hold it.

    ``parts`` may be a generator (the in-process path streams one fragment at a time).
    """
    acc = DistrictCounts.empty(district, plan)
    for part in parts:
        if district in part:
            acc.add(part[district])
    return acc
