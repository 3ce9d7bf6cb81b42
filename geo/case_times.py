"""Case times: the one set of rules for reading a timestamp cell, on every path.

- ISO 8601 (``2026-03-05T07:30:00+08:00``), ``2026/3/5 7:30``, ``2026年3月5日 7时30分``,
  ``2026年3月5日 10时`` and an Excel serial day number (``46331.5`` = 2026-11-05 12:00, what a
  date cell becomes when it loses its format) are all read.
- A time with a UTC offset (``Z``, ``+08:00``) is converted to the deployment's zone; a time
  without one is wall-clock time in that zone.
- A time more than :data:`MAX_FUTURE` after now is not a report of something that happened: the
  importer rejects it (the option can be relaxed for a test or a simulation).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

MAX_FUTURE = timedelta(days=1)
"""How far in the future a case time may lie (clock skew, time zones) before it is rejected."""
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
"""Day 0 of Excel's 1900 date system (serial 1 = 1900-01-01, counting Lotus's 1900-02-29)."""
_SERIAL = r"\d{5}(?:\.\d+)?"
_SERIAL_RANGE = (20000.0, 80000.0)  # 1954 … 2119: other five-digit numbers are not dates
_AWARE = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _normalise(values: pd.Series) -> pd.Series:
    """``2026年3月5日 7时30分`` → ``2026-3-5 7:30``; other text stripped."""
    return (values.astype(str).str.strip()
            .str.replace(r"(\d{1,2})\s*时\s*(\d{1,2})\s*分?", r"\1:\2", regex=True)
            .str.replace(r"(\d{1,2})\s*时", r"\1:00", regex=True)
            .str.replace(r"[年月]", "-", regex=True).str.replace("日", " ", regex=False)
            .str.replace("秒", "", regex=False).str.strip())


def _parse_subset(text: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    redo = parsed.isna()
    if redo.any():
        parsed = parsed.copy()
        parsed[redo] = pd.to_datetime(text[redo], errors="coerce", format="mixed")
    return parsed


def parse_times(values: pd.Series, *, tz: str) -> pd.Series:
    """Parse timestamps by the rules of this module; naive ones are wall-clock time in ``tz``.

    Parameters
    ----------
    values : pandas.Series
        Cells as text (``""`` for empty).
    tz : str
        The deployment's zone (``Asia/Shanghai``).

    Returns
    -------
    pandas.Series
        Tz-aware times in ``tz`` on the index of ``values``; empty or unreadable cells are NaT.

    Examples
    --------
    >>> parse_times(pd.Series(["2026-11-05T04:00:00Z", "46331.5", "2026年11月5日 12时"]),
    ...             tz="Asia/Shanghai").dt.hour.tolist()
    [12, 12, 12]
    """
    text = _normalise(values)
    out = pd.Series(pd.NaT, index=values.index, dtype=f"datetime64[ns, {tz}]")
    filled = text != ""
    serial = filled & text.str.fullmatch(_SERIAL)
    if serial.any():
        days = pd.to_numeric(text[serial], errors="coerce")
        days = days[days.between(*_SERIAL_RANGE)]
        local = (EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).dt.round("s")
        out[days.index] = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    aware = filled & ~serial & text.str.contains(_AWARE, regex=True)
    naive = filled & ~serial & ~aware
    if naive.any():
        parsed = _parse_subset(text[naive])
        out[naive] = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    if aware.any():
        parsed = pd.to_datetime(text[aware], errors="coerce", format="ISO8601", utc=True)
        out[aware] = parsed.dt.tz_convert(tz)
    return out


def fast_times(values: pd.Series, *, tz: str) -> pd.Series:
    """:func:`parse_times`, vectorised for a column of uniform ISO-like timestamps."""
    try:
        parsed = pd.to_datetime(values.astype(str).str.strip(), format="ISO8601")
    except (ValueError, TypeError):
        return parse_times(values, tz=tz)
    if parsed.dt.tz is None:
        return parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    return parsed.dt.tz_convert(tz)


def too_late(times: pd.Series, *, now: datetime | None = None,
             max_future: timedelta | None = MAX_FUTURE) -> pd.Series:
    """Rows whose time lies more than ``max_future`` after ``now`` (never, when ``None``)."""
    if max_future is None:
        return pd.Series(False, index=times.index)
    ref = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
    if ref.tzinfo is None:
        ref = ref.tz_localize("UTC")
    return (times > ref + max_future).fillna(False).astype(bool)


def future_message(what: str, *, max_future: timedelta | None = MAX_FUTURE) -> str:
    """The reason for a time more than ``max_future`` in the future (``what``: 上报时间 …)."""
    hours = (max_future or MAX_FUTURE).total_seconds() / 3600
    span = f"{hours / 24:g} 天" if hours >= 24 else f"{hours:g} 小时"
    return (f"{what}晚于当前时间 {span}以上，不可能已经发生；请核对时间和时区（或 Excel 日期格式），"
            "确属计划或模拟数据时导入时加 --allow-future。")
