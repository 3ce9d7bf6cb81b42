"""Cached pages of case features, invalidated by data versions kept in the database.

Every committed transaction that wrote to the ``cases`` table (an import through the API, the
admin page or ``xuncha import``, a report, a status transition, anything else using SQLAlchemy)
bumps the ``cases_version`` row of the ``meta`` table in the same transaction; one that wrote to
``plans`` (a plan made on a page, re-planned, or by ``xuncha plan``) bumps ``plans_version``. A
request reads those rows (one indexed query, ~0.1 ms) and uses them in its cache keys and ETags
(:func:`versions`, :func:`etag`), so several ``uvicorn`` worker processes never serve a page or
a map older than the last commit, whichever process made it.

Entries also expire when a listed open case passes its deadline (its ``overdue`` flag changes),
after :data:`TTL_S` in any case, and sooner for the ``overdue`` filter (:data:`OVERDUE_TTL_S`),
whose matches change with the clock. The cache is bounded in entries and bytes (LRU), and a page
is stored only when its query is seen a second time, so one-off queries (a map panned to a new
bounding box) do not push out the repeated ones (a squad's month, a community's cases).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from geo.errors import InputError
from service.storage import CaseFilter, Storage

VERSION_KEY = "cases_version"
PLANS_KEY = "plans_version"
_TABLE_KEYS = {"cases": VERSION_KEY, "plans": PLANS_KEY}
TTL_S = 300.0
"""Longest life of a cached page (a backstop; versions invalidate on every change)."""
OVERDUE_TTL_S = 30.0
"""Life of a page filtered by ``overdue`` (cases become overdue as time passes)."""
MAX_ENTRIES = 4096
MAX_BYTES = 32 * 2**20
SEEN = 16384
"""How many recent cache misses are remembered (a page is stored on its second miss)."""

_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(cases|plans)"?[\s(]',
                    re.IGNORECASE)
_DIRTY = "xuncha_cases_dirty"
_BUMP = text("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR(20)) "
             "WHERE key = :key")
_INSTALLED = threading.Event()


def _after_execute(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    found = _WRITE.match(statement)
    if found:
        conn.info.setdefault(_DIRTY, set()).add(_TABLE_KEYS[found.group(1).lower()])


def _before_commit(conn: Connection) -> None:
    for key in sorted(conn.info.pop(_DIRTY, ())):
        conn.execute(_BUMP, {"key": key})


def _on_rollback(conn: Connection) -> None:
    conn.info.pop(_DIRTY, None)


def track_case_writes() -> None:
    """Bump ``meta.cases_version`` (``plans_version``) in every transaction that writes
    ``cases`` (``plans``); idempotent.

    Installed on all engines of the process when this module is imported.
    """
    if _INSTALLED.is_set():
        return
    event.listen(Engine, "after_cursor_execute", _after_execute)
    event.listen(Engine, "commit", _before_commit)
    event.listen(Engine, "rollback", _on_rollback)
    _INSTALLED.set()


def versions(storage: Storage) -> tuple[str, str]:
    """The current (case-data, plan) versions; rows missing from an older database are created."""
    found = storage.meta_values(_TABLE_KEYS.values())
    missing = [k for k in _TABLE_KEYS.values() if k not in found]
    for key in missing:
        try:
            with storage.engine.begin() as conn:
                conn.execute(text("INSERT INTO meta (key, value) VALUES (:key, '0')"), {"key": key})
        except IntegrityError:  # another worker created it first
            pass
    if missing:
        found = storage.meta_values(_TABLE_KEYS.values())
    return found[VERSION_KEY], found[PLANS_KEY]


def data_version(storage: Storage) -> str:
    """The current case-data version (``"0"`` is created on first use)."""
    return versions(storage)[0]


def etag(*parts: Any) -> str:
    """A strong ETag (quoted) of ``parts``: the data versions and what else selects the answer."""
    raw = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def encode_cursor(last: tuple[datetime, int]) -> str:
    """The ``cursor`` parameter of the page after the row ``last`` (``reported_at``, row id)."""
    raw = json.dumps([last[0].astimezone(UTC).isoformat(), int(last[1])])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, int]:
    """The keyset of a ``cursor`` from :func:`encode_cursor`; :class:`InputError` if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        at, pk = json.loads(raw)
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(pk, int) or isinstance(pk, bool):
            raise ValueError(text)
        return when, pk
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InputError("cursor 参数无效；请直接使用上一页返回的 next 链接"
                         "（links 中 rel 为 next 的一项）。") from exc


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (or ``*``); weak comparison (RFC 9110
    §13.1.2: a ``W/`` prefix on either side is ignored)."""
    if not if_none_match:
        return False
    given = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return tag.removeprefix("W/") in given or "*" in given


@dataclass(frozen=True)
class Page:
    """One page of a case list: the ``features`` JSON array (bytes) and its counts.

    ``expires`` is a :func:`time.monotonic` instant, ``stale_at`` a UTC timestamp (seconds) when an
    open case on the page becomes overdue (``inf`` when none does); ``last`` is the keyset of the
    page's last row (``reported_at``, row id), the cursor of the next page; ``exact`` says whether
    ``matched`` is an exact count or an estimate (:func:`service.case_features.count_matches`).
    """

    features: bytes
    returned: int
    matched: int
    stale_at: float = float("inf")
    expires: float = float("inf")
    last: tuple[datetime, int] | None = None
    digest: str = ""
    exact: bool = True


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
        with _COUNTS_LOCK:
            _COUNTS.clear()
            _VALUES.clear()


PAGES = PageCache()
"""The process-wide cache of case pages."""


def cached_page(storage: Storage, flt: CaseFilter, *, limit: int, offset: int,
                make: Callable[[], Page], version: str | None = None) -> Page:
    """The page of ``flt`` from :data:`PAGES`, or ``make()`` stored under the current version
    (``version`` when the caller has just read it)."""
    key = (storage.url, version or data_version(storage), flt, limit, offset)
    page = PAGES.get(key)
    if page is None:
        ttl = OVERDUE_TTL_S if flt.overdue is not None else TTL_S
        page = make()
        page = replace(page, expires=time.monotonic() + ttl)
        PAGES.put(key, page)
    return page


_COUNTS: OrderedDict[tuple[Any, ...], tuple[float, int]] = OrderedDict()
_COUNTS_LOCK = threading.Lock()


def cached_count(storage: Storage, flt: CaseFilter, count: Callable[[CaseFilter], int], *,
                 version: str | None = None, key: tuple[Any, ...] = ()) -> int:
    """``count()`` of ``flt`` (without its cursor, limit and offset), remembered per data
    version (and ``key``: what else than the filter selects the count, e.g. a cap), so walking
    the pages of one query counts its matches once."""
    flt = replace(flt, after=None, limit=None, offset=0)
    key = (storage.url, version or data_version(storage), flt, *key)
    now = time.monotonic()
    with _COUNTS_LOCK:
        hit = _COUNTS.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
    n = count(flt)
    ttl = OVERDUE_TTL_S if flt.overdue is not None else TTL_S
    with _COUNTS_LOCK:
        _COUNTS[key] = (now + ttl, n)
        while len(_COUNTS) > MAX_ENTRIES:
            _COUNTS.popitem(last=False)
    return n


def cached_value(storage: Storage, key: tuple[Any, ...], make: Callable[[], Any], *,
                 version: str | None = None, ttl_s: float = TTL_S) -> Any:
    """``make()`` remembered per data version and ``key`` for ``ttl_s`` at most (small values:
    a page's filter choices, a count that follows the clock)."""
    full = ("value", storage.url, version or data_version(storage), *key)
    now = time.monotonic()
    with _COUNTS_LOCK:
        hit = _VALUES.get(full)
        if hit is not None and hit[0] > now:
            return hit[1]
    value = make()
    with _COUNTS_LOCK:
        _VALUES[full] = (now + ttl_s, value)
        while len(_VALUES) > MAX_ENTRIES:
            _VALUES.popitem(last=False)
    return value


_VALUES: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
track_case_writes()
