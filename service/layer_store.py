"""Analysis layers kept in the database, once per data version (table ``analysis_layers``, 0012).

A layer (hotspots, Gi* cells, emerging trends, forecast cells) is stored as the GeoJSON
FeatureCollection of its frame (WGS84, full precision: every column, so the frame read back
equals the one computed) with the frame's ``attrs`` (the ranking and its notes), the column
types and the index. A row is keyed by :func:`layer_key` — the layer's kind, scope (squads)
and parameters — and by the data version it was computed from (:func:`service.case_cache.versions`
and, where the ranking uses patrol effort, the plans and confirmed visits). Every worker reads
the row of the current version, so a status change made through any worker is a new version
everywhere at once; an old version is never served.

:func:`stored_layer` reads the row first; on a miss one process computes it (the ``plan_jobs``
row of the layer, the cross-process job lock of the plans, :mod:`service.pages_data`), stores it
and prunes the rows of older versions of the same layer, rows not made for :data:`KEEP_S`, and
the oldest beyond :data:`MAX_ROWS`. The others wait for that row and read it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
from sqlalchemy import Delete, delete, func, select
from sqlalchemy.orm import Session

from service.geojson import dumps
from service.models import AnalysisLayer
from service.storage import Storage

KEEP_S = 2 * 86400.0
"""Rows made longer ago than this are pruned (a layer of a new day is a new row anyway)."""
MAX_ROWS = 400
"""At most this many stored layers; the oldest beyond it are pruned."""
JOB_WAIT_S = 60.0
"""How long a request waits for another worker computing the same layer (then computes it)."""
JOB_STALE_S = 120.0
"""A layer job row older than this is a crashed worker's and is taken over."""
_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_OWNER = f"{socket.gethostname()[:40]}:{os.getpid()}"
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
_WRITES = [0]
"""How many layers this process computed and stored (:func:`writes`)."""


def layer_key(kind: str, squads: tuple[str, ...] | None, params: dict[str, Any]) -> str:
    """The key (64 hex) of a layer: ``kind``, the sorted ``squads`` (all when ``None``) and
    ``params`` (JSON-able: times as ISO text)."""
    raw = json.dumps([kind, sorted(squads) if squads is not None else None, params],
                     sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _scope(squads: tuple[str, ...] | None) -> str:
    return "*" if squads is None else ",".join(sorted(squads))


# ---------------------------------------------------------------- frame <-> GeoJSON

def _dtype_name(dtype: Any) -> str:
    if isinstance(dtype, pd.StringDtype):
        return f"string:{dtype.storage}:{'nan' if dtype.na_value is not pd.NA else 'NA'}"
    return str(dtype)


def _restore(values: pd.Series, name: str) -> pd.Series:
    if name.startswith("string:"):
        _, storage, na = name.split(":")
        return values.astype(pd.StringDtype(storage, na_value=np.nan if na == "nan" else pd.NA))
    if name.startswith("datetime64"):
        when = pd.to_datetime(values, utc=True, format="ISO8601")
        dtype = pd.api.types.pandas_dtype(name)
        tz = getattr(dtype, "tz", None)
        return (when.dt.tz_convert(tz) if tz is not None else when.dt.tz_localize(None)).astype(dtype)
    if name == "object":
        return values.astype(object)
    if name in ("int64", "int32") and values.isna().any():
        return values  # never produced by a layer; left as floats rather than failing
    return values.astype(name)


def _column(values: pd.Series) -> list[Any]:
    if pd.api.types.is_datetime64_any_dtype(values):
        return [None if t is pd.NaT else t.isoformat() for t in values]
    return values.tolist()


def _plain(value: Any) -> Any:
    """JSON of what ``attrs`` may hold besides plain values: times as ISO text, numpy scalars
    as numbers, anything else (a grid's specification object) as ``null``."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return None


def encode(frame: gpd.GeoDataFrame) -> tuple[bytes, dict[str, Any]]:
    """``frame`` (WGS84) as GeoJSON bytes and the metadata that restores it (:func:`decode`)."""
    geo = frame.geometry.name
    cols = [c for c in frame.columns if c != geo]
    values = [_column(frame[c]) for c in cols]
    geoms = [None if g is None else orjson.Fragment(g)
             for g in shapely.to_geojson(frame.geometry.to_numpy())]
    feats = [{"type": "Feature", "geometry": geoms[i],
              "properties": dict(zip(cols, [v[i] for v in values], strict=True))}
             for i in range(len(frame))]
    index = frame.index.tolist() if pd.api.types.is_integer_dtype(frame.index.dtype) else None
    attrs = orjson.loads(orjson.dumps(frame.attrs, default=_plain, option=_OPTS))
    meta = {"columns": [[c, _dtype_name(frame[c].dtype)] for c in cols], "geometry": geo,
            "order": [str(c) for c in frame.columns], "index": index, "attrs": attrs}
    return dumps({"type": "FeatureCollection", "features": feats}), meta


def decode(body: bytes, meta: dict[str, Any]) -> gpd.GeoDataFrame:
    """The frame :func:`encode` stored (same columns, types, index and ``attrs``)."""
    feats = orjson.loads(body)["features"]
    geoms = shapely.get_parts(shapely.from_geojson(body)) if feats else np.array([], object)
    if len(geoms) != len(feats):  # a null geometry: GEOS skips it, so go feature by feature
        geoms = np.array([None if f["geometry"] is None else shapely.from_geojson(
            orjson.dumps(f["geometry"])) for f in feats], dtype=object)
    names = [c for c, _ in meta["columns"]]
    props = pd.DataFrame.from_records([f["properties"] for f in feats], columns=names)
    data = {c: _restore(props[c], kind) for c, kind in meta["columns"]}
    frame = gpd.GeoDataFrame({**data, meta["geometry"]: geoms}, geometry=meta["geometry"],
                             crs=4326)
    if meta.get("index") is not None:
        frame.index = pd.Index(meta["index"], dtype="int64")
    if meta.get("order"):
        frame = frame[meta["order"]]
    frame.attrs.update(meta.get("attrs") or {})
    return frame


# ---------------------------------------------------------------- rows

def read_layer(storage: Storage, key: str, version: str) -> gpd.GeoDataFrame | None:
    """The stored layer ``key`` of ``version``, or ``None``."""
    stmt = select(AnalysisLayer.geojson, AnalysisLayer.meta).where(
        AnalysisLayer.layer_key == key, AnalysisLayer.version == version)
    with storage.begin() as session:
        row = session.execute(stmt).first()
    return None if row is None else decode(bytes(row[0]), row[1])


def write_layer(storage: Storage, key: str, version: str, *, kind: str,
                squads: tuple[str, ...] | None, params: dict[str, Any],
                frame: gpd.GeoDataFrame, current: Callable[[], str]) -> None:
    """Store ``frame`` as layer ``key`` of ``version`` (once: a row already there is kept) and
    prune (:func:`prune`; older versions of ``key`` only while ``version`` is ``current()``)."""
    body, meta = encode(frame)
    row = {"layer_key": key, "version": version, "kind": kind, "scope": _scope(squads),
           "params": json.loads(json.dumps(params, default=str)), "created_at": datetime.now(UTC),
           "geojson": body, "meta": meta, "n_features": len(frame)}
    if storage.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    with storage.begin() as session:
        session.execute(upsert(AnalysisLayer).values(**row).on_conflict_do_nothing())
    _WRITES[0] += 1
    prune(storage, key=key if current() == version else None, version=version)


def _deleted(session: Session, stmt: Delete) -> int:
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0)


def prune(storage: Storage, *, key: str | None = None, version: str = "") -> int:
    """Delete the rows of ``key`` of other versions than ``version``, rows older than
    :data:`KEEP_S` and the oldest beyond :data:`MAX_ROWS`; how many were deleted."""
    old = datetime.now(UTC) - timedelta(seconds=KEEP_S)
    gone = 0
    with storage.begin() as session:
        if key is not None:
            gone += _deleted(session, delete(AnalysisLayer).where(
                AnalysisLayer.layer_key == key, AnalysisLayer.version != version))
        gone += _deleted(session, delete(AnalysisLayer).where(AnalysisLayer.created_at < old))
        n = session.scalar(select(func.count()).select_from(AnalysisLayer)) or 0
        if n > MAX_ROWS:
            ids = session.scalars(select(AnalysisLayer.id).order_by(AnalysisLayer.created_at)
                                  .limit(n - MAX_ROWS)).all()
            gone += _deleted(session, delete(AnalysisLayer).where(AnalysisLayer.id.in_(ids)))
    return gone


def writes() -> int:
    """How many layers this process has computed and stored so far."""
    return _WRITES[0]


def stored_count(storage: Storage, kind: str | None = None) -> int:
    """How many layers (of ``kind``) are stored."""
    stmt = select(func.count()).select_from(AnalysisLayer)
    if kind is not None:
        stmt = stmt.where(AnalysisLayer.kind == kind)
    with storage.begin() as session:
        return int(session.scalar(stmt) or 0)


# ---------------------------------------------------------------- one computation

def _short(version: str) -> str:
    """``version`` as stored (at most 96 characters: longer ones by their hash)."""
    return version if len(version) <= 96 else hashlib.sha256(version.encode()).hexdigest()


def _lock(storage: Storage, key: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((storage.url, key), threading.Lock())


@contextmanager
def layer_job(storage: Storage, key: str, day: date, *,
              wait_s: float = JOB_WAIT_S) -> Iterator[bool]:
    """Hold the job of layer ``key`` for every process using the database (a ``plan_jobs`` row
    named ``layer:`` + the key, as a plan's job is held); yields whether it is held (``False``
    after waiting ``wait_s`` for another holder: the caller computes without it)."""
    job = "layer:" + key[:26]
    deadline = time.monotonic() + wait_s
    with _lock(storage, key):
        held = storage.claim_plan_job(job, day, owner=_OWNER, stale_s=JOB_STALE_S)
        while not held and time.monotonic() < deadline:
            time.sleep(0.05)
            held = storage.claim_plan_job(job, day, owner=_OWNER, stale_s=JOB_STALE_S)
        try:
            yield held
        finally:
            if held:
                storage.release_plan_job(job, day)


def stored_layer(storage: Storage, kind: str, squads: tuple[str, ...] | None,
                 params: dict[str, Any], version: str, make: Callable[[], gpd.GeoDataFrame],
                 *, day: date, current: Callable[[], str]) -> gpd.GeoDataFrame:
    """The layer ``kind`` of ``squads`` and ``params`` at data ``version``: the stored row, or
    ``make()`` computed by one process under :func:`layer_job` and stored."""
    key, version = layer_key(kind, squads, params), _short(version)
    found = read_layer(storage, key, version)
    if found is not None:
        return found
    with layer_job(storage, key, day):
        found = read_layer(storage, key, version)  # another worker may have just stored it
        if found is not None:
            return found
        frame = make()
        write_layer(storage, key, version, kind=kind, squads=squads, params=params,
                    frame=frame, current=lambda: _short(current()))
        return frame
