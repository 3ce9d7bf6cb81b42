"""Clock times of the daily plan: shifts, lunch breaks and windows in seconds of the plan day.

Every time in a plan is a number of seconds since the plan day's local midnight (the patrol
problem's ``windows_s`` and ``shift_s``); a shift that ends at or before its start runs past
midnight (``"22:00"``–``"06:00"`` is ``[79200, 108000]``). :func:`day_start` turns the plan day
into the tz-aware midnight the seconds count from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from geo.errors import InputError

DAY_S = 86_400.0
Interval = tuple[float, float]
_CLOCK = re.compile(r"^\s*(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?\s*$")


def clock_s(value: str | time | float | int) -> float:
    """Seconds after midnight of ``"HH:MM"`` (or ``"HH:MM:SS"``), a ``time`` or a number.

    Raises
    ------
    InputError
        If the text is not a clock time.
    """
    if isinstance(value, time):
        return float(value.hour * 3600 + value.minute * 60 + value.second)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = _CLOCK.match(str(value))
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59:
        raise InputError(f"时间「{value}」无法识别；请使用 HH:MM 格式，例如 06:30。")
    return float(int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0))


def as_date(value: date | datetime | str) -> date:
    """The plan day as a :class:`datetime.date` (``"YYYY-MM-DD"`` accepted)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InputError(f"日期「{value}」无法识别；请使用 YYYY-MM-DD 格式。") from exc


def day_start(day: date | str, tz: str) -> datetime:
    """Local midnight that starts ``day`` in time zone ``tz`` (tz-aware)."""
    return datetime.combine(as_date(day), time(0), tzinfo=ZoneInfo(tz))


def at_seconds(start: datetime, seconds: float) -> datetime:
    """``start`` plus ``seconds`` (rounded to whole seconds), tz-aware."""
    return start + timedelta(seconds=round(float(seconds)))


def team_shift_s(team: dict[str, Any]) -> Interval:
    """The team's shift ``(start, end)`` in seconds; an end at or before the start is next day."""
    where = f"队伍 {team.get('id', '?')}"
    if "shift_start" not in team or "shift_end" not in team:
        raise InputError(f"{where} 缺少班次 shift_start / shift_end（HH:MM）。")
    lo, hi = clock_s(team["shift_start"]), clock_s(team["shift_end"])
    if hi <= lo:
        hi += DAY_S
    return lo, hi


def team_break_s(team: dict[str, Any]) -> Interval | None:
    """The team's lunch break inside its shift, or None when it has none.

    Raises
    ------
    InputError
        If the break is malformed or does not lie inside the shift.
    """
    brk = team.get("break")
    if not brk:
        return None
    lo_s, hi_s = team_shift_s(team)
    try:
        lo, hi = clock_s(brk["start"]), clock_s(brk["end"])
    except (KeyError, TypeError) as exc:
        raise InputError(f"队伍 {team.get('id', '?')} 的休息时间应为 {{start, end}}（HH:MM）。") from exc
    if lo < lo_s:
        lo, hi = lo + DAY_S, hi + DAY_S
    if hi <= lo:
        hi += DAY_S
    if not (lo_s <= lo < hi <= hi_s):
        raise InputError(
            f"队伍 {team.get('id', '?')} 的休息时间 {brk.get('start')}–{brk.get('end')} "
            f"不在班次 {team['shift_start']}–{team['shift_end']} 之内；请修改中队数据。"
        )
    return lo, hi


def working_intervals(team: dict[str, Any]) -> list[Interval]:
    """The team's working time: its shift split by its break (one or two intervals)."""
    lo, hi = team_shift_s(team)
    brk = team_break_s(team)
    if brk is None:
        return [(lo, hi)]
    return [iv for iv in ((lo, brk[0]), (brk[1], hi)) if iv[1] > iv[0]]


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted union of intervals (touching intervals merge)."""
    out: list[Interval] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Intersection of two interval lists (closed intervals; a single point is kept)."""
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if hi >= lo:
                out.append((lo, hi))
    return merge_intervals(out)


def hour_windows_s(windows_h: Iterable[Sequence[float]]) -> list[Interval]:
    """Hour-of-day windows (``[[6, 9], [22, 26]]``) as seconds of the plan day.

    A window past midnight (end > 24) also counts at the start of the day (``[22, 26]`` gives
    ``[0, 7200]`` and ``[79200, 93600]``), so an early-morning shift meets last night's peak.
    """
    out: list[Interval] = []
    for w in windows_h:
        lo, hi = float(w[0]) * 3600.0, float(w[1]) * 3600.0
        if hi <= lo:
            hi += DAY_S
        out.append((lo, hi))
        if hi > DAY_S:
            out.append((max(0.0, lo - DAY_S), hi - DAY_S))
    return merge_intervals(out)


def parse_hours_text(text: str) -> list[tuple[float, float]]:
    """``"06:00–09:00, 18:00–22:00"`` → ``[(6, 9), (18, 22)]`` (hours; empty text → [])."""
    out = []
    for part in re.split(r"[,，;；]", str(text or "")):
        m = re.match(r"\s*(\d{1,2})[:：](\d{2})\s*[–\-~至到]\s*(\d{1,2})[:：](\d{2})\s*$", part)
        if m:
            lo = int(m.group(1)) + int(m.group(2)) / 60.0
            hi = int(m.group(3)) + int(m.group(4)) / 60.0
            out.append((lo, hi if hi > lo else hi + 24.0))
    return out


def hhmm(seconds: float) -> str:
    """Seconds of the plan day as ``HH:MM`` (``次日`` prefix past midnight)."""
    s = round(seconds)
    prefix = "次日" if s >= DAY_S else ""
    s %= int(DAY_S)
    return f"{prefix}{s // 3600:02d}:{s % 3600 // 60:02d}"
