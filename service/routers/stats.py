"""Statistics a bureau is judged on (考核统计): the ``/stats`` page, ``GET /api/stats`` (JSON) and
``GET /api/stats.xlsx`` (workbook), all computed by :func:`geo.stats.bureau_stats`.

Per squad and per community, for a chosen period (``period_start`` … ``period_end``, both days
inclusive; default the last 30 days): cases by category and source, closure and on-time closure
rates, overdue count and 超时率, median handling time, recurrence (same address and category ≥ 3
times) and patrol coverage (communities not visited in ``stale_days`` days).

Squad leaders see only their squad (``squad`` of another squad is 404, like a missing one);
admins and planners see every squad or the one chosen; officers are refused (403).

**Patrol coverage is from the plans**: until confirmed visits exist, a community counts as
visited on the days a stored plan (:func:`service.plans.save_plan`, table ``plan_visits``)
routed a team through it. The page and the workbook say so.
"""

from __future__ import annotations

import io
import math
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import String, select, type_coerce

from geo.errors import InputError
from geo.stats import LABELS, BureauStats, bureau_stats
from service import pages_data
from service.auth import Principal
from service.deps import CurrentUser, SettingsDep, StorageDep
from service.errors import PermissionDenied
from service.models import Case, PlanVisit
from service.schemas import ErrorBody
from service.storage import CaseFilter, Storage
from service.web import PageUser, login_redirect, render

router = APIRouter(tags=["cases"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
    404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
ROLES = ("admin", "planner", "squad_leader")
COVERAGE_NOTE = ("巡查覆盖按已保存的巡查计划中安排的社区计算（计划到访），"
                 "尚不是现场确认的到访记录；确认到访记录上线后将改用实际到访。")
SHEETS = {"total": "汇总", "by_squad": "按中队", "by_community": "按社区",
          "by_category": "问题类型", "by_source": "案件来源", "recurrence": "复发（≥3件）",
          "coverage": "巡查覆盖"}
"""Workbook sheet names of the :class:`BureauStats` tables."""
_RATES = ("closure_rate", "on_time_rate", "overdue_rate")
STATS_COLUMNS = ("case_id", "category", "category_name", "reported_at", "status", "closed_at",
                 "deadline_at", "address", "source", "community_code", "community", "squad_id")
"""The case columns the statistics read (:func:`period_cases`)."""
_TIMES = ("reported_at", "closed_at", "deadline_at")
Start = Annotated[date | None, Query(description="统计期第一天（含）；默认 30 天前")]
End = Annotated[date | None, Query(description="统计期最后一天（含）；默认今天")]
SquadQ = Annotated[str | None, Query(max_length=32, description="中队；中队长只能看本中队")]
Stale = Annotated[int, Query(ge=1, le=365, description="超过 N 天未巡查的社区")]


def _allowed(user: Principal) -> Principal:
    if user.role not in ROLES:
        raise PermissionDenied("考核统计仅对中队长、规划人员和管理员开放。")
    return user


def period_cases(storage: Storage, flt: CaseFilter) -> pd.DataFrame:
    """The columns of the cases of ``flt`` that :func:`geo.stats.bureau_stats` reads (one
    query; no description, coordinates or geometry), times tz-aware UTC."""
    # times as the driver gives them (SQLite: naive UTC text; PostgreSQL: aware datetimes),
    # parsed once per column below instead of once per value by the column type
    cols = [type_coerce(getattr(Case, c), String) if c in _TIMES else getattr(Case, c)
            for c in STATS_COLUMNS]
    with storage.begin() as session:
        rows = session.execute(storage.case_query(flt).with_only_columns(*cols)).all()
    names = [c if c != "squad_id" else "squad" for c in STATS_COLUMNS]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    df = pd.DataFrame({n: pd.Series(v, dtype=object) for n, v in zip(names, columns, strict=True)})
    for col in _TIMES:
        df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
    return df


def compute(storage: StorageDep, settings: SettingsDep, user: Principal, *,
            start: date | None, end: date | None, squad: str | None,
            stale_days: int = 7) -> tuple[BureauStats, dict[str, str]]:
    """The statistics ``user`` may see and the names of the squads (id → name)."""
    _allowed(user)
    today = pd.Timestamp.now(tz=settings.timezone).date()
    end = end or today
    start = start or end - timedelta(days=29)
    if (end - start).days > 3660:
        raise InputError("统计期最长 10 年；请缩短。")
    scope = pages_data.scope(user, squad)
    lo = pd.Timestamp(start).tz_localize(settings.timezone).to_pydatetime()
    hi = pd.Timestamp(end + timedelta(days=1)).tz_localize(settings.timezone).to_pydatetime()
    cases = period_cases(storage, CaseFilter(squads=scope, start=lo, end=hi))
    comms = storage.communities(squads=scope)[["code", "name", "squad"]]
    stmt = select(PlanVisit.community_code, PlanVisit.plan_date).where(
        PlanVisit.plan_date <= end, PlanVisit.plan_date > end - timedelta(days=stale_days + 366))
    if scope is not None:
        stmt = stmt.where(PlanVisit.squad_id.in_(scope))
    with storage.begin() as session:
        visits = pd.DataFrame(session.execute(stmt).all(), columns=["community_code", "visit_date"])
    stats = bureau_stats(cases, period_start=start,
                         period_end=end, tz=settings.timezone, communities=comms,
                         visits=visits, stale_days=stale_days)
    names = {sq["id"]: sq["name"] for sq in storage.squads() if scope is None or sq["id"] in scope}
    return stats, names


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def _values(col: pd.Series) -> list[Any]:
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return [None if t is pd.NaT else t.isoformat() for t in col]
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_integer_dtype(col.dtype):
        return col.tolist()
    return [_plain(v) for v in col.tolist()]


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready records (NaN → null, times → ISO text), column by column."""
    cols = [_values(table[c]) for c in table.columns]
    names = [str(c) for c in table.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*cols, strict=True)]


def as_json(stats: BureauStats, names: dict[str, str], stale_days: int) -> dict[str, Any]:
    """The JSON body of ``GET /api/stats``."""
    out: dict[str, Any] = {"period_start": stats.period_start.isoformat(),
                           "period_end": stats.period_end.isoformat(), "stale_days": stale_days,
                           "squads": names, "coverage_note": COVERAGE_NOTE}
    for key in SHEETS:
        out[key] = records(getattr(stats, key))
    out["total"] = out["total"][0] if out["total"] else {}
    return out


def _chinese(table: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    df = table.copy()
    for col in _RATES:
        if col in df.columns:
            df[col] = (df[col].astype(float) * 100).round(1)
    if "median_hours" in df.columns:
        df["median_hours"] = df["median_hours"].astype(float).round(1)
    if "squad" in df.columns:
        df.insert(list(df.columns).index("squad") + 1, "squad_name",
                  df["squad"].map(lambda s: names.get(s, s)))
    for col in ("first_reported", "last_reported"):
        if col in df.columns:
            df[col] = df[col].map(lambda t: t.strftime("%Y-%m-%d %H:%M") if pd.notna(t) else "")
    if "last_visit" in df.columns:
        df["last_visit"] = df["last_visit"].map(lambda d: d.isoformat() if isinstance(d, date)
                                                else "从未")
    if "stale" in df.columns:
        df["stale"] = df["stale"].map({True: "是", False: "否"})
    labels = {**LABELS, **{c: f"{LABELS[c]}（%）" for c in _RATES}}
    return df.rename(columns=labels)


def workbook(stats: BureauStats, names: dict[str, str], stale_days: int) -> bytes:
    """The XLSX of the statistics: one sheet per table with Chinese names and headers, column
    widths fitted to the text, a 说明 sheet; every cell formula-safe
    (:func:`geo.sheets.write_xlsx_tables`)."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    from geo.sheets import write_xlsx_tables

    tables = {name: _chinese(getattr(stats, key), names) for key, name in SHEETS.items()}
    tables["说明"] = pd.DataFrame({"项目": ["统计期", "未巡查天数 N", "巡查覆盖", "口径"], "说明": [
        f"{stats.period_start.isoformat()} 至 {stats.period_end.isoformat()}（按上报时间）",
        str(stale_days), COVERAGE_NOTE,
        "作废案件不计入其他指标；按期结案率 = 按期结案数 / 有期限的结案数；"
        "超时率 = 超期数 / 有期限的案件数；复发 = 同一地址同一问题类型 ≥3 件。"]})
    raw = io.BytesIO()
    write_xlsx_tables(raw, tables)
    wb = load_workbook(io.BytesIO(raw.getvalue()))
    for ws in wb.worksheets:
        for i, col in enumerate(ws.iter_cols(values_only=True), start=1):
            width = max((sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(v)) for v in col
                         if v is not None), default=6)
            ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@router.get("/api/stats", responses=_ERRORS, summary="考核统计（JSON）")
def stats_json(storage: StorageDep, settings: SettingsDep, user: CurrentUser,
               period_start: Start = None, period_end: End = None, squad: SquadQ = None,
               stale_days: Stale = 7) -> dict[str, Any]:
    """Per squad and community: cases, closure and on-time rates, overdue, median handling
    hours, recurrence groups, patrol coverage; rates are fractions (null when undefined)."""
    stats, names = compute(storage, settings, user, start=period_start, end=period_end,
                           squad=squad, stale_days=stale_days)
    return as_json(stats, names, stale_days)


@router.get("/api/stats.xlsx", responses={**_ERRORS, 200: {"content": {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}},
    summary="考核统计（XLSX）")
def stats_xlsx(storage: StorageDep, settings: SettingsDep, user: CurrentUser,
               period_start: Start = None, period_end: End = None, squad: SquadQ = None,
               stale_days: Stale = 7) -> Response:
    """The same figures as ``/api/stats`` as a workbook (Chinese sheet names and headers)."""
    stats, names = compute(storage, settings, user, start=period_start, end=period_end,
                           squad=squad, stale_days=stale_days)
    body = workbook(stats, names, stale_days)
    name = f"考核统计_{stats.period_start.isoformat()}_{stats.period_end.isoformat()}.xlsx"
    disp = f"attachment; filename=\"stats.xlsx\"; filename*=UTF-8''{quote(name)}"
    return Response(body, headers={"Content-Disposition": disp}, media_type=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))


def bars(rows: list[tuple[str, float]], *, width: float = 380, bar_h: float = 16,
         percent: bool = False) -> dict[str, Any]:
    """Geometry of a horizontal bar chart drawn as inline SVG by ``stats.html``."""
    label_w, gap = 96.0, 5.0
    top = max((v for _, v in rows if v == v), default=0.0) or 1.0
    if percent:
        top = 1.0
    span = width - label_w - 52
    out = []
    for i, (label, value) in enumerate(rows):
        v = 0.0 if value != value else float(value)
        text = "—" if value != value else (f"{v * 100:.1f}%" if percent else f"{v:g}")
        out.append({"label": label, "y": i * (bar_h + gap), "w": max(v / top * span, 0.0),
                    "text": text})
    return {"width": width, "height": max(len(rows), 1) * (bar_h + gap), "bar_h": bar_h,
            "label_w": label_w, "rows": out}


@router.get("/stats", response_class=HTMLResponse, include_in_schema=False)
def stats_page(request: Request, storage: StorageDep, settings: SettingsDep, user: PageUser,
               period_start: Start = None, period_end: End = None, squad: SquadQ = None,
               stale_days: Stale = 7) -> Response:
    """The statistics page: the period form, the figures, bar charts and the XLSX link."""
    if user is None:
        return login_redirect(request)
    stats, names = compute(storage, settings, user, start=period_start, end=period_end,
                           squad=squad or None, stale_days=stale_days)
    one_squad = len(names) == 1
    groups = stats.by_community if one_squad else stats.by_squad
    label = "community" if one_squad else "squad"
    top = groups.head(15)
    label_of = (lambda r: str(r["community"] or r["community_code"])) if one_squad else (
        lambda r: names.get(r["squad"], r["squad"]))
    charts = {
        "cases": bars([(label_of(r), float(r["cases"])) for _, r in top.iterrows()]),
        "on_time": bars([(label_of(r), float(r["on_time_rate"])) for _, r in top.iterrows()],
                        percent=True),
        "category": bars([(str(r["category_name"] or r["category"]), float(r["count"]))
                          for _, r in stats.by_category.groupby(
                              ["category", "category_name"], as_index=False)["count"].sum()
                          .sort_values("count", ascending=False).head(10).iterrows()]),
    }
    query = {k: v for k, v in {"period_start": stats.period_start.isoformat(),
                               "period_end": stats.period_end.isoformat(),
                               "squad": squad or "", "stale_days": str(stale_days)}.items() if v}
    return render(request, "stats.html", user, stats=as_json(stats, names, stale_days),
                  charts=charts, group_label=label, names=names, squad=squad or "",
                  all_squads=pages_data.visible_squads(storage, user),
                  xlsx="/api/stats.xlsx?" + "&".join(f"{k}={quote(v)}" for k, v in query.items()),
                  stale_days=stale_days, labels=LABELS)
