"""Cached pages of case features, invalidated by a case-data version kept in the database.

Every committed transaction that wrote to the ``cases`` table (an import through the API, the
admin page or ``xuncha import``, a report, a status transition, anything else using SQLAlchemy)
bumps the ``cases_version`` row of the ``meta`` table in the same transaction. A request reads that
one row (a primary-key lookup, ~0.1 ms) and uses it in the cache key, so several ``uvicorn`` worker
processes never serve a page older than the last commit, whichever process made it.

Entries also expire when a listed open case passes its deadline (its ``overdue`` flag changes),
after :data:`TTL_S` in any case, and sooner for the ``overdue`` filter (:data:`OVERDUE_TTL_S`),
whose matches change with the clock. The cache is bounded in entries and bytes (LRU), and a page
is stored only when its query is seen a second time, so one-off queries (a map panned to a new
bounding box) do not push out the repeated ones (a squad's month, a community's cases).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from service.storage import CaseFilter, Storage

VERSION_KEY = "cases_version"
TTL_S = 300.0
"""Longest life of a cached page (a backstop; versions invalidate on every change)."""
OVERDUE_TTL_S = 30.0
"""Life of a page filtered by ``overdue`` (cases become overdue as time passes)."""
MAX_ENTRIES = 4096
MAX_BYTES = 32 * 2**20
SEEN = 16384
"""How many recent cache misses are remembered (a page is stored on its second miss)."""

_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?cases"?[\s(]', re.IGNORECASE)
_DIRTY = "xuncha_cases_dirty"
_BUMP = text("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR(20)) "
             "WHERE key = :key")
_READ = text("SELECT value FROM meta WHERE key = :key")
_INSTALLED = threading.Event()


def _after_execute(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if _WRITE.match(statement):
        conn.info[_DIRTY] = True


def _before_commit(conn: Connection) -> None:
    if conn.info.pop(_DIRTY, False):
        conn.execute(_BUMP, {"key": VERSION_KEY})


def _on_rollback(conn: Connection) -> None:
    conn.info.pop(_DIRTY, None)


def track_case_writes() -> None:
    """Bump ``meta.cases_version`` in every transaction that writes ``cases`` (idempotent).

    Installed on all engines of the process when this module is imported.
    """
    if _INSTALLED.is_set():
        return
    event.listen(Engine, "after_cursor_execute", _after_execute)
    event.listen(Engine, "commit", _before_commit)
    event.listen(Engine, "rollback", _on_rollback)
    _INSTALLED.set()


def data_version(storage: Storage) -> str:
    """The current case-data version (``"0"`` is created on first use)."""
    storage.init()
    with storage.engine.connect() as conn:
        value = conn.execute(_READ, {"key": VERSION_KEY}).scalar()
    if value is not None:
        return str(value)
    try:
        with storage.engine.begin() as conn:
            conn.execute(text("INSERT INTO meta (key, value) VALUES (:key, '0')"),
                         {"key": VERSION_KEY})
    except IntegrityError:  # another worker created it first
        pass
    return data_version(storage)


@dataclass(frozen=True)
class Page:
    """One page of a case list: the ``features`` JSON array (bytes) and its counts.

    ``expires`` is a :func:`time.monotonic` instant, ``stale_at`` a UTC timestamp (seconds) when an
    open case on the page becomes overdue (``inf`` when none does).
    """

    features: bytes
    returned: int
    matched: int
    stale_at: float = float("inf")
    expires: float = float("inf")


class PageCache:
    """A thread-safe LRU of :class:`Page` bounded by entries and bytes."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._data: OrderedDict[tuple[Any, ...], Page] = OrderedDict()
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple[Any, ...]) -> Page | None:
        """The page for ``key`` unless absent or expired."""
        with self._lock:
            page = self._data.get(key)
            if page is None or page.expires <= time.monotonic() or page.stale_at <= time.time():
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return page

    def put(self, key: tuple[Any, ...], page: Page) -> None:
        """Store ``page`` if ``key`` missed before (evicting the least recently used entries
        beyond the bounds)."""
        if len(page.features) > self.max_bytes // 8:
            return  # one huge page would flush everything else
        with self._lock:
            h = hash(key)
            if h not in self._seen:
                self._seen[h] = None
                if len(self._seen) > SEEN:
                    self._seen.popitem(last=False)
                return
            del self._seen[h]
            old = self._data.pop(key, None)
            self._bytes -= len(old.features) if old is not None else 0
            self._data[key] = page
            self._bytes += len(page.features)
            while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
                _k, gone = self._data.popitem(last=False)
                self._bytes -= len(gone.features)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._data.clear()
            self._seen.clear()
            self._bytes = 0


PAGES = PageCache()
"""The process-wide cache of case pages."""


def cached_page(storage: Storage, flt: CaseFilter, *, limit: int, offset: int,
                make: Callable[[], Page]) -> Page:
    """The page of ``flt`` from :data:`PAGES`, or ``make()`` stored under the current version."""
    key = (storage.url, data_version(storage), flt, limit, offset)
    page = PAGES.get(key)
    if page is None:
        ttl = OVERDUE_TTL_S if flt.overdue is not None else TTL_S
        page = make()
        page = Page(page.features, page.returned, page.matched, page.stale_at,
                    time.monotonic() + ttl)
        PAGES.put(key, page)
    return page


track_case_writes()
