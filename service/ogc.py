"""OGC API – Features collections: the registry, and the query, filter, extent and schema rules
of the layers that :mod:`service.routers.ogc` serves under ``/ogc``.

Adding a collection is one call::

    register(frame_collection("relocation_points", "疏导点", load, id_column="point_id",
                              fields=[Field("name", title="名称", queryable=True)]))

where ``load(source)`` returns a WGS84 GeoDataFrame of everything ``source.squads`` (``None`` =
all) may see; bbox, datetime, property filters, paging and extents are applied here. Large layers
(cases) supply their own ``fetch``, ``get`` and ``extent`` instead (:mod:`service.ogc_layers`).

A collection with ``keyset=True`` (cases) pages by keyset: its ``next`` links carry a ``cursor``
(the last feature's sort key), one indexed query whatever the depth; ``offset`` still works.

A request is read by :func:`parse_items_query`: ``limit`` above :data:`MAX_LIMIT` is clamped to
it (OGC API – Features /req/core/fc-limit-response-1), every other bad value and every parameter
the collection does not declare is an :class:`~geo.errors.InputError` (400).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from geo.errors import InputError
from service.case_cache import Page, decode_cursor
from service.geojson import frame_features, parse_bbox, parse_interval
from service.settings import Settings
from service.storage import Storage

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_OFFSET = 10_000_000
STANDARD_PARAMS = frozenset({"limit", "offset", "bbox", "datetime", "f"})
"""The item parameters every collection accepts (``f`` only as ``json``/``geojson``)."""
JsonType = Literal["string", "integer", "number", "boolean"]


@dataclass(frozen=True)
class Field:
    """One feature property: its JSON Schema type (and ``format``, e.g. ``date-time``), a title,
    and whether it is a queryable (``?name=value`` filters on equality)."""

    name: str
    type: JsonType = "string"
    title: str = ""
    format: str | None = None
    queryable: bool = False
    enum: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of this property (no ``null`` union: GDAL reads a plain ``type``)."""
        out: dict[str, Any] = {"type": self.type, "title": self.title or self.name}
        if self.format:
            out["format"] = self.format
        if self.enum:
            out["enum"] = list(self.enum)
        return out

    def parse(self, text: str) -> Any:
        """A filter value given as text, converted to this property's type."""
        if self.type == "boolean":
            if text.lower() not in ("true", "false", "1", "0"):
                raise InputError(f"参数 {self.name} 只能是 true 或 false（收到「{text[:40]}」）。")
            return text.lower() in ("true", "1")
        if self.type in ("integer", "number"):
            try:
                value = float(text)
            except ValueError:
                value = float("nan")
            if not np.isfinite(value) or (self.type == "integer" and value != int(value)):
                raise InputError(f"参数 {self.name} 应为{'整数' if self.type == 'integer' else '数字'}"
                                 f"（收到「{text[:40]}」）。")
            return int(value) if self.type == "integer" else value
        if self.enum and text not in self.enum:
            raise InputError(f"参数 {self.name}「{text[:40]}」无效；可选：{'、'.join(self.enum)}。")
        return text


@dataclass(frozen=True)
class Source:
    """Where a collection reads from: the app's storage and settings, the squads the caller
    may see (``None`` = all), and the case-data version when the caller has just read it."""

    storage: Storage
    settings: Settings
    squads: tuple[str, ...] | None
    version: str | None = None


@dataclass(frozen=True)
class ItemQuery:
    """What a client asked of a collection (already validated)."""

    bbox: tuple[float, float, float, float] | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    where: tuple[tuple[str, Any], ...] = ()
    after: tuple[datetime, int] | None = None


@dataclass(frozen=True)
class Extent:
    """Spatial (WGS84 bbox) and temporal (start, end) extent of what a caller may see."""

    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[datetime | None, datetime | None] | None = None

    def as_json(self) -> dict[str, Any] | None:
        """The collection ``extent`` member (``None`` when there is nothing to describe)."""
        out: dict[str, Any] = {}
        if self.bbox is not None:
            out["spatial"] = {"bbox": [[round(v, 7) for v in self.bbox]], "crs": CRS84}
        if self.interval is not None:
            out["temporal"] = {"interval": [[_utc(t) for t in self.interval]], "trs": GREGORIAN}
        return out or None


def _utc(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


Fetch = Callable[[Source, ItemQuery], tuple[list[dict[str, Any]], int] | Page]
"""(source, query) → (features of this page, number matched), or a serialised :class:`Page`."""


@dataclass(frozen=True)
class Collection:
    """One OGC collection: identity, properties, and how to fetch a page, one feature and the
    extent of what a caller may see."""

    id: str
    title: str
    description: str
    fetch: Fetch
    get: Callable[[Source, str], dict[str, Any] | None]
    extent: Callable[[Source], Extent]
    fields: tuple[Field, ...] = ()
    temporal: bool = False
    id_type: JsonType = "string"
    keyset: bool = False

    @property
    def queryables(self) -> dict[str, Field]:
        """The properties clients may filter on with ``?name=value``."""
        return {f.name: f for f in self.fields if f.queryable}


COLLECTIONS: dict[str, Collection] = {}


def register(collection: Collection) -> Collection:
    """Add (or replace) a collection."""
    COLLECTIONS[collection.id] = collection
    return collection


def parse_items_query(params: Iterable[tuple[str, str]], coll: Collection, *,
                      tz: str) -> ItemQuery:
    """The :class:`ItemQuery` of an items request's parameters (InputError → 400)."""
    given: dict[str, str] = {}
    for key, value in params:
        if key in given:
            raise InputError(f"参数 {key[:40]} 出现了多次；每个参数只能给一次。")
        given[key] = value
    queryables = coll.queryables
    standard = STANDARD_PARAMS | {"cursor"} if coll.keyset else STANDARD_PARAMS
    unknown = sorted(k for k in given if k not in standard and k not in queryables)
    if unknown:
        allowed = "、".join(sorted(standard | set(queryables)))
        raise InputError(f"图层「{coll.id}」不支持参数 {'、'.join(u[:40] for u in unknown[:5])}；"
                         f"可用参数：{allowed}。")
    if given.get("f", "json") not in ("json", "geojson"):
        raise InputError("参数 f 只能是 json 或 geojson。")
    limit = _integer(given.get("limit"), "limit", DEFAULT_LIMIT, minimum=1)
    offset = _integer(given.get("offset"), "offset", 0, minimum=0)
    if offset > MAX_OFFSET:
        raise InputError(f"offset 不能超过 {MAX_OFFSET}。")
    after = decode_cursor(given["cursor"]) if given.get("cursor") else None
    if after is not None and offset:
        raise InputError("cursor 与 offset 不能同时使用；翻页请只用 next 链接。")
    start, end = parse_interval(given.get("datetime"), tz)
    where = tuple((k, queryables[k].parse(v)) for k, v in given.items() if k in queryables)
    return ItemQuery(bbox=parse_bbox(given.get("bbox")), start=start, end=end,
                     limit=min(limit, MAX_LIMIT), offset=offset, where=where, after=after)


def check_params(params: Iterable[tuple[str, str]]) -> None:
    """Refuse parameters other than ``f=json`` on the metadata resources (400)."""
    for key, value in params:
        if key != "f":
            raise InputError(f"不支持参数 {key[:40]}；此地址只接受 f=json。")
        if value != "json":
            raise InputError("参数 f 只能是 json。")


def _integer(text: str | None, name: str, default: int, *, minimum: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"参数 {name} 应为整数（收到「{text[:40]}」）。") from None
    if value < minimum:
        raise InputError(f"参数 {name} 不能小于 {minimum}。")
    return value


# ---------------------------------------------------------------- collections from a GeoDataFrame

def infer_fields(gdf: gpd.GeoDataFrame, names: list[str] | None = None) -> tuple[Field, ...]:
    """Fields from a frame's dtypes (text for anything that is not a number, flag or time)."""
    out = []
    for name in names or [c for c in gdf.columns if c != gdf.geometry.name]:
        if name not in gdf.columns:
            continue
        col = gdf[name]
        if pd.api.types.is_bool_dtype(col):
            out.append(Field(name, "boolean"))
        elif pd.api.types.is_integer_dtype(col):
            out.append(Field(name, "integer"))
        elif pd.api.types.is_float_dtype(col):
            out.append(Field(name, "number"))
        elif pd.api.types.is_datetime64_any_dtype(col):
            out.append(Field(name, "string", format="date-time"))
        else:
            out.append(Field(name))
    return tuple(out)


def _keep_times(gdf: gpd.GeoDataFrame, q: ItemQuery, start_col: str,
                end_col: str) -> gpd.GeoDataFrame:
    first = pd.to_datetime(gdf[start_col], utc=True)
    last = pd.to_datetime(gdf[end_col], utc=True)
    keep = pd.Series(True, index=gdf.index)
    if q.start is not None:
        keep &= last >= pd.Timestamp(q.start)
    if q.end is not None:
        keep &= first < pd.Timestamp(q.end)
    return gdf.loc[keep.fillna(False).astype(bool)]


def filter_frame(gdf: gpd.GeoDataFrame, q: ItemQuery, *,
                 times: tuple[str, str] | None = None) -> gpd.GeoDataFrame:
    """The rows of ``gdf`` inside ``q.bbox``, with ``q.where`` equalities, and whose
    ``[times[0], times[1]]`` interval meets ``[q.start, q.end)``."""
    if len(gdf) and q.bbox is not None:
        gdf = gdf.loc[gdf.geometry.intersects(box(*q.bbox))]
    for name, value in q.where:
        if name not in gdf.columns:
            return gdf.iloc[0:0]
        col = gdf[name]
        gdf = gdf.loc[(col.astype(str) == value) if isinstance(value, str) else (col == value)]
    if times is not None and set(times) <= set(gdf.columns) and len(gdf) and (q.start or q.end):
        gdf = _keep_times(gdf, q, *times)
    return gdf


def frame_extent(gdf: gpd.GeoDataFrame, times: tuple[str, str] | None = None) -> Extent:
    """The bbox and time span of a WGS84 frame (empty: no extent)."""
    if len(gdf) == 0 or gdf.geometry.is_empty.all():
        return Extent()
    x0, y0, x1, y1 = (float(v) for v in gdf.total_bounds)
    interval = None
    if times is not None and set(times) <= set(gdf.columns):
        first = pd.to_datetime(gdf[times[0]], utc=True).min()
        last = pd.to_datetime(gdf[times[1]], utc=True).max()
        interval = (None if pd.isna(first) else first.to_pydatetime(),
                    None if pd.isna(last) else last.to_pydatetime())
    return Extent((x0, y0, x1, y1), interval)


@dataclass(frozen=True)
class _Frame:
    load: Callable[[Source], gpd.GeoDataFrame]
    id_column: str
    names: list[str] | None
    times: tuple[str, str] | None = None

    def fetch(self, source: Source, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
        gdf = filter_frame(self.load(source), q, times=self.times)
        page = gdf.iloc[q.offset:q.offset + q.limit]
        return frame_features(page, id_column=self.id_column, properties=self.names), len(gdf)

    def get(self, source: Source, feature_id: str) -> dict[str, Any] | None:
        gdf = self.load(source)
        if len(gdf) == 0:
            return None
        one = gdf.loc[gdf[self.id_column].astype(str) == feature_id]
        feats = frame_features(one.iloc[:1], id_column=self.id_column, properties=self.names)
        return feats[0] if feats else None

    def extent(self, source: Source) -> Extent:
        return frame_extent(self.load(source), self.times)


def frame_collection(cid: str, title: str, load: Callable[[Source], gpd.GeoDataFrame], *,
                     id_column: str, description: str = "",
                     fields: Iterable[Field] | None = None, id_type: JsonType = "string",
                     times: tuple[str, str] | None = None) -> Collection:
    """A collection from a loader returning a small WGS84 GeoDataFrame (filtered in memory).

    Parameters
    ----------
    fields : iterable of Field, optional
        The properties written (and their types and queryables); default every column, typed
        per feature by the client, none queryable.
    times : (str, str), optional
        Start and end columns of each feature's time span: ``datetime`` selects the features
        whose span meets the requested interval, and the extent gets a temporal interval.
    """
    declared = tuple(fields) if fields is not None else ()
    names = [f.name for f in declared] if declared else None
    frame = _Frame(load, id_column, names, times)
    return Collection(cid, title, description or title, frame.fetch, frame.get, frame.extent,
                      fields=declared, temporal=times is not None, id_type=id_type)
