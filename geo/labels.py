"""The shared vocabulary of xuncha, defined once: case statuses, stop kinds, station roles,
their Chinese names and colours, and how distances and durations are written for people.

Everything that names a status or a stop kind (the importer, the planner, the maps, the sheets,
the service's workflow and schemas) imports it from here.
"""

from __future__ import annotations

import math
from typing import Literal

Status = Literal["上报", "立案", "派遣", "处置", "核查", "结案", "作废"]
STATUSES: tuple[Status, ...] = ("上报", "立案", "派遣", "处置", "核查", "结案", "作废")
"""Workflow statuses in order: 上报 → 立案 → 派遣 → 处置 → 核查 → 结案, or 作废."""
CLOSED_STATUSES: frozenset[str] = frozenset({"结案", "作废"})
"""Statuses after which a case needs no more work."""
OPEN_STATUSES: tuple[Status, ...] = tuple(s for s in STATUSES if s not in CLOSED_STATUSES)
"""Statuses of a case that is still being worked on."""
STATUS_COLOURS: dict[str, str] = {
    "上报": "#9467bd", "立案": "#1f77b4", "派遣": "#17becf", "处置": "#ff7f0e",
    "核查": "#bcbd22", "结案": "#2ca02c", "作废": "#7f7f7f",
}
"""Colour of each status on maps and pages (hex RGB)."""

StopKind = Literal["热点", "复查", "疏导点", "社区巡查"]
STOP_KINDS: tuple[StopKind, ...] = ("热点", "复查", "疏导点", "社区巡查")
"""Kinds of patrol stop: a hotspot, a re-inspection of an open case, a relocation point, a
routine community walk."""
KIND_COLOURS: dict[str, str] = {
    "热点": "#d62728",
    "复查": "#ff7f0e",
    "疏导点": "#2ca02c",
    "社区巡查": "#1f77b4",
}
"""Colour of each stop kind on maps and sheets (hex RGB)."""

STATION_ROLES: tuple[str, ...] = ("城管队员", "市政", "园林", "环卫")
"""Roles in the "2+1+1+1" community work station, in the order a sheet lists them."""


def _finite(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def format_distance(distance_m: float) -> str:
    """A distance for people: ``850 米`` below 1 km, else ``4.3 公里`` (``—`` if unknown)."""
    if not _finite(distance_m):
        return "—"
    if distance_m < 1000:
        return f"{distance_m:.0f} 米"
    return f"{distance_m / 1000:.1f} 公里"


def format_duration(duration_s: float) -> str:
    """A duration for people: ``5 小时 20 分`` (or ``45 分``; ``—`` if unknown)."""
    if not _finite(duration_s):
        return "—"
    minutes = round(duration_s / 60.0)
    h, m = divmod(minutes, 60)
    return f"{h} 小时 {m} 分" if h else f"{m} 分"
