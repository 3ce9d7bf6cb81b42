"""Bounded-memory batch analytics over millions of cases, in-process or on Dask.

Cases are streamed from a GeoParquet dataset (:mod:`geo.io.parquet`) in chunks of
``lon, lat, category, reported_at``, projected and counted on one grid per district — memory is
bounded by the grid × days, not by the number of cases — and the counts feed the library's own
Gi*, forecast and trend functions. :func:`run_batch` runs the same per-partition functions in a
loop (``scheduler=None``), on a Dask ``LocalCluster`` (``"local"``) or on an existing cluster
(``"tcp://host:8786"``); the results are identical.
"""

from __future__ import annotations

from geo.batch.analyse import ALL, DistrictResult, analyse_district, history
from geo.batch.counts import DistrictCounts, Partial, accumulate, fragment_counts
from geo.batch.plan import BatchPlan, Extent, fragment_extent, make_plan, merge_extents
from geo.batch.run import LOCAL, BatchResult, dask_client, run_batch

__all__ = ["ALL", "LOCAL", "BatchPlan", "BatchResult", "DistrictCounts", "DistrictResult",
           "Extent", "Partial", "accumulate", "analyse_district", "dask_client",
           "fragment_counts", "fragment_extent", "history", "make_plan", "merge_extents",
           "run_batch"]
