"""Parts of :func:`geo.planning.replan.replan_day`: the pieces of a shift and joining them back.

:class:`Piece` is what is left of one part of a team's shift; :func:`join_routes` joins the
re-planned pieces (after the done visits) into one route per team and :func:`merged_plan` makes
the residual :class:`~geo.planning.model.DailyPlan` of those routes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Point

from geo.boundaries import Squad
from geo.crs import WGS84
from geo.planning.clock import team_break_s, team_shift_s
from geo.planning.model import DailyPlan, PlannedVisit, TeamRoute
from geo.travel import SPEEDS_MPS, WALK_SPEED_MPS

if TYPE_CHECKING:
    from geo.planning.replan import Confirmed


@dataclass(frozen=True)
class Piece:
    team: dict[str, Any]
    key: str
    start: str
    end: str
    lo: float
    hi: float


def stops_frame(rows: list[PlannedVisit], crs: str) -> gpd.GeoDataFrame:
    recs = [{"stop_id": v.stop_id, "kind": v.kind, "priority": v.priority,
             "service_s": v.service_s, "windows_s": v.windows_s, "required": v.required,
             "community_code": v.community_code, "community": v.community, "what": v.what,
             "category": v.category, "category_name": v.category_name,
             "checklist_key": v.checklist_key, "address": v.address, "lon": v.lon, "lat": v.lat,
             "geometry": Point(v.x, v.y)} for v in rows]
    cols = ["stop_id", "kind", "priority", "service_s", "windows_s", "required",
            "community_code", "community", "what", "category", "category_name", "checklist_key",
            "address", "lon", "lat", "geometry"]
    return gpd.GeoDataFrame(recs or None, columns=cols, geometry="geometry", crs=crs)


def _done_visit(v: PlannedVisit, c: Confirmed, midnight: datetime) -> PlannedVisit:
    arrive_s = (c.at - midnight).total_seconds()
    arrive = c.at.astimezone(midnight.tzinfo)
    return dataclasses.replace(v, arrive_s=arrive_s, depart_s=arrive_s + v.service_s,
                               arrive=arrive, depart=arrive + timedelta(seconds=v.service_s),
                               leg_m=None, leg_s=None)


def join_routes(plan: DailyPlan, sq: Squad, off: tuple[str, ...],
          pieces: list[Piece], residual: DailyPlan | None, done: Mapping[str, list[Confirmed]],
          midnight: datetime, stations: gpd.GeoDataFrame, crs: str) -> list[TeamRoute]:
    by_id = {v.stop_id: v for v in plan.visits()}
    old = {r.team_id: r for r in plan.routes}
    subs = {r.team_id: r for r in (residual.routes if residual is not None else [])}
    keep = [t for t in sq.teams if str(t.get("id")) not in off or done.get(str(t.get("id")))]
    out = []
    for t in keep:
        tid = str(t["id"])
        mine = [subs[p.key] for p in pieces if p.team is t and p.key in subs]
        base = old.get(tid) or _empty_route(t, midnight, stations, crs)
        visits = [_done_visit(by_id[c.stop_id], c, midnight) for c in done.get(tid, [])]
        legs: list[dict[str, Any]] = []
        coords: list[tuple[float, ...]] = []
        coords_w: list[tuple[float, ...]] = []
        dist = dur = 0.0
        for k, r in enumerate(mine):
            visits += r.visits
            legs += [dict(leg, kind="break") if k < len(mine) - 1 and leg.get("kind") == "return"
                     else dict(leg) for leg in r.legs]
            dist, dur = dist + r.distance_m, dur + r.duration_s
            if r.geometry is not None and r.geometry_wgs84 is not None:
                coords += list(r.geometry.coords)
                coords_w += list(r.geometry_wgs84.coords)
        for k, v in enumerate(visits, start=1):
            v.seq = k
        if len(coords) < 2:  # nothing left to walk: the done stops, else the station
            pts: list[tuple[float, ...]] = [(v.x, v.y) for v in visits] or [base.start_xy]
            coords = [pts[0], *pts] if len(pts) < 2 else pts
            coords_w = [_lonlat(p, crs) for p in coords]
        line, line_w = LineString(coords), LineString(coords_w)
        leave = mine[0].leave_s if mine else base.leave_s
        back = mine[-1].return_s if mine else base.return_s
        out.append(dataclasses.replace(
            base, team_id=tid, team_name=str(t.get("name", tid)), shift_s=team_shift_s(t),
            break_s=team_break_s(t), start_station=str(t["start_station"]),
            end_station=str(t.get("end_station") or t["start_station"]),
            start_xy=(line.coords[0][0], line.coords[0][1]),
            start_lonlat=(line_w.coords[0][0], line_w.coords[0][1]),
            end_xy=(line.coords[-1][0], line.coords[-1][1]), leave_s=leave, return_s=back,
            visits=visits, distance_m=dist, duration_s=dur, geometry=line, geometry_wgs84=line_w,
            legs=legs, day_start=midnight))
    return out


def _lonlat(xy: tuple[float, ...], crs: str) -> tuple[float, float]:
    p = gpd.GeoSeries([Point(xy[0], xy[1])], crs=crs).to_crs(WGS84).iloc[0]
    return float(p.x), float(p.y)


def _empty_route(team: dict[str, Any], midnight: datetime, stations: gpd.GeoDataFrame,
                 crs: str) -> TeamRoute:
    code = str(team["start_station"])
    st = stations.to_crs(crs)
    mask = pd.Series(False, index=st.index)
    for col in ("code", "community_code"):
        if col in st.columns:
            mask |= st[col].astype(str) == code
    hit = st[mask]
    p = hit.geometry.iloc[0] if len(hit) else Point(math.nan, math.nan)
    lo, hi = team_shift_s(team)
    return TeamRoute(
        team_id=str(team["id"]), team_name=str(team.get("name", team["id"])),
        mode=str(team.get("mode", "walk")),
        speed_mps=SPEEDS_MPS.get(str(team.get("mode", "walk")), WALK_SPEED_MPS),
        members=[str(m) for m in team.get("members", [])], start_station=code,
        end_station=str(team.get("end_station") or code),
        start_name=str(hit.iloc[0].get("name", "")) if len(hit) else "",
        start_xy=(float(p.x), float(p.y)), end_xy=(float(p.x), float(p.y)),
        start_lonlat=_lonlat((p.x, p.y), crs), shift_s=(lo, hi), break_s=team_break_s(team),
        leave_s=lo, return_s=lo, day_start=midnight)


def merged_plan(plan: DailyPlan, sq: Squad, routes: list[TeamRoute], rows: list[PlannedVisit],
                 residual: DailyPlan | None, done: Mapping[str, list[Confirmed]],
                 off: tuple[str, ...], dropped: Mapping[str, list[str]], crs: str) -> DailyPlan:
    done_ids = {c.stop_id for cs in done.values() for c in cs}
    kept = [v for r in routes for v in r.visits if v.stop_id in done_ids]
    unvisited: list[dict[str, Any]] = list(residual.unvisited) if residual is not None else [
        {"stop_id": v.stop_id, "kind": v.kind, "what": v.what, "priority": v.priority,
         "required": v.required, "community_code": v.community_code, "community": v.community,
         "lon": v.lon, "lat": v.lat} for v in rows]
    gone = done_ids | {s for ids in dropped.values() for s in ids}
    seen = {u["stop_id"] for u in unvisited} | {v.stop_id for r in routes for v in r.visits}
    unvisited += [dict(u) for u in plan.unvisited
                  if u["stop_id"] not in gone and u["stop_id"] not in seen]
    frames = [stops_frame(kept, crs)]
    if residual is not None and len(residual.stops):
        frames.append(residual.stops)
    extra = [u for u in unvisited if residual is None or u["stop_id"] not in set(
        residual.stops["stop_id"])]
    if extra:
        pts = gpd.points_from_xy([float(u["lon"]) for u in extra],
                                 [float(u["lat"]) for u in extra], crs=WGS84).to_crs(crs)
        frames.append(gpd.GeoDataFrame(extra, geometry=pts, crs=crs))
    stops = gpd.GeoDataFrame(pd.concat([f for f in frames if len(f)] or [frames[0]],
                                       ignore_index=True), geometry="geometry", crs=crs)
    stops["required"] = [x is not None and x == x and bool(x) for x in stops["required"]]
    return DailyPlan(
        squad=sq, date=plan.date, tz=plan.tz, crs=plan.crs, routes=routes, stops=stops,
        unvisited=unvisited, warnings=list(residual.warnings) if residual is not None else [],
        unavailable_teams=off, problem=residual.problem if residual is not None else {},
        solution=residual.solution if residual is not None else {},
        violations=list(residual.violations) if residual is not None else [],
        solve_time_s=residual.solve_time_s if residual is not None else 0.0,
        travel=dict(residual.travel) if residual is not None and residual.travel else dict(plan.travel))
