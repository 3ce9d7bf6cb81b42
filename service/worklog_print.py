"""The printable 《城管进社区工作日志》 of one work station for one day or one week.

:func:`station_sheet` gathers what :func:`geo.sheets.worklog_pdf.render_worklog_pdf` prints: the
station's entries in the period, oldest first — those written for the station, and those of its
community that name no station — voided ones included (marked 已作废 with the reason: the printed
ledger shows them too), the officers of the station (the squad's staff list) and the authors.
A week is Monday to Sunday, the one holding the day asked for. A station of a squad the user
may not see is "not found", like a missing one.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select

from geo.errors import NotFoundError
from geo.sheets.worklog_pdf import WorkLogLine, WorkLogSheet
from service.auth import Principal
from service.geojson import aware
from service.models import Community, Squad, Station, WorkLogEntry
from service.storage import Storage

Period = Literal["day", "week"]
_WEEKDAYS = "一二三四五六日"


def period_bounds(day: date, period: Period) -> tuple[date, date]:
    """First day and the day after the last of the ``period`` holding ``day`` (a week starts on
    Monday)."""
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    return day, day + timedelta(days=1)


def period_text(day: date, period: Period) -> str:
    """``2026-05-06（星期三）`` for a day, ``2026-05-04 至 2026-05-10（第 19 周）`` for a week."""
    if period == "week":
        start, stop = period_bounds(day, period)
        return (f"{start.isoformat()} 至 {(stop - timedelta(days=1)).isoformat()}"
                f"（第 {start.isocalendar().week} 周）")
    return f"{day.isoformat()}（星期{_WEEKDAYS[day.weekday()]}）"


def station_sheet(storage: Storage, user: Principal, station_code: str, day: date, *,
                  period: Period = "day", tz: str, data_label: str = "") -> WorkLogSheet:
    """The log sheet of station ``station_code`` for the day or week holding ``day``.

    Parameters
    ----------
    storage : Storage
    user : Principal
        Must be allowed to see the station's squad.
    station_code : str
        A work station's code (``Station.code``).
    day : date
        Any day of the period.
    period : {"day", "week"}
    tz : str
        The deployment's time zone (times are printed in it).
    data_label : str
        Printed in red when not empty (e.g. ``模拟数据``).

    Raises
    ------
    NotFoundError
        No such station, or one of a squad ``user`` may not see.
    """
    zone = ZoneInfo(tz)
    start, stop = period_bounds(day, period)
    lo, hi = aware(start, tz), aware(stop, tz)
    with storage.begin() as session:
        st = session.get(Station, station_code)
        if st is None or not user.may_see(st.squad_id):
            raise NotFoundError(f"没有编号为「{station_code[:40]}」的工作站（或无权查看）。")
        squad = session.get(Squad, st.squad_id)
        names = dict(session.execute(select(Community.code, Community.name)
                                     .where(Community.squad_id == st.squad_id)).all())
        rows = session.scalars(
            select(WorkLogEntry).where(
                WorkLogEntry.squad_id == st.squad_id, WorkLogEntry.at >= lo,
                WorkLogEntry.at < hi,
                or_(WorkLogEntry.station_code == st.code,
                    and_(WorkLogEntry.station_code.is_(None),
                         WorkLogEntry.community_code == st.community_code)))
            .order_by(WorkLogEntry.at, WorkLogEntry.id)).all()
        fmt = "%m-%d %H:%M" if period == "week" else "%H:%M"
        lines = [WorkLogLine(
            time=e.at.astimezone(zone).strftime(fmt), author=e.author,
            community=names.get(e.community_code or "", e.community_code or ""),
            place=e.place, problem=e.problem, action=e.action, outcome=e.outcome,
            cases=list(e.case_ids or ([e.case_id] if e.case_id else [])),
            photos=int(e.photo_count or 0),
            void_reason=(e.void_reason or "") if e.voided_at is not None else None)
            for e in rows]
        staff = [str(m.get("name") or m.get("id")) for m in
                 ((squad.data or {}).get("staff") or [] if squad else [])
                 if m.get("station") == st.community_code]
        authors = sorted({e.author for e in rows})
        return WorkLogSheet(squad_name=squad.name if squad else st.squad_id,
                            station_name=st.name, period_text=period_text(day, period),
                            officers=staff, authors=authors, lines=lines,
                            data_label=data_label)
