"""Statistics a bureau is judged on (考核统计), per squad and per community, for one period.

:func:`bureau_stats` takes a frame of cases (the case contract: ``case_id``, ``category``,
``category_name``, ``reported_at``, ``status``, ``closed_at``, ``deadline_at``, ``address``,
``source``, ``community_code``, ``community``, ``squad``; times tz-aware) and, optionally, the
planned visits of communities, and returns plain tables (:class:`BureauStats`). It reads no
database and knows nothing of users: the caller filters by squad first.

Definitions (the same words on the page and in the workbook):

* A case **belongs to the period** when ``period_start <= reported_at < period_end``. Void cases
  (作废) are counted in ``voided`` and left out of every other figure.
* ``closed`` (结案数): status 结案. ``closure_rate`` (结案率) = closed / cases.
* ``on_time`` (按期结案): closed no later than its deadline. ``on_time_rate`` (按期结案率) =
  on_time / closed cases that have a deadline (NaN when there are none).
* ``overdue`` (超期): past the deadline while open at ``as_of``, or closed after it — the rule of
  the case list (:func:`service.workflow.is_overdue`). ``overdue_rate`` (超时率) = overdue / cases
  with a deadline.
* ``median_hours`` (处置时长中位数): median of ``closed_at - reported_at`` over closed cases, hours.
* **Recurrence** (复发, the 运城 "≥3件复发组"): the same address (spaces and case ignored) and the
  same category at least ``min_repeats`` times in the period. Cases without an address cannot be
  grouped and are counted in ``no_address`` (地址缺失).
* **Patrol coverage** (巡查覆盖): per community, the last visit day on or before the period's last
  day and the days since; ``stale`` when not visited within ``stale_days`` days (never visited
  counts as stale).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from geo.errors import InputError

VOID = "作废"
CLOSED = "结案"
FINAL = frozenset({CLOSED, VOID})
SUMMARY_COLUMNS: tuple[str, ...] = (
    "cases", "voided", "closed", "closure_rate", "on_time", "on_time_rate", "overdue",
    "overdue_rate", "median_hours", "recurrent_groups", "no_address")
"""The figures of a summary row, in order."""
LABELS: dict[str, str] = {
    "squad": "中队", "squad_name": "中队名称", "community_code": "社区代码", "community": "社区",
    "cases": "案件数", "voided": "作废数", "closed": "结案数", "closure_rate": "结案率",
    "on_time": "按期结案数", "on_time_rate": "按期结案率", "overdue": "超期数",
    "overdue_rate": "超时率", "median_hours": "处置时长中位数（小时）",
    "recurrent_groups": "复发组数（≥3件）", "no_address": "地址缺失数",
    "category": "问题类型代码", "category_name": "问题类型", "source": "来源", "count": "件数",
    "address": "地址", "first_reported": "首次上报", "last_reported": "最近上报",
    "case_ids": "案件编号", "last_visit": "最近巡查日", "days_since": "距今天数",
    "stale": "超期未巡查"}
"""Chinese headers of every column of :class:`BureauStats` tables."""
_REQUIRED = ("case_id", "category", "reported_at", "status", "closed_at", "deadline_at")


@dataclass(frozen=True)
class BureauStats:
    """The tables of :func:`bureau_stats` (English column names; :data:`LABELS` for Chinese).

    Attributes
    ----------
    total : DataFrame
        One row: the :data:`SUMMARY_COLUMNS` over every case given.
    by_squad, by_community : DataFrame
        One row per squad (``squad``) / community (``squad``, ``community_code``,
        ``community``) with the :data:`SUMMARY_COLUMNS`, most cases first.
    by_category, by_source : DataFrame
        ``squad``, ``category`` (and ``category_name``) / ``source``, ``count``.
    recurrence : DataFrame
        ``squad``, ``community_code``, ``community``, ``address``, ``category``,
        ``category_name``, ``count``, ``first_reported``, ``last_reported``, ``case_ids``
        (the group is placed where its latest case is); most repeats first.
    coverage : DataFrame
        ``squad``, ``community_code``, ``community``, ``last_visit``, ``days_since``, ``stale``;
        stale first, then longest unvisited.
    """

    period_start: date
    period_end: date
    total: pd.DataFrame
    by_squad: pd.DataFrame
    by_community: pd.DataFrame
    by_category: pd.DataFrame
    by_source: pd.DataFrame
    recurrence: pd.DataFrame
    coverage: pd.DataFrame


def address_key(text: object) -> str:
    """An address for grouping: whitespace removed, letters lower-cased (``""`` when missing)."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return re.sub(r"\s+", "", str(text)).lower()


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def _prepared(cases: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
              as_of: pd.Timestamp) -> pd.DataFrame:
    missing = [c for c in _REQUIRED if c not in cases.columns]
    if missing:
        raise InputError(f"案件表缺少列：{'、'.join(missing)}。")
    df = pd.DataFrame(cases).copy()
    for col, default in (("category_name", ""), ("address", ""), ("source", ""),
                         ("community_code", ""), ("community", ""), ("squad", "")):
        if col not in df.columns:
            df[col] = default
        df[col] = df[col].fillna(default).astype(str)
    for col in ("reported_at", "closed_at", "deadline_at"):
        df[col] = pd.to_datetime(df[col], utc=True).dt.tz_convert(start.tz)  # days in tz
    df = df[(df["reported_at"] >= start) & (df["reported_at"] < end)]
    status = df["status"].astype(str)
    dl, closed_at = df["deadline_at"], df["closed_at"]
    df = df.assign(
        is_void=status == VOID, is_closed=status == CLOSED,
        has_deadline=dl.notna() & (status != VOID),
        on_time=(status == CLOSED) & dl.notna() & closed_at.notna() & (closed_at <= dl),
        overdue=dl.notna() & (((~status.isin(list(FINAL))) & (dl < as_of))
                              | ((status == CLOSED) & closed_at.notna() & (closed_at > dl))),
        hours=(closed_at - df["reported_at"]).dt.total_seconds() / 3600.0,
        addr=_per_unique(df["address"], address_key),
        source=df["source"].where(_per_unique(df["source"], str.strip) != "", "（未填）"))
    return df


def _per_unique(values: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """``fn`` of each value of ``values`` (strings), computed once per distinct value."""
    codes, uniques = pd.factorize(values)
    done = np.array([fn(v) for v in uniques] + [""], dtype=object)
    return pd.Series(done[codes], index=values.index, dtype=object)


def _recurrence(df: pd.DataFrame, min_repeats: int) -> pd.DataFrame:
    cols = ["squad", "community_code", "community", "address", "category", "category_name",
            "count", "first_reported", "last_reported", "case_ids"]
    live = df[~df["is_void"] & (df["addr"] != "")]
    if live.empty:
        return pd.DataFrame(columns=cols)
    keys = ["addr", "category"]
    size = live.groupby(keys, sort=False)["case_id"].transform("size")
    rep = live[size >= min_repeats]
    if rep.empty:
        return pd.DataFrame(columns=cols)
    rep = rep.sort_values("reported_at", kind="stable")  # a group is placed where its latest is
    groups = rep.groupby(keys, sort=False)
    last = groups[["squad", "community_code", "community", "address", "category",
                   "category_name"]].last()
    out = last.assign(count=groups.size(), first_reported=groups["reported_at"].min(),
                      last_reported=groups["reported_at"].max(),
                      case_ids=groups["case_id"].agg(lambda ids: "、".join(map(str, ids))))
    out = out.reset_index(drop=True)[cols]
    return out.sort_values(["count", "last_reported"], ascending=[False, False],
                           ignore_index=True)


_FIGURES = ("n", "void", "closed_n", "judged", "on_time_n", "overdue_n", "deadline_n",
            "no_addr")


def _indicators(df: pd.DataFrame) -> pd.DataFrame:
    """Per case, 0/1 columns whose sums per group are the figures (void cases count only in
    ``void``) and the handling hours of closed live cases (NaN otherwise)."""
    live = ~df["is_void"]
    closed = live & df["is_closed"]
    return pd.DataFrame({
        "n": live, "void": df["is_void"], "closed_n": closed,
        "judged": closed & df["deadline_at"].notna(), "on_time_n": live & df["on_time"],
        "overdue_n": live & df["overdue"], "deadline_n": live & df["has_deadline"],
        "no_addr": live & (df["addr"] == ""), "closed_hours": df["hours"].where(closed)},
        index=df.index).astype({c: "int64" for c in _FIGURES})


def _figures(sums: pd.DataFrame, median: pd.Series, recurrent: pd.Series) -> pd.DataFrame:
    def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
        return (num / den.where(den > 0)).astype(float)

    return pd.DataFrame({
        "cases": sums["n"], "voided": sums["void"], "closed": sums["closed_n"],
        "closure_rate": ratio(sums["closed_n"], sums["n"]), "on_time": sums["on_time_n"],
        "on_time_rate": ratio(sums["on_time_n"], sums["judged"]), "overdue": sums["overdue_n"],
        "overdue_rate": ratio(sums["overdue_n"], sums["deadline_n"]),
        "median_hours": median.astype(float), "recurrent_groups": recurrent.astype("int64"),
        "no_address": sums["no_addr"]}, index=sums.index)


def _summary(df: pd.DataFrame, recur: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The :data:`SUMMARY_COLUMNS` over all of ``df`` (no ``keys``) or per group of ``keys``;
    a recurrence group counts where its latest case is."""
    ind = _indicators(df)
    if not keys:
        sums = ind[list(_FIGURES)].sum().to_frame().T
        median = pd.Series([ind["closed_hours"].median()])
        figures = _figures(sums, median, pd.Series([len(recur)]))
        return figures.reset_index(drop=True)[list(SUMMARY_COLUMNS)]
    if df.empty:
        extra = ["community"] if "community_code" in keys else []
        return pd.DataFrame(columns=[*keys, *extra, *SUMMARY_COLUMNS])
    groups = ind.groupby([df[k] for k in keys], sort=True)
    sums, median = groups[list(_FIGURES)].sum(), groups["closed_hours"].median()
    counted = recur.groupby(keys).size() if len(recur) else pd.Series(dtype="int64")
    figures = _figures(sums, median, counted.reindex(sums.index, fill_value=0))
    if "community_code" in keys:
        figures.insert(0, "community", df.groupby([df[k] for k in keys], sort=True)["community"]
                       .first())
    out = figures.reset_index()
    return out.sort_values(["cases", *keys], ascending=[False, *[True] * len(keys)],
                           ignore_index=True)


def _counts(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    live = df[~df["is_void"]]
    if live.empty:
        return pd.DataFrame(columns=[*cols, "count"])
    out = live.groupby(cols, sort=True).size().reset_index(name="count")
    return out.sort_values(["squad", "count"], ascending=[True, False], ignore_index=True)


def patrol_coverage(communities: pd.DataFrame, visits: pd.DataFrame, *, last_day: date,
                    stale_days: int) -> pd.DataFrame:
    """Per community, the last visit on or before ``last_day`` and whether it is stale.

    Parameters
    ----------
    communities : DataFrame
        ``code``, ``name``, ``squad``.
    visits : DataFrame
        ``community_code``, ``visit_date`` (dates; e.g. the planned visits of stored plans).
    last_day : date
        The period's last day.
    stale_days : int
        A community not visited in the ``stale_days`` days up to ``last_day`` (inclusive) is
        stale; so is one never visited.

    Returns
    -------
    DataFrame
        ``squad``, ``community_code``, ``community``, ``last_visit``, ``days_since`` (NaN when
        never), ``stale``; stale first, then longest unvisited.
    """
    cols = ["squad", "community_code", "community", "last_visit", "days_since", "stale"]
    if stale_days < 1:
        raise InputError("未巡查天数 N 至少为 1。")
    if communities.empty:
        return pd.DataFrame(columns=cols)
    v = pd.DataFrame(visits, columns=["community_code", "visit_date"])
    v = v[pd.to_datetime(v["visit_date"]).dt.date <= last_day] if len(v) else v
    last = (pd.to_datetime(v["visit_date"]).dt.date.groupby(v["community_code"].astype(str)).max()
            if len(v) else pd.Series(dtype=object))
    rows = []
    for r in communities.itertuples():
        seen = last.get(str(r.code))
        days = (last_day - seen).days if seen is not None else float("nan")
        rows.append({"squad": r.squad, "community_code": str(r.code), "community": r.name,
                     "last_visit": seen, "days_since": days,
                     "stale": seen is None or days >= stale_days})
    out = pd.DataFrame(rows, columns=cols)
    order = out["days_since"].fillna(float("inf"))
    return out.assign(_o=order).sort_values(["stale", "_o", "community_code"],
                                            ascending=[False, False, True],
                                            ignore_index=True).drop(columns="_o")


def bureau_stats(cases: pd.DataFrame, *, period_start: date, period_end: date, tz: str,
                 as_of: datetime | None = None, communities: pd.DataFrame | None = None,
                 visits: pd.DataFrame | None = None, min_repeats: int = 3,
                 stale_days: int = 7) -> BureauStats:
    """Compute the bureau's figures for the cases reported from ``period_start`` through
    ``period_end`` (both inclusive, days in zone ``tz``).

    Parameters
    ----------
    cases : DataFrame
        The case contract (see the module docstring); other rows outside the period are ignored.
    period_start, period_end : date
        First and last day of the period (inclusive).
    tz : str
        Zone of the days (e.g. ``Asia/Shanghai``).
    as_of : datetime, optional
        When open cases are judged overdue; default the end of the period or now, whichever
        is earlier.
    communities : DataFrame, optional
        ``code``, ``name``, ``squad``: the communities whose patrol coverage is reported.
    visits : DataFrame, optional
        ``community_code``, ``visit_date``: visits for the coverage table.
    min_repeats : int
        Cases at one address and category that make a recurrence group (运城: 3).
    stale_days : int
        N of "communities not visited in N days".

    Returns
    -------
    BureauStats

    Raises
    ------
    InputError
        The period ends before it starts, a required column is missing, or ``min_repeats`` < 2.
    """
    if period_end < period_start:
        raise InputError(f"统计期结束日 {period_end} 早于开始日 {period_start}；请调换或改正。")
    if min_repeats < 2:
        raise InputError("复发至少要 2 件（通常为 3 件）。")
    start = pd.Timestamp(period_start).tz_localize(tz)
    end = pd.Timestamp(period_end + timedelta(days=1)).tz_localize(tz)
    judged = pd.Timestamp(as_of) if as_of is not None else min(end, pd.Timestamp.now(tz=tz))
    if judged.tzinfo is None:
        judged = judged.tz_localize(tz)
    df = _prepared(cases, start, end, judged)
    recur = _recurrence(df, min_repeats)
    coverage = patrol_coverage(
        communities if communities is not None else pd.DataFrame(columns=["code", "name", "squad"]),
        visits if visits is not None else pd.DataFrame(columns=["community_code", "visit_date"]),
        last_day=period_end, stale_days=stale_days)
    return BureauStats(
        period_start=period_start, period_end=period_end,
        total=_summary(df, recur, []), by_squad=_summary(df, recur, ["squad"]),
        by_community=_summary(df, recur, ["squad", "community_code"]),
        by_category=_counts(df, ["squad", "category", "category_name"]),
        by_source=_counts(df, ["squad", "source"]), recurrence=recur, coverage=coverage)
