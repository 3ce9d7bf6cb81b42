"""The stops a squad's daily patrol plan may visit, built from hotspots, cases and communities.

Four kinds of stop (``kind``):

* ``热点`` — a case hotspot of the squad (:func:`geo.analysis.hotspots.find_hotspots`), optional, served
  inside its peak hours.
* ``复查`` — re-inspection of an open case (status not 结案/作废) whose handling deadline falls on
  the plan day or has passed: required, served before the deadline (overdue: any time).
* ``疏导点`` — a stall relocation point, optional, served in market hours (06:00–09:00 and
  18:00–22:00, domain.md §4.2).
* ``社区巡查`` — a routine walk through a community at a representative point of its polygon:
  required when the community was last visited ``revisit_days`` or more days ago (or never), so
  that over any ``revisit_days`` days every community of the squad is visited; optional (low
  priority growing with the days since the last visit) otherwise.

Priorities (integers, higher = more worth visiting)::

    热点     10 · (1 + ln(1 + score)) · severity/3 · (1 + 0.5 · min(d, N)/N)   (× 0.5 off-peak)
    复查     10 · severity/3 · (2 if overdue else 1.5)
    疏导点   8 · (1 + ln(1 + weight))
    社区巡查 due: 10 · (1 + min(d, 2N)/N) (never visited: d = 2N); not due: 5 · d/N

``score`` is the hotspot's recency-weighted case count (``score`` or ``recency_score``),
``severity`` the catalogue severity 1–5 of its (dominant) category, ``d`` the days since the
community was last visited (never: N), ``N = revisit_days`` and ``weight`` the relocation
point's demand (``weight``/``demand``/``covered_weight``/``score``; 0 when absent). The log keeps a
hotspot with 80 recent cases from drowning out everything else; staleness raises hotspots in
communities nobody has been to lately.

Windows (when service may *start*) are clipped to the squad's working time (shifts minus lunch
breaks of the available teams) so that service can start and finish inside a shift; at hotspots
and relocation points the service also finishes inside the peak or market hours. Service times: 热点 15 min, 复查 10 min,
疏导点 15 min, 社区巡查 20 min (:data:`SERVICE_S`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.boundaries import Squad
from geo.catalogue import Catalogue, default_catalogue
from geo.crs import WGS84
from geo.errors import InputError
from geo.labels import CLOSED_STATUSES, STOP_KINDS
from geo.planning.clock import (
    DAY_S,
    Interval,
    as_date,
    day_start,
    hhmm,
    hour_windows_s,
    intersect,
    merge_intervals,
    working_intervals,
)
from geo.planning.inputs import (
    communities_working,
    deadlines,
    hotspot_category,
    located,
    number,
    peak_windows,
    text,
)

KINDS = STOP_KINDS
SERVICE_S: dict[str, float] = {"热点": 900.0, "复查": 600.0, "疏导点": 900.0, "社区巡查": 1200.0}
MARKET_HOURS: tuple[tuple[float, float], ...] = ((6.0, 9.0), (18.0, 22.0))
DEFAULT_RECHECKS_PER_TEAM = 4
STOP_COLUMNS = [
    "stop_id", "kind", "priority", "service_s", "windows_s", "required", "community_code",
    "community", "what", "category", "category_name", "checklist_key", "address", "source_id",
    "deadline", "days_since_visit", "lon", "lat", "geometry",
]


@dataclass(frozen=True)
class _Ctx:
    codes: tuple[str, ...]
    names: dict[str, str]
    work: list[Interval]
    day: date
    last_visit: Mapping[str, date]
    revisit_days: int
    catalogue: Catalogue
    crs: Any
    tz: str

    def days_since(self, code: object) -> int | None:
        last = self.last_visit.get(str(code)) if code is not None else None
        return None if last is None else (self.day - last).days

    def staleness(self, code: object) -> float:
        d = self.days_since(code)
        n = self.revisit_days
        return 1.0 + 0.5 * min(n if d is None else d, n) / n

    def windows(self, raw: Sequence[Interval], service_s: float, *, fit: bool = False
                ) -> list[list[float]]:
        """Service-start windows: ``raw`` clipped so that service ends inside working time.

        ``fit``: service must also end inside ``raw`` (peak and market hours), not only start.
        """
        starts = _shrink(self.work, service_s)
        return [[float(lo), float(hi)]
                for lo, hi in intersect(_shrink(raw, service_s) if fit else raw, starts)]


def _shrink(intervals: Sequence[Interval], service_s: float) -> list[Interval]:
    return merge_intervals((lo, hi - service_s) for lo, hi in intervals if hi - service_s >= lo)


def build_stops(
    *,
    squad: Squad | Mapping[str, Any],
    date: date | str,
    communities: gpd.GeoDataFrame,
    hotspots: gpd.GeoDataFrame | None = None,
    open_cases: gpd.GeoDataFrame | None = None,
    relocation_points: gpd.GeoDataFrame | None = None,
    last_visit: Mapping[str, date] | None = None,
    revisit_days: int = 3,
    unavailable_teams: Sequence[str] = (),
    rechecks_per_team: int = DEFAULT_RECHECKS_PER_TEAM,
    routine_optional: bool = True,
    tz: str = "Asia/Shanghai",
    catalogue: Catalogue | None = None,
    working_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """The candidate stops of ``squad`` on ``date`` (see the module docstring for the rules).

    Parameters
    ----------
    squad : Squad or mapping
        ``id``, ``communities`` (codes) and ``teams`` (``shift_start``, ``shift_end``,
        ``break``), as :meth:`geo.boundaries.DefaultArea.squad` gives them.
    date : date or str
        The plan day (local).
    communities : GeoDataFrame
        Community polygons with ``code`` and ``name`` (any CRS).
    hotspots : GeoDataFrame, optional
        :func:`geo.analysis.hotspots.find_hotspots` output (``hotspot_id``, ``score`` or
        ``recency_score``, ``case_count``, ``dominant_category``/``category``,
        ``peak_windows`` or ``peak_hours``; ``community_code`` optional: found spatially).
    open_cases : GeoDataFrame, optional
        Cases (case contract) with ``status`` and ``deadline_at`` (else reported_at + the
        catalogue deadline); closed ones are ignored.
    relocation_points : GeoDataFrame, optional
        Points with an id (``point_id``/``id``/``name``/index), optional ``name`` and demand.
    last_visit : mapping of community code to date, optional
        The last planned visit of each community before ``date``.
    revisit_days : int
        N: every community is visited at least once every N days.
    unavailable_teams : sequence of str
        Team ids off duty today (their shifts do not count as working time).
    rechecks_per_team : int
        At most this many 复查 per available team are required; the rest become optional and
        are listed in ``attrs["warnings"]``.
    routine_optional : bool
        Also offer communities that are not due as low-priority optional 社区巡查 stops.
    tz : str
        Time zone of the plan day.
    catalogue : Catalogue, optional
        Category severities and deadlines (default: the shipped catalogue).
    working_crs : str, optional
        Metric CRS (default: chosen from the communities, EPSG:4547 in Xiaonan).

    Returns
    -------
    GeoDataFrame
        One row per stop (:data:`STOP_COLUMNS`), Point geometry in the working CRS;
        ``attrs["warnings"]`` lists what the planner should know (left-out 复查, hotspots served
        off-peak, unknown communities).

    Raises
    ------
    InputError
        If ``revisit_days`` < 1, the squad has no available team, or inputs lack a CRS.
    """
    if revisit_days < 1:
        raise InputError(f"巡查周期 revisit_days 必须至少为 1 天，实际为 {revisit_days}。")
    comm = communities_working(communities, working_crs)
    squad = Squad.from_mapping(squad)
    teams = [t for t in squad.teams if t.get("id") not in set(unavailable_teams)]
    if not teams:
        raise InputError(f"中队 {squad.id} 今天没有可用的队伍；请检查 --unavailable。")
    codes = squad.communities
    ctx = _Ctx(codes=codes, names=dict(zip(comm["code"], comm["name"], strict=True)),
               work=merge_intervals(iv for t in teams for iv in working_intervals(t)),
               day=as_date(date), last_visit=dict(last_visit or {}),
               revisit_days=int(revisit_days), catalogue=catalogue or default_catalogue(),
               crs=comm.crs, tz=tz)
    warnings: list[str] = []
    missing = [c for c in codes if c not in ctx.names]
    if missing:
        warnings.append(f"中队的社区 {'、'.join(missing)} 不在社区边界数据中，未安排社区巡查。")
    rows = _hotspot_rows(hotspots, comm, ctx, warnings)
    rows += _recheck_rows(open_cases, comm, ctx, warnings, per_team=rechecks_per_team,
                          n_teams=len(teams))
    rows += _relocation_rows(relocation_points, comm, ctx, warnings)
    rows += _routine_rows(comm, ctx, optional=routine_optional)
    out = _frame(rows, ctx.crs)
    out.attrs["warnings"] = warnings
    return out


def _hotspot_rows(hotspots: gpd.GeoDataFrame | None, comm: gpd.GeoDataFrame, ctx: _Ctx,
                  warnings: list[str]) -> list[dict[str, Any]]:
    if hotspots is None or len(hotspots) == 0:
        return []
    rows, off_peak = [], []
    g = located(hotspots, comm, ctx.codes, "热点")
    for k, (_, row) in enumerate(g.iterrows()):
        code = hotspot_category(row, ctx.catalogue)
        name = ctx.catalogue.name(code) if code else "综合"
        score = number(row, ("score", "recency_score", "case_count"), 0.0)
        count = int(number(row, ("case_count",), 0.0))
        severity = ctx.catalogue.severity(code) if code else 2
        prio = 10.0 * (1.0 + math.log1p(max(score, 0.0))) * severity / 3.0
        prio *= ctx.staleness(row["community_code"])
        peaks = peak_windows(row)
        service = SERVICE_S["热点"]
        wins = ctx.windows(hour_windows_s(peaks), service, fit=True) if peaks else []
        hid = text(row, "hotspot_id", f"H{k + 1:02d}")
        peak_text = "、".join(f"{hhmm(lo * 3600)}–{hhmm(hi * 3600 % DAY_S)}" for lo, hi in peaks)
        if not wins:
            wins = ctx.windows([(0.0, 2 * DAY_S)], service)
            if peaks:
                prio *= 0.5
                off_peak.append(hid)
        what = f"{name}热点（近期 {count} 起" + (f"，高峰 {peak_text}）" if peak_text else "）")
        rows.append(_row(ctx, row, kind="热点", stop_id=f"hot-{hid}", prio=prio, wins=wins,
                         what=what, category=code, source_id=hid))
    if off_peak:
        warnings.append(f"热点 {'、'.join(off_peak)} 的高峰时段不在任何班次内，改为班次内巡查（优先级减半）。")
    return rows


def _recheck_rows(cases: gpd.GeoDataFrame | None, comm: gpd.GeoDataFrame, ctx: _Ctx,
                  warnings: list[str], *, per_team: int, n_teams: int) -> list[dict[str, Any]]:
    if cases is None or len(cases) == 0 or "status" not in cases.columns:
        return []
    open_ = cases[cases["status"].notna() & ~cases["status"].isin(CLOSED_STATUSES)]
    if len(open_) == 0:
        return []
    g = located(open_, comm, ctx.codes, "案件")
    if len(g) == 0:
        return []
    start = pd.Timestamp(day_start(ctx.day, ctx.tz))
    due_s = (deadlines(g, ctx.catalogue) - start).dt.total_seconds()
    g = g.assign(_due_s=due_s.to_numpy())
    g = g[g["_due_s"] < DAY_S]
    sev = g["category"].astype(str).map(ctx.catalogue.severity)
    g = g.assign(_sev=sev.to_numpy()).sort_values(["_due_s", "_sev"], ascending=[True, False])
    rows, left_out = [], []
    cap = per_team * n_teams
    first_work = ctx.work[0][0] if ctx.work else 0.0
    service = SERVICE_S["复查"]
    for k, (_, row) in enumerate(g.iterrows()):
        due = float(row["_due_s"])
        overdue = due < first_work + service
        wins = ctx.windows([(0.0, 2 * DAY_S if overdue else due)], service)
        if not wins:
            wins, overdue = ctx.windows([(0.0, 2 * DAY_S)], service), True
        code = text(row, "category")
        case_id = text(row, "case_id", f"case{k}")
        desc = text(row, "description")[:40]
        when = "已超期" if overdue else f"须在 {hhmm(due)} 前复查"
        what = f"复查 {case_id}：{text(row, 'category_name') or ctx.catalogue.name(code)}，{when}"
        what += f"；{desc}" if desc else ""
        prio = 10.0 * int(row["_sev"]) / 3.0 * (2.0 if overdue else 1.5)
        required = k < cap
        if not required:
            left_out.append(case_id)
        rows.append(_row(ctx, row, kind="复查", stop_id=f"chk-{case_id}", prio=prio, wins=wins,
                         what=what, category=code, source_id=case_id, required=required,
                         deadline=start + pd.Timedelta(seconds=due)))
    if left_out:
        warnings.append(
            f"到期复查共 {len(g)} 件，超过必访上限（{n_teams} 组 × 每组 {per_team} 件）的 "
            f"{len(left_out)} 件未列为必访（按优先级择机安排）：{'、'.join(left_out[:10])}"
            + ("……" if len(left_out) > 10 else "")
        )
    return rows


def _relocation_rows(points: gpd.GeoDataFrame | None, comm: gpd.GeoDataFrame, ctx: _Ctx,
                     warnings: list[str]) -> list[dict[str, Any]]:
    if points is None or len(points) == 0:
        return []
    service = SERVICE_S["疏导点"]
    wins = ctx.windows(hour_windows_s(MARKET_HOURS), service, fit=True)
    g = located(points, comm, ctx.codes, "疏导点")
    if not wins:
        if len(g):
            warnings.append("没有队伍在早市（06:00–09:00）或夜市（18:00–22:00）时段上班，未安排疏导点巡查。")
        return []
    rows = []
    for k, (_, row) in enumerate(g.iterrows()):
        pid = text(row, "point_id") or text(row, "id") or text(row, "name") or f"P{k + 1:02d}"
        weight = number(row, ("weight", "demand", "covered_weight", "score"), 0.0)
        name = text(row, "name", pid)
        rows.append(_row(ctx, row, kind="疏导点", stop_id=f"rel-{pid}",
                         prio=8.0 * (1.0 + math.log1p(max(weight, 0.0))), wins=wins,
                         what=f"疏导点「{name}」：早夜市时段巡查、引导摊贩入点经营",
                         category="", source_id=pid))
    return rows


def _routine_rows(comm: gpd.GeoDataFrame, ctx: _Ctx, *, optional: bool) -> list[dict[str, Any]]:
    service = SERVICE_S["社区巡查"]
    wins = ctx.windows([(0.0, 2 * DAY_S)], service)
    if not wins:
        return []
    by_code = comm.set_index("code")
    rows = []
    n = ctx.revisit_days
    for code in ctx.codes:
        if code not in by_code.index:
            continue
        d = ctx.days_since(code)
        due = d is None or d >= n
        if not due and not optional:
            continue
        prio = 10.0 * (1.0 + min(2 * n if d is None else d, 2 * n) / n) if due else 5.0 * d / n  # type: ignore[operator]
        name = str(by_code.at[code, "name"])
        since = "从未巡查" if d is None else f"已 {d} 天未巡查"
        point = by_code.at[code, "geometry"].representative_point()
        rows.append(_row(ctx, {"community_code": code, "geometry": point}, kind="社区巡查",
                         stop_id=f"com-{code}", prio=prio, wins=wins,
                         what=f"{name}日常巡查（{since}）", category="", source_id=code,
                         required=due))
    return rows


def _row(ctx: _Ctx, row: Any, *, kind: str, stop_id: str, prio: float, wins: list[list[float]],
         what: str, category: str, source_id: str, required: bool = False,
         deadline: pd.Timestamp | None = None) -> dict[str, Any]:
    code = row.get("community_code")
    return {
        "stop_id": stop_id, "kind": kind, "priority": max(1, round(prio)),
        "service_s": SERVICE_S[kind], "windows_s": wins, "required": bool(required),
        "community_code": code, "community": ctx.names.get(str(code), text(row, "community")),
        "what": what, "category": category,
        "category_name": ctx.catalogue.name(category) if category else "",
        "checklist_key": category if kind in ("热点", "复查") and category else kind,
        "address": text(row, "address"), "source_id": source_id, "deadline": deadline,
        "days_since_visit": ctx.days_since(code), "geometry": row["geometry"],
    }


def _frame(rows: list[dict[str, Any]], crs: Any) -> gpd.GeoDataFrame:
    if not rows:
        empty: dict[str, list[Any]] = {c: [] for c in STOP_COLUMNS if c != "geometry"}
        return gpd.GeoDataFrame(empty, geometry=[], crs=crs)
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    out = out.drop_duplicates("stop_id").reset_index(drop=True)
    ll = out.geometry.to_crs(WGS84)
    out["lon"], out["lat"] = ll.x.round(7).to_numpy(), ll.y.round(7).to_numpy()
    out["days_since_visit"] = out["days_since_visit"].astype("Int64")
    return gpd.GeoDataFrame(out[STOP_COLUMNS], geometry="geometry", crs=crs)
