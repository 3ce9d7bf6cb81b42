"""Gazetteer: cases without coordinates located by the place names the deployment knows.

12345 field set A (domain.md §2.2) has no coordinates, only 12345诉求地址, 小区名称 / 小区地址 and
街道. A :class:`Gazetteer` holds the names a deployment knows, each with a point and a precision:

* communities (社区: name, code, polygon → a point inside it), precision ``community``;
* landmarks (markets, old compounds, schools, green spaces …, ``data/boundaries/landmarks.geojson``
  through :mod:`geo.boundaries`): their point, or a point inside their polygon, precision
  ``landmark``. Roads are left out: a road name places a case anywhere along kilometres;
* the bureau's own table (:meth:`Gazetteer.with_entries`; columns ``name, lon, lat``, optional
  ``kind``, ``community``, ``street``; WGS84 or CGCS2000 lon/lat), which replaces a built-in
  entry of the same name. The service reads it from a file; this module reads no file.

Matching (:meth:`Gazetteer.match`):

1. names and texts are normalised: NFKC, lower case, spaces and punctuation removed, leading
   administrative prefixes (湖北省, 孝感市, 孝南区) dropped, and the suffix variants 社区 / 社区居委会 /
   居委会 / 居民委员会 / 小区 taken as one (书院社区居委会 = 书院社区 = 书院小区);
2. exact: a field (小区名称 first, then the address, 小区地址) that is a known name without
   its suffix (小区名称 ``红卫还建`` → 红卫还建小区);
3. contained: the names that occur in those texts — the most precise kind first (``point``,
   then ``landmark``, then ``community``), then the longest. A name with a suffix is found
   only with one (书院社区 is not in ``书院街12号``: 书院街 is a street, not the community);
4. names of the same rank at different places (more than :data:`SAME_PLACE_M` apart) are
   ambiguous: the row's 社区 or 街道 decides when it names one of them, else the row is not
   located and the candidates are named;
5. when those texts name nothing (or only ambiguously), the row's 社区 field places it at its
   community.

No online geocoder (Amap, Tianditu) is used: none can be tested offline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.case_columns import header_key
from geo.errors import FileReadError, Problem, ValidationError
from geo.place_names import DEFAULT_PREFIXES, core_name, name_entry, normalise, street_key
from geo.place_names import SUFFIXES as SUFFIXES

PRECISIONS = ("point", "landmark", "community")
"""Location precisions, most precise first (``point``: the row's own coordinates)."""
PRECISION_NAMES = {"point": "点位级", "landmark": "地标级", "community": "社区级"}
POINT_PRECISIONS = ("point", "landmark")
"""Precisions good enough for point analyses (hotspots, forecast cells, plan stops): a landmark
is good to about 100 m; a community-level case only counts in its community's statistics."""
SAME_PLACE_M = 100.0
"""Candidates closer than this are one place (not an ambiguity)."""
FIELDS = ("compound", "address", "compound_address", "community")
"""Case roles searched for a name, in order."""
DEFAULT_HINT = "本部署的地名表（CSV，列 name,lon,lat,kind,community）"
KIND_WORDS = {"point": "point", "点位": "point", "门牌": "point", "点": "point",
              "landmark": "landmark", "地标": "landmark", "小区": "landmark", "compound": "landmark",
              "community": "community", "社区": "community", "": "landmark"}
_COLUMNS = {"name": ("name", "名称", "地名", "地点", "小区名称"),
            "lon": ("lon", "经度", "lng", "longitude", "x"),
            "lat": ("lat", "纬度", "latitude", "y"),
            "kind": ("kind", "precision", "类型", "精度", "级别", "定位精度"),
            "community": ("community", "社区", "所属社区"),
            "street": ("street", "街道", "所属街道")}
_ENTRY_COLUMNS = ("name", "key", "core", "lon", "lat", "precision", "kind", "community_code",
                  "community", "street", "source")


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * 111_320.0 * math.cos(math.radians((a[1] + b[1]) / 2))
    return math.hypot(dx, (a[1] - b[1]) * 110_540.0)


@dataclass(frozen=True)
class Match:
    """Where a row was placed, or why not.

    ``precision`` is None when the row was not located; ``candidates`` then names the places of
    an ambiguous match. ``role``/``text`` are the field the name was found in and its text.
    """

    precision: str | None = None
    name: str = ""
    lon: float = math.nan
    lat: float = math.nan
    role: str = ""
    text: str = ""
    candidates: tuple[str, ...] = ()

    @property
    def located(self) -> bool:
        return self.precision is not None

    def describe(self) -> str:
        """``按地名「西大市场」定位（地标级）`` (a community-level note says where it counts)."""
        level = PRECISION_NAMES.get(self.precision or "", "")
        tail = "：只计入社区统计，不进入热点和路线" if self.precision == "community" else ""
        return f"按地名「{self.name}」定位（{level}{tail}）"

    def reason(self, hint: str = DEFAULT_HINT) -> str:
        """Why the row was not located and how to fix it."""
        shown = _show(self.text)
        if self.candidates:
            return (f"无坐标，按地名无法唯一定位：「{shown}」同时对应{'、'.join(self.candidates)}，"
                    f"位置不同；请在地址中写明所在社区或街道，或在{hint}中写明该地名的位置后重新导入。")
        if not self.text:
            return ("无坐标：该行没有经纬度，也没有可用于定位的地址、小区名称或社区；"
                    "请补上坐标或地址后重新导入。")
        return (f"无坐标，按地名也无法定位：「{shown}」中没有地名库里的社区、小区或地标名称；"
                f"请把该地名加入{hint}后重新导入，或导出带坐标的文件。")


def _show(text: str, limit: int = 60) -> str:
    clean = "".join(c if c.isprintable() else " " for c in text)
    return clean if len(clean) <= limit else clean[:limit] + "…"


def _point(e: Mapping[str, object]) -> tuple[float, float]:
    return float(e["lon"]), float(e["lat"])  # type: ignore[arg-type]


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


class Gazetteer:
    """The place names of a deployment and their points (see the module notes).

    Parameters
    ----------
    entries : pandas.DataFrame
        One row per name (columns of :data:`_ENTRY_COLUMNS`); build it with :meth:`from_area` and
        :meth:`with_entries`.
    prefixes : iterable of str
        Leading administrative names dropped before comparing.
    hint : str
        Where the deployment adds a name (quoted when a row matches nothing).
    """

    def __init__(self, entries: pd.DataFrame, *, prefixes: Iterable[str] = DEFAULT_PREFIXES,
                 hint: str = DEFAULT_HINT) -> None:
        self.entries = entries.reindex(columns=list(_ENTRY_COLUMNS)).reset_index(drop=True)
        self.prefixes = tuple(prefixes)
        self.hint = hint
        self._by_core: dict[str, list[int]] = {}
        self._by_key: dict[str, list[int]] = {}
        for i, (core, key) in enumerate(zip(self.entries["core"], self.entries["key"],
                                            strict=True)):
            self._by_core.setdefault(core, []).append(i)
            self._by_key.setdefault(key, []).append(i)
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        for level in PRECISIONS:
            keys = sorted({k for k, p in zip(self.entries["key"], self.entries["precision"],
                                             strict=True) if p == level and len(k) >= 2},
                          key=lambda k: (-len(k), k))
            if keys:
                self._patterns.append(
                    (level, re.compile("(?=(" + "|".join(map(re.escape, keys)) + "))")))

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_area(cls, *, communities: gpd.GeoDataFrame | None = None,
                  landmarks: gpd.GeoDataFrame | None = None,
                  prefixes: Iterable[str] = DEFAULT_PREFIXES, hint: str = DEFAULT_HINT
                  ) -> Gazetteer:
        """The names of the deployment's communities (``code``, ``name``, optional ``full_name``,
        ``street``; polygons) and landmarks (``name``, ``kind``, optional ``community_code``,
        ``community``; points or polygons — lines, i.e. roads, are skipped)."""
        rows: list[dict[str, object]] = []
        streets: dict[str, str] = {}
        if communities is not None and len(communities):
            comm = communities.to_crs(4326) if communities.crs is not None else communities
            for rec in comm.itertuples():
                pt = rec.geometry.representative_point()
                street = _text(getattr(rec, "street", ""))
                streets[str(rec.code)] = street
                for name in dict.fromkeys([rec.name, _text(getattr(rec, "full_name", ""))]):
                    e = name_entry(str(name), pt.x, pt.y, "community", kind="community",
                               source="community", prefixes=prefixes, community_code=str(rec.code),
                               community=str(rec.name), street=street) if name else None
                    if e and not any(r["key"] == e["key"] and r["community_code"] == e[
                            "community_code"] for r in rows):
                        rows.append(e)
        if landmarks is not None and len(landmarks):
            lm = landmarks.to_crs(4326) if landmarks.crs is not None else landmarks
            for rec in lm.itertuples():
                geom = rec.geometry
                if geom is None or geom.is_empty or geom.geom_type.endswith("LineString"):
                    continue
                pt = geom if geom.geom_type == "Point" else geom.representative_point()
                code = _text(getattr(rec, "community_code", "")) or None
                e = name_entry(_text(rec.name), pt.x, pt.y, "landmark", kind=_text(getattr(
                    rec, "kind", "")) or "landmark", source="landmark", prefixes=prefixes,
                    community_code=code, community=_text(getattr(rec, "community", "")),
                    street=streets.get(code or "", ""))
                if e:
                    rows.append(e)
        return cls(pd.DataFrame(rows, columns=list(_ENTRY_COLUMNS)), prefixes=prefixes, hint=hint)

    def with_hint(self, hint: str) -> Gazetteer:
        """The same names; ``hint`` says where the deployment adds one."""
        return Gazetteer(self.entries, prefixes=self.prefixes, hint=hint)

    def with_entries(self, frame: pd.DataFrame) -> Gazetteer:
        """These names plus a bureau's table, whose entries replace built-in ones of the same name.

        Parameters
        ----------
        frame : pandas.DataFrame
            Columns ``name, lon, lat`` (or 名称/地名, 经度, 纬度), optional ``kind`` (``landmark`` /
            地标 / 小区, ``community`` / 社区, ``point`` / 点位 / 门牌; empty = landmark),
            ``community`` (its 社区) and ``street`` (its 街道). Lon/lat in WGS84 or CGCS2000.

        Raises
        ------
        FileReadError
            A required column is missing.
        ValidationError
            Some rows are bad (every problem: row, column, value, fix).
        """
        cols: dict[str, str] = {}
        for col in frame.columns:
            key = header_key(col)
            for role, names in _COLUMNS.items():
                if role not in cols and key in {header_key(n) for n in names}:
                    cols[role] = str(col)
        missing = [r for r in ("name", "lon", "lat") if r not in cols]
        if missing:
            raise FileReadError("地名表缺少列 " + "、".join(missing) + "；需要 name,lon,lat（或 名称,经度,纬度），"
                                "可选 kind（地标/社区/点位）、community、street。现有列："
                                + "、".join(map(str, frame.columns)) + "。")
        rows = (np.asarray(frame.index, dtype=int) if frame.attrs.get("header_row")
                else np.arange(len(frame)) + 2)
        problems: list[Problem] = []
        new: list[tuple[int, dict[str, object]]] = []
        for row, rec in zip(rows.tolist(), frame.to_dict("records"), strict=True):
            got = self._bureau_row(int(row), rec, cols, problems)
            if got is not None:
                new.append((int(row), got))
        seen: dict[str, dict[str, object]] = {}
        for row, e in new:
            first = seen.setdefault(str(e["key"]), e)
            if first is not e and _metres(_point(first), _point(e)) > SAME_PLACE_M:
                problems.append(Problem(row, cols["name"], str(e["name"]),
                                        "地名表中同名地点出现两次且位置不同；请只保留一行，或改成能区分的名称。"))
        if problems:
            raise ValidationError(sorted(problems, key=lambda p: (p.row, p.column)), what="地名表")
        keep = self.entries[~self.entries["key"].isin(seen)]
        added = pd.DataFrame(list(seen.values()), columns=list(_ENTRY_COLUMNS))
        both = pd.concat([added, keep], ignore_index=True) if len(keep) else added
        return Gazetteer(both, prefixes=self.prefixes, hint=self.hint)

    def _bureau_row(self, row: int, rec: Mapping[str, object], cols: dict[str, str],
                    problems: list[Problem]) -> dict[str, object] | None:
        def cell(role: str) -> str:
            return _text(rec.get(cols[role], "")).strip() if role in cols else ""

        name, kind = cell("name"), header_key(cell("kind"))
        before = len(problems)
        if not name or not core_name(normalise(name, self.prefixes))[0]:
            problems.append(Problem(row, cols["name"], name, "地名为空；请填写社区、小区或地标的名称。"))
        lon, lat = pd.to_numeric(cell("lon"), errors="coerce"), pd.to_numeric(cell("lat"),
                                                                              errors="coerce")
        if not (73.0 <= lon <= 136.0 and 3.0 <= lat <= 54.0):
            problems.append(Problem(row, cols["lon"], f"{cell('lon')},{cell('lat')}",
                                    "经纬度缺失或不在中国范围内（经度 73–136，纬度 3–54）；"
                                    "请填写十进制度数（WGS84 或 CGCS2000），并检查是否填反。"))
        if kind not in KIND_WORDS:
            problems.append(Problem(row, cols["kind"], cell("kind"),
                                    "无法识别的地名类型；可用：地标（landmark，含小区）、社区（community）、"
                                    "点位（point，门牌）。"))
        if len(problems) > before:
            return None
        community = cell("community")
        code, street = None, cell("street")
        found = self._by_core.get(core_name(normalise(community, self.prefixes))[0], []) if community \
            else []
        comm = [i for i in found if self.entries.at[i, "precision"] == "community"]
        if comm:
            code = self.entries.at[comm[0], "community_code"]
            street = street or str(self.entries.at[comm[0], "street"] or "")
        e = name_entry(name, float(lon), float(lat), KIND_WORDS[kind], kind="bureau", source="bureau",
                   prefixes=self.prefixes, community_code=code, community=community, street=street)
        return e

    # ------------------------------------------------------------------ matching

    def match(self, *, address: str = "", compound: str = "", compound_address: str = "",
              community: str = "", street: str = "") -> Match:
        """Locate one row by its texts (see the module notes for the rules): 小区名称, the
        address and 小区地址 first; the 社区 field decides between candidates, and places the
        row at its community when the other fields name nothing."""
        texts = {"compound": compound, "address": address, "compound_address": compound_address,
                 "community": community}
        canon = {r: normalise(t, self.prefixes) for r, t in texts.items() if str(t).strip()}
        if not canon:
            return Match()
        where = (core_name(canon.get("community", ""))[0], street_key(street) if street else "")
        pending: Match | None = None
        for group in ([r for r in canon if r != "community"], ["community"] if community else []):
            got = self._search({r: canon[r] for r in group}, texts, where)
            if got is not None and got.located:
                return got
            pending = pending or got
        return pending or Match(text=" / ".join(dict.fromkeys(str(texts[r]).strip()
                                                              for r in canon)))

    def _search(self, canon: dict[str, str], texts: Mapping[str, str],
                where: tuple[str, str]) -> Match | None:
        """Exact names of ``canon``'s fields, then the names they contain (None: no name)."""
        pending: Match | None = None
        for role, text in canon.items():  # 1. a field that is a known name
            idx = self._by_core.get(core_name(text)[0], [])
            if idx:
                best = min(PRECISIONS.index(self.entries.at[i, "precision"]) for i in idx)
                got = self._decide([i for i in idx if PRECISIONS.index(
                    self.entries.at[i, "precision"]) == best], where, role, str(texts[role]))
                if got.located:
                    return got
                pending = pending or got
        joined = "|".join(canon.values())
        for _, pattern in self._patterns if canon else ():  # 2. names in the texts
            found = {m.group(1) for m in pattern.finditer(joined)}
            if found:
                longest = max(map(len, found))
                top = sorted(k for k in found if len(k) == longest)
                role = next(r for r in canon if any(k in canon[r] for k in top))
                got = self._decide([i for k in top for i in self._by_key[k]], where, role,
                                   str(texts[role]))
                return got if got.located else pending or got
        return pending

    def _decide(self, idx: list[int], where: tuple[str, str], role: str, text: str) -> Match:
        """One place among the candidate entries ``idx``, or an ambiguous :class:`Match`."""
        order = {"bureau": 0, "landmark": 1, "community": 2}
        idx = sorted(idx, key=lambda i: (order.get(str(self.entries.at[i, "source"]), 3), i))
        places = self._places(idx)
        if len(places) > 1:
            comm, street = where
            for test in (lambda i: bool(comm) and core_name(normalise(
                    _text(self.entries.at[i, "community"]), self.prefixes))[0] == comm,
                         lambda i: bool(street) and street_key(
                             _text(self.entries.at[i, "street"])) == street):
                narrowed = [p for p in places if any(test(i) for i in p)]
                if len(narrowed) == 1:
                    places = narrowed
                    break
        if len(places) > 1:
            return Match(role=role, text=text, candidates=tuple(self._label(p[0]) for p in places))
        e = self.entries.loc[places[0][0]]
        return Match(str(e["precision"]), str(e["name"]), float(e["lon"]), float(e["lat"]), role,
                     text)

    def _places(self, idx: list[int]) -> list[list[int]]:
        places: list[list[int]] = []
        for i in idx:
            pt = (float(self.entries.at[i, "lon"]), float(self.entries.at[i, "lat"]))
            for p in places:
                if _metres(pt, (float(self.entries.at[p[0], "lon"]),
                                float(self.entries.at[p[0], "lat"]))) <= SAME_PLACE_M:
                    p.append(i)
                    break
            else:
                places.append([i])
        return places

    def _label(self, i: int) -> str:
        e = self.entries.loc[i]
        where = _text(e["community"] if e["precision"] != "community" else e["street"])
        return f"「{e['name']}」（{where}）" if where else f"「{e['name']}」"

    def match_frame(self, df: pd.DataFrame) -> list[Match]:
        """:meth:`match` of every row of ``df`` (columns among :data:`FIELDS` and ``street``;
        rows with the same texts are matched once)."""
        cols = [c for c in (*FIELDS, "street") if c in df]
        memo: dict[tuple[str, ...], Match] = {}
        out: list[Match] = []
        values = df[cols].astype(str).to_numpy() if cols else np.empty((len(df), 0), dtype=object)
        for vals in map(tuple, values):
            if vals not in memo:
                memo[vals] = self.match(**dict(zip(cols, vals, strict=True)))
            out.append(memo[vals])
        return out

