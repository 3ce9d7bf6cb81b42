"""Communities (社区) and work stations (工作站) as GeoJSON FeatureCollections (WGS84).

Squad-bound users get only their squad's communities and stations.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from service.deps import CurrentUser, StorageDep
from service.geojson import frame_features, geojson_response
from service.schemas import ErrorBody, FeatureCollection

router = APIRouter(prefix="/api", tags=["communities"])
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody}}
COMMUNITY_PROPS = ["code", "name", "street", "squad", "approximate", "area_m2"]
STATION_PROPS = ["code", "name", "community_code", "squad"]


@router.get("/communities", response_model=FeatureCollection, responses=_ERRORS,
            summary="社区边界（GeoJSON）")
def communities(storage: StorageDep, user: CurrentUser) -> Response:
    """Community polygons with ``code``, ``name``, ``street``, ``squad``, ``approximate``."""
    gdf = storage.communities(squads=user.squads)
    feats = frame_features(gdf, id_column="code", properties=COMMUNITY_PROPS)
    return geojson_response({"type": "FeatureCollection", "features": feats})


@router.get("/stations", response_model=FeatureCollection, responses=_ERRORS,
            summary="社区工作站（GeoJSON）")
def stations(storage: StorageDep, user: CurrentUser) -> Response:
    """Work-station points with ``code``, ``name``, ``community_code``, ``squad``."""
    gdf = storage.stations(squads=user.squads)
    feats = frame_features(gdf, id_column="code", properties=STATION_PROPS)
    return geojson_response({"type": "FeatureCollection", "features": feats})
