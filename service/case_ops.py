"""Case operations behind the HTTP layer: features, detail, create, status transitions, CSV export.

Every function takes the caller (:class:`service.auth.Principal`) and enforces squad visibility:
a case of another squad is reported as not found, exactly like a case that does not exist. Every
case id from a user goes through :func:`geo.cases.normalise_case_id` first (the same rule as the
importer's), and every write checks the caller's right on the row it writes, in the transaction
that writes it.
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from sqlalchemy import select

from geo.cases import normalise_case_id, parse_cases, visible
from geo.catalogue import Catalogue, default_catalogue
from geo.errors import InputError, NotFoundError, ValidationError
from geo.safe_text import formula_safe
from service.auth import Principal
from service.case_cache import Page, cached_page
from service.errors import ConflictError, PermissionDenied
from service.geojson import dumps, frame_features
from service.importer import EXISTS, NO_RIGHT, OUTSIDE, import_table
from service.models import Case, CaseEvent
from service.schemas import CaseCreate, TransitionCreate
from service.storage import CaseFilter, Storage
from service.workflow import (
    FINAL,
    allowed_next,
    check_transition,
    closes,
    is_overdue,
    overdue_flags,
)

CASE_PROPS = ["case_id", "category", "category_name", "reported_at", "status", "closed_at",
              "deadline_at", "overdue", "description", "address", "source", "community_code",
              "community", "squad"]
"""Properties of a case feature (API and OGC collection)."""


def case_features(gdf: gpd.GeoDataFrame, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """GeoJSON features of a case frame from :meth:`Storage.query_cases`, with ``overdue``."""
    now = now or datetime.now(UTC)
    gdf = gdf.copy()
    gdf["overdue"] = overdue_flags(gdf["status"], gdf["deadline_at"], gdf["closed_at"], now)
    return frame_features(gdf, id_column="case_id", properties=CASE_PROPS)


_ROW_COLUMNS = ("case_id", "category", "category_name", "reported_at", "status", "closed_at",
                "deadline_at", "description", "address", "source", "community_code", "community",
                "squad_id", "lon", "lat")


def _feature_rows(storage: Storage, flt: CaseFilter, *, limit: int,
                  offset: int) -> list[Any]:
    cols = [getattr(Case, c) for c in _ROW_COLUMNS]
    stmt = (storage.case_query(flt).order_by(Case.reported_at.desc(), Case.id.desc())
            .limit(limit).offset(offset).with_only_columns(*cols))
    storage.init()
    with storage.engine.connect() as conn:  # Core: no ORM loading on the hot path
        return list(conn.execute(stmt).all())


def _features(rows: list[Any], zone: ZoneInfo, now: datetime) -> tuple[list[dict[str, Any]], float]:
    """Rows → GeoJSON features (times as aware datetimes in ``zone``) and the earliest future
    deadline of an open case on the page (UTC seconds; ``inf`` if none).

    ``overdue`` follows :func:`service.workflow.is_overdue`, inlined (this loop is the hot path).
    """
    nxt = float("inf")
    feats: list[dict[str, Any]] = []
    add = feats.append
    for (cid, cat, cat_name, reported, status, closed, deadline, desc, address, source, ccode,
         community, squad, lon, lat) in rows:
        if deadline is None or status == "作废":
            overdue = False
        elif status in FINAL:
            overdue = closed is not None and closed > deadline
        else:
            overdue = now > deadline
            if not overdue:
                nxt = min(nxt, deadline.timestamp())
        add({"type": "Feature", "id": cid,
             "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
             "properties": {
                 "case_id": cid, "category": cat, "category_name": cat_name,
                 "reported_at": reported.astimezone(zone), "status": status,
                 "closed_at": closed.astimezone(zone) if closed is not None else None,
                 "deadline_at": deadline.astimezone(zone) if deadline is not None else None,
                 "overdue": overdue, "description": desc, "address": address, "source": source,
                 "community_code": ccode, "community": community, "squad": squad}})
    return feats, nxt


def query_features(storage: Storage, flt: CaseFilter, *, limit: int, offset: int = 0,
                   now: datetime | None = None) -> tuple[list[dict[str, Any]], int]:
    """A page of case features matching ``flt`` (newest first) and the number matched.

    Rows go straight from SQL to dicts (no DataFrame, no ORM objects); the count query runs only
    when the page is full. Times are aware datetimes in the deployment zone (:func:`dumps`
    writes them as ISO 8601).
    """
    now = now or datetime.now(UTC)
    rows = _feature_rows(storage, flt, limit=limit, offset=offset)
    feats, _next = _features(rows, ZoneInfo(storage.tz), now)
    return feats, _matched(storage, flt, len(feats), limit=limit, offset=offset)


def _matched(storage: Storage, flt: CaseFilter, n: int, *, limit: int, offset: int) -> int:
    short = n < limit and (n > 0 or offset == 0)
    return offset + n if short else storage.count_cases(flt)


def query_page(storage: Storage, flt: CaseFilter, *, limit: int, offset: int = 0) -> Page:
    """:func:`query_features` serialised, through the version-checked cache of
    :mod:`service.case_cache` (a repeated query costs one primary-key lookup)."""

    def make() -> Page:
        now = datetime.now(UTC)
        rows = _feature_rows(storage, flt, limit=limit, offset=offset)
        feats, nxt = _features(rows, ZoneInfo(storage.tz), now)
        return Page(dumps(feats), len(feats),
                    _matched(storage, flt, len(feats), limit=limit, offset=offset), nxt)

    return cached_page(storage, flt, limit=limit, offset=offset, make=make)


def collection_bytes(page: Page, **extra: Any) -> bytes:
    """A FeatureCollection of ``page`` with ``numberMatched``/``numberReturned`` and ``extra``
    members, assembled around the page's serialised features."""
    tail = dumps({"numberMatched": page.matched, "numberReturned": page.returned, **extra})
    return b'{"type":"FeatureCollection","features":' + page.features + b"," + tail[1:]


def resolve_categories(values: list[str] | None) -> tuple[str, ...] | None:
    """Category filters as codes (codes, Chinese names and aliases accepted; unknown kept)."""
    if not values:
        return None
    cat = catalogue()
    return tuple(cat.resolve(v) or v for v in values)


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The shipped category catalogue, read once per process."""
    return default_catalogue()


def _not_found(case_id: str) -> NotFoundError:
    """The one answer for a case the caller may not see, whether it exists or not."""
    return NotFoundError(f"没有编号为「{visible(case_id, limit=64)}」的案件（或无权查看）。")


def lookup_id(case_id: str) -> str:
    """A user-given case id normalised for a lookup; an id that cannot name a case (control
    characters, empty, too long) is not found, with the same answer as a missing case."""
    try:
        return normalise_case_id(case_id)
    except InputError:
        raise _not_found(case_id) from None


def case_detail(storage: Storage, case_id: str, user: Principal) -> dict[str, Any]:
    """One case as a GeoJSON Feature with ``history``, ``overdue`` and the caller's next steps."""
    case_id = lookup_id(case_id)
    case = storage.get_case(case_id)
    if case is None or not user.may_see(case["squad"]):
        raise _not_found(case_id)
    tz = ZoneInfo(storage.tz)
    now = datetime.now(UTC)
    props = {k: case.get(k) for k in CASE_PROPS if k != "overdue"}
    for key in ("reported_at", "closed_at", "deadline_at"):
        value = props[key]
        props[key] = value.astimezone(tz).isoformat() if value is not None else None
    props["overdue"] = is_overdue(case["status"], case["deadline_at"], case["closed_at"], now)
    props["allowed_next"] = list(allowed_next(case["status"], user.role)) \
        if user.role != "planner" else []
    props["history"] = [{**h, "at": h["at"].astimezone(tz).isoformat()} for h in case["history"]]
    return {"type": "Feature", "id": case["case_id"],
            "geometry": {"type": "Point",
                         "coordinates": [round(case["lon"], 7), round(case["lat"], 7)]},
            "properties": props}


def _new_case_id(tz: str) -> str:
    return f"XC{datetime.now(ZoneInfo(tz)):%Y%m%d}{secrets.token_hex(4).upper()}"


def create_case(storage: Storage, body: CaseCreate, user: Principal) -> str:
    """Validate and store one case reported through the API; returns its (normalised) ``case_id``.

    The id is normalised like every other (``"SIM1 "`` is ``SIM1``). Whether it exists is decided
    in the transaction that inserts the case, never by updating a stored one.

    Raises
    ------
    ValidationError
        The case fails validation (bad id, control characters, unknown category, outside the
        service area, …).
    PermissionDenied
        A squad-bound caller reports a case located in another squad's area.
    NotFoundError
        ``case_id`` names a case the caller may not see: the same answer as ``GET`` gives.
    ConflictError
        ``case_id`` names a case the caller can see (use the status transitions to change it).
    """
    if user.role == "planner":
        raise PermissionDenied("规划人员不能上报案件。")
    raw_id = body.case_id or _new_case_id(storage.tz)
    reported = body.reported_at or datetime.now(UTC)
    if reported.tzinfo is None:
        reported = reported.replace(tzinfo=ZoneInfo(storage.tz))
    table = pd.DataFrame([{
        "case_id": raw_id, "category": body.category, "reported_at": reported.isoformat(),
        "lon": repr(body.lon), "lat": repr(body.lat), "description": body.description,
        "address": body.address, "source": body.source or "api"}])
    parsed = parse_cases(table, coords=body.coords, tz=storage.tz,
                         communities=storage.communities())
    if parsed.problems:
        raise ValidationError(parsed.problems, what="案件")
    case_id = str(parsed.cases["case_id"].iat[0])
    squad = parsed.cases["squad"].iat[0]
    if not user.may_see(squad):
        raise PermissionDenied(f"该位置属于「{squad}」中队，不在你的中队范围内。")
    report = import_table(storage, table, filename="api", coords=body.coords,
                          actor=user.username, squads=user.squads, create_only=True)
    reasons = {p.message for p in report.problems}
    if NO_RIGHT in reasons:
        raise _not_found(case_id)
    if EXISTS in reasons:
        raise ConflictError(f"案件编号「{case_id}」已存在；修改状态请用状态流转接口。")
    if OUTSIDE in reasons:
        raise PermissionDenied(f"该位置属于「{squad}」中队，不在你的中队范围内。")
    if report.problems or report.inserted != 1:
        raise ValidationError(report.problems, what="案件")
    return case_id


def transition_case(storage: Storage, case_id: str, body: TransitionCreate,
                    user: Principal) -> None:
    """Move a case to ``body.to_status`` and record who did it and when (one transaction)."""
    case_id = lookup_id(case_id)
    now = datetime.now(UTC)
    with storage.begin() as session:
        case = session.scalar(select(Case).where(Case.case_id == case_id).with_for_update())
        if case is None or not user.may_see(case.squad_id):
            raise _not_found(case_id)
        check_transition(case.status, body.to_status, user.role)
        session.add(CaseEvent(case_pk=case.id, from_status=case.status,
                              to_status=body.to_status, at=now, actor=user.username,
                              note=body.note))
        case.status = body.to_status
        case.closed_at = now if closes(body.to_status) else None
        case.updated_at = now


_EXPORT_COLUMNS = [("case_id", "案件编号"), ("category", "问题类型代码"),
                   ("category_name", "问题类型"), ("reported_at", "上报时间"), ("status", "状态"),
                   ("closed_at", "结案时间"), ("deadline_at", "处置时限"), ("overdue", "超期"),
                   ("community", "所属社区"), ("squad", "中队"), ("address", "地址"),
                   ("description", "问题描述"), ("lon", "经度"), ("lat", "纬度")]


def _cell(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def cases_csv(gdf: gpd.GeoDataFrame, *, now: datetime | None = None) -> bytes:
    """The cases as a UTF-8 (with BOM, for Excel) CSV with Chinese headers; every cell goes
    through :func:`geo.safe_text.formula_safe` (text that a spreadsheet would evaluate gets a
    leading apostrophe; numbers, times and flags pass unchanged)."""
    gdf = gdf.copy()
    gdf["overdue"] = overdue_flags(gdf["status"], gdf["deadline_at"], gdf["closed_at"],
                                   now or datetime.now(UTC))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([label for _col, label in _EXPORT_COLUMNS])
    for rec in gdf[[c for c, _ in _EXPORT_COLUMNS]].itertuples(index=False):
        # a leading = + - @ (or tab, CR) would make a spreadsheet evaluate a cell (CSV injection)
        writer.writerow([_cell(formula_safe(v)) for v in rec])
    return buf.getvalue().encode("utf-8-sig")
