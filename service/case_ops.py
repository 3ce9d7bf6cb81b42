"""Case operations behind the HTTP layer: features, detail, create, status transitions (the
CSV/XLSX export is in :mod:`service.case_list`).

Every function takes the caller (:class:`service.auth.Principal`) and enforces squad visibility:
a case of another squad is reported as not found, exactly like a case that does not exist. Every
case id from a user goes through :func:`geo.cases.normalise_case_id` first (the same rule as the
importer's), and every write checks the caller's right on the row it writes, in the transaction
that writes it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.cases import normalise_case_id, parse_cases, visible
from geo.catalogue import Catalogue, default_catalogue
from geo.errors import InputError, NotFoundError, ValidationError
from service import case_steps as steps
from service.auth import Principal
from service.case_cache import Page, cached_count, cached_page, data_version
from service.errors import ConflictError, PermissionDenied
from service.geojson import aware, dumps, frame_features, month_range
from service.importer import EXISTS, NO_RIGHT, OUTSIDE, import_table
from service.models import Case, CaseEvent
from service.schemas import CaseCreate, CaseQuery, TransitionCreate
from service.storage import CaseFilter, Storage
from service.workflow import (
    FINAL,
    action_label,
    allowed_next,
    check_note,
    check_transition,
    closes,
    is_overdue,
    note_required,
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
    """One page of rows (newest first; ``flt.after`` is a keyset cursor), each ending with the
    row id (the cursor of the next page)."""
    cols = [getattr(Case, c) for c in _ROW_COLUMNS] + [Case.id]
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
         community, squad, lon, lat, _pk) in rows:
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


def _matched(storage: Storage, flt: CaseFilter, n: int, *, limit: int, offset: int,
             version: str | None = None) -> int:
    """Exact: from the page itself when it is the short first (or last offset) page, else one
    COUNT of the filter (without its cursor), counted once per data version."""
    short = n < limit and (n > 0 or offset == 0) and flt.after is None
    if short:
        return offset + n
    return cached_count(storage, flt, storage.count_cases, version=version)


def query_page(storage: Storage, flt: CaseFilter, *, limit: int, offset: int = 0,
               version: str | None = None) -> Page:
    """:func:`query_features` serialised, through the version-checked cache of
    :mod:`service.case_cache` (a repeated query costs one primary-key lookup). ``flt.after``
    (a keyset cursor) gives the page after that row; ``Page.last`` is the next page's cursor and
    ``Page.digest`` a hash of the features (the ETag's part that follows the clock: overdue)."""
    version = version or data_version(storage)

    def make() -> Page:
        now = datetime.now(UTC)
        rows = _feature_rows(storage, flt, limit=limit, offset=offset)
        feats, nxt = _features(rows, ZoneInfo(storage.tz), now)
        body = dumps(feats)
        last = (rows[-1][3], int(rows[-1][-1])) if rows else None
        return Page(body, len(feats), _matched(storage, flt, len(feats), limit=limit,
                                               offset=offset, version=version),
                    nxt, last=last, digest=hashlib.sha256(body).hexdigest()[:32])

    return cached_page(storage, flt, limit=limit, offset=offset, make=make, version=version)


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


def case_filter_for(user: Principal, tz: str, query: CaseQuery, *, precise: bool) -> CaseFilter:
    """:class:`CaseFilter` of a request's query parameters (``month`` narrows ``start``/``end``),
    inside ``user``'s squads (:class:`PermissionDenied` for a squad the caller may not see)."""
    q = query
    lo, hi = aware(q.start, tz), aware(q.end, tz)
    if q.month:
        m0, m1 = month_range(q.month, tz)
        lo, hi = max(lo, m0) if lo else m0, min(hi, m1) if hi else m1
    squads = user.squads
    if q.squad is not None:
        if not user.may_see(q.squad):
            raise PermissionDenied(f"无权查看中队「{q.squad}」的案件。")
        squads = (q.squad,)
    return CaseFilter(squads=squads, start=lo, end=hi, categories=resolve_categories(q.category),
                      community=q.community or None, status=tuple(q.status) if q.status else None,
                      precise=precise)


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


def _visible_case(session: Session, case_id: str, user: Principal, *,
                  lock: bool = False) -> Case:
    stmt = select(Case).where(Case.case_id == case_id)
    case = session.scalar(stmt.with_for_update() if lock else stmt)
    if case is None or not user.may_see(case.squad_id):
        raise _not_found(case_id)
    return case


def case_detail(storage: Storage, case_id: str, user: Principal) -> dict[str, Any]:
    """One case as a GeoJSON Feature with ``history`` (every step: who, when, from → to, the
    button's words, note, assignee, photos), ``assignee`` (the current one), ``overdue``,
    ``allowed_next`` and ``actions`` (the caller's next steps with their labels and whether
    each needs a note)."""
    case_id = lookup_id(case_id)
    tz = ZoneInfo(storage.tz)
    now = datetime.now(UTC)
    with storage.begin() as session:
        case = _visible_case(session, case_id, user)
        props: dict[str, Any] = {k: getattr(case, "squad_id" if k == "squad" else k)
                                 for k in CASE_PROPS if k != "overdue"}
        hist = steps.history(session, case.id, case.case_id, storage.tz)
        current = steps.assignee_dict(case.assignee_kind, case.assignee_id, case.assignee_name)
        lon, lat = case.lon, case.lat
    for key in ("reported_at", "closed_at", "deadline_at"):
        value = props[key]
        props[key] = value.astimezone(tz).isoformat() if value is not None else None
    props["overdue"] = is_overdue(case.status, case.deadline_at, case.closed_at, now)
    nxt = list(allowed_next(case.status, user.role)) if user.role != "planner" else []
    props["allowed_next"] = nxt
    props["actions"] = [{"to_status": t, "label": action_label(case.status, t),
                         "note_required": note_required(case.status, t)} for t in nxt]
    props["assignee"] = current
    props["history"] = hist
    return {"type": "Feature", "id": case_id,
            "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
            "properties": props}


def assignees_for(storage: Storage, case_id: str, user: Principal) -> list[dict[str, str]]:
    """Whom a step of the case may be handed to (:func:`service.case_steps.assignee_options`)."""
    case_id = lookup_id(case_id)
    with storage.begin() as session:
        case = _visible_case(session, case_id, user)
        return steps.assignee_options(session, case.squad_id)


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
                    user: Principal, *, photos: Sequence[steps.Photo] = ()) -> None:
    """Move a case to ``body.to_status`` and record who did it, when, the note, the assignee and
    the photos (one transaction: a refused assignee or photo changes nothing).

    Raises
    ------
    NotFoundError
        No such case, or one the caller may not see (404).
    TransitionError, PermissionDenied
        The step does not follow the case's status (409), or the caller's role may not make it.
    FieldError
        A note is required and missing (作废, 退回处置), the assignee is not one of the case's
        squad's, or more than :data:`service.case_steps.MAX_PHOTOS` photos (422).
    """
    case_id = lookup_id(case_id)
    steps.check_count(len(photos))
    now = datetime.now(UTC)
    with storage.begin() as session:
        case = _visible_case(session, case_id, user, lock=True)
        check_transition(case.status, body.to_status, user.role)
        check_note(case.status, body.to_status, body.note)
        who = steps.resolve_assignee(session, case.squad_id, body.assignee) \
            if body.assignee is not None else (None, None, None)
        ev = CaseEvent(case_pk=case.id, from_status=case.status, to_status=body.to_status,
                       at=now, actor=user.username, note=body.note, assignee_kind=who[0],
                       assignee_id=who[1], assignee_name=who[2])
        session.add(ev)
        case.status = body.to_status
        case.closed_at = now if closes(body.to_status) else None
        case.updated_at = now
        if who[0] is not None:
            case.assignee_kind, case.assignee_id, case.assignee_name = who
        if photos:
            session.flush()
            steps.add_photos(session, case.id, ev.id, list(photos), actor=user.username)


def add_case_photos(storage: Storage, case_id: str, photos: Sequence[steps.Photo],
                    user: Principal) -> None:
    """Attach photos to a case without changing its status (to its latest step).

    Planners may not; the case must be visible to the caller (404 otherwise).
    """
    if user.role == "planner":
        raise PermissionDenied("规划人员不能给案件添加照片。")
    case_id = lookup_id(case_id)
    steps.check_count(len(photos))
    if not photos:
        raise steps.FieldError("photos", "请至少选择一张照片。")
    with storage.begin() as session:
        case = _visible_case(session, case_id, user, lock=True)
        last = session.scalar(select(CaseEvent.id).where(CaseEvent.case_pk == case.id)
                              .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1))
        steps.add_photos(session, case.id, last, list(photos), actor=user.username)
        case.updated_at = datetime.now(UTC)


def photo_bytes(storage: Storage, case_id: str, photo_id: int,
                user: Principal) -> tuple[bytes, str]:
    """The bytes and content type of a photo of a case the caller may see (404 otherwise, the
    same answer whether the case, the photo or the right is missing)."""
    case_id = lookup_id(case_id)
    with storage.begin() as session:
        case = _visible_case(session, case_id, user)
        photo = steps.photo_of_case(session, case.id, photo_id)
        if photo is None:
            raise NotFoundError(f"案件「{visible(case_id, limit=64)}」没有编号为 {photo_id} 的照片。")
        return bytes(photo.data), photo.content_type
