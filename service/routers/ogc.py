"""OGC API – Features (Part 1 Core, GeoJSON) over the map layers, so QGIS can add them directly.

Point QGIS (图层 → 添加图层 → WFS / OGC API – Features) at ``http://HOST:PORT/ogc`` with an
"API Header" authentication of ``Authorization: Bearer <token>``. The landing page and conformance
are public; collections and items need a signed-in user and are limited to the caller's squad.

Adding a collection is one call::

    register(frame_collection("hotspots", "热点", lambda storage, squads: hotspots_gdf(...),
                              id_column="hotspot_id"))

where the loader returns a WGS84 GeoDataFrame of everything the given squads (``None`` = all) may
see; bbox, datetime and paging are applied here. Large layers supply their own ``fetch`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Query, Request, Response
from shapely.geometry import box

from geo.errors import NotFoundError
from service.auth import Principal
from service.case_cache import Page
from service.case_ops import case_detail, collection_bytes, query_page
from service.deps import CurrentUser, SettingsDep, StorageDep
from service.geojson import (
    GEOJSON,
    dumps,
    frame_features,
    geojson_response,
    parse_bbox,
    parse_interval,
)
from service.schemas import ErrorBody
from service.storage import CaseFilter, Storage

router = APIRouter(tags=["ogc"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 404: {"model": ErrorBody}}
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]


@dataclass(frozen=True)
class ItemQuery:
    """What a client asked of a collection, already limited to the caller's squads."""

    squads: tuple[str, ...] | None
    bbox: tuple[float, float, float, float] | None
    start: datetime | None
    end: datetime | None
    limit: int
    offset: int


Fetch = Callable[[Storage, ItemQuery], tuple[list[dict[str, Any]], int] | Page]
"""(storage, query) → (features of this page, number matched), or a serialised :class:`Page`."""


@dataclass(frozen=True)
class Collection:
    """One OGC collection: identity, description, and how to fetch a page of its features."""

    id: str
    title: str
    description: str
    fetch: Fetch
    temporal: bool = False


COLLECTIONS: dict[str, Collection] = {}


def register(collection: Collection) -> Collection:
    """Add (or replace) a collection."""
    COLLECTIONS[collection.id] = collection
    return collection


def frame_collection(cid: str, title: str,
                     load: Callable[[Storage, tuple[str, ...] | None], gpd.GeoDataFrame], *,
                     id_column: str, description: str = "", time_column: str | None = None,
                     properties: list[str] | None = None) -> Collection:
    """A collection from a loader returning a small WGS84 GeoDataFrame (filtered in memory)."""

    def fetch(storage: Storage, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
        gdf = load(storage, q.squads)
        if q.bbox is not None and len(gdf):
            gdf = gdf.loc[gdf.geometry.intersects(box(*q.bbox))]
        if time_column is not None and (q.start or q.end):
            times = pd.to_datetime(gdf[time_column], utc=True)
            keep = pd.Series(True, index=gdf.index)
            if q.start is not None:
                keep &= times >= pd.Timestamp(q.start)
            if q.end is not None:
                keep &= times < pd.Timestamp(q.end)
            gdf = gdf.loc[keep]
        page = gdf.iloc[q.offset:q.offset + q.limit]
        return frame_features(page, id_column=id_column, properties=properties), len(gdf)

    return Collection(cid, title, description or title, fetch, temporal=time_column is not None)


def _fetch_cases(storage: Storage, q: ItemQuery) -> Page:
    flt = CaseFilter(squads=q.squads, start=q.start, end=q.end, bbox=q.bbox)
    return query_page(storage, flt, limit=q.limit, offset=q.offset)


register(frame_collection(
    "communities", "社区", lambda st, squads: st.communities(squads=squads), id_column="code",
    description="社区边界（部分为近似范围，approximate=true）",
    properties=["code", "name", "street", "squad", "approximate", "area_m2"]))
register(frame_collection(
    "stations", "社区工作站", lambda st, squads: st.stations(squads=squads), id_column="code",
    properties=["code", "name", "community_code", "squad"]))
register(Collection("cases", "案件", "案件点位（上报时间、类别、状态、是否超期）", _fetch_cases,
                    temporal=True))


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _meta(c: Collection, request: Request, bounds: list[float]) -> dict[str, Any]:
    items = f"{_base(request)}/collections/{c.id}/items"
    extent: dict[str, Any] = {"spatial": {"bbox": [bounds], "crs": CRS84}}
    if c.temporal:
        extent["temporal"] = {"interval": [[None, None]]}
    return {"id": c.id, "title": c.title, "description": c.description, "itemType": "feature",
            "crs": [CRS84], "extent": extent,
            "links": [{"href": items, "rel": "items", "type": "application/geo+json",
                       "title": c.title},
                      {"href": f"{_base(request)}/collections/{c.id}", "rel": "self",
                       "type": "application/json"}]}


def _bounds(request: Request, storage: Storage) -> list[float]:
    cached: list[float] | None = getattr(request.app.state, "ogc_bounds", None)
    if cached is None:
        comm = storage.communities()
        cached = [float(v) for v in comm.total_bounds] if len(comm) else [-180, -90, 180, 90]
        request.app.state.ogc_bounds = cached
    return cached


def _collection(cid: str) -> Collection:
    if cid not in COLLECTIONS:
        raise NotFoundError(f"没有图层「{cid[:40]}」；可用：{'、'.join(COLLECTIONS)}。")
    return COLLECTIONS[cid]


@router.get("/ogc", summary="OGC API 入口（QGIS 连接地址）")
def landing(request: Request) -> dict[str, Any]:
    """Landing page: links to the API description, conformance and collections."""
    b = _base(request)
    return {"title": "巡查 xuncha OGC API – Features", "description": "社区、工作站、案件等图层",
            "links": [
                {"href": f"{b}/ogc", "rel": "self", "type": "application/json"},
                {"href": f"{b}/openapi.json", "rel": "service-desc",
                 "type": "application/vnd.oai.openapi+json;version=3.0"},
                {"href": f"{b}/docs", "rel": "service-doc", "type": "text/html"},
                {"href": f"{b}/conformance", "rel": "conformance", "type": "application/json"},
                {"href": f"{b}/collections", "rel": "data", "type": "application/json"}]}


@router.get("/conformance", summary="OGC 一致性声明")
def conformance() -> dict[str, Any]:
    """The conformance classes implemented."""
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", responses=_ERRORS, summary="图层列表")
def collections(request: Request, storage: StorageDep, _user: CurrentUser) -> dict[str, Any]:
    """Every collection with its extent and items link."""
    bounds = _bounds(request, storage)
    return {"collections": [_meta(c, request, bounds) for c in COLLECTIONS.values()],
            "links": [{"href": f"{_base(request)}/collections", "rel": "self",
                       "type": "application/json"}]}


@router.get("/collections/{collection_id}", responses=_ERRORS, summary="图层信息")
def collection(collection_id: str, request: Request, storage: StorageDep,
               _user: CurrentUser) -> dict[str, Any]:
    """One collection's metadata."""
    return _meta(_collection(collection_id), request, _bounds(request, storage))


def _links(request: Request, cid: str, q: ItemQuery, n: int, matched: int) -> list[dict[str, Any]]:
    url = request.url
    links = [{"href": str(url), "rel": "self", "type": "application/geo+json"}]
    if q.offset + n < matched:
        nxt = url.include_query_params(offset=q.offset + q.limit, limit=q.limit)
        links.append({"href": str(nxt), "rel": "next", "type": "application/geo+json"})
    if q.offset > 0:
        prev = url.include_query_params(offset=max(0, q.offset - q.limit), limit=q.limit)
        links.append({"href": str(prev), "rel": "prev", "type": "application/geo+json"})
    links.append({"href": f"{_base(request)}/collections/{cid}", "rel": "collection",
                  "type": "application/json"})
    return links


@router.get("/collections/{collection_id}/items", responses=_ERRORS, summary="图层要素（GeoJSON）")
def items(
    collection_id: str,
    request: Request,
    storage: StorageDep,
    settings: SettingsDep,
    user: CurrentUser,
    bbox: Annotated[str | None, Query(max_length=200, description="minLon,minLat,maxLon,maxLat")] = None,
    datetime_: Annotated[str | None, Query(alias="datetime", max_length=100,
                                           description="时刻或区间 start/end（.. 表示开放）")] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """A page of features (GeoJSON) with ``numberMatched``, ``numberReturned`` and next/prev links."""
    coll = _collection(collection_id)
    start, end = parse_interval(datetime_, settings.timezone)
    q = ItemQuery(squads=_squads(user), bbox=parse_bbox(bbox), start=start, end=end,
                  limit=limit, offset=offset)
    got = coll.fetch(storage, q)
    page = got if isinstance(got, Page) else Page(dumps(got[0]), len(got[0]), got[1])
    return Response(collection_bytes(
        page, timeStamp=datetime.now(UTC).isoformat(),
        links=_links(request, collection_id, q, page.returned, page.matched)), media_type=GEOJSON)


def _squads(user: Principal) -> tuple[str, ...] | None:
    return user.squads


@router.get("/collections/{collection_id}/items/{feature_id}", responses=_ERRORS,
            summary="单个要素")
def item(collection_id: str, feature_id: str, storage: StorageDep, user: CurrentUser) -> Response:
    """One feature by id (404 if absent or outside the caller's squad)."""
    coll = _collection(collection_id)
    if collection_id == "cases":
        return geojson_response(case_detail(storage, feature_id, user))
    q = ItemQuery(squads=_squads(user), bbox=None, start=None, end=None, limit=10**7, offset=0)
    got = coll.fetch(storage, q)
    feats = got[0] if isinstance(got, tuple) else []
    for f in feats:
        if str(f["id"]) == feature_id:
            return geojson_response(f)
    raise NotFoundError(f"图层「{collection_id}」中没有要素「{feature_id[:40]}」（或无权查看）。")
