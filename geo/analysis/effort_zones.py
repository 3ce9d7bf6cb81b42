"""Exposure-aware ranking of hotspots and forecast cells from patrol effort records.

:mod:`geo.analysis.effort` scores *places* (communities, cells) by cases per patrol-hour. A
hotspot polygon or a 150 m forecast cell is too small to carry its own patrol-hours (a routine
community walk is one stop, its cases spread over the community), so the correction is made
per **effort zone** and applied to the patrol-found cases inside it:

* **Zones**: the community polygons when given, else squares of ``zone_m`` (500 m) over the
  extent of the cases and the effort records (working CRS).
* **Factor** of a zone: :func:`geo.analysis.effort.exposure_aware_scores` on the zones gives
  the expected patrol-found cases at equal effort, ``rate_z · H``; the factor is that divided
  by the zone's patrol-found cases ``y_z`` (1 where ``y_z = 0``: nothing to scale). A case
  found by patrol in zone ``z`` then weighs ``factor_z``; every other case (complaints, 12345,
  video, referrals, **and unknown sources**) weighs 1.
* **Hotspots** (:func:`rank_hotspots_by_exposure`): ``exposure_score`` = the sum of the weights
  of the cases in the polygon; ``rank`` by it.
* **Forecast cells** (:func:`rank_cells_by_exposure`): the forecast made separately from the
  patrol-found cases (``score_patrol``) and from the rest (``score_other``) is recombined as
  ``score_other + factor_z · score_patrol`` (``z``: the zone of the cell's centre).

Effort records (:func:`read_effort`, :func:`effort_table`): CSV/XLSX/GeoJSON rows, or JSON — a
day's plan as ``xuncha plan`` and the service write it (``routes[].visits[]``: ``lon``,
``lat``, ``community_code``, ``service_s``), a list of plans, ``{"plans": [...]}``, or a list of
records. Durations as :func:`geo.analysis.effort.patrol_exposure` reads them; a record without
one is an error naming its row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.analysis.effort import (
    DEFAULT_PRIOR_HOURS,
    EffortScores,
    exposure_aware_scores,
    patrol_exposure,
)
from geo.analysis.places import place_of
from geo.analysis.sources import EFFORT_KINDS, default_sources
from geo.crs import WGS84, working_crs
from geo.errors import FileReadError, InputError
from geo.grid import GridSpec, grid_spec
from geo.io.tables import read_table

__all__ = ["DEFAULT_ZONE_M", "EffortAdjustment", "effort_adjustment", "effort_table",
           "patrol_found", "rank_cells_by_exposure", "rank_hotspots_by_exposure", "read_effort"]

DEFAULT_ZONE_M = 500.0
"""Side of an effort zone when no community polygons are given, metres."""

ALIASES = {"经度": "lon", "纬度": "lat", "社区编号": "community_code", "社区代码": "community_code",
           "时长秒": "duration_s", "时长（秒）": "duration_s", "时长(秒)": "duration_s",
           "开始时间": "start", "结束时间": "end", "日期": "date", "到达时间": "start",
           "离开时间": "end", "longitude": "lon", "latitude": "lat"}
"""Chinese (and long English) headers of effort files and the names read here."""


def _plan_rows(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for route in plan.get("routes") or []:
        for v in route.get("visits") or []:
            rows.append({"stop_id": v.get("stop_id"), "kind": v.get("kind"),
                         "community_code": v.get("community_code"), "lon": v.get("lon"),
                         "lat": v.get("lat"), "service_s": v.get("service_s"),
                         "date": plan.get("date")})
    return rows


def effort_table(data: Any) -> pd.DataFrame:
    """Effort records from parsed JSON: a plan, plans, ``{"plans": [...]}`` or records.

    Raises
    ------
    InputError
        Anything else (the message says which shapes are read).
    """
    if isinstance(data, Mapping) and isinstance(data.get("plans"), list):
        data = data["plans"]
    if isinstance(data, Mapping) and data.get("type") == "FeatureCollection":
        data = [{**(f.get("properties") or {}),
                 **dict(zip(("lon", "lat"), ((f.get("geometry") or {}).get("coordinates")
                                              or [None, None])[:2], strict=False))}
                for f in data.get("features") or []]
    if isinstance(data, Mapping) and "routes" in data:
        data = [data]
    if isinstance(data, list) and all(isinstance(d, Mapping) for d in data):
        if data and all("routes" in d for d in data):
            rows = [r for d in data for r in _plan_rows(d)]
            return pd.DataFrame(rows, columns=["stop_id", "kind", "community_code", "lon", "lat",
                                               "service_s", "date"])
        frame = pd.DataFrame(list(data))
        frame.index = pd.RangeIndex(1, len(frame) + 1)  # record numbers for messages
        return frame.rename(columns=ALIASES)
    raise InputError("巡查记录 JSON 无法识别：请提供一天的计划（含 routes）、计划列表、"
                     "{\"plans\": [...]}，或巡查记录列表（每条含 lon/lat 或 community_code，"
                     "以及 duration_s 或 start/end）。")


def read_effort(path: Path) -> pd.DataFrame:
    """Effort records from a file: JSON (see :func:`effort_table`), else CSV/XLSX/GeoJSON rows.

    Raises
    ------
    FileReadError
        The file cannot be read.
    InputError
        A JSON of an unknown shape.
    """
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FileReadError(f"无法读取巡查记录文件 {path}：{exc}") from None
        return effort_table(data)
    table = read_table(path)
    return table.rename(columns={c: ALIASES.get(str(c).strip(), str(c).strip())
                                 for c in table.columns})


def _points(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None:
        return frame
    lon = pd.to_numeric(frame.get("lon", pd.Series(np.nan, index=frame.index)), errors="coerce")
    lat = pd.to_numeric(frame.get("lat", pd.Series(np.nan, index=frame.index)), errors="coerce")
    ok = lon.notna() & lat.notna()
    geom = [shapely.Point(x, y) if good else None
            for x, y, good in zip(lon.to_numpy(), lat.to_numpy(), ok.to_numpy(), strict=True)]
    return gpd.GeoDataFrame(frame.drop(columns=["geometry"], errors="ignore"), geometry=geom,
                            crs=WGS84)


def patrol_found(cases: pd.DataFrame, source_column: str = "source"
                 ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Whether each case was found by patrol, and the notes on unknown or missing sources.

    Unknown or empty sources are treated as complaints (not patrol-found), and said so.
    """
    if source_column not in cases.columns:
        return np.zeros(len(cases), bool), (
            f"案件没有来源列「{source_column}」：全部按投诉类原样计数，即按案件数排序，"
            "没有巡查时长校正。",)
    kinds = default_sources().resolve_many(cases[source_column].reset_index(drop=True))
    notes: tuple[str, ...] = ()
    unknown = int(kinds.isna().sum())
    if unknown:
        texts = [str(t) for t in pd.unique(cases[source_column].to_numpy()[kinds.isna().to_numpy()])
                 if str(t).strip() and str(t) != "nan"]
        shown = "、".join(f"「{t}」" for t in texts[:5]) + (" 等" if len(texts) > 5 else "")
        notes = (f"{unknown} 条案件的来源未知或为空{'（' + shown + '）' if shown else ''}，"
                 "按投诉类原样计数（不按巡查时长校正）；如是巡查发现，请在来源中写「巡查发现」。",)
    return kinds.isin(EFFORT_KINDS).to_numpy(), notes


@dataclass(frozen=True)
class EffortAdjustment:
    """Per-zone correction of patrol-found cases, from :func:`effort_adjustment`.

    Attributes
    ----------
    scores : EffortScores
        Exposure-aware scores of the zones.
    factor : pandas.Series
        Weight of one patrol-found case per zone (``rate_z · H / y_z``; 1 where ``y_z = 0``).
    zones : GridSpec or GeoDataFrame
        The zone grid, or the community polygons (``community_key`` names them).
    community_key : str
        Column of the community polygons naming a zone.
    n_patrol, n_other : int
        Patrol-found and other cases (unknown sources among the other).
    notes : tuple of str
        What was assumed, in Chinese.
    """

    scores: EffortScores
    factor: pd.Series
    zones: GridSpec | gpd.GeoDataFrame
    community_key: str
    n_patrol: int
    n_other: int
    notes: tuple[str, ...]

    def zone_of(self, points: gpd.GeoDataFrame) -> pd.Series:
        """The zone of each point (``None`` outside every zone)."""
        if isinstance(self.zones, GridSpec):
            return place_of(points, grid=self.zones, what="地点")
        return place_of(points, communities=self.zones, community_key=self.community_key,
                        what="地点")

    def factor_at(self, points: gpd.GeoDataFrame) -> np.ndarray:
        """The factor of the zone of each point (1 outside every zone)."""
        zone = self.zone_of(points)
        f = zone.map(self.factor).astype(float)
        return f.fillna(1.0).to_numpy()

    def case_weights(self, cases: gpd.GeoDataFrame, patrol: np.ndarray) -> np.ndarray:
        """1 per effort-independent case, the zone's factor per patrol-found case."""
        w = np.ones(len(cases))
        if patrol.any():
            w[patrol] = self.factor_at(cases.iloc[np.flatnonzero(patrol)])
        return w


def _zone_grid(cases: gpd.GeoDataFrame, visits: gpd.GeoDataFrame, zone_m: float,
               crs: str | None) -> GridSpec:
    pts = pd.concat([cases.geometry.to_crs(WGS84), visits.geometry.dropna().to_crs(WGS84)])
    pts = pts[pts.notna() & ~pts.is_empty]
    wcrs = working_crs(pts.x.to_numpy(), pts.y.to_numpy(), configured=crs)
    xmin, ymin, xmax, ymax = pts.to_crs(wcrs).total_bounds
    return grid_spec((xmin - 1, ymin - 1, xmax + 1, ymax + 1), cell_m=zone_m, crs=wcrs)


def effort_adjustment(cases: gpd.GeoDataFrame, records: pd.DataFrame, *,
                      communities: gpd.GeoDataFrame | None = None, community_key: str = "code",
                      zone_m: float = DEFAULT_ZONE_M, crs: str | None = None,
                      default_duration_s: float | None = None,
                      prior_hours: float = DEFAULT_PRIOR_HOURS,
                      source_column: str = "source") -> EffortAdjustment:
    """Zone factors for patrol-found cases from effort records (see the module docstring).

    Parameters
    ----------
    cases : GeoDataFrame
        The cases of the period (points with a CRS) and their source text in ``source_column``.
    records : DataFrame
        Effort records (:func:`read_effort`): ``lon``/``lat`` (or ``community_code`` with
        ``communities``) and a duration.
    communities : GeoDataFrame, optional
        Community polygons as zones; default: ``zone_m`` squares.
    community_key, zone_m, crs
        Column naming a community; zone side (metres); working CRS of the zone grid.
    default_duration_s, prior_hours, source_column
        As in :mod:`geo.analysis.effort`.

    Raises
    ------
    InputError
        No effort record, a record without a duration (naming its rows), or no patrol-hours in
        any zone.
    """
    if len(records) == 0:
        raise InputError("巡查记录为空；请提供巡查记录，或不按巡查时长校正（不用 --effort）。")
    visits = _points(records)
    codes = visits["community_code"] if "community_code" in visits.columns else None
    if visits.geometry.isna().all() and (communities is None or codes is None):
        raise InputError("巡查记录没有坐标（lon、lat）；请填写每条记录的经纬度"
                         "（有社区边界时也可只填 community_code）。")
    zones: GridSpec | gpd.GeoDataFrame
    if communities is not None:
        zones = communities
        zone = place_of(visits, communities=communities, community_key=community_key,
                        what="巡查记录")
        if codes is not None:  # a record without a position: its community code
            zone = zone.where(zone.notna() | codes.isna(), codes.astype(object))
        visits = visits.assign(_zone=zone)
        place: dict[str, Any] = {"key": "_zone"}
    else:
        zones = _zone_grid(cases, visits, zone_m, crs)
        place = {"grid": zones}
    exposure = patrol_exposure(visits, default_duration_s=default_duration_s, **place)
    patrol, notes = patrol_found(cases, source_column)
    frame = cases.reset_index(drop=True).assign(
        _kind=np.where(patrol, "patrol", "complaint"))
    universe = (list(communities[community_key]) if communities is not None
                else [int(i) for i in zones.cell_ids])  # type: ignore[union-attr]
    case_place = ({"communities": communities, "community_key": community_key}
                  if communities is not None else {"grid": zones})
    scores = exposure_aware_scores(frame, exposure, places=universe, source_column="_kind",
                                   prior_hours=prior_hours, **case_place)
    t = scores.table
    patrol_part = t["score"] - t["other_cases"]
    factor = (patrol_part / t["patrol_cases"].where(t["patrol_cases"] > 0)).fillna(1.0)
    return EffortAdjustment(scores=scores, factor=factor.rename("factor"), zones=zones,
                            community_key=community_key, n_patrol=int(patrol.sum()),
                            n_other=int((~patrol).sum()), notes=(*notes, *scores.notes))


def rank_hotspots_by_exposure(hotspots: gpd.GeoDataFrame, cases: gpd.GeoDataFrame,
                              adjustment: EffortAdjustment, patrol: np.ndarray
                              ) -> gpd.GeoDataFrame:
    """Hotspots re-ranked by the weighted cases inside their polygons.

    Adds ``patrol_cases``, ``other_cases`` (cases in the polygon by kind), ``exposure_score``
    (sum of weights: expected cases at equal patrol effort) and ``rank`` (1 = highest), and
    sorts by ``rank``. ``hotspot_id`` is kept.
    """
    out = hotspots.copy()
    n = len(out)
    if n == 0:
        for col in ("patrol_cases", "other_cases", "exposure_score", "rank"):
            out[col] = pd.Series(dtype=float)
        return out
    pts = cases.geometry.to_crs(out.crs).reset_index(drop=True)
    weights = adjustment.case_weights(cases, patrol)
    pt_idx, poly_idx = shapely.STRtree(out.geometry.to_numpy()).query(
        pts.to_numpy(), predicate="intersects")
    first = ~pd.Series(pt_idx).duplicated().to_numpy()  # a case counts in one hotspot
    pt_idx, poly_idx = pt_idx[first], poly_idx[first]
    out["patrol_cases"] = np.bincount(poly_idx, weights=patrol[pt_idx], minlength=n).astype(int)
    out["other_cases"] = np.bincount(poly_idx, weights=~patrol[pt_idx], minlength=n).astype(int)
    out["exposure_score"] = np.bincount(poly_idx, weights=weights[pt_idx], minlength=n)
    order = np.argsort(-out["exposure_score"].to_numpy(), kind="stable")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(1, n + 1)
    out["rank"] = rank
    geom = out.geometry.name
    cols = [c for c in out.columns if c != geom] + [geom]
    return out[cols].sort_values("rank", kind="stable").reset_index(drop=True)


def rank_cells_by_exposure(cells: gpd.GeoDataFrame, adjustment: EffortAdjustment
                           ) -> gpd.GeoDataFrame:
    """Forecast cells (``score_patrol``, ``score_other``) re-scored and re-ranked.

    ``score = score_other + factor_z · score_patrol`` with ``z`` the zone of the cell's centre;
    ``rank`` 1 = highest (ties: lower ``cell_id``), sorted by rank.
    """
    out = cells.copy()
    centre = gpd.GeoDataFrame(geometry=out.geometry.centroid, crs=out.crs)
    out["score"] = (out["score_other"].to_numpy()
                    + adjustment.factor_at(centre) * out["score_patrol"].to_numpy())
    key = np.lexsort((out["cell_id"].to_numpy(), -out["score"].to_numpy()))
    rank = np.empty(len(out), np.int64)
    rank[key] = np.arange(1, len(out) + 1)
    out["rank"] = rank
    return out.sort_values("rank", kind="stable").reset_index(drop=True)
