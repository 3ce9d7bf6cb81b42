"""One page of case features straight from SQL: the hot path of ``GET /api/cases`` and of the
OGC ``cases`` items.

A page is one indexed query that returns exactly one page (``LIMIT``; deeper pages by keyset,
``CaseFilter.after``), written as hand-made SQL with bound parameters (no ORM, no statement
compilation per request: the WHERE clause is :func:`where_sql`, the same rules as
:meth:`service.storage.Storage.case_query`, kept equal by the tests).

- **PostGIS** assembles the GeoJSON features in the database (``json_build_object``,
  ``ST_AsGeoJSON(geom, 7)``, ``json_agg``) and the service passes the array through as bytes;
  the bounding box also goes through the GiST index of ``geom`` (``&&``).
- **SQLite** returns plain tuples (times as the stored UTC text) and the features are serialised
  with orjson (:func:`service.geojson.dumps`); no shapely or pandas object per row.

Both write the same document (times ISO 8601 in the deployment zone, coordinates rounded to 7
decimals, ``overdue`` at the time of the query).

``numberMatched`` (:func:`count_matches`) is exact when it is cheap: from the page itself when
the page is short, else a count capped at :data:`COUNT_CAP` rows (an index range scan of at most
that many entries). On PostGIS the query planner's row estimate (EXPLAIN, nothing read) comes
first: above the cap it is the answer; else the capped count, and should that pass the cap
after all, the estimate raised to just above the cap; both say so (``exact=False``: ``numberMatchedEstimated`` in the answer).
SQLite, which has no such estimate, counts exactly once per query and data version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from geo.gazetteer import POINT_PRECISIONS
from geo.labels import CLOSED_STATUSES
from service.case_cache import Page, cached_count, cached_page, data_version
from service.geojson import COORD_DECIMALS, dumps
from service.storage import CaseFilter, Storage

COUNT_CAP = 10_000
"""Matches counted exactly on every request; above it: an estimate (PostGIS) or a count once per
data version (SQLite)."""
VOID = "作废"
_FINAL = tuple(sorted(CLOSED_STATUSES))
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
_COLUMNS = ("case_id, category, category_name, reported_at, status, closed_at, deadline_at, "
            "description, address, source, community_code, community, squad_id, lon, lat, id")


def _postgis(storage: Storage) -> bool:
    return storage.engine.dialect.name == "postgresql"


class _Params:
    """Bound parameters in the driver's style: ``?`` (sqlite3) or ``%(pN)s`` (psycopg)."""

    def __init__(self, postgis: bool) -> None:
        self.postgis = postgis
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"%(p{len(self.values) - 1})s" if self.postgis else "?"

    def many(self, values: tuple[Any, ...]) -> str:
        return ", ".join(self(v) for v in values)

    def time(self, value: datetime) -> str:
        """A time bound as the column stores it (naive UTC text on SQLite)."""
        utc = value.astimezone(UTC)
        return self(utc if self.postgis else utc.strftime(_SQLITE_TIME))

    def bound(self) -> dict[str, Any] | tuple[Any, ...]:
        if self.postgis:
            return {f"p{i}": v for i, v in enumerate(self.values)}
        return tuple(self.values)


def where_sql(flt: CaseFilter, p: _Params) -> str:
    """The WHERE clause of ``flt`` (the rules of :meth:`Storage.case_query`)."""
    out: list[str] = []
    if flt.squads is not None:
        out.append(f"squad_id IN ({p.many(flt.squads)})" if flt.squads else "1 = 0")
    if flt.start is not None:
        out.append(f"reported_at >= {p.time(flt.start)}")
    if flt.end is not None:
        out.append(f"reported_at < {p.time(flt.end)}")
    if flt.categories:
        out.append(f"category IN ({p.many(flt.categories)})")
    if flt.community:
        out.append(f"(community_code = {p(flt.community)} OR community = {p(flt.community)})")
    if flt.status:
        out.append(f"status IN ({p.many(flt.status)})")
    if flt.bbox is not None:
        x0, y0, x1, y1 = (float(v) for v in flt.bbox)
        if p.postgis:  # the GiST index (inclusive, as the lon/lat rule); lon/lat terms beside it
            # would make the planner multiply two selectivities of one condition
            out.append(f"geom && ST_MakeEnvelope({p(x0)}, {p(y0)}, {p(x1)}, {p(y1)}, 4326)")
        else:
            out.append(f"lon >= {p(x0)} AND lon <= {p(x1)} AND lat >= {p(y0)} AND lat <= {p(y1)}")
    if flt.overdue is not None:
        late = (f"(status NOT IN ({p.many(_FINAL)}) AND deadline_at IS NOT NULL "
                f"AND deadline_at < {p.time(flt.as_of or datetime.now(UTC))})")
        out.append(late if flt.overdue else f"NOT {late}")
    if flt.precise:
        out.append(f"(location_precision IS NULL OR location_precision IN "
                   f"({p.many(tuple(POINT_PRECISIONS))}))")
    if flt.after is not None:
        at, pk = flt.after
        out.append(f"(reported_at, id) < ({p.time(at)}, {p(int(pk))})")
    return " AND ".join(out) if out else "1 = 1"


def _page_sql(flt: CaseFilter, p: _Params, limit: int, offset: int, columns: str) -> str:
    return (f"SELECT {columns} FROM cases WHERE {where_sql(flt, p)} "
            f"ORDER BY reported_at DESC, id DESC LIMIT {p(int(limit))} OFFSET {p(int(offset))}")


def _execute(storage: Storage, sql: str, params: Any, *, tz: str | None = None) -> list[Any]:
    storage.init()
    with storage.engine.connect() as conn:
        if tz is not None:  # the session zone in which PostgreSQL writes the times
            conn.exec_driver_sql("SELECT set_config('TimeZone', %(tz)s, true)", {"tz": tz})
        rows = list(conn.exec_driver_sql(sql, params).all())
        conn.rollback()
    return rows


# ---------------------------------------------------------------- PostGIS: JSON in the database

def _iso(col: str) -> str:
    """``col`` as Python's ``datetime.isoformat`` writes it (session zone; ``.ffffff`` only when
    there are microseconds)."""
    return (f"(to_char({col}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
            f"date_part('microseconds', {col})::bigint %% 1000000 <> 0 "
            f"THEN to_char({col}, '.US') ELSE '' END || to_char({col}, 'TZH:TZM'))")


def _postgis_page(storage: Storage, flt: CaseFilter, limit: int, offset: int,
                  now: datetime) -> tuple[bytes, int, float, tuple[datetime, int] | None]:
    p = _Params(True)
    inner = _page_sql(flt, p, limit, offset, "id, case_id, category, category_name, reported_at, "
                      "status, closed_at, deadline_at, description, address, source, "
                      "community_code, community, squad_id, geom")
    final, t_now = p.many(_FINAL), p(now)
    overdue = (f"CASE WHEN deadline_at IS NULL OR status = {p(VOID)} THEN false "
               f"WHEN status IN ({final}) THEN coalesce(closed_at > deadline_at, false) "
               f"ELSE {t_now} > deadline_at END")
    props = ", ".join(
        f"'{k}', {v}" for k, v in (
            ("case_id", "case_id"), ("category", "category"), ("category_name", "category_name"),
            ("reported_at", _iso("reported_at")), ("status", "status"),
            ("closed_at", _iso("closed_at")), ("deadline_at", _iso("deadline_at")),
            ("overdue", overdue), ("description", "description"), ("address", "address"),
            ("source", "source"), ("community_code", "community_code"),
            ("community", "community"), ("squad", "squad_id")))
    feature = (f"json_build_object('type', 'Feature', 'id', case_id, 'geometry', "
               f"ST_AsGeoJSON(geom, {COORD_DECIMALS})::json, 'properties', json_build_object({props}))")
    open_ = f"status NOT IN ({p.many(_FINAL)}) AND deadline_at > {p(now)}"
    sql = (f"WITH page AS ({inner}) SELECT coalesce(json_agg({feature} ORDER BY reported_at DESC, "
           f"id DESC), '[]')::text, count(*), extract(epoch FROM min(deadline_at) FILTER "
           f"(WHERE {open_})), (array_agg(reported_at ORDER BY reported_at, id))[1], "
           f"(array_agg(id ORDER BY reported_at, id))[1] FROM page")
    body, n, nxt, last_at, last_id = _execute(storage, sql, p.bound(), tz=storage.tz)[0]
    last = (last_at, int(last_id)) if n else None
    return body.encode(), int(n), float(nxt) if nxt is not None else float("inf"), last


# ---------------------------------------------------------------- SQLite: tuples and orjson

def _sqlite_page(storage: Storage, flt: CaseFilter, limit: int, offset: int,
                 now: datetime) -> tuple[bytes, int, float, tuple[datetime, int] | None]:
    p = _Params(False)
    rows = _execute(storage, _page_sql(flt, p, limit, offset, _COLUMNS), p.bound())
    zone, t_now = ZoneInfo(storage.tz), now.astimezone(UTC).strftime(_SQLITE_TIME)
    nxt, feats = "~", list[dict[str, Any]]()

    def local(text: str | None) -> datetime | None:
        # the stored naive UTC text with its offset: one C call (2x faster than .replace)
        return None if text is None else datetime.fromisoformat(text + "+00:00").astimezone(zone)

    add = feats.append
    for (cid, cat, cat_name, reported, status, closed, deadline, desc, address, source, ccode,
         community, squad, lon, lat, _pk) in rows:
        if deadline is None or status == VOID:  # service.workflow.is_overdue, on UTC text
            overdue = False
        elif status in CLOSED_STATUSES:
            overdue = closed is not None and closed > deadline
        else:
            overdue = t_now > deadline
            if not overdue and deadline < nxt:
                nxt = deadline
        add({"type": "Feature", "id": cid,
             "geometry": {"type": "Point", "coordinates": [round(lon, COORD_DECIMALS),
                                                           round(lat, COORD_DECIMALS)]},
             "properties": {
                 "case_id": cid, "category": cat, "category_name": cat_name,
                 "reported_at": local(reported), "status": status, "closed_at": local(closed),
                 "deadline_at": local(deadline), "overdue": overdue, "description": desc,
                 "address": address, "source": source, "community_code": ccode,
                 "community": community, "squad": squad}})
    stale = datetime.fromisoformat(nxt).replace(tzinfo=UTC).timestamp() if nxt != "~" \
        else float("inf")
    last = None
    if rows:
        at = datetime.fromisoformat(rows[-1][3]).replace(tzinfo=UTC)
        last = (at, int(rows[-1][-1]))
    return dumps(feats), len(feats), stale, last


# ---------------------------------------------------------------- counts and the page

def _capped_count(storage: Storage, flt: CaseFilter, cap: int) -> int:
    p = _Params(_postgis(storage))
    sql = f"SELECT count(*) FROM (SELECT 1 FROM cases WHERE {where_sql(flt, p)} LIMIT {p(cap + 1)}) c"
    return int(_execute(storage, sql, p.bound())[0][0])


def _estimate(storage: Storage, flt: CaseFilter) -> int:
    """The PostgreSQL planner's row estimate of ``flt`` (EXPLAIN, nothing is read)."""
    p = _Params(True)
    plan = _execute(storage, f"EXPLAIN (FORMAT JSON) SELECT 1 FROM cases WHERE {where_sql(flt, p)}",
                    p.bound())[0][0]
    doc = json.loads(plan) if isinstance(plan, str) else plan
    return _plan_rows(doc[0]["Plan"])


def _plan_rows(node: dict[str, Any]) -> int:
    """Rows of a plan node; for the ``Append`` over monthly partitions (migration 0013), the sum
    of its partitions' estimates leaving out those of one row: the planner never estimates a
    scan below one row, so an empty match in every month would otherwise count a row each."""
    if node.get("Node Type") != "Append" or not node.get("Plans"):
        return int(node["Plan Rows"])
    return sum(int(k["Plan Rows"]) for k in node["Plans"] if int(k["Plan Rows"]) > 1)


def count_matches(storage: Storage, flt: CaseFilter, *,
                  version: str | None = None) -> tuple[int, bool]:
    """(number of cases matching ``flt`` without its cursor, whether it is exact); see the module
    docstring. Remembered per data version."""
    flt = replace(flt, after=None, limit=None, offset=0)
    version = version or data_version(storage)
    if _postgis(storage):  # the planner's estimate first: well above the cap, it is the answer
        guess = _estimate(storage, flt)
        if guess > COUNT_CAP:
            return guess, False
    capped = cached_count(storage, flt,
                          lambda f: _capped_count(storage, f, COUNT_CAP), version=version,
                          key=("capped", COUNT_CAP))
    if capped <= COUNT_CAP:
        return capped, True
    if _postgis(storage):
        return max(_estimate(storage, flt), COUNT_CAP + 1), False
    return cached_count(storage, flt, storage.count_cases, version=version), True


def case_page(storage: Storage, flt: CaseFilter, *, limit: int, offset: int = 0,
              version: str | None = None) -> Page:
    """One page of case features (newest first; ``flt.after`` a keyset cursor) serialised, with
    ``numberMatched`` (:func:`count_matches`), through the version-checked cache of
    :mod:`service.case_cache`. ``Page.stale_at`` is the earliest future deadline of an open case
    on the page (its ``overdue`` flag turns then); ``Page.digest`` identifies the content."""
    version = version or data_version(storage)

    def make() -> Page:
        now = datetime.now(UTC)
        build = _postgis_page if _postgis(storage) else _sqlite_page
        body, n, stale, last = build(storage, flt, limit, offset, now)
        short = n < limit and (n > 0 or offset == 0) and flt.after is None
        matched, exact = (offset + n, True) if short else count_matches(storage, flt,
                                                                        version=version)
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        return Page(body, n, matched, stale, last=last, digest=digest, exact=exact)

    return cached_page(storage, flt, limit=limit, offset=offset, make=make, version=version)
