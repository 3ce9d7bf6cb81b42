"""Assembling a solved patrol problem into a :class:`DailyPlan` (used by :mod:`geo.planning.day`).

:class:`Half` is one half of a team's shift as the solver sees it; :func:`assemble_plan` turns
the solver's routes into :class:`TeamRoute` objects with legs and street geometry.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString

from geo.boundaries import Squad
from geo.crs import WGS84
from geo.errors import InputError
from geo.planning.clock import at_seconds, day_start, team_break_s, team_shift_s
from geo.planning.model import DailyPlan, PlannedVisit, TeamRoute
from geo.planning.travel import TravelChoice, model_for, route_legs, route_path
from geo.routing.model import PatrolProblem


@dataclasses.dataclass(frozen=True)
class Half:
    id: str
    team: dict[str, Any]
    start: str
    end: str
    shift_s: tuple[float, float]
    speed_mps: float

    @property
    def mode(self) -> str:
        """The team's mode (walk or ebike)."""
        return str(self.team.get("mode", "walk"))



def station_row(stations: gpd.GeoDataFrame, key: str) -> Any:
    for col in ("code", "community_code"):
        if col in stations.columns:
            hit = stations[stations[col].astype(str) == str(key)]
            if len(hit):
                return hit.iloc[0]
    raise InputError(f"找不到工作站「{key}」（按 code 或 community_code 查找）；请检查中队数据的 start_station/end_station。")



def assemble_plan(squad: Squad, day: date, tz: str, crs: Any, halves: list[Half],
              teams: list[dict[str, Any]], stations: gpd.GeoDataFrame,
              site_xy: dict[str, tuple[float, float]], stops: gpd.GeoDataFrame,
              solution: dict[str, Any], parsed: PatrolProblem, travel: TravelChoice,
              warnings: list[str], unavailable: tuple[str, ...], problem: dict[str, Any]
              ) -> DailyPlan:
    midnight = day_start(day, tz)
    by_id = stops.set_index("stop_id", drop=False)
    routes_by_half = {r["team"]: r for r in solution["routes"]}
    to_wgs = Transformer.from_crs(crs, WGS84, always_xy=True)
    half_index = {tid: k for k, tid in enumerate(parsed.team_ids)}
    routes = []
    for t in teams:
        mine = [h for h in halves if h.team is t]
        station = station_row(stations, t["start_station"])
        ll = to_wgs.transform(station.geometry.x, station.geometry.y)
        route = TeamRoute(
            team_id=str(t["id"]), team_name=str(t.get("name", t["id"])),
            mode=str(t.get("mode", "walk")), speed_mps=mine[0].speed_mps,
            members=[str(m) for m in t.get("members", [])],
            start_station=str(t["start_station"]),
            end_station=str(t.get("end_station") or t["start_station"]),
            start_name=str(station.get("name", "")), start_xy=site_xy[mine[0].start],
            end_xy=site_xy[mine[-1].end], start_lonlat=(float(ll[0]), float(ll[1])),
            shift_s=team_shift_s(t), break_s=team_break_s(t),
            leave_s=float(routes_by_half[mine[0].id].get("start_s", mine[0].shift_s[0])),
            return_s=float(routes_by_half[mine[-1].id].get("end_s", mine[-1].shift_s[1])),
            day_start=midnight)
        end_ll = to_wgs.transform(*site_xy[mine[-1].end])
        pts: list[tuple[float, float]] = []
        for h in mine:
            r = routes_by_half[h.id]
            route.distance_m += float(r["distance_m"])
            route.duration_s += float(r["duration_s"])
            legs = route_legs(parsed, half_index[h.id], r, last=h is mine[-1],
                         end_station=h.end.removeprefix("site-"),
                         end_lonlat=(float(end_ll[0]), float(end_ll[1])) if h is mine[-1]
                         else route.start_lonlat, stops=by_id)
            route.legs += legs
            pts.append(site_xy[h.start])
            for v, leg in zip(r["visits"], legs, strict=False):
                route.visits.append(planned_visit(len(route.visits) + 1, by_id.loc[v["id"]], v, midnight))
                route.visits[-1].leg_m, route.visits[-1].leg_s = leg["distance_m"], leg["time_s"]
                pts.append((route.visits[-1].x, route.visits[-1].y))
            pts.append(site_xy[h.end])
        route.geometry = LineString(route_path(model_for(travel, route.mode), pts))
        route.geometry_wgs84 = shapely.transform(route.geometry, lambda xy: np.column_stack(
            to_wgs.transform(xy[:, 0], xy[:, 1])))
        routes.append(route)
    unvisited = [{"stop_id": str(r.stop_id), "kind": r.kind, "what": r.what,
                  "priority": float(r.priority), "required": bool(r.required),
                  "community_code": r.community_code, "community": r.community,
                  "lon": float(r.lon), "lat": float(r.lat)}
                 for r in by_id.loc[list(solution["unvisited"])].itertuples()]
    return DailyPlan(squad=squad, date=day, tz=tz, crs=crs.to_string(), routes=routes,
                     stops=stops, unvisited=unvisited, warnings=warnings,
                     unavailable_teams=unavailable, problem=problem, solution=solution)


def planned_visit(seq: int, row: Any, v: dict[str, Any], midnight: Any) -> PlannedVisit:
    def text(col: str) -> str:
        val = row.get(col)
        return "" if val is None or (isinstance(val, float) and np.isnan(val)) else str(val)

    return PlannedVisit(
        seq=seq, stop_id=str(row["stop_id"]), kind=str(row["kind"]),
        arrive_s=float(v["arrive_s"]), depart_s=float(v["depart_s"]),
        arrive=at_seconds(midnight, v["arrive_s"]), depart=at_seconds(midnight, v["depart_s"]),
        x=float(row.geometry.x), y=float(row.geometry.y),
        lon=float(row["lon"]), lat=float(row["lat"]), priority=float(row["priority"]),
        required=bool(row["required"]), service_s=float(row["service_s"]),
        windows_s=[[float(a), float(b)] for a, b in row["windows_s"]],
        community_code=text("community_code") or None, community=text("community"),
        what=text("what"), category=text("category"), category_name=text("category_name"),
        address=text("address"), checklist_key=text("checklist_key"))
