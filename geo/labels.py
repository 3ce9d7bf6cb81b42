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


MODEL_NAMES: dict[str, str] = {"mclp": "最大覆盖", "pmedian": "p-中位", "lscp": "集合覆盖"}
"""Chinese names of the siting models (the same words as ``geo.siting.problem.MODEL_NAMES``)."""

SOLVER_NAMES: dict[str, str] = {
    "highs": "HiGHS 整数规划",
    "highs (capacitated)": "HiGHS 整数规划（含容量约束）",
    "greedy": "贪心算法",
    "greedy+swap": "贪心 + 交换改进",
    "greedy+swap, lagrangian proof": "贪心 + 交换改进（拉格朗日下界证明最优）",
    "greedy+swap/ils, lagrangian bound": "贪心 + 交换改进 / 迭代局部搜索（拉格朗日下界）",
    "pyvrp": "PyVRP 路线求解器",
    "ortools": "OR-Tools 路线求解器",
}
"""Chinese names of the solvers a siting or routing result names in its ``solver`` field."""

METHOD_NAMES: dict[str, str] = {
    "exact": "精确求解，已证明最优",
    "exact_time_limit": "精确求解，达到时间上限（未证明最优）",
    "heuristic": "启发式，近似解",
}
"""How a result was found (the ``method`` field of a siting result), for people."""

TRAVEL_NAMES: dict[str, str] = {
    "network": "沿路网的步行距离",
    "straight line": "直线距离",
    "walk": "步行",
    "ebike": "电动车",
}
"""How distances were measured, and the travel modes of teams, in Chinese."""


def solver_text(solver: object) -> str:
    """The Chinese name of a solver (:data:`SOLVER_NAMES`); unknown names are returned as given."""
    key = str(solver or "").strip()
    return SOLVER_NAMES.get(key.lower(), key or "—")


def method_text(method: object) -> str:
    """The Chinese wording of a result's ``method`` (:data:`METHOD_NAMES`)."""
    key = str(method or "").strip()
    return METHOD_NAMES.get(key.lower(), key or "—")


def distance_method_text(distance: object) -> str:
    """How distances were measured: ``network`` → 沿路网的步行距离; ``straight line x 1.3`` →
    ``直线距离 × 1.3（绕行系数）``; anything else unchanged."""
    text = str(distance or "").strip()
    low = text.lower()
    if low in TRAVEL_NAMES:
        return TRAVEL_NAMES[low]
    if low.startswith("straight line"):
        factor = low.removeprefix("straight line").strip().lstrip("x×*").strip()
        base = TRAVEL_NAMES["straight line"]
        return f"{base} × {factor}（绕行系数）" if factor else base
    return text or "—"


def mode_text(mode: object) -> str:
    """A team's travel mode in Chinese (``walk`` → 步行); unknown modes as given."""
    key = str(mode or "").strip()
    return TRAVEL_NAMES.get(key.lower(), key)


def round_metres(distance_m: float, *, step: int = 10) -> int | None:
    """A distance rounded for people to ``step`` metres (``None`` if unknown)."""
    if not _finite(distance_m):
        return None
    return int(round(float(distance_m) / step) * step)


def format_share(share: float) -> str:
    """A share (0–1) as a percentage with one decimal: ``38.6%`` (``—`` if unknown)."""
    if not _finite(share):
        return "—"
    return f"{float(share) * 100:.1f}%"


def format_leg(distance_m: float | None, duration_s: float | None, *, mode: object = "walk"
               ) -> str:
    """The way to a stop: ``步行 350 米 · 5 分`` (metres rounded to 10; ``""`` if unknown)."""
    parts = []
    if distance_m is not None and _finite(distance_m):
        parts.append(format_distance(float(round_metres(distance_m) or 0)))
    if duration_s is not None and _finite(duration_s):
        parts.append(format_duration(float(duration_s)))
    if not parts:
        return ""
    return f"{mode_text(mode) or '步行'} {' · '.join(parts)}"


AssigneeKind = Literal["team", "officer", "unit"]
ASSIGNEE_KINDS: dict[str, str] = {"team": "巡查组", "officer": "队员", "unit": "协作单位"}
"""Whom a case step may hand the case to: one of the squad's patrol teams, one of its officers,
or a partner unit (:data:`PARTNER_UNITS`)."""
PARTNER_UNITS: tuple[str, ...] = ("市政", "园林", "环卫", "物业", "网格员")
"""Partner units a squad hands cases to (the work station's 市政 / 园林 / 环卫, the property
manager, the community grid worker)."""
CASE_SOURCE_PATROL = "巡查发现"
"""The source of a case an officer records on patrol (the dashboard's 巡查发现 form)."""

Ranking = Literal["exposure", "counts"]
RANKING_NAMES: dict[str, str] = {
    "exposure": "按巡查时长校正（巡查发现的案件按每巡查小时计，投诉类原样计数）",
    "counts": "按案件数（未按巡查时长校正）",
}
"""How hotspots and forecast cells were ranked: ``exposure`` (patrol-found cases per patrol-hour,
:mod:`geo.analysis.effort_zones`) or ``counts`` (raw case counts / the forecast as is)."""
