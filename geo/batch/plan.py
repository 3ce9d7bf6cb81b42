"""First pass and plan: per-district extents of a case dataset, then one grid per district.

The extent pass reads only ``lon, lat, category, reported_at`` (min/max, distinct categories,
first/last local day), never projecting a point. The plan fixes everything the counting pass
needs so that every partition is counted independently and identically wherever it runs: the
working CRS, one :class:`geo.grid.GridSpec` per district (anchored at multiples of ``cell_m``,
covering the district's projected lon/lat box plus one cell), the day axis ``[day0, at_day)`` and
the category list (sorted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import CRS, Transformer

from geo.analysis.significance import MAX_GRID_CELLS
from geo.crs import WGS84, working_crs
from geo.errors import InputError
from geo.grid import GridSpec, grid_spec
from geo.io.parquet import DEFAULT_BATCH_ROWS, DEFAULT_TZ, Fragment, iter_batches

IntArray = npt.NDArray[np.int64]
NS_PER_DAY = 86_400_000_000_000
MAX_DAY_CELLS = 200_000_000  # days × cells of one district's daily array (int32: 800 MB)
DEFAULT_DISTRICT = "all"


@dataclass(frozen=True)
class Extent:
    """What the first pass learnt about one district's cases (valid rows only)."""

    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float
    day_min: int
    day_max: int
    n_valid: int
    n_invalid: int
    categories: frozenset[str]

    def merge(self, other: Extent) -> Extent:
        """The extent of both (min/max/union/sum: order-independent)."""
        return Extent(min(self.lon_min, other.lon_min), max(self.lon_max, other.lon_max),
                      min(self.lat_min, other.lat_min), max(self.lat_max, other.lat_max),
                      min(self.day_min, other.day_min), max(self.day_max, other.day_max),
                      self.n_valid + other.n_valid, self.n_invalid + other.n_invalid,
                      self.categories | other.categories)


@dataclass(frozen=True)
class BatchPlan:
    """Everything the counting and analysis steps need (picklable; shipped to Dask workers)."""

    crs: CRS
    cell_m: float
    tz: str
    day0: int
    at_day: int
    categories: tuple[str, ...]
    grids: dict[str, GridSpec] = field(repr=False)
    horizon_days: float = 7.0
    method: str = "blend"
    band_m: float | None = None
    period_days: int = 7
    batch_rows: int = DEFAULT_BATCH_ROWS

    @property
    def n_days(self) -> int:
        """Days on the time axis (the forecast origin ``at_day`` excluded)."""
        return self.at_day - self.day0


def local_days(times: pa.Array | pa.ChunkedArray, tz: str) -> IntArray:
    """Local calendar day (days since 1970-01-01 in ``tz``) of each time; ``-2**62`` if missing.

    Tz-aware times are converted to ``tz``; naive times are read as local wall-clock times.
    """
    s = times.to_pandas() if hasattr(times, "to_pandas") else pd.Series(times)
    if not pd.api.types.is_datetime64_any_dtype(s):
        s = pd.to_datetime(s, errors="coerce", format="mixed")
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert(tz).dt.tz_localize(None)
    ns = s.to_numpy(dtype="datetime64[ns]").view(np.int64)
    bad = ns == np.iinfo(np.int64).min  # NaT
    days = ns // NS_PER_DAY
    days[bad] = -(2**62)
    return days


def batch_columns(batch: pa.RecordBatch, tz: str) -> dict[str, np.ndarray]:
    """``lon``, ``lat`` (float, NaN where missing), ``day`` and a validity mask of a batch."""
    lon = batch.column("lon").to_numpy(zero_copy_only=False).astype(float, copy=False)
    lat = batch.column("lat").to_numpy(zero_copy_only=False).astype(float, copy=False)
    day = local_days(batch.column("reported_at"), tz)
    cat_ok = pc.is_valid(batch.column("category")).to_numpy(zero_copy_only=False)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    ok &= (day > -(2**62)) & cat_ok
    return {"lon": lon, "lat": lat, "day": day, "ok": ok}


def district_groups(batch: pa.RecordBatch, fragment: Fragment) -> list[tuple[str, np.ndarray | None]]:
    """(district, row selection or None for all rows) for the rows of a batch."""
    if "district" in batch.schema.names:
        codes, names = pd.factorize(batch.column("district").to_pandas().astype("string")
                                    .fillna(DEFAULT_DISTRICT))
        return [(str(n), np.flatnonzero(codes == i)) for i, n in enumerate(names)]
    return [(fragment.value("district") or DEFAULT_DISTRICT, None)]


def fragment_extent(fragment: Fragment, *, tz: str = DEFAULT_TZ,
                    batch_rows: int = DEFAULT_BATCH_ROWS) -> dict[str, Extent]:
    """First pass over one Parquet file: the :class:`Extent` of each district in it."""
    out: dict[str, Extent] = {}
    for batch in iter_batches(fragment, optional=("district",), batch_rows=batch_rows):
        cols = batch_columns(batch, tz)
        for name, rows in district_groups(batch, fragment):
            sel = slice(None) if rows is None else rows
            ok = cols["ok"][sel]
            n_bad = int((~ok).sum())
            if not ok.any():
                if n_bad:
                    ext = Extent(np.inf, -np.inf, np.inf, -np.inf, 2**62, -(2**62), 0, n_bad,
                                 frozenset())
                    out[name] = out[name].merge(ext) if name in out else ext
                continue
            lon, lat, day = cols["lon"][sel][ok], cols["lat"][sel][ok], cols["day"][sel][ok]
            cats = batch.column("category") if rows is None else batch.column("category").take(rows)
            uniq = pc.unique(cats.filter(pa.array(ok))).to_pylist()
            ext = Extent(float(lon.min()), float(lon.max()), float(lat.min()), float(lat.max()),
                         int(day.min()), int(day.max()), int(ok.sum()), n_bad,
                         frozenset(str(c) for c in uniq))
            out[name] = out[name].merge(ext) if name in out else ext
    return out


def merge_extents(parts: Iterable[dict[str, Extent]]) -> dict[str, Extent]:
    """Combine per-fragment extents into one per district (sorted by district)."""
    acc: dict[str, Extent] = {}
    for part in parts:
        for name, ext in part.items():
            acc[name] = acc[name].merge(ext) if name in acc else ext
    return dict(sorted(acc.items()))


def _day_of(at: object, tz: str) -> int:
    try:
        ts = pd.Timestamp(at)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InputError(f"预测起点 at={at!r} 不是有效日期；请用 YYYY-MM-DD。") from exc
    if pd.isna(ts):
        raise InputError(f"预测起点 at={at!r} 不是有效日期；请用 YYYY-MM-DD。")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(tz).tz_localize(None)
    if ts != ts.normalize():
        raise InputError(f"预测起点 at={at!r} 应为某日零点（YYYY-MM-DD）；批量分析按天统计。")
    return int(ts.as_unit("ns").value // NS_PER_DAY)


def make_plan(
    extents: dict[str, Extent],
    *,
    cell_m: float,
    crs: str | None,
    tz: str,
    at: object | None,
    **options: object,
) -> BatchPlan:
    """Grids, day axis and categories from the first pass (see the module docstring).

    Raises
    ------
    InputError
        No valid case, no case before ``at``, or a grid (or daily array) that is too large.
    """
    valid = {k: e for k, e in extents.items() if e.n_valid > 0}
    if not valid:
        bad = sum(e.n_invalid for e in extents.values())
        raise InputError(f"数据中没有有效案件（{bad} 条缺少经纬度、时间或类别）；"
                         "请检查 lon、lat、reported_at、category 列。")
    lon_c = [(e.lon_min + e.lon_max) / 2 for e in valid.values()]
    lat_c = [(e.lat_min + e.lat_max) / 2 for e in valid.values()]
    wcrs = working_crs([(min(lon_c) + max(lon_c)) / 2], [(min(lat_c) + max(lat_c)) / 2],
                       configured=crs)
    to_xy = Transformer.from_crs(WGS84, wcrs, always_xy=True)
    day0 = min(e.day_min for e in valid.values())
    at_day = max(e.day_max for e in valid.values()) + 1 if at is None else _day_of(at, tz)
    if at_day <= day0:
        first = pd.Timestamp(day0 * NS_PER_DAY).date()
        raise InputError(f"预测起点之前没有任何案件（最早的案件在 {first}）；请选择更晚的 at。")
    grids: dict[str, GridSpec] = {}
    for name, e in valid.items():
        xmin, ymin, xmax, ymax = to_xy.transform_bounds(e.lon_min, e.lat_min, e.lon_max,
                                                        e.lat_max, densify_pts=21)
        pad = float(cell_m)
        spec = grid_spec((xmin - pad, ymin - pad, xmax + pad, ymax + pad), cell_m=cell_m,
                         crs=wcrs, max_cells=MAX_GRID_CELLS)
        if spec.nx * spec.ny * (at_day - day0) > MAX_DAY_CELLS:
            raise InputError(
                f"区域「{name}」的逐日网格过大（{spec.nx * spec.ny:,} 个格子 × {at_day - day0} 天）；"
                "请增大 --cell-m 或用 --at 缩短时间范围。")
        grids[name] = spec
    cats = tuple(sorted(set().union(*(e.categories for e in valid.values()))))
    return BatchPlan(crs=wcrs, cell_m=float(cell_m), tz=tz, day0=day0, at_day=at_day,
                     categories=cats, grids=grids, **options)  # type: ignore[arg-type]
