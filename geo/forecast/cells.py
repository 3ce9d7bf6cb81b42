"""Where will cases be next week: grid-cell forecasts for any city.

:func:`forecast_cells` grids the area in square cells of ``cell_m`` metres (in the working CRS
chosen from the cases, :func:`geo.crs.working_crs`), scores every cell with one of the models in
:mod:`geo.forecast.models` using only cases reported strictly before ``at``, and ranks the cells.

The study area is the ``area`` polygon when given, else the convex hull of the cases reported
before ``at`` (a single case or cases all at one point give a one-cell grid). Cells are those
that intersect the area. The result is in the working CRS; call ``.to_crs("EPSG:4326")`` for
GeoJSON (RFC 7946).

Time: ``reported_at`` may be tz-aware (the contract) or naive. A naive ``at`` is read in the
cases' zone; with naive ``reported_at``, a tz-aware ``at`` is compared by its wall-clock time.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import partial

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import WGS84, require_crs, working_crs
from geo.errors import InputError
from geo.forecast.models import BASELINES, METHODS, EventHistory, FloatArray
from geo.grid import MAX_CELLS, GridSpec, grid_spec

DEFAULT_METHOD = "blend"
"""The method that won the rolling-origin backtest (benchmarks/forecast_backtest.py)."""

__all__ = ["BASELINES", "DEFAULT_METHOD", "METHODS", "forecast_cells", "rank_scores"]


def rank_scores(scores: FloatArray) -> np.ndarray:
    """Ordinal ranks (1 = highest score); ties go to the earlier position (lower ``cell_id``)."""
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    ranks = np.empty(order.size, dtype=np.int64)
    ranks[order] = np.arange(1, order.size + 1)
    return ranks


def _as_times(cases: gpd.GeoDataFrame) -> pd.Series:
    if "reported_at" not in cases.columns:
        raise InputError("案件缺少 reported_at（上报时间）列；请提供每条案件的上报时间。")
    t = cases["reported_at"]
    if not pd.api.types.is_datetime64_any_dtype(t):
        t = pd.to_datetime(t, errors="coerce", format="mixed")
    bad = t.isna().to_numpy()
    if bad.any():
        where = ", ".join(str(i) for i in cases.index[bad][:10])
        raise InputError(
            f"{int(bad.sum())} 条案件没有有效的上报时间（reported_at），索引：{where}"
            f"{' 等' if bad.sum() > 10 else ''}；请补全时间或删除这些案件后再预测。"
        )
    return t


def _origin(at: object, times: pd.Series) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(at)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InputError(f"预测起点 at={at!r} 不是有效日期；请用 YYYY-MM-DD。") from exc
    if pd.isna(ts):
        raise InputError(f"预测起点 at={at!r} 不是有效日期；请用 YYYY-MM-DD。")
    tz = getattr(times.dt, "tz", None)
    if tz is not None and ts.tzinfo is None:
        return ts.tz_localize(tz)
    if tz is None and ts.tzinfo is not None:
        return ts.tz_localize(None)
    return ts


def _area_in(area: object, crs: object) -> gpd.GeoSeries:
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        require_crs(area, what="预测区域")
        geoms = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
        return geoms.to_crs(crs)
    if isinstance(area, BaseGeometry):  # bare shapely geometry: lon/lat (WGS84)
        return gpd.GeoSeries([area], crs=WGS84).to_crs(crs)
    raise InputError("预测区域 area 应为 GeoDataFrame、GeoSeries 或 shapely 多边形（经纬度）。")


def _points(cases: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    require_crs(cases, what="案件")
    geom = cases.geometry
    bad = (geom.isna() | geom.is_empty).to_numpy()
    if bad.any():
        where = ", ".join(str(i) for i in cases.index[bad][:10])
        raise InputError(f"{int(bad.sum())} 条案件没有坐标，索引：{where}；请补全经纬度。")
    pts = geom.to_crs(WGS84).representative_point()
    return pts.x.to_numpy(), pts.y.to_numpy()


def _score(method: str, h: EventHistory, spec: GridSpec, horizon_days: float) -> FloatArray:
    fn = METHODS[method]
    if method == "blend":
        fn = partial(fn, mask=spec.mask)
    return np.asarray(fn(h, 0.0, float(horizon_days)), dtype=float)


def forecast_cells(
    cases: gpd.GeoDataFrame,
    *,
    at: str | date | datetime | pd.Timestamp,
    horizon_days: float = 7,
    cell_m: float = 150,
    area: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
    method: str = DEFAULT_METHOD,
    crs: str | None = None,
    max_cells: int = MAX_CELLS,
    patrol: npt.ArrayLike | None = None,
) -> gpd.GeoDataFrame:
    """Score and rank grid cells by expected cases in ``[at, at + horizon_days)``.

    Parameters
    ----------
    cases : GeoDataFrame
        Cases with Point geometry (any CRS) and ``reported_at``; ``case_id``/``category`` are
        not needed. Only cases with ``reported_at < at`` are used.
    at : str, date, datetime or Timestamp
        Forecast origin (a naive value is read in the cases' time zone).
    horizon_days : float
        Length of the forecast window in days (> 0).
    cell_m : float
        Cell side in metres.
    area : GeoDataFrame, GeoSeries or shapely geometry (lon/lat), optional
        Study area; default: convex hull of the cases reported before ``at``.
    method : str
        One of :data:`METHODS` (``naive_all``, ``naive_4w``, ``kde``, ``prohot``, ``blend``,
        ``hawkes``).
    crs : str, optional
        Working CRS in metres; chosen from the cases when omitted.
    max_cells : int
        Refuse grids with more cells than this in their bounding rectangle.
    patrol : array_like of bool, optional
        Per row of ``cases``: found by patrol (巡查发现). When given, the model is also run on the
        patrol-found cases and on the others separately, as columns ``score_patrol`` and
        ``score_other`` (for :func:`geo.analysis.effort_zones.rank_cells_by_exposure`).

    Returns
    -------
    GeoDataFrame
        One square Polygon per cell in the working CRS, columns ``cell_id`` (int), ``score``
        (float, higher = more expected cases) and ``rank`` (1 = highest; ties broken by lower
        ``cell_id``), sorted by ``rank`` (with ``patrol``: also ``score_patrol`` and
        ``score_other``). ``attrs`` holds ``method``, ``at``, ``n_training``
        and ``grid`` (:class:`geo.grid.GridSpec`).

    Raises
    ------
    InputError
        No cases, no case before ``at``, missing timestamps or coordinates, an unknown method,
        a non-positive horizon or cell size, or a grid of more than ``max_cells`` cells.
    CRSError
        Cases or area without a CRS.
    """
    if method not in METHODS:
        raise InputError(f"未知的预测方法「{method}」；可用：{', '.join(METHODS)}。")
    if not np.isfinite(horizon_days) or horizon_days <= 0:
        raise InputError(f"预测时长 horizon_days={horizon_days} 无效；请使用大于 0 的天数，例如 7。")
    if len(cases) == 0:
        raise InputError("没有案件可用于预测；请提供至少一条带时间和坐标的案件。")
    times = _as_times(cases)
    t_at = _origin(at, times)
    train = (times < t_at).to_numpy()
    if not train.any():
        first = times.min()
        raise InputError(
            f"预测起点 {t_at} 之前没有任何案件（最早的案件在 {first}）；"
            "请选择更晚的起点，或提供更早的历史案件。"
        )
    lon, lat = _points(cases.loc[train])
    wcrs = working_crs(lon, lat, configured=crs)
    xy = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=WGS84).to_crs(wcrs)
    x, y = xy.x.to_numpy(), xy.y.to_numpy()
    if area is not None:
        spec = grid_spec(_area_in(area, wcrs), cell_m=cell_m, max_cells=max_cells)
    else:
        hull = shapely.MultiPoint(np.column_stack([x, y])).convex_hull
        spec = grid_spec(hull, cell_m=cell_m, crs=wcrs, max_cells=max_cells)
    cell = spec.cell_index(x, y)
    t_days = ((times[train] - t_at) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    ok = cell >= 0
    h = EventHistory(cell[ok], t_days[ok], (spec.ny, spec.nx), float(spec.cell_m))
    scores = _score(method, h, spec, horizon_days)
    out = spec.to_geodataframe()[["cell_id", "geometry"]]
    ids = out["cell_id"].to_numpy()
    out.insert(1, "score", scores[ids])
    out.insert(2, "rank", rank_scores(out["score"].to_numpy()))
    if patrol is not None:
        found = np.asarray(patrol, dtype=bool)
        if found.shape != (len(cases),):
            raise InputError(f"patrol 的长度（{found.size}）与案件数（{len(cases)}）不同。")
        found = found[train][ok]
        for col, keep in (("score_patrol", found), ("score_other", ~found)):
            sub = EventHistory(h.cell[keep], h.t_days[keep], h.shape, h.cell_m)
            part = _score(method, sub, spec, horizon_days) if keep.any() else np.zeros(h.n_cells)
            out.insert(out.columns.get_loc("geometry"), col, part[ids])
    out = out.sort_values("rank", kind="stable").reset_index(drop=True)
    out.attrs.update(method=method, at=str(t_at), n_training=int(ok.sum()), grid=spec)
    return out
