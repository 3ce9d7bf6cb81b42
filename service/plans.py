"""Stored daily plans: one Plan row per squad and day, one PlanVisit row per planned visit.

The visits are what makes "days since last visit" real: :func:`last_visits` reads, per
community, the latest plan day before a date on which some stop in that community was planned
(a hotspot, a re-inspection, a relocation point or the routine patrol all count). Re-planning a
squad's day replaces that day's plan and visits.

Travel: a plan follows the streets of the deployment's road network when one is stored
(``xuncha roads import`` → :meth:`Settings.roads_path`) or given (``--roads FILE``), else the
documented straight-line fallback (distance × 1.3). :func:`plan_travel` loads the network once
per file version in the process (a walking and an e-bike model); a network that cannot serve
(unreadable, or a stop no street reaches) is an error unless the caller allows the straight-line
fallback, and the plan's ``travel`` says which model it used.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
from sqlalchemy import delete, func, select

from geo.errors import InputError
from geo.labels import OPEN_STATUSES
from geo.planning.clock import as_date, day_start
from geo.planning.day import build_stops, plan_day
from geo.planning.model import DailyPlan
from geo.planning.travel import TravelChoice, UnreachableError, default_travel, travel_info
from service.models import ConfirmedVisit, Plan, PlanVisit
from service.storage import CaseFilter, Storage

#: Hotspots for a plan are found among the cases of the last four weeks before the plan day.
HISTORY_DAYS = 28
SIM_TAG = "［模拟］"


def save_plan(storage: Storage, plan: DailyPlan, *, created_by: str = "") -> int:
    """Store ``plan`` (replacing any plan of the same squad and day); return the plan's row id.

    Parameters
    ----------
    storage : Storage
    plan : DailyPlan
        From :func:`geo.planning.day.plan_day`; stored as its :meth:`~DailyPlan.to_json` form.
    created_by : str
        User name or ``cli``.
    """
    data = plan.to_json()
    with storage.begin() as session:
        old = session.scalars(select(Plan.id).where(
            Plan.squad_id == plan.squad_id, Plan.plan_date == plan.date)).all()
        if old:
            session.execute(delete(PlanVisit).where(PlanVisit.plan_id.in_(old)))
            session.execute(delete(Plan).where(Plan.id.in_(old)))
            session.flush()
        row = Plan(squad_id=plan.squad_id, plan_date=plan.date, created_by=created_by, data=data)
        session.add(row)
        session.flush()
        session.add_all([
            PlanVisit(plan_id=row.id, squad_id=plan.squad_id, plan_date=plan.date,
                      community_code=v["community_code"], stop_id=v["stop_id"][:64],
                      kind=v["kind"])
            for v in plan.visits_by_community()
        ])
        return int(row.id)


def load_plan(storage: Storage, squad_id: str, day: date | str) -> dict[str, Any] | None:
    """The stored plan of ``squad_id`` on ``day`` as its JSON dict, or None when there is none."""
    with storage.begin() as session:
        row = session.scalar(select(Plan).where(Plan.squad_id == squad_id,
                                                Plan.plan_date == as_date(day)))
        return None if row is None else dict(row.data)


def last_visits(storage: Storage, squad_id: str, before: date | str) -> dict[str, date]:
    """Per community, the last visit day of ``squad_id`` strictly before ``before``.

    Once the squad has confirmed any visit, days from its first confirmation on count only
    confirmed visits (a planned stop nobody reached is not a visit); planned visits
    (:class:`~service.models.PlanVisit`) still count for the days before that.
    """
    day = as_date(before)
    with storage.begin() as session:
        first = session.scalar(select(func.min(ConfirmedVisit.plan_date)).where(
            ConfirmedVisit.squad_id == squad_id))
        planned = select(PlanVisit.community_code, func.max(PlanVisit.plan_date)).where(
            PlanVisit.squad_id == squad_id, PlanVisit.plan_date < day)
        if first is not None:
            planned = planned.where(PlanVisit.plan_date < first)
        rows: list[Any] = list(session.execute(planned.group_by(PlanVisit.community_code)).all())
        rows += session.execute(
            select(ConfirmedVisit.community_code, func.max(ConfirmedVisit.plan_date))
            .where(ConfirmedVisit.squad_id == squad_id, ConfirmedVisit.plan_date < day,
                   ConfirmedVisit.community_code.is_not(None))
            .group_by(ConfirmedVisit.community_code)).all()
    out: dict[str, date] = {}
    for code, d in rows:
        if code is not None and d is not None:
            out[str(code)] = max(out.get(str(code), as_date(d)), as_date(d))
    return out


def plan_dates(storage: Storage, squad_id: str) -> list[date]:
    """Days with a stored plan for ``squad_id``, oldest first."""
    with storage.begin() as session:
        rows = session.scalars(select(Plan.plan_date).where(Plan.squad_id == squad_id)
                               .order_by(Plan.plan_date)).all()
    return [as_date(d) for d in rows]


@dataclass(frozen=True)
class PlanTravel:
    """The travel model of a day's plans: a road network (per mode) or the straight-line fallback.

    ``source`` is the road file's name (None for the fallback); ``note`` says why a network
    was not used when the caller allowed the fallback.
    """

    travel: TravelChoice
    source: str | None = None
    note: str = ""

    @property
    def model(self) -> str:
        """``network`` or ``euclidean``."""
        return str(self.info()["model"])

    def info(self) -> dict[str, Any]:
        """What the plan stores as ``travel`` (:func:`geo.planning.travel.travel_info`)."""
        out = travel_info(self.travel, source=self.source)
        if self.note:
            out["note"] = self.note
            if out["model"] == "euclidean":
                out["label"] = f"直线距离 ×{out['circuity']:g}（路网无法使用）"
        return out

    @property
    def label(self) -> str:
        """Chinese: 路网距离（文件）, 直线距离 ×1.3（未导入路网） or …（路网无法使用）."""
        return str(self.info()["label"])


_NETWORKS: dict[tuple[str, int, int, str, str], dict[str, Any]] = {}
_NETWORKS_LOCK = threading.Lock()


def load_network(path: Path, *, working_crs: str,
                 service_area: gpd.GeoDataFrame | None = None) -> dict[str, Any]:
    """The walking and e-bike :class:`~geo.travel.NetworkTravel` of a road file, cached per version.

    Parameters
    ----------
    path : Path
        The stored network (GraphML) or any road file :func:`geo.io.osm.read_osm_network` reads.
    working_crs : str
        Metric CRS of the plans.
    service_area : GeoDataFrame, optional
        Clip a raw extract to this area (the stored network is already clipped).

    Raises
    ------
    geo.errors.InputError
        The file cannot be read, is not a road network, does not cover the area, or has no
        walkable streets (the message names the file).
    """
    from geo.io.osm import read_osm_network
    from geo.travel import NetworkTravel

    stat = path.stat()
    area_key = "" if service_area is None else ",".join(
        f"{v:.6f}" for v in service_area.to_crs(4326).total_bounds)
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, working_crs, area_key)
    with _NETWORKS_LOCK:
        if key in _NETWORKS:
            return _NETWORKS[key]
        graph = read_osm_network(path, service_area=service_area, keep_largest=True)
        models = {"walk": NetworkTravel(graph, crs=working_crs),
                  "ebike": NetworkTravel(graph, crs=working_crs, mode="ebike")}
        for old in [k for k in _NETWORKS if k[0] == key[0] and k[1:3] != key[1:3]]:
            del _NETWORKS[old]  # an older version of the same file
        _NETWORKS[key] = models
        return models


def plan_travel(*, roads: Path | None = None, stored: Path | None = None, working_crs: str,
                communities: gpd.GeoDataFrame | None = None,
                allow_straight_line: bool = False) -> PlanTravel:
    """The travel model for planning: ``roads`` if given, else ``stored`` if it exists, else straight line.

    Parameters
    ----------
    roads : Path, optional
        A road file to use directly (clipped to ``communities``).
    stored : Path, optional
        The deployment's stored network (default: ``Settings().roads_path()``).
    working_crs : str
    communities : GeoDataFrame, optional
        The service area a raw ``roads`` file is clipped to.
    allow_straight_line : bool
        When the network cannot be loaded, fall back to the straight line (with a note)
        instead of raising.
    """
    if roads is None:
        from service.settings import Settings

        stored = stored if stored is not None else Settings().roads_path()
        if not stored.is_file():
            return PlanTravel(default_travel())
    path = roads if roads is not None else stored
    assert path is not None
    try:
        if not path.is_file():
            raise InputError(f"找不到道路网络文件：{path}。")
        area = communities if roads is not None else None
        return PlanTravel(load_network(path, working_crs=working_crs, service_area=area),
                          source=path.name)
    except InputError as exc:
        if not allow_straight_line:
            raise InputError(f"道路网络 {path.name} 无法用于规划：{exc}") from exc
        return PlanTravel(default_travel(), note=f"道路网络 {path.name} 无法使用（{exc}），已按直线距离规划。")


@dataclass
class PlanInputs:
    """What every squad's plan of one day is built from (read once from storage)."""

    day: date
    communities: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    hotspots: gpd.GeoDataFrame | None
    open_cases: gpd.GeoDataFrame
    recent_cases: int
    data_label: str
    travel: PlanTravel = field(default_factory=lambda: PlanTravel(default_travel()))


def plan_inputs(storage: Storage, day: date | str, *, squads: Sequence[str] | None = None,
                history_days: int = HISTORY_DAYS, working_crs: str | None = None,
                roads: Path | None = None, stored_roads: Path | None = None,
                allow_straight_line: bool = False) -> PlanInputs:
    """Read boundaries, recent cases (→ hotspots), open cases and the road network for ``day``.

    Hotspots are found among the cases reported in the ``history_days`` before the plan day
    (:func:`geo.analysis.hotspots.find_hotspots`, recency counted back from the day's midnight); an area
    with too few cases simply has none. Open cases are those not 结案/作废 reported before the day.
    Both leave out cases placed only by their community's name (``CaseFilter.precise``).
    The travel model comes from :func:`plan_travel` (``roads``, else the stored network
    ``stored_roads`` / ``Settings().roads_path()``, else the straight line).
    """
    from geo.analysis.hotspots import find_hotspots
    from service.settings import Settings

    d = as_date(day)
    start = day_start(d, storage.tz)
    sq = tuple(squads) if squads is not None else None
    communities = storage.communities()
    recent = storage.query_cases(CaseFilter(squads=sq, start=start - timedelta(days=history_days),
                                            end=start, precise=True))
    open_cases = storage.query_cases(CaseFilter(squads=sq, end=start, status=OPEN_STATUSES,
                                                precise=True))  # no stop at a community's centre
    hotspots = None
    if len(recent):
        try:
            hotspots = find_hotspots(recent, at=start, communities=communities,
                                     working_crs=working_crs)
        except InputError:
            hotspots = None
    simulated = any(str(t).startswith(SIM_TAG) for t in recent.get("description", []))
    travel = plan_travel(roads=roads, stored=stored_roads,
                         working_crs=working_crs or Settings().working_crs,
                         communities=communities, allow_straight_line=allow_straight_line)
    return PlanInputs(day=d, communities=communities, stations=storage.stations(),
                      hotspots=hotspots, open_cases=open_cases, recent_cases=len(recent),
                      data_label="模拟数据，仅供演示" if simulated else "", travel=travel)


def make_plan(storage: Storage, squad: dict[str, Any], inputs: PlanInputs, *,
              revisit_days: int = 3, unavailable_teams: Sequence[str] = (),
              relocation_points: gpd.GeoDataFrame | None = None,
              time_limit_s: float = 1.0, working_crs: str | None = None,
              save: bool = True, created_by: str = "cli",
              allow_straight_line: bool = False) -> DailyPlan:
    """Build, solve, check and (by default) store one squad's plan for ``inputs.day``.

    "Days since last visit" comes from the stored plans (:func:`last_visits`). The plan is made
    on ``inputs.travel``; when the road network cannot serve it (a station or stop no street
    reaches: :class:`UnreachableError` naming it) the error stands unless ``allow_straight_line``,
    which re-plans on the straight line and says so in the plan's warnings and ``travel``.
    """
    own = {t.get("id") for t in squad.get("teams", [])}
    off = tuple(u for u in unavailable_teams if u in own)
    stops = build_stops(squad=squad, date=inputs.day, communities=inputs.communities,
                        hotspots=inputs.hotspots, open_cases=inputs.open_cases,
                        relocation_points=relocation_points,
                        last_visit=last_visits(storage, squad["id"], inputs.day),
                        revisit_days=revisit_days, unavailable_teams=off, tz=storage.tz,
                        working_crs=working_crs)
    travel = inputs.travel
    if travel.note:
        stops.attrs["warnings"] = [*stops.attrs.get("warnings", []), travel.note]
    try:
        plan = plan_day(squad=squad, date=inputs.day, stops=stops, stations=inputs.stations,
                        time_limit_s=time_limit_s, unavailable_teams=off, tz=storage.tz,
                        travel=travel.travel, travel_source=travel.source)
    except UnreachableError as exc:
        if not allow_straight_line:
            raise UnreachableError(f"按道路网络 {travel.source} 规划 {squad.get('name', squad['id'])}"
                                   f"：{exc} 若要暂按直线距离规划，命令行请加 --allow-straight-line。") from exc
        note = f"道路网络 {travel.source} 无法用于本中队（{exc}），已按直线距离 ×1.3 规划。"
        stops.attrs["warnings"] = [*stops.attrs.get("warnings", []), note]
        travel = PlanTravel(default_travel(), note=note)
        plan = plan_day(squad=squad, date=inputs.day, stops=stops, stations=inputs.stations,
                        time_limit_s=time_limit_s, unavailable_teams=off, tz=storage.tz,
                        travel=travel.travel)
    plan.travel = travel.info()
    if save:
        save_plan(storage, plan, created_by=created_by)
    return plan
