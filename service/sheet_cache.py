"""Rendered route-sheet PDFs, cached per plan content and team, with bounded concurrency.

A PDF costs about a second of CPU and a few hundred MB of peak memory to render; the same sheet
is fetched again and again on the morning of its day. Entries are keyed by a hash of the stored
plan (so a re-plan gives a new key) and the team; at most :data:`MAX_RENDERS` renders run at once
per process, and the cache holds at most :data:`MAX_ENTRIES` documents.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

MAX_RENDERS = 2
MAX_ENTRIES = 64

_renders = threading.BoundedSemaphore(MAX_RENDERS)
_lock = threading.Lock()
_cache: OrderedDict[str, bytes] = OrderedDict()


def sheet_key(plan: dict[str, Any], team: str | None, kind: str = "pdf") -> str:
    """Cache key: the plan's content, the team (``None`` = every team) and the format."""
    text = json.dumps(plan, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{kind}|{team}|{text}".encode()).hexdigest()


def cached_render(key: str, render: Callable[[], bytes]) -> bytes:
    """The cached document for ``key``, rendering it (at most MAX_RENDERS at a time) if absent."""
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with _renders:
        with _lock:  # another request may have rendered it while this one waited
            if key in _cache:
                return _cache[key]
        body = render()
    with _lock:
        _cache[key] = body
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return body


def clear() -> None:
    """Drop every cached document (tests)."""
    with _lock:
        _cache.clear()
