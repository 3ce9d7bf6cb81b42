"""Patrol-effort-aware hotspots: rank places by cases per patrol-hour, not by raw counts.

In 城管 most cases are found by the squads themselves (巡查发现). A ranking built from raw counts
sends the patrols back to where they already were, and the counts grow there *because* they went.
This module corrects for that with the effort the service knows about (planned and confirmed
visits):

* **Discovery source.** Each case's source text (``来源``: 巡查发现, 12345热线, 市民投诉, 视频发现,
  上级交办, 监督员上报 …) maps to one of :data:`DISCOVERY_KINDS` through ``geo/data/sources.csv``
  (:func:`default_sources`). Only ``patrol`` depends on where the squads went; the other kinds
  (including 监督员上报 / 数字城管, found by supervisors who walk their own grid) arrive whatever the
  squads do and are counted as they are. **An unknown or empty source is treated as a complaint**
  (counted as it is) and :class:`EffortScores` says how many and which texts.
* **Exposure.** :func:`patrol_exposure` sums patrol-hours per place (a community, a grid cell, or
  any key column) from effort records: ``duration_s`` (seconds), else ``service_s``, else ``start``
  and ``end`` (times), else ``arrive_s`` and ``depart_s``. **A record with no duration is an
  error** (:class:`~geo.errors.InputError` naming its rows) unless ``default_duration_s`` is given;
  then those records get that duration and the result notes how many did.
* **Scores.** :func:`exposure_aware_scores` counts effort-independent cases per place as they are
  and turns patrol-found cases into a rate per patrol-hour with Gamma–Poisson (empirical Bayes)
  shrinkage toward the district rate ``r0 = Σ patrol cases / Σ patrol-hours``::

      rate_i  = (r0 · k + y_i) / (k + h_i)          k = prior_hours (default 4 h)
      score_i = other_i + rate_i · H                H = reference_hours (default: mean hours per place)

  ``score`` is the expected number of cases at the place if every place were patrolled equally
  (``H`` hours); 1 case after 0.1 patrol-hours stays near the district rate instead of exploding.
* **Rotation floor.** :func:`rotation_floor` raises every place not visited in ``max_gap_days``
  to at least a floor priority, so that no community drops out of the rotation for ever.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.analysis.places import place_of
from geo.analysis.sources import (
    EFFORT_KINDS,
    SourceVocabulary,
    default_sources,
)
from geo.errors import InputError
from geo.grid import GridSpec

DEFAULT_PRIOR_HOURS = 4.0
"""Prior weight of the district rate, in patrol-hours (the shrinkage strength ``k``)."""

DEFAULT_MAX_GAP_DAYS = 14.0
"""A place not visited for this many days gets the rotation floor."""

def _labels(index: Iterable[Hashable], limit: int = 10) -> str:
    items = [str(i) for i in index]
    return "、".join(items[:limit]) + (f" 等 {len(items)} 条" if len(items) > limit else "")


@dataclass(frozen=True)
class PatrolExposure:
    """Patrol-hours per place, from :func:`patrol_exposure`.

    Attributes
    ----------
    hours : pandas.Series
        Patrol-hours per place (``patrol_hours``), places in first-seen order.
    last_visit : pandas.Series
        Latest visit time per place (``NaT`` when the records carry no time).
    n_records : int
        Records counted.
    notes : tuple of str
        What was assumed or left out, in Chinese (defaulted durations, records without a place).
    """

    hours: pd.Series
    last_visit: pd.Series
    n_records: int
    notes: tuple[str, ...] = ()

    @property
    def total_hours(self) -> float:
        """Patrol-hours over all places."""
        return float(self.hours.sum())


def _times(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    try:
        return pd.to_datetime(values, errors="coerce", format="mixed")
    except (TypeError, ValueError):  # mixed time zones
        return pd.to_datetime(values, errors="coerce", format="mixed", utc=True)


def _given(values: pd.Series) -> pd.Series:
    return values.notna() & (values.astype(str).str.strip() != "")


def _durations(visits: pd.DataFrame) -> tuple[pd.Series, dict[str, list[Hashable]]]:
    """Seconds per record (NaN where missing) and the rows of each kind of problem."""
    dur = pd.Series(np.nan, index=visits.index, dtype=float)
    bad: dict[str, list[Hashable]] = {"unreadable": [], "negative": []}

    def fill(seconds: pd.Series, raw_given: pd.Series) -> None:
        take = dur.isna() & raw_given
        unreadable = take & ~np.isfinite(seconds.to_numpy(dtype=float))
        bad["unreadable"] += list(visits.index[unreadable.to_numpy()])
        dur[take & ~unreadable] = seconds[take & ~unreadable]

    for col in ("duration_s", "service_s"):
        if col in visits.columns:
            fill(pd.to_numeric(visits[col], errors="coerce").astype(float), _given(visits[col]))
    for a, b, span in (("start", "end", True), ("arrive_s", "depart_s", False)):
        if a in visits.columns and b in visits.columns:
            both = _given(visits[a]) & _given(visits[b])
            if span:
                secs = (_times(visits[b]) - _times(visits[a])).dt.total_seconds()
            else:
                secs = (pd.to_numeric(visits[b], errors="coerce")
                        - pd.to_numeric(visits[a], errors="coerce"))
            fill(secs.astype(float), both)
    bad["negative"] = list(visits.index[(dur < 0).to_numpy()])
    dur[dur < 0] = np.nan
    return dur, bad


def patrol_exposure(visits: pd.DataFrame, *, key: str | None = None,
                    grid: GridSpec | gpd.GeoDataFrame | None = None,
                    communities: gpd.GeoDataFrame | None = None, community_key: str = "code",
                    default_duration_s: float | None = None) -> PatrolExposure:
    """Patrol-hours per place from effort records (planned stops, confirmed visits).

    Parameters
    ----------
    visits : DataFrame or GeoDataFrame
        One row per visit: its place (see :func:`place_of`) and its duration — ``duration_s``
        (seconds), else ``service_s``, else ``start``/``end`` (times), else
        ``arrive_s``/``depart_s`` (seconds). ``end`` (else ``start``, else ``date``) dates the
        visit for :func:`rotation_floor`.
    key, grid, communities, community_key
        Where each visit was, as in :func:`place_of` (exactly one of the first three).
    default_duration_s : float, optional
        Duration of a record that has none. When omitted, such a record is an error.

    Returns
    -------
    PatrolExposure

    Raises
    ------
    InputError
        Records with no duration (and no ``default_duration_s``), an unreadable or negative
        duration, an end before its start, or an invalid place option. Every bad row is listed.
    """
    labels = visits.index
    visits = visits.reset_index(drop=True)  # positions: a repeated index label must not matter
    dur, bad = _durations(visits)
    missing = dur.isna()
    for key_, rows in bad.items():
        missing[rows] = False
        bad[key_] = list(labels[rows])
    notes: list[str] = []
    problems: list[str] = []
    if bad["unreadable"]:
        problems.append(f"记录（行号）{_labels(bad['unreadable'])} 的时长无法识别；"
                        "duration_s/service_s 请填秒数，start/end 请填日期时间。")
    if bad["negative"]:
        problems.append(f"记录（行号）{_labels(bad['negative'])} 的时长为负（结束早于开始）；"
                        "请改正开始、结束时间。")
    if missing.any():
        rows = list(labels[missing.to_numpy()])
        if default_duration_s is None:
            problems.append(f"记录（行号）{_labels(rows)} 没有时长；请填写 duration_s（秒）、"
                            "service_s，或 start 和 end（开始、结束时间），"
                            "或指定默认时长 default_duration_s。")
        elif not np.isfinite(default_duration_s) or default_duration_s < 0:
            raise InputError(f"默认时长 default_duration_s={default_duration_s} 无效；请使用不小于 0 的秒数。")
        else:
            dur[missing] = float(default_duration_s)
            notes.append(f"{len(rows)} 条巡查记录没有时长，按默认 {default_duration_s / 60:g} 分钟计。")
    if problems:
        raise InputError("巡查记录有问题：\n  - " + "\n  - ".join(problems))
    place = place_of(visits, key=key, grid=grid, communities=communities,
                     community_key=community_key, what="巡查记录")
    nowhere = place.isna()
    if nowhere.any():
        notes.append(f"{int(nowhere.sum())} 条巡查记录没有地点或不在任何地点内，未计入巡查时长。")
    when = pd.Series(pd.NaT, index=visits.index)
    for col in ("end", "start", "date"):
        if col in visits.columns:
            when = when.fillna(_times(visits[col])) if when.notna().any() else _times(visits[col])
    keep = ~nowhere
    frame = pd.DataFrame({"place": place[keep], "hours": dur[keep] / 3600.0, "when": when[keep]})
    grouped = frame.groupby("place", sort=False)
    hours = grouped["hours"].sum().rename("patrol_hours")
    last = grouped["when"].max().rename("last_visit")
    return PatrolExposure(hours=hours, last_visit=last, n_records=int(keep.sum()),
                          notes=tuple(notes))


@dataclass(frozen=True)
class EffortScores:
    """Exposure-aware scores per place, from :func:`exposure_aware_scores`.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by place, sorted by ``rank``: ``other_cases`` (effort-independent, counted as
        they are), ``patrol_cases``, ``patrol_hours``, ``patrol_rate`` (shrunk cases per
        patrol-hour), ``raw_count`` (all cases), ``score`` (expected cases at equal effort) and
        ``rank`` (1 = highest; ties keep the place order).
    district_rate : float
        Patrol-found cases per patrol-hour over the district.
    prior_hours, reference_hours : float
        The shrinkage strength ``k`` and the equal effort ``H`` used.
    notes : tuple of str
        What was assumed, in Chinese (unknown sources treated as complaints, cases left out).
    """

    table: pd.DataFrame
    district_rate: float
    prior_hours: float
    reference_hours: float
    notes: tuple[str, ...] = ()

    @property
    def scores(self) -> pd.Series:
        """``score`` per place."""
        return self.table["score"]


def _ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(order.size, dtype=np.int64)
    ranks[order] = np.arange(1, order.size + 1)
    return ranks


def _kinds(cases: pd.DataFrame, source_column: str, vocabulary: SourceVocabulary,
           notes: list[str]) -> pd.Series:
    if source_column not in cases.columns:
        notes.append(f"案件没有来源列「{source_column}」：全部按投诉类原样计数，"
                     "即按原始案件数排序，没有巡查时长校正。")
        return pd.Series("complaint", index=cases.index, dtype=object)
    kinds = vocabulary.resolve_many(cases[source_column])
    unknown = kinds.isna()
    if unknown.any():
        texts = [str(t) for t in pd.unique(cases.loc[unknown, source_column].astype(object))
                 if _given(pd.Series([t])).iloc[0]]
        shown = "、".join(f"「{t}」" for t in texts[:5]) + (" 等" if len(texts) > 5 else "")
        notes.append(f"{int(unknown.sum())} 条案件的来源未知或为空"
                     f"{'（' + shown + '）' if shown else ''}，按投诉类原样计数（不按巡查时长校正）；"
                     "如是巡查发现，请在来源中写「巡查发现」。")
    return kinds.fillna("complaint")


def exposure_aware_scores(
    cases: pd.DataFrame, exposure: PatrolExposure | pd.Series, *, key: str | None = None,
    grid: GridSpec | gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None, community_key: str = "code",
    places: Sequence[Hashable] | None = None, prior_hours: float = DEFAULT_PRIOR_HOURS,
    reference_hours: float | None = None, source_column: str = "source",
    vocabulary: SourceVocabulary | None = None,
) -> EffortScores:
    """Expected cases per place at equal patrol effort (see the module docstring for the formula).

    Parameters
    ----------
    cases : DataFrame or GeoDataFrame
        The cases of the same period as ``exposure``, with their place (see :func:`place_of`)
        and their source text in ``source_column``.
    exposure : PatrolExposure or pandas.Series
        Patrol-hours per place (:func:`patrol_exposure`).
    key, grid, communities, community_key
        Where each case is, as in :func:`place_of`; use the same places as ``exposure``.
    places : sequence, optional
        Every place to score (e.g. all community codes or grid ``cell_id``), so that places with
        neither cases nor patrols are ranked too; default: the places of ``exposure`` and cases.
    prior_hours : float
        Shrinkage strength ``k`` in patrol-hours (> 0).
    reference_hours : float, optional
        Equal effort ``H`` per place; default: mean patrol-hours over the scored places.
    source_column : str
        Column of the cases' source text (or kind codes).
    vocabulary : SourceVocabulary, optional
        Default: :func:`default_sources`.

    Returns
    -------
    EffortScores

    Raises
    ------
    InputError
        No patrol-hours at all (nothing to correct with: rank without ``--effort``), negative or
        missing hours, or a non-positive ``prior_hours``/``reference_hours``.
    """
    if not np.isfinite(prior_hours) or prior_hours <= 0:
        raise InputError(f"prior_hours={prior_hours} 无效；请使用大于 0 的小时数，例如 4。")
    hours_in = exposure.hours if isinstance(exposure, PatrolExposure) else exposure
    hours_in = pd.to_numeric(hours_in, errors="coerce")
    if bool((hours_in.isna() | (hours_in < 0)).any()):
        raise InputError("巡查时长中有空值或负数；请改正巡查记录。")
    notes: list[str] = list(exposure.notes) if isinstance(exposure, PatrolExposure) else []
    cases = cases.reset_index(drop=True)  # positions: a repeated index label must not matter
    kinds = _kinds(cases, source_column, vocabulary or default_sources(), notes)
    place = place_of(cases, key=key, grid=grid, communities=communities,
                     community_key=community_key, what="案件")
    universe = list(places) if places is not None else list(
        dict.fromkeys([*hours_in.index, *place.dropna()]))
    inside = place.notna() & place.isin(universe)
    if (~inside).any():
        notes.append(f"{int((~inside).sum())} 条案件没有地点或不在评分范围内，未计入。")
    patrol = kinds.isin(EFFORT_KINDS)
    idx = pd.Index(universe, name="place")
    y = place[inside & patrol].value_counts().reindex(idx, fill_value=0).astype(float)
    other = place[inside & ~patrol].value_counts().reindex(idx, fill_value=0).astype(float)
    h = hours_in.reindex(idx, fill_value=0.0).astype(float)
    total_h = float(h.sum())
    if total_h <= 0:
        raise InputError("巡查记录的总时长为 0（或都不在评分范围内），无法按巡查时长校正；"
                         "请提供巡查记录（计划的巡查点及其时长），或不使用巡查时长（--effort）。")
    unrecorded = int(((y > 0) & (h == 0)).sum())
    if unrecorded:
        notes.append(f"{unrecorded} 个地点有巡查发现的案件却没有巡查记录，"
                     f"按先验 {prior_hours:g} 小时估计其发现率；请检查巡查记录是否完整。")
    r0 = float(y.sum()) / total_h
    ref = float(reference_hours) if reference_hours is not None else total_h / len(idx)
    if not np.isfinite(ref) or ref <= 0:
        raise InputError(f"reference_hours={reference_hours} 无效；请使用大于 0 的小时数。")
    rate = (r0 * prior_hours + y) / (prior_hours + h)
    score = other + rate * ref
    table = pd.DataFrame({"other_cases": other.astype(int), "patrol_cases": y.astype(int),
                          "patrol_hours": h, "patrol_rate": rate,
                          "raw_count": (other + y).astype(int), "score": score}, index=idx)
    table["rank"] = _ranks(score.to_numpy())
    return EffortScores(table=table.sort_values("rank", kind="stable"), district_rate=r0,
                        prior_hours=float(prior_hours), reference_hours=ref, notes=tuple(notes))


def rotation_floor(priority: pd.Series, last_visit: pd.Series, *,
                   at: str | date | datetime | pd.Timestamp,
                   max_gap_days: float = DEFAULT_MAX_GAP_DAYS, floor: float | None = None,
                   quantile: float = 0.9) -> pd.DataFrame:
    """Give every place not visited in ``max_gap_days`` at least a floor priority.

    Parameters
    ----------
    priority : pandas.Series
        Priority per place (e.g. :attr:`EffortScores.scores`).
    last_visit : pandas.Series
        Latest visit time per place (e.g. :attr:`PatrolExposure.last_visit`); a place absent
        from it, or ``NaT``, was never visited.
    at : date-like
        The planning day.
    max_gap_days : float
        Days without a visit after which a place is overdue.
    floor : float, optional
        The minimum priority of an overdue place; default: the ``quantile`` of ``priority``.
    quantile : float
        Used when ``floor`` is omitted (0.9: an overdue place ranks with the top tenth).

    Returns
    -------
    pandas.DataFrame
        On ``priority``'s index: ``priority`` (as given), ``days_since`` (inf: never),
        ``overdue`` (bool) and ``floored`` (``max(priority, floor)`` where overdue).
    """
    if not np.isfinite(max_gap_days) or max_gap_days <= 0:
        raise InputError(f"max_gap_days={max_gap_days} 无效；请使用大于 0 的天数，例如 14。")
    ts = pd.Timestamp(at)  # type: ignore[arg-type]
    last = _times(last_visit.reindex(priority.index))
    tz = getattr(last.dt, "tz", None)
    if tz is not None and ts.tzinfo is None:
        ts = ts.tz_localize(tz)
    elif tz is None and ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    days = ((ts - last) / pd.Timedelta(days=1)).astype(float).fillna(np.inf)
    overdue = days >= max_gap_days
    value = float(priority.quantile(quantile)) if floor is None else float(floor)
    floored = priority.astype(float).where(~overdue, np.maximum(priority.astype(float), value))
    return pd.DataFrame({"priority": priority.astype(float), "days_since": days,
                         "overdue": overdue, "floored": floored}, index=priority.index)

