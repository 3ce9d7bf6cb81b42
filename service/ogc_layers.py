"""The built-in OGC collections: communities, work stations, cases, hotspots and the forecast,
each limited to the squads the caller may see (registered on import).

Also the hotspot properties in a form GIS readers type correctly, shared with ``/api/hotspots``:
``peak_hours`` is a label such as ``09–10时、18–22时`` (text that GDAL, QGIS and GeoPackage keep
as a string: ``09:00–10:00`` is read as a time and cut to ``09:00:00``) with the first window
as the integers ``peak_start_hour`` / ``peak_end_hour`` (0–24).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from sqlalchemy import func

from geo.labels import STATUSES
from service import pages_data
from service.case_cache import Page
from service.case_features import case_page
from service.case_ops import CASE_PROPS, lookup_id, resolve_categories
from service.geojson import COORD_DECIMALS, round_point
from service.models import Case
from service.ogc import Collection, Extent, Field, ItemQuery, Source, frame_collection, register
from service.storage import CaseFilter
from service.workflow import is_overdue

HOTSPOT_FIELDS = (
    Field("hotspot_id", title="热点编号"), Field("category", title="类别组"),
    Field("case_count", "integer", "案件数"), Field("area_m2", "number", "面积（平方米）"),
    Field("density_per_ha", "number", "每公顷案件数"),
    Field("dominant_category", title="主要类别代码", queryable=True),
    Field("dominant_category_name", title="主要类别"), Field("community", title="社区"),
    Field("community_code", title="社区代码", queryable=True),
    Field("squad", title="中队", queryable=True), Field("recency_score", "number", "近期分"),
    Field("peak_hours", title="高峰时段"), Field("peak_start_hour", "integer", "高峰开始（时）"),
    Field("peak_end_hour", "integer", "高峰结束（时）"),
    Field("first_seen", title="最早案件", format="date-time"),
    Field("last_seen", title="最近案件", format="date-time"),
    Field("center_lon", "number", "中心经度"), Field("center_lat", "number", "中心纬度"),
    Field("gi_confidence", "integer", "Gi* 置信度（99/95/90/0）", queryable=True),
    Field("gi_z_max", "number", "Gi* 最大 z 值"),
    Field("gi_significant", "boolean", "Gi* 显著", queryable=True))
HOTSPOT_PROPS = [f.name for f in HOTSPOT_FIELDS]
"""Properties of a hotspot feature (``/api/hotspots`` and the OGC collection)."""
CASE_FIELDS = (
    Field("case_id", title="案件编号"), Field("category", title="类别代码", queryable=True),
    Field("category_name", title="类别"),
    Field("reported_at", title="上报时间", format="date-time"),
    Field("status", title="状态", queryable=True, enum=tuple(STATUSES)),
    Field("closed_at", title="结案时间", format="date-time"),
    Field("deadline_at", title="处置时限", format="date-time"),
    Field("overdue", "boolean", "超期", queryable=True), Field("description", title="描述"),
    Field("address", title="地址"), Field("source", title="来源"),
    Field("community_code", title="社区代码", queryable=True), Field("community", title="社区"),
    Field("squad", title="中队", queryable=True))
FORECAST_FIELDS = (
    Field("cell_id", "integer", "网格编号"), Field("score", "number", "预测分值"),
    Field("rank", "integer", "排名", queryable=True),
    Field("valid_from", title="预测起点", format="date-time"),
    Field("valid_to", title="预测终点（不含）", format="date-time"))
FORECAST_DAYS = 7


def _hour(h: int) -> int:
    return h % 24 if h % 24 or not h else 24


def peak_label(windows: Any) -> str:
    """``[[9, 10], [18, 22]]`` → ``"09–10时、18–22时"`` (``""`` for none)."""
    if not isinstance(windows, list | tuple):
        return ""
    return "、".join(f"{int(s) % 24:02d}–{_hour(int(e)):02d}时" for s, e in windows)


def gis_hotspots(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Hotspots with the peak hours as a text label plus first-window start/end hours, and the
    centre rounded to 7 decimals (see the module docstring)."""
    out = gdf.copy()
    wins = out["peak_windows"] if "peak_windows" in out.columns else pd.Series(
        [[]] * len(out), index=out.index, dtype=object)
    first = [w[0] if isinstance(w, list | tuple) and len(w) else None for w in wins]
    out["peak_hours"] = [peak_label(w) for w in wins]
    out["peak_start_hour"] = pd.array([int(w[0]) % 24 if w else None for w in first],
                                      dtype="Int64")
    out["peak_end_hour"] = pd.array([_hour(int(w[1])) if w else None for w in first],
                                    dtype="Int64")
    for col in ("center_lon", "center_lat"):
        if col in out.columns:
            out[col] = out[col].round(COORD_DECIMALS)
    return out


# ---------------------------------------------------------------- cases (SQL, paged)

def _case_filter(source: Source, q: ItemQuery) -> CaseFilter | None:
    """The SQL filter of a query, or ``None`` when it can match nothing (another squad)."""
    squads, opts = source.squads, dict(q.where)
    if "squad" in opts:
        if squads is not None and opts["squad"] not in squads:
            return None
        squads = (opts["squad"],)
    return CaseFilter(squads=squads, start=q.start, end=q.end, bbox=q.bbox, after=q.after,
                      status=(opts["status"],) if "status" in opts else None,
                      categories=resolve_categories([opts["category"]])
                      if "category" in opts else None,
                      community=opts.get("community_code"), overdue=opts.get("overdue"))


def _fetch_cases(source: Source, q: ItemQuery) -> tuple[list[dict[str, Any]], int] | Page:
    """The page of :func:`service.case_features.case_page` (the same bytes as ``/api/cases``:
    coordinates already rounded to 7 decimals), passed through."""
    flt = _case_filter(source, q)
    if flt is None:
        return [], 0
    return case_page(source.storage, flt, limit=q.limit, offset=q.offset,
                     version=source.version)


def _get_case(source: Source, feature_id: str) -> dict[str, Any] | None:
    case = source.storage.get_case(lookup_id(feature_id))
    if case is None or (source.squads is not None and case["squad"] not in source.squads):
        return None
    tz = ZoneInfo(source.storage.tz)
    props = {k: case.get(k) for k in CASE_PROPS if k != "overdue"}
    for key in ("reported_at", "closed_at", "deadline_at"):
        value = props[key]
        props[key] = value.astimezone(tz).isoformat() if value is not None else None
    props["overdue"] = is_overdue(case["status"], case["deadline_at"], case["closed_at"],
                                  datetime.now(UTC))
    geometry = round_point({"type": "Point", "coordinates": [case["lon"], case["lat"]]})
    return {"type": "Feature", "id": case["case_id"], "geometry": geometry, "properties": props}


def _case_extent(source: Source) -> Extent:
    stmt = source.storage.case_query(CaseFilter(squads=source.squads)).with_only_columns(
        func.min(Case.lon), func.min(Case.lat), func.max(Case.lon), func.max(Case.lat),
        func.min(Case.reported_at), func.max(Case.reported_at))
    source.storage.init()
    with source.storage.engine.connect() as conn:
        x0, y0, x1, y1, first, last = conn.execute(stmt).one()
    if x0 is None:
        return Extent()
    return Extent((float(x0), float(y0), float(x1), float(y1)), (first, last))


# ---------------------------------------------------------------- analysis layers

def _hotspots(source: Source) -> gpd.GeoDataFrame:
    gdf = pages_data.hotspots(source.storage, source.settings, source.squads)
    return gis_hotspots(gdf) if len(gdf) else gdf


def _forecast(source: Source) -> gpd.GeoDataFrame:
    tz = ZoneInfo(source.settings.timezone)
    start = datetime.combine(datetime.now(tz).date() + timedelta(days=1), datetime.min.time(),
                             tzinfo=tz)
    cells = pages_data.forecast(source.storage, source.settings, source.squads, at=start,
                                horizon_days=FORECAST_DAYS).copy()
    cells["valid_from"] = pd.Timestamp(start)
    cells["valid_to"] = pd.Timestamp(start + timedelta(days=FORECAST_DAYS))
    return cells


def _register_builtins() -> None:
    register(frame_collection(
        "communities", "社区", lambda s: s.storage.communities(squads=s.squads),
        id_column="code", description="社区边界（部分为近似范围，approximate=true）",
        fields=[Field("code", title="社区代码"), Field("name", title="名称"),
                Field("street", title="街道"), Field("squad", title="中队", queryable=True),
                Field("approximate", "boolean", "近似范围"),
                Field("area_m2", "number", "面积（平方米）")]))
    register(frame_collection(
        "stations", "社区工作站", lambda s: s.storage.stations(squads=s.squads),
        id_column="code",
        fields=[Field("code", title="工作站代码"), Field("name", title="名称"),
                Field("community_code", title="社区代码", queryable=True),
                Field("squad", title="中队", queryable=True)]))
    register(Collection("cases", "案件", "案件点位（上报时间、类别、状态、是否超期）",
                        _fetch_cases, _get_case, _case_extent, fields=CASE_FIELDS,
                        temporal=True, keyset=True))
    register(frame_collection(
        "hotspots", "热点", _hotspots, id_column="hotspot_id", fields=HOTSPOT_FIELDS,
        description="近 90 天案件的密度热点（含 Gi* 显著性）", times=("first_seen", "last_seen")))
    register(frame_collection(
        "forecast", "案件预测", _forecast, id_column="cell_id", fields=FORECAST_FIELDS,
        id_type="integer", description=f"未来 {FORECAST_DAYS} 天案件预测（150 米网格，排名前 200）",
        times=("valid_from", "valid_to")))


_register_builtins()
