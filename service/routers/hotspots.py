"""Hotspot layers as GeoJSON (WGS84): density hotspots, Gi* significance cells, emerging trends.

Computed from the cases the caller may see (squad-bound users: their squad only), cached in
memory for a few minutes per parameter set and case count. The hotspots are also the OGC API –
Features collection ``hotspots`` (last 90 days, all categories; :mod:`service.ogc_layers`), with
the same properties: ``peak_hours`` as a label GIS tools keep as text (``09–10时``) and the first
window as ``peak_start_hour``/``peak_end_hour``.

Ranking (``GET /api/hotspots``): when the period has patrol effort data (confirmed visits, else
stored plans), the hotspots are ranked by exposure by default — patrol-found cases weighed by
the patrol-hours of their community, complaints as they are (:mod:`service.effort`) — with
``rank``, ``exposure_score``, ``patrol_cases`` and ``other_cases``; ``exposure=false`` keeps
the order by recency and counts. The collection says which: ``ranking`` (``exposure`` /
``counts``), ``ranking_label`` (Chinese, :data:`geo.labels.RANKING_NAMES`), ``effort``
(``confirmed`` / ``planned`` / ``none``) and ``notes``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import geopandas as gpd
from fastapi import APIRouter, Query, Response

from service import pages_data
from service.deps import CurrentUser, SettingsDep, StorageDep
from service.geojson import frame_features, geojson_response
from service.ogc_layers import HOTSPOT_PROPS, gis_hotspots
from service.schemas import ErrorBody, FeatureCollection

router = APIRouter(prefix="/api/hotspots", tags=["hotspots"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 404: {"model": ErrorBody},
    422: {"model": ErrorBody}}
Squad = Annotated[str | None, Query(max_length=32, description="中队编号（缺省：可见的全部）")]
At = Annotated[datetime | None, Query(description="截止时刻（不含）；缺省为今天结束")]
Days = Annotated[int, Query(ge=1, le=3650, description="使用截止前多少天的案件")]
GI_PROPS = ["cell_id", "count", "gi_z", "gi_p", "gi_bin", "gi_confidence", "gi_class", "gi_label"]
TREND_PROPS = ["cell_id", "pattern", "pattern_zh", "count_total", "hot_periods", "cold_periods",
               "n_periods", "final_z", "trend_z", "trend_p"]


EXPOSURE_PROPS = ["rank", "exposure_score", "patrol_cases", "other_cases"]
Exposure = Annotated[bool, Query(description="有巡查记录（到达确认或已保存的计划）时按巡查时长校正排序"
                                            "（默认）；false 则按案件数")]


def _collection(gdf: gpd.GeoDataFrame, id_column: str, props: list[str],
                extra: dict[str, Any] | None = None) -> Response:
    feats = frame_features(gdf, id_column=id_column, properties=props) if len(gdf) else []
    return geojson_response({"type": "FeatureCollection", "features": feats,
                             "numberMatched": len(feats), "numberReturned": len(feats),
                             **(extra or {})})


@router.get("", response_model=FeatureCollection, responses=_ERRORS, summary="热点（GeoJSON）")
def list_hotspots(storage: StorageDep, settings: SettingsDep, user: CurrentUser,
                  squad: Squad = None, at: At = None, days: Days = 90,
                  category: Annotated[str | None, Query(
                      max_length=64, description="类别代码、逗号分隔代码或类别组（如 stall）")] = None,
                  exposure: Exposure = True) -> Response:
    """One polygon per density hotspot: ``hotspot_id``, ``case_count``, ``category``,
    ``peak_hours`` (``09–10时、18–22时``), ``peak_start_hour``/``peak_end_hour`` (first window),
    ``gi_confidence`` (Gi* 99/95/90/0), ``community``, ``squad``… ranked as ``ranking`` says
    (module docstring)."""
    squads = pages_data.scope(user, squad)
    gdf = pages_data.hotspots(storage, settings, squads, at=at, days=days, category=category,
                              exposure=exposure)
    props = HOTSPOT_PROPS + [c for c in EXPOSURE_PROPS if c in gdf.columns]
    return _collection(gis_hotspots(gdf) if len(gdf) else gdf, "hotspot_id", props,
                       gdf.attrs.get("ranking"))


@router.get("/significance", response_model=FeatureCollection, responses=_ERRORS,
            summary="Gi* 显著性网格（GeoJSON）")
def gi_cells(storage: StorageDep, settings: SettingsDep, user: CurrentUser, squad: Squad = None,
             at: At = None, days: Days = 90,
             cell_m: Annotated[float, Query(ge=25, le=2000, description="网格边长（米）")] = 100.0
             ) -> Response:
    """Grid cells with cases or a significant Getis-Ord Gi* (``gi_class`` hot_99 … cold_99,
    ``gi_label`` in Chinese), Benjamini–Hochberg corrected."""
    squads = pages_data.scope(user, squad)
    gdf = pages_data.significance(storage, settings, squads, at=at, days=days, cell_m=cell_m)
    return _collection(gdf, "cell_id", GI_PROPS)


@router.get("/trends", response_model=FeatureCollection, responses=_ERRORS,
            summary="新兴热点趋势（GeoJSON）")
def trend_cells(storage: StorageDep, settings: SettingsDep, user: CurrentUser,
                squad: Squad = None, at: At = None, days: Days = 180,
                cell_m: Annotated[float, Query(ge=25, le=2000)] = 150.0,
                period_days: Annotated[float, Query(ge=1, le=90)] = 7.0) -> Response:
    """Emerging hot-spot pattern per cell (``pattern``, ``pattern_zh`` such as 加剧热点) from a
    space-time cube of ``period_days`` periods (at least four must fit in ``days``)."""
    squads = pages_data.scope(user, squad)
    gdf = pages_data.trends(storage, settings, squads, at=at, days=days, cell_m=cell_m,
                            period_days=period_days)
    return _collection(gdf, "cell_id", TREND_PROPS)

