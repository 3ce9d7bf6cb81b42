"""The squad dashboard's case list: filters a leader can work with, search, sort, and the export
of exactly what is filtered.

The filters come from the page's query string (:func:`parse_query`, lenient: a value that
cannot be read is dropped and said so in ``ListQuery.notes``): community, status (default: the
open ones; ``all``: every status), category, overdue only, report date range (days in the
deployment zone, both ends included), a search of the case number or the address, and the sort
order. :func:`list_rows` answers the page (at most :data:`MAX_ROWS` rows),
:func:`export_table` every matching case in the same order, for the CSV/XLSX writers
(:func:`cases_csv`, :func:`cases_xlsx`). Always within one squad, which the caller must be allowed to see.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import pandas as pd
from shapely.geometry import mapping
from sqlalchemy import Select, and_, case, func, or_, select

from geo.labels import ASSIGNEE_KINDS, CASE_SOURCE_PATROL, OPEN_STATUSES, STATUSES
from geo.safe_text import formula_safe
from service.auth import Principal
from service.case_cache import cached_value, data_version
from service.case_ops import catalogue
from service.models import Case
from service.settings import Settings
from service.storage import CASE_COLUMNS, FINAL_STATUSES, CaseFilter, Storage
from service.workflow import action_label, allowed_next, is_overdue, note_required, overdue_flags

MAX_ROWS = 100
SORTS: dict[str, str] = {"overdue": "超期优先，新的在前", "new": "上报时间，新的在前",
                         "old": "上报时间，早的在前", "deadline": "处置时限，近的在前",
                         "community": "按社区"}
"""Sort orders of the list (key → what the select says)."""
_ESCAPE = "\\"
_OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_TDT_VEC = ("https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
            "&TILECOL={x}&tk=")


def page_tiles(settings: Settings) -> dict[str, str]:
    """The base tiles of the small page maps (``url`` empty: no tiles, outlines only). 高德
    tiles are GCJ-02-shifted, so those maps draw outlines only, like ``none``."""
    if settings.basemap == "osm":
        return {"url": _OSM, "attribution": "&copy; OpenStreetMap"}
    if settings.basemap == "local" and settings.tile_url:
        return {"url": settings.tile_url, "attribution": settings.tile_attribution or "本地底图"}
    if settings.basemap == "tianditu" and settings.tianditu_key:
        return {"url": _TDT_VEC + quote(settings.tianditu_key.strip(), safe=""),
                "attribution": "&copy; 天地图"}
    return {"url": "", "attribution": ""}


@dataclass(frozen=True)
class ListQuery:
    """The list's filters, as read from the query string."""

    community: str = ""
    status: str = ""
    category: str = ""
    overdue: bool = False
    start: date | None = None
    end: date | None = None
    q: str = ""
    sort: str = "overdue"
    notes: tuple[str, ...] = field(default=(), compare=False)

    def params(self) -> dict[str, str]:
        """The non-default filters as query parameters (to keep them in links and exports)."""
        raw = {"community": self.community, "status": self.status, "category": self.category,
               "overdue": "1" if self.overdue else "", "start": self.start.isoformat()
               if self.start else "", "end": self.end.isoformat() if self.end else "",
               "q": self.q, "sort": "" if self.sort == "overdue" else self.sort}
        return {k: v for k, v in raw.items() if v}

    def query_string(self) -> str:
        """:meth:`params` URL-encoded (``""`` for the default list)."""
        return urlencode(self.params())


def _day(text: str, what: str, notes: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        notes.append(f"{what}「{text[:20]}」不是日期（YYYY-MM-DD），已忽略。")
        return None


def parse_query(params: Mapping[str, str]) -> ListQuery:
    """The list filters in ``params`` (a request's query parameters); unreadable ones dropped."""
    notes: list[str] = []

    def get(key: str, limit: int = 64) -> str:
        return str(params.get(key) or "").strip()[:limit]

    status = get("status", 8)
    if status and status != "all" and status not in STATUSES:
        notes.append(f"没有状态「{status}」，已显示未结案件。")
        status = ""
    sort = get("sort", 16) or "overdue"
    if sort not in SORTS:
        sort = "overdue"
    start, end = _day(get("start", 32), "开始日期", notes), _day(get("end", 32), "结束日期", notes)
    if start and end and end < start:
        notes.append("结束日期早于开始日期，已对调。")
        start, end = end, start
    q = "".join(ch for ch in get("q") if ch.isprintable())
    return ListQuery(community=get("community", 16), status=status, category=get("category", 16),
                     overdue=get("overdue", 5) in ("1", "true", "on"), start=start, end=end,
                     q=q, sort=sort, notes=tuple(notes))


def _filter(lq: ListQuery, squad_id: str, tz: str, now: datetime) -> CaseFilter:
    zone = ZoneInfo(tz)
    lo = datetime.combine(lq.start, time(), zone) if lq.start else None
    hi = datetime.combine(lq.end + timedelta(days=1), time(), zone) if lq.end else None
    if lq.status == "all":
        status: tuple[str, ...] | None = None
    else:
        status = (lq.status,) if lq.status else OPEN_STATUSES
    return CaseFilter(squads=(squad_id,), start=lo, end=hi,
                      categories=(lq.category,) if lq.category else None,
                      community=lq.community or None, status=status,
                      overdue=True if lq.overdue else None, as_of=now)


def _like(text: str) -> str:
    for ch in (_ESCAPE, "%", "_"):
        text = text.replace(ch, _ESCAPE + ch)
    return f"%{text}%"


def _select(storage: Storage, lq: ListQuery, squad_id: str, now: datetime) -> Select[Any]:
    stmt = storage.case_query(_filter(lq, squad_id, storage.tz, now))
    if lq.q:
        pattern = _like(lq.q)
        stmt = stmt.where(or_(Case.case_id.ilike(pattern, escape=_ESCAPE),
                              Case.address.ilike(pattern, escape=_ESCAPE)))
    late = case((and_(Case.status.not_in(FINAL_STATUSES), Case.deadline_at.is_not(None),
                      Case.deadline_at < now), 0), else_=1)
    order = {"overdue": (late, Case.reported_at.desc()), "new": (Case.reported_at.desc(),),
             "old": (Case.reported_at.asc(),),
             "deadline": (Case.deadline_at.is_(None), Case.deadline_at.asc()),
             "community": (Case.community.is_(None), Case.community.asc(),
                           Case.reported_at.desc())}[lq.sort]
    return stmt.order_by(*order, Case.id.desc())


_ROW = ("case_id", "category", "category_name", "reported_at", "status", "closed_at",
        "deadline_at", "description", "address", "source", "community", "assignee_name")


def list_rows(storage: Storage, user: Principal, squad_id: str, lq: ListQuery, *,
              limit: int = MAX_ROWS) -> dict[str, Any]:
    """The page's rows (``limit`` at most) with the caller's actions, the number matched and how
    many of them are overdue."""
    now = datetime.now(UTC)
    zone = ZoneInfo(storage.tz)
    stmt = _select(storage, lq, squad_id, now)
    cols = [getattr(Case, c) for c in _ROW]
    late = and_(Case.status.not_in(FINAL_STATUSES), Case.deadline_at.is_not(None),
                Case.deadline_at < now)

    def count(query: Select[Any]) -> int:
        with storage.begin() as session:
            return int(session.scalar(select(func.count()).select_from(
                query.order_by(None).with_only_columns(Case.id).subquery())) or 0)

    version = data_version(storage)
    key = ("case_list", squad_id, replace(lq, notes=()))
    with storage.begin() as session:
        rows = session.execute(stmt.limit(limit).with_only_columns(*cols)).all()
    # counts per data version (and, for the overdue ones, per minute: they follow the clock)
    total = len(rows) if len(rows) < limit else cached_value(
        storage, (*key, "total", lq.overdue and now.strftime("%H%M")), lambda: count(stmt),
        version=version)
    n_late = cached_value(storage, (*key, "late", now.strftime("%Y%m%d%H%M")),
                          lambda: count(stmt.where(late)), version=version, ttl_s=60.0)
    out = []
    for r in rows:
        rec = dict(zip(_ROW, r, strict=True))
        nxt = allowed_next(rec["status"], user.role) if user.role != "planner" else ()
        out.append({
            **{k: rec[k] or "" for k in ("case_id", "status", "community", "address",
                                          "description", "source", "assignee_name")},
            "category_name": rec["category_name"] or rec["category"],
            "reported_at": rec["reported_at"].astimezone(zone).strftime("%m-%d %H:%M"),
            "deadline": rec["deadline_at"].astimezone(zone).strftime("%m-%d %H:%M")
            if rec["deadline_at"] is not None else "",
            "overdue": is_overdue(rec["status"], rec["deadline_at"], rec["closed_at"], now),
            "next": list(nxt),
            "actions": [{"to_status": t, "label": action_label(rec["status"], t),
                         "note_required": note_required(rec["status"], t)} for t in nxt]})
    return {"rows": out, "total": total, "overdue": n_late, "shown": len(out)}


def export_table(storage: Storage, squad_id: str, lq: ListQuery) -> pd.DataFrame:
    """Every case of the list (no row limit, the list's order) in the case contract of
    :meth:`service.storage.Storage.query_cases` (times in the deployment zone)."""
    now = datetime.now(UTC)
    names = [c if c != "squad" else "squad_id" for c in CASE_COLUMNS]
    stmt = _select(storage, lq, squad_id, now).with_only_columns(*[getattr(Case, c) for c in names])
    with storage.begin() as session:
        rows = session.execute(stmt).all()
    df = pd.DataFrame(rows, columns=list(CASE_COLUMNS))
    for col in ("reported_at", "closed_at", "deadline_at"):
        df[col] = pd.to_datetime(df[col], utc=True).dt.tz_convert(storage.tz)
    return df


def _squad_categories(storage: Storage, squad_id: str) -> list[Any]:
    """(code, name) of the categories the squad's cases have: a scan of the squad's cases, so
    once per data version."""
    def make() -> list[Any]:
        with storage.begin() as session:
            return list(session.execute(select(Case.category, Case.category_name).distinct()
                                        .where(Case.squad_id == squad_id)
                                        .order_by(Case.category)).all())

    return list(cached_value(storage, ("squad_categories", squad_id), make))


def filter_options(storage: Storage, squad_id: str, *,
                   communities: pd.DataFrame | None = None) -> dict[str, Any]:
    """The choices of the filter form: the squad's communities (``communities`` when the caller
    has them), the categories its cases have, the statuses and the sort orders."""
    comm = communities if communities is not None else storage.communities(squads=(squad_id,))
    cats = _squad_categories(storage, squad_id)
    seen: dict[str, str] = {}
    for code, name in cats:
        seen.setdefault(code, name or code)
    return {"communities": comm[["code", "name"]].to_dict("records") if len(comm) else [],
            "categories": [{"code": c, "name": n} for c, n in seen.items()],
            "statuses": list(STATUSES), "sorts": SORTS}


def list_context(storage: Storage, user: Principal, squad_id: str,
                 params: Mapping[str, str], *, settings: Settings | None = None
                 ) -> dict[str, Any]:
    """What the dashboard's case-list section shows for the query ``params`` (with
    ``settings``: also the 巡查发现 map's squad outlines and tiles)."""
    lq = parse_query(params)
    extra: dict[str, Any] = {}
    comm = storage.communities(squads=(squad_id,))
    if settings is not None:
        extra = {"list_tiles": page_tiles(settings),
                 "list_outline": [mapping(g.simplify(0.00005)) for g in comm.geometry]}
    return {**extra, "cases": list_rows(storage, user, squad_id, lq), "list_query": lq,
            "list_qs": lq.query_string(),
            "list_options": filter_options(storage, squad_id, communities=comm),
            "may_report": user.role in ("admin", "squad_leader", "officer"),
            "report_categories": report_categories(), "patrol_source": CASE_SOURCE_PATROL,
            "assignee_kinds": ASSIGNEE_KINDS}


def report_categories() -> list[dict[str, str]]:
    """The categories the 巡查发现 form offers (the catalogue, code and name)."""
    table = catalogue().table
    return [{"code": str(r.code), "name": str(r.name)} for r in table.itertuples(index=False)]


# ---------------------------------------------------------------- export

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


def export_frame(gdf: pd.DataFrame, *, now: datetime | None = None) -> pd.DataFrame:
    """The cases as the export table: Chinese headers (:data:`_EXPORT_COLUMNS`), ``overdue``
    computed at ``now``, times as ``YYYY-MM-DD HH:MM:SS``, flags 是/否 (not yet formula-safe:
    the writers make it so)."""
    gdf = gdf.copy()
    gdf["overdue"] = overdue_flags(gdf["status"], gdf["deadline_at"], gdf["closed_at"],
                                   now or datetime.now(UTC))
    out = {label: [_cell(v) for v in gdf[col]] if col not in ("lon", "lat")
           else pd.to_numeric(gdf[col], errors="coerce").round(7).to_numpy()
           for col, label in _EXPORT_COLUMNS}
    return pd.DataFrame(out, columns=[label for _c, label in _EXPORT_COLUMNS])


def cases_csv(gdf: pd.DataFrame, *, now: datetime | None = None) -> bytes:
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


def cases_xlsx(gdf: pd.DataFrame, *, now: datetime | None = None, footer: str = "") -> bytes:
    """The cases as an XLSX workbook (one sheet 案件, the columns of :func:`cases_csv`), written
    by :func:`geo.sheets.write_xlsx_tables` (formula-safe, printable)."""
    from geo.sheets import write_xlsx_tables

    buf = io.BytesIO()
    write_xlsx_tables(buf, {"案件": export_frame(gdf, now=now)}, footer=footer)
    return buf.getvalue()


def cases_csv_stream(storage: Storage, flt: CaseFilter, *, chunk: int = 5000,
                     now: datetime | None = None) -> Iterator[bytes]:
    """:func:`cases_csv` of every case matching ``flt``, written ``chunk`` rows at a time
    (:meth:`Storage.iter_case_frames`, keyset pages): memory stays bounded whatever the size of
    the export, and the first bytes leave at once. Byte for byte the document :func:`cases_csv`
    writes for all the rows at once (the BOM and header come with the first chunk only)."""
    now = now or datetime.now(UTC)
    first = True
    for frame in storage.iter_case_frames(flt, chunk=chunk):
        body = cases_csv(frame, now=now)
        yield body if first else body[body.index(b"\r\n") + 2:]
        first = False
    if first:  # nothing matched: the header alone
        yield cases_csv(storage.query_cases(replace(flt, limit=0)), now=now)
