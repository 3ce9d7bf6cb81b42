"""Which place each row of a frame belongs to: a key column, a grid cell or a community polygon
(the places the effort-aware ranking of :mod:`geo.analysis.effort` scores)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.crs import require_crs
from geo.errors import InputError
from geo.grid import GridSpec, points_to_cells


def place_of(frame: pd.DataFrame, *, key: str | None = None,
             grid: GridSpec | gpd.GeoDataFrame | None = None,
             communities: gpd.GeoDataFrame | None = None, community_key: str = "code",
             what: str = "记录") -> pd.Series:
    """The place of each row: a key column, a grid cell, or the community polygon it lies in.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        Cases or effort records (Point geometry with a CRS for ``grid``/``communities``).
    key : str, optional
        Column holding the place (e.g. ``community_code``).
    grid : GridSpec or GeoDataFrame from :func:`geo.grid.make_grid`, optional
        The place is the ``cell_id`` of the point.
    communities : GeoDataFrame, optional
        Polygons; the place is their ``community_key`` value.
    community_key : str
        Column of ``communities`` naming a community (default ``code``).
    what : str
        What the rows are, for messages.

    Returns
    -------
    pandas.Series
        Object dtype on ``frame``'s index; ``None`` where a row has no place.
    """
    if sum(x is not None for x in (key, grid, communities)) != 1:
        raise InputError("请只指定一种地点（key=列名、grid=网格或 communities=社区多边形），"
                         "不能同时指定多种，也不能都不指定。")
    if key is not None:
        if key not in frame.columns:
            raise InputError(f"{what}缺少地点列「{key}」；请提供该列，或改用 grid/communities。")
        s = frame[key].astype(object)
        empty = s.isna() | (s.astype(str).str.strip() == "")
        return s.where(~empty, None)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{what}没有坐标（不是 GeoDataFrame）；请提供点几何，或用 key= 指定地点列。")
    require_crs(frame, what=what)
    if grid is not None:
        spec = grid if isinstance(grid, GridSpec) else getattr(grid, "attrs", {}).get("grid")
        if not isinstance(spec, GridSpec):
            raise InputError("网格对象缺少 attrs['grid']；请使用 make_grid() 或 grid_spec() 生成的网格。")
        pts = frame.geometry.to_crs(spec.crs)
        ok = (pts.notna() & ~pts.is_empty).to_numpy()
        ids = np.full(len(frame), -1, dtype=np.int64)
        if ok.any():
            rp = pts[ok].representative_point()
            ids[ok] = points_to_cells(rp.x.to_numpy(), rp.y.to_numpy(), spec)
        out = pd.Series(ids, index=frame.index).astype(object)
        return out.where(ids >= 0, None)
    assert communities is not None
    if community_key not in communities.columns:
        raise InputError(f"社区多边形缺少列「{community_key}」；请用 community_key= 指定社区编号列。")
    require_crs(communities, what="社区多边形")
    polys = communities[[community_key, communities.geometry.name]]
    pts = gpd.GeoDataFrame(geometry=frame.geometry.to_crs(polys.crs).reset_index(drop=True))
    joined = gpd.sjoin(pts, polys, how="left", predicate="intersects")
    first = joined[~joined.index.duplicated(keep="first")][community_key].sort_index()
    out = pd.Series(first.to_numpy(), index=frame.index, dtype=object)
    return out.where(out.notna(), None)
