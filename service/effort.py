"""Patrol effort the service knows (confirmed visits, stored plans) and the exposure-aware ranking
of hotspots and forecast cells built on it (:mod:`geo.analysis.effort_zones`).

:func:`stored_effort` reads the effort of a period: the **confirmed visits** (到达确认) when the
squads have any in it, else the **planned stops** of the stored plans. A confirmed visit takes
its duration (``service_s``) and, when the phone gave none, its position from the stop of the
stored plan; a visit whose stop is no longer in a plan gets the median duration of the others
(and a note says how many).

:func:`rank_hotspots` and :func:`rank_cells` apply the ranking and say which one was used:
``("exposure" | "counts", notes)``, with :data:`geo.labels.RANKING_NAMES` as the words. Without
effort data, or when it cannot be used (e.g. no patrol-hour inside the area), they keep the
counts and say why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import select

from geo.analysis.effort_zones import (
    EffortAdjustment,
    effort_adjustment,
    effort_table,
    patrol_found,
    rank_cells_by_exposure,
    rank_hotspots_by_exposure,
)
from geo.errors import InputError
from geo.labels import RANKING_NAMES
from service.models import ConfirmedVisit, Plan
from service.storage import Storage

DEFAULT_VISIT_S = 1800.0
"""Duration of a confirmed visit whose stop is in no stored plan, when no other has one."""


@dataclass(frozen=True)
class Ranked:
    """A ranked layer and how it was ranked.

    Attributes
    ----------
    frame : GeoDataFrame
        Hotspots or cells, sorted by ``rank``.
    ranking : str
        ``exposure`` or ``counts`` (:data:`geo.labels.RANKING_NAMES`).
    notes : tuple of str
        What was assumed or why the counts were kept, in Chinese.
    effort : str
        Where the effort came from (``confirmed``, ``planned``, ``file`` or ``none``).
    """

    frame: gpd.GeoDataFrame
    ranking: str
    notes: tuple[str, ...] = ()
    effort: str = "none"

    @property
    def label(self) -> str:
        """The ranking in Chinese."""
        return RANKING_NAMES[self.ranking]

    def members(self) -> dict[str, Any]:
        """Members a GeoJSON response carries: ``ranking``, ``ranking_label``, ``notes``."""
        return {"ranking": self.ranking, "ranking_label": self.label, "effort": self.effort,
                "notes": list(self.notes)}


def _plans(storage: Storage, squads: Sequence[str] | None, start: date, end: date,
           days: set[tuple[str, date]] | None = None) -> list[Any]:
    """Stored plans of ``[start, end)`` (only the ``(squad, day)`` pairs of ``days`` if given)."""
    stmt = select(Plan.squad_id, Plan.plan_date, Plan.data).where(
        Plan.plan_date >= start, Plan.plan_date < end)
    if squads is not None:
        stmt = stmt.where(Plan.squad_id.in_(tuple(squads)))
    if days is not None:
        stmt = stmt.where(Plan.plan_date.in_(sorted({d for _, d in days})),
                          Plan.squad_id.in_(sorted({s for s, _ in days})))
    with storage.begin() as session:
        rows = list(session.execute(stmt).all())
    return rows if days is None else [r for r in rows if (r[0], r[1]) in days]


def stored_effort(storage: Storage, squads: Sequence[str] | None, start: date, end: date
                  ) -> tuple[pd.DataFrame, str, tuple[str, ...]]:
    """Effort records of ``squads`` on the days ``[start, end)``: confirmed visits, else planned.

    Returns the records (:func:`geo.analysis.effort_zones.effort_table` columns), where they
    came from (``confirmed``, ``planned`` or ``none``) and notes.
    """
    stmt = select(ConfirmedVisit).where(ConfirmedVisit.plan_date >= start,
                                        ConfirmedVisit.plan_date < end)
    if squads is not None:
        stmt = stmt.where(ConfirmedVisit.squad_id.in_(tuple(squads)))
    with storage.begin() as session:
        visits = [(v.squad_id, v.plan_date, v.stop_id, v.lon, v.lat, v.community_code,
                   v.confirmed_at) for v in session.scalars(stmt).all()]
    days = {(v[0], v[1]) for v in visits} or None  # with visits, only their days' plans
    stops: dict[tuple[str, date, str], dict[str, Any]] = {}
    for squad_id, day, data in _plans(storage, squads, start, end, days):
        for row in effort_table(data).to_dict("records") if data else []:
            stops[(squad_id, day, str(row["stop_id"]))] = row
    if not visits:
        rows = list(stops.values())
        frame = pd.DataFrame(rows, columns=["stop_id", "kind", "community_code", "lon", "lat",
                                            "service_s", "date"])
        return frame, ("planned" if rows else "none"), ()
    out = []
    for squad_id, day, stop_id, lon, lat, code, at in visits:
        plan = stops.get((squad_id, day, stop_id), {})
        out.append({"stop_id": stop_id, "community_code": code or plan.get("community_code"),
                    "lon": lon if lon is not None else plan.get("lon"),
                    "lat": lat if lat is not None else plan.get("lat"),
                    "service_s": plan.get("service_s"), "date": at})
    frame = pd.DataFrame(out)
    missing = frame["service_s"].isna()
    notes: tuple[str, ...] = ()
    if missing.any():
        known = pd.to_numeric(frame["service_s"], errors="coerce").dropna()
        fill = float(known.median()) if len(known) else DEFAULT_VISIT_S
        frame.loc[missing, "service_s"] = fill
        notes = (f"{int(missing.sum())} 条到达确认找不到对应计划的站点时长，"
                 f"按 {fill / 60:g} 分钟计。",)
    return frame, "confirmed", notes


def _fallback(frame: gpd.GeoDataFrame, why: str, effort: str = "none") -> Ranked:
    return Ranked(frame, "counts", (why,), effort)


def _adjustment(cases: gpd.GeoDataFrame, records: pd.DataFrame, *,
                communities: gpd.GeoDataFrame | None, crs: str | None,
                default_duration_s: float | None, strict: bool
                ) -> tuple[EffortAdjustment | None, str]:
    """:func:`effort_adjustment`, or ``(None, why)`` when the records cannot be used and
    ``strict`` is false (``strict``: the error is raised)."""
    try:
        return effort_adjustment(cases, records, communities=communities, crs=crs,
                                 default_duration_s=default_duration_s), ""
    except InputError as exc:
        if strict:
            raise
        return None, str(exc)


def rank_hotspots(found: gpd.GeoDataFrame, cases: gpd.GeoDataFrame,
                  records: pd.DataFrame | None, *, effort: str = "file",
                  communities: gpd.GeoDataFrame | None = None, crs: str | None = None,
                  strict: bool = True, notes: Sequence[str] = (),
                  default_duration_s: float | None = None) -> Ranked:
    """Hotspots ranked by exposure when there are effort records, else by their order.

    ``strict``: an unusable effort record (no duration …) raises; otherwise the counts are
    kept and the note says why (the service's default must not fail on a bad stored record).
    ``default_duration_s``: the duration of a record that has none (default: an error).
    """
    if records is None or len(records) == 0:
        return _fallback(found, "没有巡查记录（计划或到达确认），按案件数排序。")
    if len(found) == 0:
        return Ranked(found, "exposure", tuple(notes), effort)
    adj, why = _adjustment(cases, records, communities=communities, crs=crs,
                           default_duration_s=default_duration_s, strict=strict)
    if adj is None:
        return _fallback(found, f"巡查记录无法使用，按案件数排序：{why}", effort)
    patrol, _ = patrol_found(cases)
    ranked = rank_hotspots_by_exposure(found, cases, adj, patrol)
    return Ranked(ranked, "exposure", (*notes, *adj.notes), effort)


def rank_cells(cells: gpd.GeoDataFrame, cases: gpd.GeoDataFrame, records: pd.DataFrame | None,
               *, effort: str = "file", communities: gpd.GeoDataFrame | None = None,
               crs: str | None = None, strict: bool = True, notes: Sequence[str] = (),
               default_duration_s: float | None = None) -> Ranked:
    """Forecast cells (with ``score_patrol``/``score_other``) ranked by exposure, else as they are.

    ``cases`` are the training cases (before the origin); see :func:`rank_hotspots` for ``strict``.
    """
    plain = cells.drop(columns=["score_patrol", "score_other"], errors="ignore")
    if records is None or len(records) == 0:
        return _fallback(plain, "没有巡查记录（计划或到达确认），按预测的案件数排序。")
    if "score_patrol" not in cells.columns:  # effort stored while the forecast was made
        return _fallback(plain, "预测时还没有巡查记录，按预测的案件数排序；请稍后刷新。", effort)
    adj, why = _adjustment(cases, records, communities=communities, crs=crs,
                           default_duration_s=default_duration_s, strict=strict)
    if adj is None:
        return _fallback(plain, f"巡查记录无法使用，按预测的案件数排序：{why}", effort)
    ranked = rank_cells_by_exposure(cells, adj)
    return Ranked(ranked.drop(columns=["score_patrol", "score_other"]), "exposure",
                  (*notes, *adj.notes), effort)


def patrol_mask(cases: pd.DataFrame, storage: Storage | None = None,
                squads: Sequence[str] | None = None, span: tuple[date, date] | None = None
                ) -> np.ndarray | None:
    """Whether each case was found by patrol (unknown sources: not); with ``storage`` and
    ``span``, ``None`` when the period has no plan and no confirmed visit (nothing to split
    the forecast for)."""
    if storage is not None and span is not None and not has_effort(storage, squads, *span):
        return None
    return patrol_found(cases)[0]


def has_effort(storage: Storage, squads: Sequence[str] | None, start: date, end: date) -> bool:
    """Whether ``squads`` have a stored plan or a confirmed visit on the days ``[start, end)``."""
    with storage.begin() as session:
        for model in (Plan, ConfirmedVisit):
            stmt = select(model.id).where(model.plan_date >= start, model.plan_date < end)
            if squads is not None:
                stmt = stmt.where(model.squad_id.in_(tuple(squads)))
            if session.scalar(stmt.limit(1)) is not None:
                return True
    return False


def period_cases(cases: gpd.GeoDataFrame, records: pd.DataFrame, at: pd.Timestamp
                 ) -> gpd.GeoDataFrame:
    """The cases before ``at`` on the days the effort records cover (all, if they carry no date).

    The zone factors compare a period's patrol-found cases with the same period's patrol-hours.
    """
    when = pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns]")
    for col in ("date", "start", "end"):
        if col in records.columns:
            t = pd.to_datetime(records[col], errors="coerce", format="mixed", utc=True)
            when = when.fillna(t.dt.tz_localize(None)) if when.notna().any() else \
                t.dt.tz_localize(None)
    before = cases[cases["reported_at"] < at]
    if not when.notna().any():
        return before
    start = pd.Timestamp(when.min()).normalize()
    tz = getattr(before["reported_at"].dt, "tz", None)
    start = start.tz_localize(tz) if tz is not None else start
    return before[before["reported_at"] >= start]


# ---------------------------------------------------------------- the service's layers

EFFORT_DAYS = 90
"""Days before the forecast origin whose effort and cases set the forecast's zone factors."""


def effort_span(at: pd.Timestamp, days: float) -> tuple[date, date]:
    """Plan days ``[first, last + 1)`` of the ``days`` before ``at`` (the day of ``at`` counts
    when ``at`` is past its midnight)."""
    last = (at - pd.Timedelta(seconds=1)).date()
    return (at - pd.Timedelta(days=days)).date(), last + pd.Timedelta(days=1).to_pytimedelta()


def stored_ranking(kind: str, frame: gpd.GeoDataFrame, cases: gpd.GeoDataFrame,
                   storage: Storage, squads: Sequence[str] | None, start: date, end: date,
                   *, crs: str | None = None) -> Ranked:
    """``frame`` (``kind`` ``hotspots`` or ``cells``) ranked with the stored effort of
    ``[start, end)`` when there is any (never raises on bad stored effort: counts, said why)."""
    records, source, notes = stored_effort(storage, squads, start, end)
    communities = storage.communities(squads=tuple(squads) if squads is not None else None)
    zones = communities if len(communities) else None
    if kind == "hotspots":
        return rank_hotspots(frame, cases, records, effort=source, communities=zones, crs=crs,
                             strict=False, notes=notes)
    return rank_cells(frame, cases, records, effort=source, communities=zones, crs=crs,
                      strict=False, notes=notes)


def layer(kind: str, frame: gpd.GeoDataFrame, cases: gpd.GeoDataFrame,
          storage: Storage | None = None, squads: Sequence[str] | None = None,
          span: tuple[date, date] | None = None, *, crs: str | None = None,
          exposure: bool = True) -> gpd.GeoDataFrame:
    """A service layer (WGS84): ``frame`` ranked by :func:`stored_ranking` when ``exposure``,
    with ``attrs["ranking"]`` (the :meth:`Ranked.members`; ``counts`` without notes when
    ``exposure`` is off)."""
    ranked = (stored_ranking(kind, frame, cases, storage, squads, *span, crs=crs)
              if exposure and storage is not None and span is not None and len(frame) else None)
    if ranked is None:
        ranked = Ranked(frame.drop(columns=["score_patrol", "score_other"], errors="ignore"),
                        "counts")
    out = ranked.frame.to_crs(4326)
    out.attrs["ranking"] = ranked.members()
    return out
