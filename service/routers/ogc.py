"""OGC API – Features (Part 1 Core + GeoJSON, Part 3 queryables) at ``/ogc``, so QGIS and GDAL
add the map layers directly.

QGIS: 图层 → 添加图层 → WFS / OGC API – Features, URL ``http://HOST:PORT/ogc``, with an "API
Header" authentication of ``Authorization: Bearer <token>``. GDAL::

    ogrinfo --config GDAL_HTTP_HEADERS "Authorization: Bearer $TOKEN" -oo PAGE_SIZE=1000 \\
        OAPIF:http://HOST:PORT/ogc cases -where "status = '派遣'"

Items and single features carry a weak ``ETag`` (their ``timeStamp`` differs, their features do
not): for cases it follows the page's content (data version and the overdue flags), for the
other layers the data versions, the caller's squads, the day and the request, so
``If-None-Match`` answers 304 before any layer is computed. A full page of cases links to the next
by keyset (``cursor``).

The landing page, conformance and API definition are public; collections and items need a
signed-in user and are limited to the caller's squad (extents too). The collections and their
rules are in :mod:`service.ogc` and :mod:`service.ogc_layers`; the documents in
:mod:`service.ogc_api`.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from geo.errors import NotFoundError
from service import ogc_api, ogc_layers  # noqa: F401  (ogc_layers registers the collections)
from service.case_cache import Page, encode_cursor, etag, not_modified, versions
from service.case_ops import collection_bytes
from service.deps import CurrentUser, SettingsDep, StorageDep
from service.geojson import GEOJSON, dumps
from service.ogc import (
    COLLECTIONS,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Collection,
    ItemQuery,
    Source,
    check_params,
    parse_items_query,
)
from service.schemas import ErrorBody

router = APIRouter(tags=["ogc"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 404: {"model": ErrorBody}}
_F = [{"name": "f", "in": "query", "required": False,
       "schema": {"type": "string", "enum": ["json"]}}]
_ITEM_PARAMS = [
    {"name": "bbox", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "最小经度,最小纬度,最大经度,最大纬度（WGS84）"},
    {"name": "datetime", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "时刻或区间 起/止（.. 表示开放端）"},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT},
     "description": f"每页要素数；超过 {MAX_LIMIT} 按 {MAX_LIMIT} 计"},
    {"name": "offset", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {"name": "f", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["json", "geojson"]}},
]


def _source(storage: StorageDep, settings: SettingsDep, user: CurrentUser) -> Source:
    return Source(storage, settings, user.squads)


SourceDep = Annotated[Source, Depends(_source)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _json(obj: dict[str, Any], kind: str = ogc_api.JSON) -> Response:
    return Response(dumps(obj), media_type=kind)


def _collection(cid: str) -> Collection:
    if cid not in COLLECTIONS:
        raise NotFoundError(f"没有图层「{cid[:40]}」；可用：{'、'.join(COLLECTIONS)}。")
    return COLLECTIONS[cid]


@router.get("/ogc", responses=_ERRORS, summary="OGC API 入口（QGIS 连接地址）",
            openapi_extra={"parameters": _F})
def landing(request: Request) -> Response:
    """Landing page: links to the API definition, conformance and collections."""
    check_params(request.query_params.multi_items())
    return _json(ogc_api.landing(_base(request)))


@router.get("/ogc/conformance", responses=_ERRORS, summary="OGC 一致性声明",
            openapi_extra={"parameters": _F})
def conformance(request: Request) -> Response:
    """The conformance classes implemented."""
    check_params(request.query_params.multi_items())
    return _json({"conformsTo": ogc_api.CONFORMANCE})


@router.get("/ogc/api", responses=_ERRORS, summary="OGC API 定义（OpenAPI 3.0）",
            openapi_extra={"parameters": _F})
def api_definition(request: Request) -> Response:
    """The OpenAPI document of ``/ogc`` alone, with each collection's queryables."""
    check_params(request.query_params.multi_items())
    return _json(ogc_api.openapi_document(_base(request)), ogc_api.OPENAPI_JSON)


@router.get("/ogc/collections", responses=_ERRORS, summary="图层列表",
            openapi_extra={"parameters": _F})
def collections(request: Request, source: SourceDep) -> Response:
    """Every collection with the extent of what the caller may see."""
    check_params(request.query_params.multi_items())
    b = _base(request)
    return _json({"collections": [ogc_api.collection_json(c, b, c.extent(source))
                                  for c in COLLECTIONS.values()],
                  "links": [{"href": f"{b}/ogc/collections", "rel": "self", "type": "application/json"}]})


@router.get("/ogc/collections/{collection_id}", responses=_ERRORS, summary="图层信息",
            openapi_extra={"parameters": _F})
def collection(collection_id: str, request: Request, source: SourceDep) -> Response:
    """One collection's metadata."""
    check_params(request.query_params.multi_items())
    c = _collection(collection_id)
    return _json(ogc_api.collection_json(c, _base(request), c.extent(source)))


@router.get("/ogc/collections/{collection_id}/queryables", responses=_ERRORS,
            summary="可筛选属性（JSON Schema）", openapi_extra={"parameters": _F})
def queryables(collection_id: str, request: Request, _source: SourceDep) -> Response:
    """The properties ``items`` accepts as ``?name=value`` filters."""
    check_params(request.query_params.multi_items())
    c = _collection(collection_id)
    return _json(ogc_api.queryables_json(c, _base(request)), ogc_api.SCHEMA_JSON)


@router.get("/ogc/collections/{collection_id}/schema", responses=_ERRORS,
            summary="要素结构（JSON Schema）", openapi_extra={"parameters": _F})
def schema(collection_id: str, request: Request, _source: SourceDep) -> Response:
    """A JSON Schema of one feature (property names and types)."""
    check_params(request.query_params.multi_items())
    c = _collection(collection_id)
    return _json(ogc_api.schema_json(c, _base(request)), ogc_api.SCHEMA_JSON)


def _links(request: Request, cid: str, q: ItemQuery, page: Page) -> list[dict[str, Any]]:
    url = request.url
    links = [{"href": str(url), "rel": "self", "type": GEOJSON}]
    known_end = q.after is None and page.exact and q.offset + page.returned >= page.matched
    if page.last is not None and page.returned == q.limit and not known_end:
        nxt = url.remove_query_params(["offset", "cursor"]).include_query_params(
            cursor=encode_cursor(page.last), limit=q.limit)  # keyset: one indexed query
        links.append({"href": str(nxt), "rel": "next", "type": GEOJSON})
    elif page.last is None and q.offset + page.returned < page.matched:
        nxt = url.include_query_params(offset=q.offset + q.limit, limit=q.limit)
        links.append({"href": str(nxt), "rel": "next", "type": GEOJSON})
    if q.offset > 0:
        prev = url.include_query_params(offset=max(0, q.offset - q.limit), limit=q.limit)
        links.append({"href": str(prev), "rel": "prev", "type": GEOJSON})
    links.append({"href": f"{_base(request)}/ogc/collections/{cid}", "rel": "collection",
                  "type": "application/json"})
    return links


@router.get("/ogc/collections/{collection_id}/items", responses=_ERRORS,
            summary="图层要素（GeoJSON）",
            openapi_extra={"parameters": _ITEM_PARAMS})
def items(collection_id: str, request: Request, source: SourceDep) -> Response:
    """A page of features with ``numberMatched``, ``numberReturned`` and next/prev links.

    Besides ``bbox``, ``datetime``, ``limit`` (clamped to the maximum) and ``offset``, each
    queryable of the collection (``/queryables``) filters on equality, e.g. ``?status=派遣``;
    any other parameter is refused (400).
    """
    coll = _collection(collection_id)
    q = parse_items_query(request.query_params.multi_items(), coll,
                          tz=source.settings.timezone)
    cases_v, plans_v = versions(source.storage)
    source = replace(source, version=cases_v)
    asked = request.headers.get("if-none-match")
    tag = "W/" + etag("ogc", source.storage.url, cases_v, plans_v, source.squads, str(request.url),
                      datetime.now(ZoneInfo(source.settings.timezone)).date())
    if not coll.keyset and not_modified(asked, tag):  # before the layer is computed
        return Response(status_code=304, headers={"ETag": tag})
    got = coll.fetch(source, q)
    page = got if isinstance(got, Page) else Page(dumps(got[0]), len(got[0]), got[1])
    if coll.keyset:  # case pages follow the clock (overdue): their content digest decides
        tag = "W/" + etag("ogc", str(request.url), cases_v, page.digest, page.matched)
        if not_modified(asked, tag):
            return Response(status_code=304, headers={"ETag": tag})
    extra = {} if page.exact else {"numberMatchedEstimated": True}
    return Response(collection_bytes(
        page, timeStamp=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        links=_links(request, collection_id, q, page), **extra),
        media_type=GEOJSON, headers={"ETag": tag})


@router.get("/ogc/collections/{collection_id}/items/{feature_id}", responses=_ERRORS,
            summary="单个要素", openapi_extra={"parameters": _F})
def item(collection_id: str, feature_id: str, request: Request, source: SourceDep) -> Response:
    """One feature by id (404 if absent or outside the caller's squad)."""
    check_params(request.query_params.multi_items())
    coll = _collection(collection_id)
    feature = coll.get(source, feature_id)
    if feature is None:
        raise NotFoundError(f"图层「{collection_id}」中没有要素「{feature_id[:40]}」（或无权查看）。")
    url = f"{_base(request)}/ogc/collections/{collection_id}"
    feature["links"] = [{"href": str(request.url), "rel": "self", "type": GEOJSON},
                        {"href": url, "rel": "collection", "type": "application/json"}]
    body = dumps(feature)
    tag = 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    if not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type=GEOJSON, headers={"ETag": tag})


@router.get("/conformance", include_in_schema=False)
@router.get("/collections", include_in_schema=False)
@router.get("/collections/{rest:path}", include_in_schema=False)
def legacy(request: Request) -> RedirectResponse:
    """The paths of the first release (outside ``/ogc``): a permanent redirect into ``/ogc``."""
    url = request.url
    return RedirectResponse(str(url.replace(path="/ogc" + url.path)), status_code=308)
