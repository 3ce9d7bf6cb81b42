"""Reading the planner's input frames: communities, located points, row values, deadlines."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.catalogue import Catalogue
from geo.crs import require_crs, require_metric, to_working
from geo.errors import InputError
from geo.planning.clock import parse_hours_text


def communities_working(communities: gpd.GeoDataFrame, working_crs: str | None) -> gpd.GeoDataFrame:
    """Communities (``code``, ``name``, polygon) in the metric working CRS."""
    require_crs(communities, what="社区边界")
    for col in ("code", "name"):
        if col not in communities.columns:
            raise InputError(f"社区边界缺少「{col}」列。")
    comm = to_working(communities, crs=working_crs)
    require_metric(comm.crs, what="工作坐标系")
    comm = comm[["code", "name", "geometry"]].copy()
    comm["code"] = comm["code"].astype(str)
    return comm.reset_index(drop=True)


def located(gdf: gpd.GeoDataFrame, comm: gpd.GeoDataFrame, codes: Sequence[str],
            what: str) -> gpd.GeoDataFrame:
    """``gdf`` as points in the working CRS with ``community_code`` (given or spatial), in squad."""
    require_crs(gdf, what=what)
    g = gdf.to_crs(comm.crs).copy()
    g["geometry"] = [geom if geom.geom_type == "Point" else geom.representative_point()
                     for geom in g.geometry]
    given = (g["community_code"].astype(object).where(g["community_code"].notna(), None)
             if "community_code" in g.columns else pd.Series(None, index=g.index, dtype=object))
    need = given.isna()
    if need.any():
        hit = gpd.sjoin(g.loc[need, ["geometry"]], comm, how="left", predicate="within")
        hit = hit[~hit.index.duplicated()]
        given.loc[need] = hit["code"].reindex(g.index[need]).to_numpy()
    g["community_code"] = [None if v is None or (isinstance(v, float) and math.isnan(v))
                           else str(v) for v in given]
    return g[g["community_code"].isin(list(codes))]


def text(row: Any, col: str, default: str = "") -> str:
    """``row[col]`` as text; ``default`` when missing, NaN or NaT."""
    v = row.get(col) if hasattr(row, "get") else None
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return default
    return str(v)


def number(row: Any, cols: Sequence[str], default: float) -> float:
    """The first finite number among ``row[cols]``; ``default`` when none."""
    for col in cols:
        v = row.get(col)
        if v is not None and not isinstance(v, str | list | dict):
            try:
                f = float(v)
            except (TypeError, ValueError):
                continue
            if math.isfinite(f):
                return f
    return default


def hotspot_category(row: Any, cat: Catalogue) -> str:
    """The hotspot's catalogue code (dominant category first), else its label."""
    for col in ("dominant_category", "category"):
        code = text(row, col)
        if code and code in cat.table.index:
            return code
    return text(row, "dominant_category") or text(row, "category")


def peak_windows(row: Any) -> list[tuple[float, float]]:
    """Peak hours ``[(start_h, end_h)]`` from ``peak_windows`` or the ``peak_hours`` text."""
    raw = row.get("peak_windows")
    if isinstance(raw, list | tuple | np.ndarray) and len(raw):
        return [(float(w[0]), float(w[1])) for w in raw]
    return parse_hours_text(text(row, "peak_hours"))


def deadlines(cases: gpd.GeoDataFrame, cat: Catalogue) -> pd.Series:
    """``deadline_at`` where given, else ``reported_at`` + the catalogue deadline."""
    hours = cases["category"].astype(str).map(cat.deadline_hours)
    computed = cases["reported_at"] + pd.to_timedelta(hours, unit="h")
    if "deadline_at" in cases.columns:
        given = pd.to_datetime(cases["deadline_at"])
        if given.dt.tz is None:
            given = given.dt.tz_localize(computed.dt.tz)
        return given.where(given.notna(), computed)
    return computed
