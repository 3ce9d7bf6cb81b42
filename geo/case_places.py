"""Case rows without coordinates placed by name through a :class:`~geo.gazetteer.Gazetteer`.

:func:`place_rows` is the step of :func:`geo.cases.parse_cases` for rows with neither lon nor lat
(a file without coordinate columns, such as 12345 field set A, or both cells empty): the row's
地址, 小区名称, 小区地址 and 社区 are matched against the deployment's names, and the row gets the
name's point, ``coord_system`` ``gazetteer`` and the name's precision (``landmark`` or
``community``), or a problem saying why no name fits and where to add one. :func:`join_area`
joins every located case to its community and squad.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.crs import XIAONAN_WORKING_CRS
from geo.errors import Problem
from geo.gazetteer import FIELDS, PRECISION_NAMES, Gazetteer

GAZETTEER_SYSTEM = "gazetteer"
"""``coord_system`` of a case placed by name."""


def place_rows(df: pd.DataFrame, names: dict[str, str], gazetteer: Gazetteer,
               wanted: np.ndarray) -> tuple[list[Problem], list[Problem]]:
    """Place the rows of ``wanted`` by name, in place (``_lon``, ``_lat``, ``coord_system``,
    ``location_precision``).

    Parameters
    ----------
    df : pandas.DataFrame
        The case rows by role (``row``, and any of :data:`geo.gazetteer.FIELDS` and ``street``).
    names : dict
        The file's column of each role (for the problems).
    gazetteer : Gazetteer
        The deployment's names.
    wanted : numpy.ndarray
        Boolean mask of the rows to place.

    Returns
    -------
    tuple of (list of Problem, list of Problem)
        The rows that could not be placed (why, and how to fix it) and, per placed row, which
        name placed it (``按地名「西大市场」定位（地标级）``).
    """
    idx = np.flatnonzero(wanted)
    if not len(idx):
        return [], []
    matches = gazetteer.match_frame(df.iloc[idx])
    fallback = next((names[r] for r in ("address", *FIELDS) if r in names), "经度/纬度")
    lon, lat = df["_lon"].to_numpy(float).copy(), df["_lat"].to_numpy(float).copy()
    system = df["coord_system"].to_numpy(object).copy()
    precision = df["location_precision"].to_numpy(object).copy()
    problems: list[Problem] = []
    placed: list[Problem] = []
    for i, m in zip(idx.tolist(), matches, strict=True):
        row, column = int(df["row"].iat[i]), names.get(m.role, fallback)
        if m.located:
            lon[i], lat[i], system[i], precision[i] = m.lon, m.lat, GAZETTEER_SYSTEM, m.precision
            placed.append(Problem(row, column, m.text, m.describe()))
        else:
            problems.append(Problem(row, column, m.text, m.reason(gazetteer.hint)))
    df["_lon"], df["_lat"], df["coord_system"], df["location_precision"] = (
        lon, lat, system, precision)
    return problems, placed


def placed_note(cases: pd.DataFrame) -> list[str]:
    """The report note on the accepted ``cases`` placed by name (none when there are none)."""
    by_name = cases.loc[cases["coord_system"] == GAZETTEER_SYSTEM, "location_precision"]
    if not len(by_name):
        return []
    counts = by_name.value_counts()
    parts = "、".join(f"{label} {int(counts[level])} 行" for level, label in PRECISION_NAMES.items()
                      if level in counts)
    return [f"没有坐标的 {len(by_name)} 行按地名库定位（{parts}）；社区级的案件只计入社区统计，"
            "不进入点位热点、预测和路线。"]


def join_area(cases: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, *,
              buffer_m: float, names: dict[str, str]) -> list[Problem]:
    """Join ``cases`` (in place) to the community and squad that contain them, or lie within
    ``buffer_m`` of them; a problem for each case farther out (the caller drops those rows)."""
    comm = communities.to_crs(XIAONAN_WORKING_CRS if communities.crs is None
                              else communities.estimate_utm_crs())
    pts = cases.to_crs(comm.crs)[["geometry"]]
    cols = comm[["code", "name", "squad", "geometry"]]
    inside = gpd.sjoin(pts, cols, how="inner", predicate="within")
    inside = inside[~inside.index.duplicated(keep="first")]
    rest = pts.loc[~pts.index.isin(inside.index)]
    near = gpd.sjoin_nearest(rest, cols, how="left", max_distance=buffer_m, distance_col="_dist")
    joined = pd.concat([inside, near[~near.index.duplicated(keep="first")]])
    cases["community_code"] = joined["code"].reindex(cases.index)
    cases["community"] = joined["name"].reindex(cases.index)
    cases["squad"] = joined["squad"].reindex(cases.index)
    idx = np.flatnonzero(cases["community_code"].isna().to_numpy())
    return [
        Problem(int(cases["row"].iat[i]), names.get("lon", "lon"),
                f"{cases.geometry.iat[i].x:.6f},{cases.geometry.iat[i].y:.6f}",
                f"坐标在服务区域（各社区边界外 {buffer_m:.0f} 米）之外；请核对坐标和 --coords 坐标系。")
        for i in idx
    ]
