"""The travel model of a daily plan: one model per team mode, matrices per team, what a plan says.

A plan is made either on a road network (:class:`geo.travel.NetworkTravel`, one instance per
team mode so that e-bikes obey one-way streets) or on the straight-line fallback
(:class:`geo.travel.EuclideanTravel`, distance × circuity). :func:`with_travel` puts each team's
distance and time matrices into a parsed patrol problem: distances from the team's model, times
from its ``time_matrix`` at the team's own speed (per-edge times on a network: steps, pushed
e-bikes and the snap legs at walking speed), computed once per distinct model and speed.
:func:`travel_info` is what the plan stores (``{"model": "network"|"euclidean", "label": …}``)
and :func:`check_stops_reachable` names every stop no street reaches.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt

from geo.errors import InputError
from geo.routing.model import PatrolProblem
from geo.travel import DEFAULT_CIRCUITY, EuclideanTravel, TravelModel

TravelChoice = TravelModel | Mapping[str, TravelModel]
"""One model for every team, or one per team mode (``walk``/``ebike``; missing modes use ``walk``)."""

NETWORK_LABEL = "路网距离"
EUCLIDEAN_LABEL = "直线距离 ×{circuity:g}（未导入路网）"
_PAIR = re.compile(r"从第 (\d+) 号点到第 (\d+) 号点")


class UnreachableError(InputError):
    """A place of the plan that the road network does not reach (the message names it)."""


def model_for(travel: TravelChoice, mode: str) -> TravelModel:
    """The travel model of a team with ``mode`` (``walk`` when the mapping has no such mode)."""
    if not isinstance(travel, Mapping):
        return travel
    if mode in travel:
        return travel[mode]
    if "walk" in travel:
        return travel["walk"]
    return next(iter(travel.values()))


def base_model(travel: TravelChoice) -> TravelModel:
    """The walking model (the plan's objective distances and its drawn geometry by default)."""
    return model_for(travel, "walk")


def is_network(travel: TravelChoice) -> bool:
    """True when the plan's travel follows streets (not the straight-line fallback)."""
    return not isinstance(base_model(travel), EuclideanTravel)


def travel_info(travel: TravelChoice, *, source: str | None = None) -> dict[str, Any]:
    """What a plan says about its travel model (stored in the plan JSON as ``travel``).

    Returns
    -------
    dict
        ``model`` ("network" or "euclidean"), ``label`` (Chinese, for sheets and pages:
        "路网距离" or "直线距离 ×1.3（未导入路网）"), ``source`` (the road file's name, network
        only), ``circuity`` (euclidean only), ``max_snap_m`` (network only).
    """
    model = base_model(travel)
    if isinstance(model, EuclideanTravel):
        return {"model": "euclidean", "circuity": model.circuity,
                "label": EUCLIDEAN_LABEL.format(circuity=model.circuity)}
    out: dict[str, Any] = {"model": "network", "label": NETWORK_LABEL}
    if source:
        out["source"] = str(source)
        out["label"] = f"{NETWORK_LABEL}（{source}）"
    snap = getattr(model, "max_snap_m", None)
    if snap is not None:
        out["max_snap_m"] = float(snap)
    return out


def default_travel() -> EuclideanTravel:
    """The documented fallback: straight line × 1.3 (:data:`geo.travel.DEFAULT_CIRCUITY`)."""
    return EuclideanTravel(circuity=DEFAULT_CIRCUITY)


def check_stops_reachable(travel: TravelChoice, xy: npt.ArrayLike, names: Sequence[str],
                          *, modes: Sequence[str] = ("walk",)) -> None:
    """Raise :class:`UnreachableError` naming every point that no street of the network reaches.

    Parameters
    ----------
    travel : TravelModel or mapping
        A straight-line model reaches everything (nothing is checked).
    xy : array (n, 2)
        Points in the models' CRS.
    names : sequence of str
        What to call each point in the message (e.g. "巡查点 h1（书院社区）").
    modes : sequence of str
        Team modes whose models are checked.
    """
    pts = np.asarray(xy, dtype=float)
    for mode in dict.fromkeys(modes):
        model = model_for(travel, mode)
        snap = getattr(model, "snap", None)
        if snap is None:
            continue
        try:
            snap(pts)
            continue
        except InputError:
            pass
        far = []
        for i in range(len(pts)):
            try:
                snap(pts[i:i + 1])
            except InputError:
                far.append(i)
        limit = float(getattr(model, "max_snap_m", 0.0))
        listed = "；".join(names[i] for i in far[:10]) + (f" 等 {len(far)} 处" if len(far) > 10 else "")
        raise UnreachableError(
            f"道路网络到不了这些地点（{'电动车' if mode == 'ebike' else '步行'}，最近的相连道路"
            f"超过 {limit:.0f} 米）：{listed}。请导入覆盖这些地点并与主路网相连的道路文件，"
            "或检查这些地点的坐标。"
        )


def with_travel(parsed: PatrolProblem, travel: TravelChoice, modes: Sequence[str],
                names: Sequence[str]) -> PatrolProblem:
    """``parsed`` with every team's distances and times from its mode's travel model.

    Parameters
    ----------
    parsed : PatrolProblem
        With node coordinates ``xy`` (sites then stops).
    travel : TravelModel or mapping
    modes : sequence of str
        Mode of each team of ``parsed`` (``walk``/``ebike``).
    names : sequence of str
        What to call each node in a message (sites then stops).

    Raises
    ------
    UnreachableError
        A node no street reaches, or two nodes with no path between them (both named).
    """
    if parsed.xy is None:
        raise InputError("巡查问题没有坐标，无法按道路网络计算距离。")
    xy = parsed.xy
    check_stops_reachable(travel, xy, names, modes=modes)
    dist_by: dict[int, npt.NDArray[np.float64]] = {}
    time_by: dict[tuple[int, float], npt.NDArray[np.float64]] = {}
    n = len(xy)
    dist = np.empty((len(parsed.team_ids), n, n))
    time = np.empty_like(dist)
    for t, mode in enumerate(modes):
        model = model_for(travel, mode)
        speed = float(parsed.speed_mps[t])
        try:
            if id(model) not in dist_by:
                dist_by[id(model)] = model.distance_matrix(xy)
            if (id(model), speed) not in time_by:
                time_by[(id(model), speed)] = model.time_matrix(xy, speed_mps=speed)
        except InputError as exc:
            raise _named(exc, names) from exc
        dist[t], time[t] = dist_by[id(model)], time_by[(id(model), speed)]
    cost = dist_by.get(id(base_model(travel)), dist[0]) if len(modes) else np.zeros((n, n))
    return dataclasses.replace(parsed, cost=np.asarray(cost), dist_m=dist, time_s=time,
                               metric="network" if is_network(travel) else parsed.metric)


def _named(exc: InputError, names: Sequence[str]) -> InputError:
    """The network's "no path from point i to point j" error with the two places named."""
    m = _PAIR.search(str(exc))
    if not m:
        return exc
    i, j = int(m.group(1)), int(m.group(2))
    if max(i, j) >= len(names):
        return UnreachableError(str(exc))
    return UnreachableError(f"道路网络上 {names[i]} 与 {names[j]} 之间没有可走的路径（两处道路不相连，"
                      f"或单行道限制了电动车方向）；原因：{exc}")


def route_path(travel: TravelModel, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The route's geometry: ``travel.path`` of every leg (along the streets on a network)."""
    coords: list[tuple[float, float]] = []
    for a, b in itertools.pairwise(pts):
        if a != b:
            seg = [(float(x), float(y)) for x, y, *_ in travel.path(a, b).coords]
            coords += seg[1:] if coords and coords[-1] == seg[0] else seg
    return coords or [pts[0], pts[-1]]


def route_legs(parsed: PatrolProblem, half: int, route: dict[str, Any], *, last: bool,
          end_station: str, end_lonlat: tuple[float, float], stops: gpd.GeoDataFrame
          ) -> list[dict[str, Any]]:
    """The legs of one half-shift route, from the solver's own matrices (see :class:`TeamRoute`)."""
    node = {sid: parsed.stop_node(k) for k, sid in enumerate(parsed.stop_ids)}
    seq = [int(parsed.team_start[half]), *(node[v["id"]] for v in route["visits"]),
           int(parsed.team_end[half])]
    out = []
    for k, (a, b) in enumerate(itertools.pairwise(seq)):
        if k < len(route["visits"]):
            sid = route["visits"][k]["id"]
            row = stops.loc[sid]
            to, kind, ll = sid, "visit", (float(row["lon"]), float(row["lat"]))
        elif a == b:
            continue
        else:
            to, kind, ll = end_station, "return" if last else "break", end_lonlat
        out.append({"to": str(to), "kind": kind, "distance_m": round(float(parsed.dist_m[half, a, b]), 1),
                    "time_s": round(float(parsed.time_s[half, a, b]), 1),
                    "lon": ll[0], "lat": ll[1]})
    return out
