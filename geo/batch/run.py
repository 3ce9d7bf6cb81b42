"""Run the batch analytics in-process or on Dask, with one implementation of the work.

Both paths run the same three functions: :func:`geo.batch.plan.fragment_extent` (first pass),
:func:`geo.batch.counts.fragment_counts` + :func:`geo.batch.counts.accumulate` (counting), and
:func:`geo.batch.analyse.analyse_district`. In-process they are called in a loop (one fragment in
memory at a time); on Dask each call is a ``dask.delayed`` task — one per Parquet fragment, one
reduction and one analysis per district — submitted to a ``distributed`` client: a
``LocalCluster`` (``scheduler="local"``) or an existing cluster (``scheduler="tcp://host:8786"``).
The source must be readable at the same path from every worker (shared storage).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.batch.analyse import DistrictResult, analyse_district
from geo.batch.counts import DistrictCounts, accumulate, fragment_counts
from geo.batch.plan import BatchPlan, Extent, fragment_extent, make_plan, merge_extents
from geo.errors import InputError
from geo.forecast.cells import METHODS
from geo.io.parquet import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_TZ,
    Fragment,
    list_fragments,
    write_geoparquet,
)

DEFAULT_CONNECT_TIMEOUT_S = 10.0
LOCAL = "local"


@dataclass(frozen=True)
class BatchResult:
    """Tables of every district (sorted by district) and the plan they were computed on.

    ``gi``, ``forecast``, ``trends`` and ``stats`` are plain DataFrames keyed by ``district`` and
    ``cell_id``; :meth:`layer` adds the cell polygons (working CRS).
    """

    plan: BatchPlan = field(repr=False)
    gi: pd.DataFrame
    forecast: pd.DataFrame
    trends: pd.DataFrame
    stats: pd.DataFrame
    summary: dict[str, Any]

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """``gi``, ``forecast`` or ``trends`` with square cell polygons in the working CRS."""
        frame: pd.DataFrame = getattr(self, name)
        geoms = np.empty(len(frame), dtype=object)
        for district, idx in frame.groupby("district", sort=False).indices.items():
            g = self.plan.grids[str(district)]
            iy, ix = np.divmod(frame["cell_id"].to_numpy()[idx], g.nx)
            x0, y0 = g.x0 + ix * g.cell_m, g.y0 + iy * g.cell_m
            geoms[idx] = shapely.box(x0, y0, x0 + g.cell_m, y0 + g.cell_m)
        return gpd.GeoDataFrame(frame.copy(), geometry=geoms, crs=self.plan.crs)

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``gi``/``forecast``/``trends`` as GeoParquet (EPSG:4326), ``stats`` as Parquet
        and ``summary.json``; returns the paths by layer name."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {name: write_geoparquet(self.layer(name).to_crs("EPSG:4326"),
                                        out / f"{name}.parquet")
                 for name in ("gi", "forecast", "trends")}
        self.stats.to_parquet(out / "stats.parquet", index=False)
        paths["stats"] = out / "stats.parquet"
        (out / "summary.json").write_text(json.dumps(self.summary, ensure_ascii=False, indent=2),
                                          encoding="utf-8")
        paths["summary"] = out / "summary.json"
        return paths


def _combine(results: list[DistrictResult], plan: BatchPlan,
             extents: dict[str, Extent], scheduler: str | None) -> BatchResult:
    results = sorted(results, key=lambda r: r.district)

    def cat(name: str) -> pd.DataFrame:
        return pd.concat([getattr(r, name) for r in results], ignore_index=True)

    summary = {
        "scheduler": scheduler or "in-process", "crs": plan.crs.to_string(),
        "cell_m": plan.cell_m, "tz": plan.tz,
        "first_day": str(pd.Timestamp(plan.day0, unit="D").date()),
        "at": str(pd.Timestamp(plan.at_day, unit="D").date()), "method": plan.method,
        "districts": {r.district: {"cases": r.n_cases, "invalid_rows": extents[r.district].n_invalid,
                                   "cells": plan.grids[r.district].nx * plan.grids[r.district].ny}
                      for r in results},
        "cases": int(sum(r.n_cases for r in results)),
    }
    return BatchResult(plan, cat("gi"), cat("forecast"), cat("trends"), cat("stats"), summary)


def _in_process(frags: list[Fragment], options: dict[str, Any], plan_of: Callable[..., BatchPlan]
                ) -> tuple[list[DistrictResult], BatchPlan, dict[str, Extent]]:
    tz, rows = options["tz"], options["batch_rows"]
    per_frag = [fragment_extent(f, tz=tz, batch_rows=rows) for f in frags]
    extents = merge_extents(per_frag)
    plan = plan_of(extents)
    acc = {d: DistrictCounts.empty(d, plan) for d in plan.grids}
    for frag, ext in zip(frags, per_frag, strict=True):
        if not any(d in plan.grids for d in ext):
            continue
        for name, part in fragment_counts(frag, plan).items():
            acc[name].add(part)
    return [analyse_district(acc[d], plan) for d in plan.grids], plan, extents


def _on_dask(client: Any, frags: list[Fragment], options: dict[str, Any],
             plan_of: Callable[..., BatchPlan]
             ) -> tuple[list[DistrictResult], BatchPlan, dict[str, Extent]]:
    import dask

    tz, rows = options["tz"], options["batch_rows"]
    ext_tasks = [dask.delayed(fragment_extent, pure=True)(f, tz=tz, batch_rows=rows)
                 for f in frags]
    per_frag = client.compute(ext_tasks, sync=True)
    extents = merge_extents(per_frag)
    plan = plan_of(extents)
    plan_d = dask.delayed(plan, traverse=False)
    counted = {i: dask.delayed(fragment_counts, pure=True)(f, plan_d)
               for i, f in enumerate(frags) if any(d in plan.grids for d in per_frag[i])}
    analyses = []
    for d in plan.grids:
        parts = [counted[i] for i in counted if d in per_frag[i]]
        dense = dask.delayed(accumulate, pure=True)(d, parts, plan_d)
        analyses.append(dask.delayed(analyse_district, pure=True)(dense, plan_d))
    return list(client.compute(analyses, sync=True)), plan, extents


@contextmanager
def dask_client(scheduler: str, *, timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
                processes: bool = True, n_workers: int = 2) -> Iterator[Any]:
    """A ``distributed.Client``: a fresh LocalCluster for ``"local"``, else the given address.

    Raises
    ------
    InputError
        If the scheduler at the address does not answer within ``timeout_s`` seconds.
    """
    from distributed import Client, LocalCluster

    if scheduler == LOCAL:
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"无法连接 Dask 调度器 {scheduler}（{timeout_s:g} 秒内无响应：{type(exc).__name__}）；"
            "请检查地址和端口（例如 tcp://10.0.0.5:8786）、调度器是否已启动、防火墙是否放行，"
            "或去掉 --scheduler 在本机运行。") from exc
    try:
        yield client
    finally:
        client.close()


def run_batch(
    source: str | Path,
    *,
    scheduler: str | None = None,
    cell_m: float = 150.0,
    at: object | None = None,
    horizon_days: float = 7.0,
    method: str = "blend",
    band_m: float | None = None,
    period_days: int = 7,
    crs: str | None = None,
    tz: str = DEFAULT_TZ,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    processes: bool = True,
) -> BatchResult:
    """Per-district Gi* hot spots, forecast, trends and statistics of a GeoParquet case dataset.

    Parameters
    ----------
    source : str or Path
        A directory dataset from :func:`geo.io.parquet.write_case_dataset` (or one Parquet file)
        with ``lon, lat, category, reported_at`` and the district in a ``district=`` directory
        or column (else all cases form district ``all``).
    scheduler : str, optional
        None: in-process, streaming one fragment at a time. ``"local"``: a Dask LocalCluster of
        2 single-threaded workers (``processes=False`` for thread workers). Otherwise the address
        of a running Dask scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    cell_m : float
        Grid cell side in metres (Gi*, forecast and trends share the grid).
    at : date-like, optional
        Forecast origin (local midnight); only cases before it are used. Default: the day after
        the last case.
    horizon_days, method
        Forecast window and model (:data:`geo.forecast.METHODS`).
    band_m : float, optional
        Gi* neighbourhood radius (default ``2 * cell_m``).
    period_days : int
        Period length of the trends (at least 4 periods are needed, else no trend rows).
    crs : str, optional
        Working CRS in metres; chosen from the data when omitted.
    tz : str
        Time zone of the calendar days.
    batch_rows : int
        Rows per read batch (memory per task ≈ 60 bytes × ``batch_rows``).
    timeout_s : float
        How long to wait for a remote scheduler.
    processes : bool
        Process (default) or thread workers for ``scheduler="local"``.

    Returns
    -------
    BatchResult
        Identical (integers equal, floats equal) whichever scheduler ran it.

    Raises
    ------
    FileReadError
        The source cannot be read or lacks a column.
    InputError
        No valid cases, bad options, or an unreachable scheduler.
    """
    if not np.isfinite(cell_m) or cell_m <= 0:
        raise InputError(f"网格边长 cell_m={cell_m} 无效；请使用大于 0 的米数，例如 150。")
    if not np.isfinite(horizon_days) or horizon_days <= 0:
        raise InputError(f"预测时长 horizon_days={horizon_days} 无效；请使用大于 0 的天数，例如 7。")
    if method not in METHODS:
        raise InputError(f"未知的预测方法「{method}」；可用：{', '.join(METHODS)}。")
    frags = list_fragments(source)
    options = {"tz": tz, "batch_rows": batch_rows}

    def plan_of(extents: dict[str, Extent]) -> BatchPlan:
        return make_plan(extents, cell_m=cell_m, crs=crs, tz=tz, at=at, horizon_days=horizon_days,
                         method=method, band_m=band_m, period_days=period_days,
                         batch_rows=batch_rows)

    if scheduler is None:
        results, plan, extents = _in_process(frags, options, plan_of)
    else:
        with dask_client(scheduler, timeout_s=timeout_s, processes=processes) as client:
            results, plan, extents = _on_dask(client, frags, options, plan_of)
    return _combine(results, plan, extents, scheduler)
