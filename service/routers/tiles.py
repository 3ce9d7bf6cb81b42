"""Vector tiles of the case layer: ``GET /tiles/cases/{z}/{x}/{y}.mvt`` (Mapbox Vector Tile 2.1).

The filters are those of ``GET /api/cases`` (``month`` or ``start``/``end``, ``status``,
``category``, ``community``, ``squad``) plus ``precise`` (only cases located to a point or a
landmark, as the maps draw them) and ``coords=gcj02`` (points shifted for the Amap base map);
a squad-bound caller gets only the cases of its squads
(:attr:`service.auth.Principal.squads`), and naming another squad is 403. The tile's layer and
feature properties are described in :mod:`service.tiles`.

Answers: 200 with ``application/vnd.mapbox-vector-tile``; **204 No Content (empty body) for a
tile without cases**; 304 when ``If-None-Match`` names the current ``ETag``, which changes with
every committed change to the cases (:func:`service.case_cache.data_version`) and with the
filters; 400 for a tile that does not exist (``x`` or ``y`` ≥ 2^z; z > 22 is 422).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from service.case_cache import etag, not_modified, versions
from service.case_ops import case_filter_for
from service.deps import CaseQueryDep, CurrentUser, SettingsDep, StorageDep
from service.schemas import ErrorBody
from service.storage import CaseFilter
from service.tiles import MEDIA_TYPE, case_tile, check_tile

router = APIRouter(prefix="/tiles", tags=["maps"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
    422: {"model": ErrorBody}}


def tile_filter(
    user: CurrentUser,
    settings: SettingsDep,
    query: CaseQueryDep,
    precise: Annotated[bool, Query(description="只含定位到点或标志物的案件（地图用）")] = False,
) -> CaseFilter:
    """The caller's filter for the tiles, always limited to the caller's squads."""
    return case_filter_for(user, settings.timezone, query, precise=precise)


@router.get("/cases/{z}/{x}/{y}.mvt", responses={
    **_ERRORS, 200: {"content": {MEDIA_TYPE: {}}}, 204: {"description": "该瓦片内没有案件（空）"},
    304: {}}, summary="案件矢量瓦片（MVT）")
def case_tiles(
    request: Request,
    storage: StorageDep,
    flt: Annotated[CaseFilter, Depends(tile_filter)],
    z: Annotated[int, Path(ge=0, le=22)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    coords: Annotated[Literal["wgs84", "gcj02"], Query(
        description="点位坐标系：wgs84（默认），gcj02 用于高德底图")] = "wgs84",
) -> Response:
    """The cases the caller may see on tile ``z/x/y`` as a Mapbox Vector Tile (layer
    ``cases``; see :mod:`service.tiles`); 204 without a body when the tile holds no case."""
    check_tile(z, x, y)
    tag = etag("tile", storage.url, versions(storage)[0], flt, z, x, y, coords)
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    body = case_tile(storage, flt, z, x, y, gcj02=coords == "gcj02")
    if not body:
        return Response(status_code=204, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)
