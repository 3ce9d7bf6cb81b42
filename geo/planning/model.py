"""The result of daily planning: :class:`DailyPlan` with one :class:`TeamRoute` per team.

Times are kept both as seconds of the plan day (``arrive_s``, what the solver and the checker
use) and as tz-aware datetimes (``arrive``, what people read). :meth:`DailyPlan.to_json` is the
stored and exported form and :meth:`DailyPlan.from_json` reads it back (the plan day as a
``date``, every time tz-aware); :func:`geo.sheets.team_sheets` turns a plan into route sheets.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import LineString, Point, mapping, shape

from geo.boundaries import Squad
from geo.planning.clock import as_date, at_seconds, hhmm
from geo.planning.model_json import Reader, opt_float, reader_for, stops_frame, unvisited_json


@dataclass
class PlannedVisit:
    """One visit of a route, in order (``arrive``: service start; waiting happens before it).

    ``leg_m`` / ``leg_s`` are the distance and travel time from the previous place (the
    previous visit, or the work station at the start and after the lunch break) as the plan's
    travel model gives them; None in plans stored before they were recorded.
    """

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
    leg_m: float | None = None
    leg_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (ISO 8601 times; ``leg_m``/``leg_s`` when known)."""
        out: dict[str, Any] = {
            "seq": self.seq, "stop_id": self.stop_id, "kind": self.kind,
            "arrive": self.arrive.isoformat(), "depart": self.depart.isoformat(),
            "arrive_s": round(self.arrive_s, 3), "depart_s": round(self.depart_s, 3),
            "priority": self.priority, "required": self.required, "service_s": self.service_s,
            "windows_s": self.windows_s, "community_code": self.community_code,
            "community": self.community, "what": self.what, "category": self.category,
            "category_name": self.category_name, "address": self.address,
            "checklist_key": self.checklist_key, "lon": self.lon, "lat": self.lat,
        }
        if self.leg_m is not None:
            out["leg_m"] = round(self.leg_m, 1)
        if self.leg_s is not None:
            out["leg_s"] = round(self.leg_s, 1)
        return out

    @classmethod
    def _from_json(cls, data: Mapping[str, Any], reader: Reader) -> PlannedVisit:
        lon, lat = float(data["lon"]), float(data["lat"])
        x, y = reader.xy(lon, lat)
        return cls(
            seq=int(data["seq"]), stop_id=str(data["stop_id"]), kind=str(data["kind"]),
            arrive_s=float(data["arrive_s"]), depart_s=float(data["depart_s"]),
            arrive=reader.time(data["arrive"]), depart=reader.time(data["depart"]), x=x, y=y,
            lon=lon, lat=lat, priority=float(data["priority"]), required=bool(data["required"]),
            service_s=float(data["service_s"]),
            windows_s=[[float(a), float(b)] for a, b in data.get("windows_s") or []],
            community_code=data.get("community_code"), community=str(data.get("community", "")),
            what=str(data.get("what", "")), category=str(data.get("category", "")),
            category_name=str(data.get("category_name", "")),
            address=str(data.get("address", "")), checklist_key=str(data.get("checklist_key", "")),
            leg_m=opt_float(data.get("leg_m")), leg_s=opt_float(data.get("leg_s")))


@dataclass
class TeamRoute:
    """A team's day: shift, lunch break at its start station, ordered visits and the path.

    ``leave_s``/``return_s`` are when the team leaves its start station and is back at its end
    station; ``duration_s`` is the working time used (both halves of the shift, waiting
    included, the break excluded); ``distance_m`` the travelled distance including the walk
    back to the station for lunch. ``legs`` lists every walk of the day in order: ``to`` (stop
    id or station code), ``kind`` (``visit``; ``break``: back to the station for lunch;
    ``return``: back to the end station), ``distance_m``, ``time_s`` and the destination's
    ``lon``/``lat``; their distances add up to ``distance_m``. ``geometry`` follows the legs
    (along the streets on a road network).
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
    legs: list[dict[str, Any]] = field(default_factory=list)

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
            **({"legs": [dict(leg) for leg in self.legs]} if self.legs else {}),
        }

    @classmethod
    def _from_json(cls, data: Mapping[str, Any], reader: Reader) -> TeamRoute:
        wgs = shape(data["geometry"]) if data.get("geometry") else None
        line = wgs if isinstance(wgs, LineString) and not wgs.is_empty else None
        ends = (line.coords[0], line.coords[-1]) if line is not None else ((math.nan,) * 2,) * 2
        brk = data.get("break")
        shift = data["shift"]
        return cls(
            team_id=str(data["team"]), team_name=str(data.get("team_name", data["team"])),
            mode=str(data.get("mode", "walk")), speed_mps=float(data["speed_mps"]),
            members=[str(m) for m in data.get("members", [])],
            start_station=str(data["start_station"]), end_station=str(data["end_station"]),
            start_name=str(data.get("start_name", "")),
            start_xy=reader.xy(*ends[0][:2]), end_xy=reader.xy(*ends[1][:2]),
            start_lonlat=(float(ends[0][0]), float(ends[0][1])),
            shift_s=(reader.seconds(shift[0]), reader.seconds(shift[1])),
            break_s=None if not brk else (reader.seconds(brk[0]), reader.seconds(brk[1])),
            leave_s=reader.seconds(data["leave"]), return_s=reader.seconds(data["return"]),
            day_start=reader.midnight,
            visits=[PlannedVisit._from_json(v, reader) for v in data.get("visits", [])],
            distance_m=float(data.get("distance_m", 0.0)),
            duration_s=float(data.get("duration_s", 0.0)),
            geometry=None if line is None else shapely.transform(line, reader.xy_array),
            geometry_wgs84=line, legs=[dict(leg) for leg in data.get("legs") or []])


@dataclass
class DailyPlan:
    """A squad's patrol plan for one day.

    Attributes
    ----------
    squad : Squad
        The squad (``id``, ``name``, ``teams``, ``staff``); a dict given here is read with
        :meth:`geo.boundaries.Squad.from_mapping`.
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
    travel : dict
        The travel model the plan used (:func:`geo.planning.travel.travel_info`: ``model``
        "network" or "euclidean", a Chinese ``label``, ``source``/``circuity``); empty in
        plans stored before it was recorded.
    """

    squad: Squad
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
    travel: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.squad = Squad.from_mapping(self.squad)

    @property
    def squad_id(self) -> str:
        """The squad id."""
        return self.squad.id

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
        return math.fsum(self.stops["priority"]) if len(self.stops) else 0.0

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
        unv = unvisited_json(self.unvisited)
        return {
            "squad": self.squad_id, "squad_name": self.squad.get("name", ""),
            "date": self.date.isoformat(), "tz": self.tz, "crs": self.crs,
            "unavailable_teams": list(self.unavailable_teams),
            "n_stops": len(self.stops), "n_visited": len(self.visits()),
            "n_required": int(self.stops["required"].sum()) if len(self.stops) else 0,
            "priority_total": self.priority_total, "priority_offered": self.priority_offered,
            "distance_total_m": round(sum(round(r.distance_m, 1) for r in self.routes), 1), "feasible": self.feasible,
            "violations": self.violations, "warnings": self.warnings,
            "solve_time_s": round(self.solve_time_s, 3),
            "routes": [r.to_json() for r in self.routes], "unvisited": unv,
            **({"travel": dict(self.travel)} if self.travel else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, squad: Squad | Mapping[str, Any] | None = None
                  ) -> DailyPlan:
        """The plan of a :meth:`to_json` dict (e.g. a stored plan).

        Parameters
        ----------
        data : mapping
            What :meth:`to_json` wrote (also after a JSON round trip).
        squad : Squad or mapping, optional
            The squad, for its staff names and teams; default one with only the stored id and
            name.

        Returns
        -------
        DailyPlan
            ``to_json()`` of the result equals ``data``. The plan day is a ``date`` and every
            time tz-aware (in the plan's ``tz``); positions in the working CRS are projected
            from the stored WGS84 ones; ``stops`` holds the visited then the unvisited stops
            (``stop_id``, ``kind``, ``what``, ``priority``, ``required``, ``community_code``,
            ``community``, ``lon``, ``lat``); ``problem`` and ``solution`` are not stored and
            come back empty.
        """
        day, tz, crs = as_date(data["date"]), str(data["tz"]), str(data["crs"])
        reader = reader_for(day, tz, crs)
        routes = [TeamRoute._from_json(r, reader) for r in data.get("routes", [])]
        unvisited = [dict(u) for u in data.get("unvisited", [])]
        stops = stops_frame((v for r in routes for v in r.visits), unvisited, reader, crs)
        if squad is None:
            squad = Squad(id=str(data.get("squad", "")), name=str(data.get("squad_name", "")))
        return cls(squad=Squad.from_mapping(squad), date=day, tz=tz, crs=crs, routes=routes,
                   stops=stops, unvisited=unvisited, warnings=list(data.get("warnings", [])),
                   unavailable_teams=tuple(str(t) for t in data.get("unavailable_teams", [])),
                   violations=list(data.get("violations", [])),
                   solve_time_s=float(data.get("solve_time_s", 0.0)),
                   travel=dict(data.get("travel") or {}))

    def team_sheets(
        self, *, communities: gpd.GeoDataFrame | None = None, data_label: str = ""
    ) -> list[Any]:
        """Deprecated: use :func:`geo.sheets.team_sheets` (``team_sheets(plan, ...)``).

        A bridge for the callers written before the route-sheet builder moved to
        :mod:`geo.sheets.from_plan` (the floor above planning); it loads that module by name, so
        :mod:`geo.planning` still imports nothing of :mod:`geo.sheets`. Remove it once every
        caller uses :func:`geo.sheets.team_sheets`.
        """
        builder = importlib.import_module("geo.sheets.from_plan").team_sheets
        sheets: list[Any] = builder(self, communities=communities, data_label=data_label)
        return sheets
