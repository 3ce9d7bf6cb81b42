"""Header mapping for case tables: which column of a real export fills which role.

Exports name their columns in many ways: the canonical ``case_id, category, reported_at, lon,
lat``; the Chinese headers of design.md (案件编号, 问题类型, 上报时间, 经度, 纬度 …); the eUrbanMIS
stat table ``to_stat_info`` (``task_num``, ``create_time``, ``sub_type_name``, ``coordinate_x`` …)
and its REC_LIST API (``taskNum``, ``createTime``, ``subTypeName``, ``eventStateName`` …); the
eUrbanMIS UI (任务号, 小类, X坐标, 当前阶段 …); 12345 field set A (``12345工单编号``,
``12345受理时间``, 一级–五级业务分类, 小区名称 / 小区地址 / 街道 for :mod:`geo.gazetteer`) and set B (``taskId``, ``levelOne``–``levelFour``,
``coordx``/``coordy``, ``discription``, ``endTime``). Headers are compared after Unicode NFKC,
case folding and removing spaces, ``_``, ``-`` and ``.`` (``sub_type_name`` = ``subTypeName``).

When several columns could fill one role, the most specific wins and the others fill in, row by
row, where it is empty: 小类 before 大类 before 案件类型 (which in eUrbanMIS is the channel,
市一体化平台), ``levelFour`` before ``levelThree``, 发现时间 before 受理时间 before 立案时间.
:func:`map_columns` says which column was used for what; ``overrides`` (``--map 列名=role``)
replace the guess for a role. A coordinate header may name its system: ``经度(百度)`` and
``百度经度`` mean BD-09, ``高德``/``腾讯`` GCJ-02, ``WGS84``/``GPS`` WGS84.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from geo.errors import FileReadError, InputError

REQUIRED = ("case_id", "category", "reported_at", "lon", "lat")
"""Roles an imported case table must have (lon/lat may both be absent: rows are then rejected)."""
OPTIONAL = ("description", "address", "source", "status", "closed_at", "community",
            "category_name", "squad", "compound", "compound_address", "street")
ROLE_NAMES = {"case_id": "案件编号", "category": "问题类型", "reported_at": "上报时间",
              "lon": "经度", "lat": "纬度", "description": "问题描述", "address": "地址",
              "source": "来源", "status": "状态", "closed_at": "结案时间", "community": "所属社区",
              "category_name": "问题名称", "squad": "中队", "compound": "小区名称",
              "compound_address": "小区地址", "street": "街道"}
"""The Chinese name of each role (accepted in ``--map`` as well)."""
IGNORE = "ignore"
"""The ``--map`` role that leaves a column out (also ``忽略`` and ``-``)."""

SYNONYMS: dict[str, tuple[str, ...]] = {  # most specific first
    "case_id": ("case_id", "案件编号", "案卷编号", "任务号", "task_num", "12345工单编号", "工单编号",
                "工单号", "task_id", "案件号", "事件编号", "编号", "rec_id", "id"),
    "category": ("category", "问题类型", "问题类别", "事项名称", "事项", "third_type_name",
                 "三级类别", "五级业务分类", "四级业务分类", "三级业务分类", "level_four",
                 "level_three", "小类", "sub_type_name", "小类名称", "事件小类", "二级业务分类",
                 "level_two", "大类", "main_type_name", "大类名称", "事件大类", "一级业务分类",
                 "level_one", "类别", "问题分类", "事件类型", "案件类型", "rec_type_name"),
    "reported_at": ("reported_at", "上报时间", "发现时间", "discover_time", "report_time",
                    "12345受理时间", "受理时间", "来电时间", "order_time", "per_create_time",
                    "create_time", "创建时间", "登记时间", "立案时间"),
    "lon": ("lon", "经度", "longitude", "lng", "x", "x坐标", "coordinate_x", "coord_x", "东坐标",
            "横坐标"),
    "lat": ("lat", "纬度", "latitude", "y", "y坐标", "coordinate_y", "coord_y", "北坐标", "纵坐标"),
    "description": ("description", "问题描述", "案件描述", "事件描述", "描述", "12345内容描述",
                    "内容描述", "诉求内容", "event_desc", "discription", "情况描述"),
    "address": ("address", "问题地址", "地址", "事发地址", "详细地址", "12345诉求地址", "诉求地址",
                "发生地点", "位置描述", "位置"),
    "source": ("source", "来源", "案件来源", "问题来源", "信息来源", "event_src_name",
               "12345工单来源", "工单来源", "report_dept", "渠道来源", "渠道"),
    "status": ("status", "状态", "案件状态", "处理状态", "办理状态", "工单状态", "当前状态",
               "当前阶段", "案件阶段", "阶段", "event_state_name"),
    "closed_at": ("closed_at", "结案时间", "办结时间", "archive_time", "end_time", "完成时间",
                  "结案日期", "办结日期"),
    "community": ("community", "所属社区", "社区", "community_name", "社区名称"),
    "category_name": ("category_name", "问题名称", "类别名称"),
    "squad": ("squad", "中队", "squad_id"),
    "compound": ("compound", "小区名称", "小区", "小区名", "楼盘名称", "楼盘"),
    "compound_address": ("compound_address", "小区地址", "楼盘地址"),
    "street": ("street", "街道", "所属街道", "街道名称", "street_name", "乡镇街道", "街镇"),
}
"""Header names of each role, most specific first (compared as :func:`header_key` makes them)."""

_HINTS = (("bd09", ("百度", "bd09", "baidu")), ("gcj02", ("高德", "腾讯", "gcj02", "火星", "amap")),
          ("wgs84", ("wgs84", "gps")), ("cgcs2000", ("cgcs2000", "国家2000")))
_STRIP = re.compile(r"[\s_\-.·:：]+")
_BRACKETS = re.compile(r"[(\[【][^)\]】]*[)\]】]")


def header_key(name: object) -> str:
    """A header as compared: NFKC, lower case, no spaces, ``_``, ``-``, ``.`` or colons."""
    return _STRIP.sub("", unicodedata.normalize("NFKC", str(name))).lower()


_LOOKUP: dict[str, tuple[str, int]] = {}
for _role, _names in SYNONYMS.items():
    for _rank, _name in enumerate(_names):
        _LOOKUP.setdefault(header_key(_name), (_role, _rank))


def guess_role(name: object) -> tuple[str, int, str | None] | None:
    """``(role, rank, coordinate system named by the header)`` for a header, or ``None``.

    ``rank`` orders candidates for one role (0 = most specific).
    """
    key = header_key(name)
    if key in _LOOKUP:
        return (*_LOOKUP[key], None)
    bare = _BRACKETS.sub("", key)
    for system, words in _HINTS:
        for word in words:
            if word in key:
                base = _BRACKETS.sub("", key.replace(word, "")) or bare
                found = _LOOKUP.get(base)
                if found and found[0] in ("lon", "lat"):
                    return (*found, system)
    if bare != key and bare in _LOOKUP:
        return (*_LOOKUP[bare], None)
    return None


def parse_role(text: str) -> str:
    """A ``--map`` role: an English role, its Chinese name, or ``ignore`` (忽略, ``-``).

    Raises
    ------
    InputError
        The role is unknown (the message lists them).
    """
    key = header_key(text)
    if key in ("ignore", "忽略", "", "无"):
        return IGNORE
    for role, cn in ROLE_NAMES.items():
        if key in (header_key(role), header_key(cn)):
            return role
    roles = "、".join(f"{r}（{c}）" for r, c in ROLE_NAMES.items())
    raise InputError(f"--map 的角色「{text}」无法识别；可用：{roles}，或 ignore（不使用该列）。")


def parse_map(items: Iterable[str]) -> dict[str, str]:
    """``["列名=role", …]`` (``--map``) → ``{列名: role}``.

    Raises
    ------
    InputError
        An item without ``=`` or with an unknown role.
    """
    out: dict[str, str] = {}
    for item in items:
        col, sep, role = str(item).rpartition("=")
        if not sep or not col.strip():
            raise InputError(f"--map「{item}」的格式应为 列名=角色，例如 --map 小类=category。")
        out[col.strip()] = parse_role(role)
    return out


@dataclass
class ColumnMap:
    """Which columns of a file fill which role.

    Attributes
    ----------
    uses : dict of str to list of str
        Role → the file's columns for it, the one used first; the others fill in where it is
        empty.
    mapped : set of str
        Roles set by ``overrides`` (``--map``).
    implied : str or None
        The coordinate system the lon/lat headers name (``bd09`` for ``经度(百度)``).
    unused : list of str
        Columns used for nothing.
    """

    uses: dict[str, list[str]] = field(default_factory=dict)
    mapped: set[str] = field(default_factory=set)
    implied: str | None = None
    unused: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """One line per role: ``问题类型 category ← 小类（为空时用 大类、案件类型）``."""
        lines = []
        for role, cols in self.uses.items():
            how = "（--map 指定）" if role in self.mapped else ""
            rest = f"（为空时用 {'、'.join(cols[1:])}）" if len(cols) > 1 else ""
            lines.append(f"{ROLE_NAMES.get(role, role)} {role} ← {cols[0]}{rest}{how}")
        if self.unused:
            lines.append("未使用的列：" + "、".join(self.unused))
        return lines


def _match_column(name: str, columns: list[str]) -> str | None:
    if name in columns:
        return name
    key = header_key(name)
    return next((c for c in columns if header_key(c) == key), None)


def map_columns(columns: Iterable[object], *, overrides: Mapping[str, str] | None = None,
                required: Iterable[str] = REQUIRED, roles: Iterable[str] | None = None,
                allow_no_coords: bool = True) -> ColumnMap:
    """Decide which column fills which role.

    Parameters
    ----------
    columns : iterable
        The file's headers.
    overrides : mapping, optional
        ``{列名: role}`` (see :func:`parse_map`); a role given here takes only the columns given.
    required : iterable of str
        Roles that must be found.
    allow_no_coords : bool
        ``lon`` and ``lat`` may both be missing although required (a file without coordinates:
        the importer rejects its rows one by one); one without the other is an error.
    roles : iterable of str, optional
        The roles to look for (default: all of :data:`REQUIRED` and :data:`OPTIONAL`).

    Raises
    ------
    InputError
        An override names a column that is not in the file.
    FileReadError
        A required role has no column (nothing in the file can be used then).
    """
    cols = [str(c) for c in columns]
    wanted = tuple(roles) if roles is not None else REQUIRED + OPTIONAL
    out = ColumnMap()
    taken: set[str] = set()
    for name, role in (overrides or {}).items():
        col = _match_column(name, cols)
        if col is None:
            raise InputError(f"--map 的列「{name}」不在文件中；现有列：" + "、".join(cols) + "。")
        taken.add(col)
        if role != IGNORE:
            out.uses.setdefault(role, []).append(col)
            out.mapped.add(role)
    found: dict[str, list[tuple[int, int, str, str | None]]] = {}
    for pos, col in enumerate(cols):
        guess = guess_role(col) if col not in taken else None
        if guess and guess[0] in wanted and guess[0] not in out.mapped:
            found.setdefault(guess[0], []).append((guess[1], pos, col, guess[2]))
    hints: dict[str, str | None] = {}
    for role in wanted:
        if role in found:
            ranked = sorted(found[role])
            out.uses[role] = [c for _, _, c, _ in ranked]
            hints[role] = ranked[0][3]
    for role in ("lon", "lat"):
        if role in out.mapped:
            hints[role] = (guess_role(out.uses[role][0]) or (None, 0, None))[2]
    out.implied = hints.get("lon") or hints.get("lat")
    used = {c for cs in out.uses.values() for c in cs}
    out.unused = [c for c in cols if c not in used and c not in taken]
    need = [r for r in required if r not in out.uses]
    if allow_no_coords and set(need) >= {"lon", "lat"}:
        need = [r for r in need if r not in ("lon", "lat")]  # rows rejected as 无坐标
    if need:
        names = "、".join(f"{r}（{ROLE_NAMES.get(r, r)}）" for r in need)
        raise FileReadError(
            f"缺少必需的列：{names}。需要 case_id, category, reported_at, lon, lat（或中文表头 "
            "案件编号, 问题类型, 上报时间, 经度, 纬度，以及数字城管、12345 导出的常见列名）；现有列："
            + "、".join(cols) + "。若某列就是所需内容，请用 --map 列名=角色 指定，例如 --map 小类=category。")
    return out


def by_role(table: pd.DataFrame, cmap: ColumnMap) -> pd.DataFrame:
    """One column per role of ``cmap``: the preferred column's cell, or the next column's where
    it is empty (``_col_<role>`` then names the column each row's value came from).

    ``table`` holds text cells (``""`` for empty).
    """
    df = pd.DataFrame(index=table.index)
    for role, cols in cmap.uses.items():
        value = table[cols[0]].copy()
        source = pd.Series(cols[0], index=table.index, dtype=object)
        for alt in cols[1:]:
            empty = value.str.strip() == ""
            if not empty.any():
                break
            take = empty & (table[alt].str.strip() != "")
            value[take], source[take] = table[alt][take], alt
        df[role] = value
        if (source != cols[0]).any():
            df[f"_col_{role}"] = source
    return df
