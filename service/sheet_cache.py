"""Rendered route-sheet PDFs, cached per plan content and team, shared by every worker.

A PDF costs seconds of CPU (embedding the CJK font subset dominates) and a few hundred MB of peak
memory to render; the same sheet is fetched again and again on the morning of its day. Entries
are keyed by a hash of the stored plan (so a re-plan gives a new key), the team and the format.
A document is looked up in this process's memory first, then in the ``rendered_docs`` table (so a
sheet rendered by one ``uvicorn`` worker is not rendered again by another), and rendered only
when neither has it; at most :data:`MAX_RENDERS` renders run at once per process. Memory holds at
most :data:`MAX_ENTRIES` documents, the table at most :data:`MAX_STORED`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from service.models import RenderedDoc
from service.storage import Storage

MAX_RENDERS = 2
MAX_ENTRIES = 64
MAX_STORED = 256

_renders = threading.BoundedSemaphore(MAX_RENDERS)
_lock = threading.Lock()
_cache: OrderedDict[str, bytes] = OrderedDict()


def sheet_key(plan: dict[str, Any], team: str | None, kind: str = "pdf") -> str:
    """Cache key: the plan's content, the team (``None`` = every team) and the format."""
    text = json.dumps(plan, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{kind}|{team}|{text}".encode()).hexdigest()


def _remember(key: str, body: bytes) -> None:
    with _lock:
        _cache[key] = body
        _cache.move_to_end(key)
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)


def _stored(storage: Storage, key: str) -> bytes | None:
    with storage.begin() as session:
        body = session.scalar(select(RenderedDoc.body).where(RenderedDoc.key == key))
    return bytes(body) if body is not None else None


def _store(storage: Storage, key: str, body: bytes) -> None:
    try:
        with storage.begin() as session:
            session.add(RenderedDoc(key=key, body=body))
            session.flush()
            keep = select(RenderedDoc.key).order_by(RenderedDoc.created_at.desc()).limit(MAX_STORED)
            session.execute(delete(RenderedDoc).where(RenderedDoc.key.not_in(keep)))
    except IntegrityError:  # another worker stored the same document first
        pass


def cached_render(key: str, render: Callable[[], bytes], *,
                  storage: Storage | None = None) -> bytes:
    """The cached document for ``key``, rendering it (at most MAX_RENDERS at a time) if absent
    (from memory, then from ``storage``'s shared table when given)."""
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    if storage is not None and (body := _stored(storage, key)) is not None:
        _remember(key, body)
        return body
    with _renders:
        with _lock:  # another request may have rendered it while this one waited
            if key in _cache:
                return _cache[key]
        if storage is not None and (body := _stored(storage, key)) is not None:
            _remember(key, body)
            return body
        body = render()
        if storage is not None:
            _store(storage, key, body)
    _remember(key, body)
    return body


def clear() -> None:
    """Drop every document cached in this process's memory (tests)."""
    with _lock:
        _cache.clear()
