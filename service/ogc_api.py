"""The JSON documents of the OGC API – Features endpoint ``/ogc``: landing page, conformance,
collection metadata, queryables (Part 3, JSON Schema), feature schemas and the API definition.

The API definition (``/ogc/api``, the landing page's ``service-desc``) is an OpenAPI 3.0 document
of this endpoint alone (server ``…/ogc``), with one items path per collection that lists its
queryables as query parameters: that is how GDAL's OAPIF driver (and so QGIS) learns that
``-where "status = '派遣'"`` may be sent to the server as ``?status=派遣``.
"""

from __future__ import annotations

from typing import Any

from service.ogc import (
    COLLECTIONS,
    CRS84,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_OFFSET,
    Collection,
    Extent,
)

JSON = "application/json"
GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
REL_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
]
JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"


def _link(href: str, rel: str, kind: str, title: str | None = None) -> dict[str, str]:
    out = {"href": href, "rel": rel, "type": kind}
    if title:
        out["title"] = title
    return out


def landing(base: str) -> dict[str, Any]:
    """The landing page of ``{base}/ogc``."""
    ogc = f"{base}/ogc"
    return {"title": "巡查 xuncha OGC API – Features",
            "description": "社区、工作站、案件、热点与预测图层（按登录用户的中队范围）",
            "links": [_link(ogc, "self", JSON, "本页"),
                      _link(f"{ogc}/api", "service-desc", OPENAPI_JSON, "API 定义"),
                      _link(f"{base}/docs", "service-doc", "text/html", "API 文档"),
                      _link(f"{ogc}/conformance", "conformance", JSON, "一致性声明"),
                      _link(f"{ogc}/collections", "data", JSON, "图层列表")]}


def collection_json(c: Collection, base: str, extent: Extent) -> dict[str, Any]:
    """One collection's metadata with the extent of what the caller may see."""
    url = f"{base}/ogc/collections/{c.id}"
    links = [_link(url, "self", JSON, c.title), _link(f"{url}/items", "items", GEOJSON, c.title),
             _link(f"{url}/queryables", REL_QUERYABLES, SCHEMA_JSON, "可筛选属性")]
    if c.fields:
        links.append(_link(f"{url}/schema", "describedBy", SCHEMA_JSON, "要素结构"))
    out: dict[str, Any] = {"id": c.id, "title": c.title, "description": c.description,
                           "itemType": "feature", "crs": [CRS84], "storageCrs": CRS84,
                           "links": links}
    ext = extent.as_json()
    if ext is not None:
        out["extent"] = ext
    return out


def queryables_json(c: Collection, base: str) -> dict[str, Any]:
    """The collection's queryables as a JSON Schema (OGC API – Features Part 3)."""
    url = f"{base}/ogc/collections/{c.id}/queryables"
    return {"$schema": JSON_SCHEMA, "$id": url, "type": "object", "title": c.title,
            "properties": {name: f.schema() for name, f in c.queryables.items()},
            "additionalProperties": False}


def schema_json(c: Collection, base: str) -> dict[str, Any]:
    """A JSON Schema of one GeoJSON feature of ``c`` (GDAL types the fields from it)."""
    return {"$schema": JSON_SCHEMA, "$id": f"{base}/ogc/collections/{c.id}/schema",
            "title": c.title, "type": "object", "required": ["type", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"type": c.id_type},
                "geometry": {"type": "object"},
                "properties": {"type": "object",
                               "properties": {f.name: f.schema() for f in c.fields}}}}


def _params() -> dict[str, Any]:
    def query(name: str, schema: dict[str, Any], text: str, **kw: Any) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": text, **kw}

    return {
        "bbox": query("bbox", {"type": "array", "minItems": 4, "maxItems": 6,
                               "items": {"type": "number"}},
                      "最小经度,最小纬度,最大经度,最大纬度（WGS84）", style="form", explode=False),
        "datetime": query("datetime", {"type": "string"},
                          "时刻或区间 起/止（.. 表示开放端），ISO 8601"),
        "limit": query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                 "default": DEFAULT_LIMIT},
                       f"每页要素数；超过 {MAX_LIMIT} 按 {MAX_LIMIT} 计", style="form",
                       explode=False),
        "offset": query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET,
                                   "default": 0}, "跳过前多少个要素（翻页用 next 链接即可）"),
        "f": query("f", {"type": "string", "enum": ["json", "geojson"]}, "输出格式"),
    }


def _get(summary: str, kind: str, params: list[dict[str, Any]] | None = None,
         op: str = "") -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": op or summary,
                    "parameters": params or [],
                    "responses": {"200": {"description": "OK",
                                          "content": {kind: {"schema": {"type": "object"}}}},
                                  "400": {"description": "参数无效或不支持"},
                                  "401": {"description": "未登录"},
                                  "404": {"description": "不存在或无权查看"}}}}


def openapi_document(base: str) -> dict[str, Any]:
    """The OpenAPI 3.0 definition of ``{base}/ogc`` (see the module docstring)."""
    ref = {name: {"$ref": f"#/components/parameters/{name}"} for name in _params()}
    paths: dict[str, Any] = {
        "/": _get("landing page", JSON, op="getLandingPage"),
        "/conformance": _get("conformance", JSON, op="getConformance"),
        "/collections": _get("collections", JSON, op="getCollections"),
    }
    for c in COLLECTIONS.values():
        props = [{"name": name, "in": "query", "required": False, "schema": f.schema(),
                  "description": f"属性 {name} 等于此值"} for name, f in c.queryables.items()]
        items: list[dict[str, Any]] = [ref["bbox"], ref["datetime"], ref["limit"],
                                       ref["offset"], ref["f"], *props]
        if c.keyset:  # the next links page by keyset
            items.append({"name": "cursor", "in": "query", "required": False,
                          "schema": {"type": "string"},
                          "description": "翻页游标（next 链接已带上）；与 offset 不能同时使用"})
        feature_id = {"name": "featureId", "in": "path", "required": True,
                      "schema": {"type": "string"}}
        paths[f"/collections/{c.id}"] = _get(f"{c.title}：图层信息", JSON,
                                             op=f"describe_{c.id}")
        paths[f"/collections/{c.id}/items"] = _get(f"{c.title}：要素", GEOJSON, items,
                                                   op=f"get_{c.id}_features")
        paths[f"/collections/{c.id}/items/{{featureId}}"] = _get(
            f"{c.title}：单个要素", GEOJSON, [feature_id], op=f"get_{c.id}_feature")
        paths[f"/collections/{c.id}/queryables"] = _get(
            f"{c.title}：可筛选属性", SCHEMA_JSON, op=f"get_{c.id}_queryables")
    return {"openapi": "3.0.3",
            "info": {"title": "巡查 xuncha OGC API – Features", "version": "1.0.0",
                     "description": "除入口、一致性声明和本文档外都需要 Authorization: Bearer 令牌；"
                                    "中队长只看到本中队的数据。"},
            "servers": [{"url": f"{base}/ogc"}],
            "security": [{"bearer": []}],
            "components": {"parameters": _params(),
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "paths": paths}
