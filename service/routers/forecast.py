"""Forecast layer: grid cells ranked by expected cases in the next days (GeoJSON, WGS84).

``GET /api/forecast?at=&horizon_days=7&cell_m=150&top=200`` scores the cells covering the
communities the caller may see from the cases reported before ``at``. Also the OGC API – Features
collection ``forecast`` (next 7 days from tomorrow, 150 m cells, best 200; :mod:`service.ogc_layers`).

Ranking: when the 90 days before ``at`` have patrol effort data (confirmed visits, else stored
plans), the cells are ranked by exposure by default — the forecast of the patrol-found cases
weighed by the patrol-hours of each community, the rest as it is (:mod:`service.effort`);
``exposure=false`` gives the plain forecast. The collection says which: ``ranking``
(``exposure`` / ``counts``), ``ranking_label`` (Chinese, :data:`geo.labels.RANKING_NAMES`),
``effort`` and ``notes``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from service import pages_data
from service.deps import CurrentUser, SettingsDep, StorageDep
from service.geojson import frame_features, geojson_response
from service.schemas import ErrorBody, FeatureCollection

router = APIRouter(prefix="/api/forecast", tags=["forecast"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 404: {"model": ErrorBody},
    422: {"model": ErrorBody}}
PROPS = ["cell_id", "score", "rank"]


@router.get("", response_model=FeatureCollection, responses=_ERRORS, summary="案件预测网格")
def forecast(
    storage: StorageDep,
    settings: SettingsDep,
    user: CurrentUser,
    squad: Annotated[str | None, Query(max_length=32, description="中队编号")] = None,
    at: Annotated[datetime | None, Query(description="预测起点；缺省为明天 0 点")] = None,
    horizon_days: Annotated[float, Query(gt=0, le=60)] = 7,
    cell_m: Annotated[float, Query(ge=50, le=2000)] = 150,
    top: Annotated[int, Query(ge=1, le=100000, description="只返回排名前 N 的网格")] = 200,
    exposure: Annotated[bool, Query(description="有巡查记录（到达确认或已保存的计划）时按巡查时长"
                                                "校正排序（默认）；false 则按预测的案件数")] = True,
) -> Response:
    """Square cells with ``cell_id``, ``score`` (higher = more expected cases in
    ``[at, at + horizon_days)``) and ``rank`` (1 = highest), best ``top`` only; ranked as
    ``ranking`` says (module docstring)."""
    squads = pages_data.scope(user, squad)
    cells = pages_data.forecast(storage, settings, squads, at=at, horizon_days=horizon_days,
                                cell_m=cell_m, top=top, exposure=exposure)
    feats = frame_features(cells, id_column="cell_id", properties=PROPS) if len(cells) else []
    return geojson_response({"type": "FeatureCollection", "features": feats,
                             "numberMatched": len(feats), "numberReturned": len(feats),
                             **(cells.attrs.get("ranking") or {})})

