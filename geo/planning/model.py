"""The result of daily planning: :class:`DailyPlan` with one :class:`TeamRoute` per team.

Times are kept both as seconds of the plan day (``arrive_s``, what the solver and the checker
use) and as tz-aware datetimes (``arrive``, what people read). :meth:`DailyPlan.to_json` is the
stored and exported form; :meth:`DailyPlan.team_sheets` feeds :mod:`geo.sheets`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Point, mapping

from geo.planning.clock import at_seconds, hhmm


@dataclass
class PlannedVisit:
    """One visit of a route, in order (``arrive``: service start; waiting happens before it)."""

    seq: int
    stop_id: str
    kind: str
    arrive_s: float
    depart_s: float
    arrive: datetime
    depart: datetime
    x: float
    y: float
    lon: float
    lat: float
    priority: float
    required: bool
    service_s: float
    windows_s: list[list[float]]
    community_code: str | None
    community: str
    what: str
    category: str = ""
    category_name: str = ""
    address: str = ""
    checklist_key: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (ISO 8601 times)."""
        return {
            "seq": self.seq, "stop_id": self.stop_id, "kind": self.kind,
            "arrive": self.arrive.isoformat(), "depart": self.depart.isoformat(),
            "arrive_s": round(self.arrive_s, 3), "depart_s": round(self.depart_s, 3),
            "priority": self.priority, "required": self.required, "service_s": self.service_s,
            "windows_s": self.windows_s, "community_code": self.community_code,
            "community": self.community, "what": self.what, "category": self.category,
            "category_name": self.category_name, "address": self.address,
            "checklist_key": self.checklist_key, "lon": self.lon, "lat": self.lat,
        }


@dataclass
class TeamRoute:
    """A team's day: shift, lunch break at its start station, ordered visits and the path.

    ``leave_s``/``return_s`` are when the team leaves its start station and is back at its end
    station; ``duration_s`` is the working time used (both halves of the shift, waiting
    included, the break excluded); ``distance_m`` the travelled distance including the walk
    back to the station for lunch.
    """

    team_id: str
    team_name: str
    mode: str
    speed_mps: float
    members: list[str]
    start_station: str
    end_station: str
    start_name: str
    start_xy: tuple[float, float]
    end_xy: tuple[float, float]
    start_lonlat: tuple[float, float]
    shift_s: tuple[float, float]
    break_s: tuple[float, float] | None
    leave_s: float
    return_s: float
    day_start: datetime
    visits: list[PlannedVisit] = field(default_factory=list)
    distance_m: float = 0.0
    duration_s: float = 0.0
    geometry: LineString | None = None
    geometry_wgs84: LineString | None = None

    def time(self, seconds: float) -> datetime:
        """Seconds of the plan day as a tz-aware datetime."""
        return at_seconds(self.day_start, seconds)

    @property
    def priority(self) -> float:
        """Summed priority of the visited stops."""
        return float(sum(v.priority for v in self.visits))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict; ``geometry`` is a GeoJSON LineString in WGS84."""
        brk = self.break_s
        return {
            "team": self.team_id, "team_name": self.team_name, "mode": self.mode,
            "speed_mps": self.speed_mps, "members": self.members,
            "start_station": self.start_station, "end_station": self.end_station,
            "start_name": self.start_name,
            "shift": [self.time(self.shift_s[0]).isoformat(), self.time(self.shift_s[1]).isoformat()],
            "break": None if brk is None else [self.time(brk[0]).isoformat(),
                                               self.time(brk[1]).isoformat()],
            "leave": self.time(self.leave_s).isoformat(),
            "return": self.time(self.return_s).isoformat(),
            "distance_m": round(self.distance_m, 1), "duration_s": round(self.duration_s, 1),
            "priority": self.priority, "n_visits": len(self.visits),
            "visits": [v.to_json() for v in self.visits],
            "geometry": None if self.geometry_wgs84 is None else mapping(self.geometry_wgs84),
        }


@dataclass
class DailyPlan:
    """A squad's patrol plan for one day.

    Attributes
    ----------
    squad : dict
        The squad (``id``, ``name``, ``teams``, optional ``staff``).
    date : datetime.date
    tz : str
    crs : str
        Working CRS of ``stops`` and the route geometries.
    routes : list of TeamRoute
        One per available team, in the squad's team order.
    stops : GeoDataFrame
        Every stop offered to the solver, with the final ``required`` flags.
    unvisited : list of dict
        Offered stops no team visits (``stop_id``, ``kind``, ``what``, ``priority``…).
    warnings : list of str
        What the squad leader should know (Chinese).
    unavailable_teams : tuple of str
    problem, solution : dict
        The patrol problem given to :func:`geo.routing.solve.solve_patrol` and its solution.
    violations : list of str
        Feasibility problems found by the independent checks (empty: feasible).
    solve_time_s : float
    """

    squad: dict[str, Any]
    date: date
    tz: str
    crs: str
    routes: list[TeamRoute]
    stops: gpd.GeoDataFrame
    unvisited: list[dict[str, Any]]
    warnings: list[str]
    unavailable_teams: tuple[str, ...] = ()
    problem: dict[str, Any] = field(default_factory=dict, repr=False)
    solution: dict[str, Any] = field(default_factory=dict, repr=False)
    violations: list[str] = field(default_factory=list)
    solve_time_s: float = 0.0

    @property
    def squad_id(self) -> str:
        """The squad id."""
        return str(self.squad.get("id", ""))

    @property
    def feasible(self) -> bool:
        """True when the independent checks found nothing."""
        return not self.violations

    @property
    def priority_total(self) -> float:
        """Summed priority of every visited stop."""
        return float(sum(r.priority for r in self.routes))

    @property
    def priority_offered(self) -> float:
        """Summed priority of every offered stop."""
        return float(self.stops["priority"].sum()) if len(self.stops) else 0.0

    @property
    def distance_m(self) -> float:
        """Total travelled distance of all teams."""
        return float(sum(r.distance_m for r in self.routes))

    def visits(self) -> list[PlannedVisit]:
        """Every visit of every route."""
        return [v for r in self.routes for v in r.visits]

    def visits_by_community(self) -> list[dict[str, str]]:
        """One record per visit with a community: ``community_code``, ``stop_id``, ``kind``, ``team``.

        Stored as PlanVisit rows, these make "days since last visit" real.
        """
        return [{"community_code": str(v.community_code), "stop_id": v.stop_id, "kind": v.kind,
                 "team": r.team_id}
                for r in self.routes for v in r.visits if v.community_code]

    def routes_frame(self) -> gpd.GeoDataFrame:
        """One LineString per team (WGS84): ``team``, ``team_name``, ``n_visits``, ``distance_m``,
        ``duration_s``, ``priority`` — the ``routes`` layer of :func:`geo.maps.squad.squad_map`."""
        rows = [{"team": r.team_id, "team_name": r.team_name, "n_visits": len(r.visits),
                 "distance_m": r.distance_m, "duration_s": r.duration_s, "priority": r.priority,
                 "geometry": r.geometry_wgs84} for r in self.routes]
        cols = ["team", "team_name", "n_visits", "distance_m", "duration_s", "priority"]
        return gpd.GeoDataFrame(rows or None, columns=[*cols, "geometry"], geometry="geometry",
                                crs="EPSG:4326")

    def visits_frame(self) -> gpd.GeoDataFrame:
        """One Point per visit (WGS84): ``team``, ``team_name``, ``seq``, ``stop_id``, ``kind``,
        ``arrive``/``depart`` (HH:MM), ``community``, ``address``, ``what``, ``category_name``,
        ``priority``, ``required`` — the ``stops`` layer of :func:`geo.maps.squad.squad_map`."""
        rows = [{"team": r.team_id, "team_name": r.team_name, "seq": v.seq,
                 "stop_id": v.stop_id, "kind": v.kind, "arrive": hhmm(v.arrive_s),
                 "depart": hhmm(v.depart_s), "community": v.community, "address": v.address,
                 "what": v.what, "category_name": v.category_name, "priority": v.priority,
                 "required": v.required, "geometry": Point(v.lon, v.lat)}
                for r in self.routes for v in r.visits]
        cols = ["team", "team_name", "seq", "stop_id", "kind", "arrive", "depart", "community",
                "address", "what", "category_name", "priority", "required"]
        return gpd.GeoDataFrame(rows or None, columns=[*cols, "geometry"], geometry="geometry",
                                crs="EPSG:4326")

    def to_json(self) -> dict[str, Any]:
        """The plan as a JSON-ready dict (the stored and exported form)."""
        unv = [{k: (None if pd.isna(v) else v) if not isinstance(v, list) else v
                for k, v in u.items()} for u in self.unvisited]
        return {
            "squad": self.squad_id, "squad_name": self.squad.get("name", ""),
            "date": self.date.isoformat(), "tz": self.tz, "crs": self.crs,
            "unavailable_teams": list(self.unavailable_teams),
            "n_stops": len(self.stops), "n_visited": len(self.visits()),
            "n_required": int(self.stops["required"].sum()) if len(self.stops) else 0,
            "priority_total": self.priority_total, "priority_offered": self.priority_offered,
            "distance_total_m": round(self.distance_m, 1), "feasible": self.feasible,
            "violations": self.violations, "warnings": self.warnings,
            "solve_time_s": round(self.solve_time_s, 3),
            "routes": [r.to_json() for r in self.routes], "unvisited": unv,
        }

    def team_sheets(
        self, *, communities: gpd.GeoDataFrame | None = None, data_label: str = ""
    ) -> list[Any]:
        """One :class:`geo.sheets.model.TeamSheet` per route (members named from ``squad["staff"]``)."""
        from geo.sheets.model import SheetStop, TeamMember, TeamSheet

        staff = {s.get("id"): s for s in self.squad.get("staff", []) if isinstance(s, dict)}
        sheets = []
        for r in self.routes:
            members = [TeamMember(str(staff[m].get("name", m)), str(staff[m].get("role", "城管队员")))
                       if m in staff else TeamMember(m) for m in r.members]
            stops = [SheetStop(seq=v.seq, arrive=v.arrive, depart=v.depart, community=v.community,
                               address=v.address, what=v.what, category=v.category,
                               category_name=v.category_name, kind=v.kind, lon=v.lon, lat=v.lat)
                     for v in r.visits]
            note = "" if r.break_s is None else (
                f"午休 {hhmm(r.break_s[0])}–{hhmm(r.break_s[1])}（回{r.start_name or '工作站'}）")
            sheets.append(TeamSheet(
                squad_name=str(self.squad.get("name", self.squad_id)), team_name=r.team_name,
                members=members, date=self.date, shift_start=r.time(r.shift_s[0]),
                shift_end=r.time(r.shift_s[1]), stops=stops, distance_m=r.distance_m,
                duration_s=r.duration_s, route_lonlat=r.geometry_wgs84, communities=communities,
                start_name=r.start_name, start_lonlat=r.start_lonlat, data_label=data_label,
                note=note))
        return sheets
