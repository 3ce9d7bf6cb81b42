"""Input model of the printable route sheets (路线单): one team, one day, its ordered stops.

The planner (``geo.routing.solve``) and the service build a :class:`TeamSheet` from a solved route;
:mod:`geo.sheets` renders it as PDF, XLSX and print-friendly HTML. Everything here is plain data:
strings are shown as given (escaped by each renderer), times are datetimes, ``datetime.time``,
``"HH:MM"`` strings or seconds after the start of the shift (the patrol solution's ``arrive_s``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from shapely.geometry import LineString

from geo.errors import InputError
from geo.io.tables import read_package_text
from geo.labels import (
    STATION_ROLES,
    format_distance,
    format_duration,
    format_leg,
)

Clock = datetime | time | str | float | int | None
ROLES = STATION_ROLES
_WEEKDAYS = "一二三四五六日"


@dataclass
class TeamMember:
    """One member of a patrol team: ``name`` and ``role`` (城管队员 / 市政 / 园林 / 环卫)."""

    name: str
    role: str = "城管队员"


@dataclass
class SheetStop:
    """One stop on a team's route, in visiting order.

    Attributes
    ----------
    seq : int
        1-based position on the route.
    arrive, depart : datetime, time, str, float or None
        Arrival and departure: a datetime, a ``time``, an ``"HH:MM"`` string, or seconds after
        the shift start (as ``arrive_s``/``depart_s`` in a patrol solution).
    community, address : str
        Community name and street address or landmark (地址或地标).
    what : str
        What is there (description of the hotspot, the open case, the relocation point).
    category, category_name : str
        Case category code (``"09006"``) and its Chinese name; either may be empty.
    checklist : list of str or None
        What to check; ``None`` derives it from category and kind (:func:`checklist_for`).
    kind : str
        ``热点`` (hotspot), ``复查`` (re-check of an open case), ``疏导点`` (relocation point) or
        ``社区巡查`` (routine community patrol).
    lon, lat : float or None
        WGS84 position, used for the route map.
    leg_m, leg_s : float or None
        Distance (m) and travel time (s) from the previous stop (or the station) to this one,
        when the plan gives them; shown as ``步行 350 米 · 5 分``.
    """

    seq: int
    arrive: Clock = None
    depart: Clock = None
    community: str = ""
    address: str = ""
    what: str = ""
    category: str = ""
    category_name: str = ""
    checklist: list[str] | None = None
    kind: str = "热点"
    lon: float | None = None
    lat: float | None = None
    leg_m: float | None = None
    leg_s: float | None = None

    def items(self) -> list[str]:
        """The checklist to print: the given one, else the one for category and kind."""
        if self.checklist is not None:
            return [str(x) for x in self.checklist]
        return checklist_for(self.category, category_name=self.category_name, kind=self.kind)

    def category_text(self) -> str:
        """The category's Chinese name: given, else from the catalogue by code, else the code."""
        if self.category_name:
            return self.category_name
        entry = load_checklists()["categories"].get((self.category or "").strip())
        return str(entry["name"]) if entry else self.category

    def has_position(self) -> bool:
        """True when ``lon`` and ``lat`` are finite numbers."""
        return _finite(self.lon) and _finite(self.lat)


@dataclass
class TeamSheet:
    """Everything one team's route sheet shows for one day.

    Attributes
    ----------
    squad_name, team_name : str
        E.g. ``书院中队`` and ``第一组``.
    members : list of TeamMember or (name, role) tuples
        The team, normalised to :class:`TeamMember`.
    date : datetime.date
        The patrol day.
    shift_start, shift_end : datetime, time or "HH:MM"
        The shift. Numeric stop times count seconds from ``shift_start``.
    stops : list of SheetStop
        In visiting order.
    distance_m, duration_s : float
        Route totals (travel distance; duration including service time).
    route_lonlat : list of (lon, lat), LineString or None
        The route's path in WGS84 for the map; ``None`` joins the stops in order.
    communities : GeoDataFrame or list of (name, Polygon) or None
        Community polygons drawn under the route (any CRS for a GeoDataFrame, which needs a
        ``name`` column; lon/lat polygons in a list).
    start_name : str
        Where the team starts (the work station, 工作站).
    start_lonlat : (lon, lat) or None
        Its position, drawn as a square.
    data_label : str
        Shown in header and footer, e.g. ``模拟数据，仅供演示`` when data is simulated.
    note : str
        Any further remark for the header (e.g. weather, special tasks).
    times_from : datetime, time or "HH:MM", optional
        What numeric stop times count from; default ``shift_start`` (use ``"00:00"`` for
        seconds after midnight).
    mode : str
        How the team travels (``walk`` → 步行, ``ebike`` → 电动车), for the legs to each stop.
    """

    squad_name: str
    team_name: str
    members: list[TeamMember] = field(default_factory=list)
    date: date = field(default_factory=date.today)
    shift_start: Clock = "07:00"
    shift_end: Clock = "15:00"
    stops: list[SheetStop] = field(default_factory=list)
    distance_m: float = 0.0
    duration_s: float = 0.0
    route_lonlat: Sequence[tuple[float, float]] | LineString | None = None
    communities: Any = None
    start_name: str = ""
    start_lonlat: tuple[float, float] | None = None
    data_label: str = ""
    note: str = ""
    times_from: Clock = None
    mode: str = "walk"

    def __post_init__(self) -> None:
        self.members = [_member(m) for m in self.members]
        if isinstance(self.date, datetime):
            self.date = self.date.date()
        elif isinstance(self.date, str):
            try:
                self.date = date.fromisoformat(self.date)
            except ValueError as exc:
                raise InputError(
                    f"路线单日期「{self.date}」无法识别；请使用 YYYY-MM-DD 格式。"
                ) from exc

    def title(self) -> str:
        """``书院中队 第一组 巡查路线单``."""
        return f"{self.squad_name} {self.team_name} 巡查路线单".strip()

    def date_text(self) -> str:
        """``2025年5月12日 星期一``."""
        d = self.date
        return f"{d.year}年{d.month}月{d.day}日 星期{_WEEKDAYS[d.weekday()]}"

    def shift_text(self) -> str:
        """``07:00–15:00``."""
        return f"{format_clock(self.shift_start)}–{format_clock(self.shift_end)}"

    def members_text(self) -> str:
        """Members grouped by role: ``张三、李四（城管队员）；王五（市政）…``."""
        order = {r: i for i, r in enumerate(ROLES)}
        groups: dict[str, list[str]] = {}
        for m in sorted(self.members, key=lambda m: order.get(m.role, len(ROLES))):
            groups.setdefault(m.role, []).append(m.name)
        return "；".join(f"{'、'.join(names)}（{role}）" for role, names in groups.items())

    def window(self, stop: SheetStop) -> str:
        """Arrival window of ``stop`` as ``07:10–07:25`` (or just the arrival)."""
        base = self.shift_start if self.times_from is None else self.times_from
        a = format_clock(stop.arrive, base=base)
        d = format_clock(stop.depart, base=base)
        if a and d:
            return f"{a}–{d}"
        return a or d

    def leg_text(self, stop: SheetStop) -> str:
        """The way to ``stop``: ``步行 350 米 · 5 分`` (``""`` when the plan gives no legs)."""
        return format_leg(stop.leg_m, stop.leg_s, mode=self.mode)

    def totals_text(self) -> str:
        """``停靠点 12 个 · 路程 4.3 公里 · 预计用时 5 小时 20 分``."""
        return (
            f"停靠点 {len(self.stops)} 个 · 路程 {format_distance(self.distance_m)}"
            f" · 预计用时 {format_duration(self.duration_s)}"
        )

    def stop_points(self) -> list[tuple[float, float]]:
        """Lon/lat of the stops that have a position, in order."""
        return [(float(s.lon), float(s.lat)) for s in self.stops
                if s.lon is not None and s.lat is not None and s.has_position()]

    def path_lonlat(self) -> list[tuple[float, float]]:
        """The route as lon/lat pairs: ``route_lonlat`` or start → stops → start."""
        if isinstance(self.route_lonlat, LineString):
            return [(float(x), float(y)) for x, y, *_ in self.route_lonlat.coords]
        if self.route_lonlat is not None and len(self.route_lonlat) > 0:
            return [(float(p[0]), float(p[1])) for p in self.route_lonlat]
        pts = self.stop_points()
        if self.start_lonlat is not None and pts:
            start = (float(self.start_lonlat[0]), float(self.start_lonlat[1]))
            pts = [start, *pts, start]
        return pts


def _member(m: TeamMember | Sequence[str] | str) -> TeamMember:
    if isinstance(m, TeamMember):
        return m
    if isinstance(m, str):
        return TeamMember(m)
    if len(m) == 2:
        return TeamMember(str(m[0]), str(m[1]))
    raise InputError(f"队员「{m!r}」格式不对；请写成 (姓名, 岗位)，例如 ('张三', '城管队员')。")


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def _seconds_of(value: Clock) -> float | None:
    """Seconds after midnight of a clock value (None for numbers and None)."""
    if isinstance(value, datetime):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, str):
        parts = value.strip().split(":")
        if len(parts) in (2, 3) and all(p.isdigit() for p in parts):
            return int(parts[0]) * 3600 + int(parts[1]) * 60
    return None


def format_clock(value: Clock, *, base: Clock = None) -> str:
    """Format a clock value as ``HH:MM``.

    Parameters
    ----------
    value : datetime, time, str, float, int or None
        Numbers are seconds after ``base`` (or after midnight when ``base`` is not a clock).
        Strings that are not ``H:MM`` are returned unchanged; ``None`` gives ``""``.
    base : datetime, time or str, optional
        The shift start.
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, datetime | time):
        return value.strftime("%H:%M")
    if isinstance(value, str):
        secs = _seconds_of(value)
        return value.strip() if secs is None else _hhmm(secs)
    if isinstance(value, int | float):
        if isinstance(base, datetime):
            # +30 s: round to the nearest minute, as for the other bases.
            return (base + timedelta(seconds=float(value) + 30.0)).strftime("%H:%M")
        return _hhmm((_seconds_of(base) or 0.0) + float(value))
    return str(value)


def _hhmm(seconds: float) -> str:
    minutes = round(seconds / 60.0)
    day, minutes = divmod(minutes, 24 * 60)
    text = f"{minutes // 60:02d}:{minutes % 60:02d}"
    return text + ("（次日）" if day >= 1 else "")


@lru_cache(maxsize=1)
def load_checklists() -> dict[str, Any]:
    """The checklist catalogue shipped as package data ``geo/data/checklists.json``."""
    text = read_package_text("checklists.json")
    data: dict[str, Any] = json.loads(text)
    return data


def _category_items(category: str, category_name: str) -> list[str] | None:
    cats: dict[str, Any] = load_checklists()["categories"]
    code = (category or "").strip()
    if code in cats:
        return list(cats[code]["items"])
    names = [n for n in (category_name, category) if n and n.strip()]
    for entry in cats.values():
        for n in names:
            if n.strip() == entry["name"]:
                return list(entry["items"])
    for entry in cats.values():
        for n in names:
            if entry["name"] in n or n.strip() in entry["name"]:
                return list(entry["items"])
    return None


def checklist_for(
    category: str = "", *, category_name: str = "", kind: str = "热点"
) -> list[str]:
    """What an officer checks at a stop of this category and kind.

    Parameters
    ----------
    category : str
        5-digit category code (``"09006"``) or a Chinese name; may be empty.
    category_name : str
        Chinese category name, used when the code is unknown.
    kind : str
        Stop kind: ``疏导点`` and ``社区巡查`` have their own lists; ``复查`` puts the re-check
        items first, then the first two items of the category.

    Returns
    -------
    list of str
        The items, in Chinese; a general list when nothing matches.
    """
    data = load_checklists()
    kinds: dict[str, list[str]] = data["kinds"]
    cat_items = _category_items(category, category_name)
    if kind in ("疏导点", "社区巡查"):
        return list(kinds[kind])
    if kind == "复查":
        return list(kinds["复查"]) + (cat_items or [])[:2]
    return cat_items if cat_items is not None else list(data["default"])
