r"""Case tables: header mapping, per-row validation, coordinate normalisation, community join.

:func:`parse_cases` turns a raw table (every cell text, as :func:`geo.io.tables.read_table` returns it) into
a case GeoDataFrame in WGS84 plus a list of :class:`~geo.errors.Problem` — one per bad value, with
row, column, value and a fix — so an importer can store the valid rows and report the rest.

Two rules for text hold on every path (API, import, CLI), so neither database ever sees a bad value:

- A case id is what :func:`normalise_case_id` makes of it (Unicode NFKC, surrounding whitespace
  removed; control, format and other invisible characters, empty and over-long ids rejected).
  Every lookup of a user-given id uses the same function, so ``"SIM1 "``, ``"\tSIM1"`` and
  ``"ＳＩＭ１"`` all name case ``SIM1``. Ids are case-sensitive (``sim1`` is another id).
- No text cell may contain a control character (NUL and the other C0/C1 codes, or a lone
  surrogate); only the free-text columns ``description`` and ``address`` may contain tab and line
  breaks (``\r\n`` and ``\r`` are stored as ``\n``). A row with such a cell is rejected with a
  Chinese reason; the offending value is reported with the characters escaped (``\x00``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.catalogue import Catalogue, default_catalogue
from geo.crs import WGS84, XIAONAN_WORKING_CRS, to_wgs84
from geo.errors import FileReadError, InputError, Problem
from geo.labels import STATUSES

HEADER_ALIASES: dict[str, str] = {
    "案件编号": "case_id", "案卷编号": "case_id", "编号": "case_id", "任务号": "case_id",
    "问题类型": "category", "问题类别": "category", "案件类型": "category", "事件类型": "category",
    "小类": "category", "类别": "category",
    "上报时间": "reported_at", "发现时间": "reported_at", "受理时间": "reported_at",
    "经度": "lon", "纬度": "lat", "longitude": "lon", "latitude": "lat", "x": "lon", "y": "lat",
    "问题描述": "description", "描述": "description", "地址": "address", "问题地址": "address",
    "来源": "source", "案件来源": "source", "状态": "status", "案件状态": "status",
    "结案时间": "closed_at", "所属社区": "community", "社区": "community",
}
REQUIRED = ("case_id", "category", "reported_at", "lon", "lat")
OPTIONAL = ("description", "address", "source", "status", "closed_at", "community")
_STATUS_ALIASES = {
    "reported": "上报", "filed": "立案", "dispatched": "派遣", "handled": "处置",
    "verified": "核查", "closed": "结案", "void": "作废", "cancelled": "作废",
    "已结案": "结案", "已立案": "立案", "已派遣": "派遣", "处理中": "处置", "待核查": "核查",
}
_CHINA = (73.0, 136.0, 3.0, 54.0)  # lon/lat box used to spot swapped coordinates
CASE_ID_MAX_LEN = 64
"""Longest case id (the database column is ``VARCHAR(64)``)."""
FREE_TEXT = ("description", "address")
"""Columns that may contain tab and line breaks (every other text column: no control character)."""
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_FREE_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_ID_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def visible(text: str, *, limit: int = 200) -> str:
    r"""``text`` (at most ``limit`` characters) with every non-printable character escaped
    (``\x00``, ``\u200b``), safe to show in a report, a log or a database column."""
    return "".join(c if c.isprintable() or c == " " else
                   (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
                   for c in text[:limit])


def find_control(text: str, *, free_text: bool = False) -> str | None:
    """The first control character (or lone surrogate) in ``text``, escaped as by
    :func:`visible`, or ``None``; with ``free_text`` tab and line breaks are allowed."""
    found = (_FREE_CONTROL_RE if free_text else _CONTROL_RE).search(text)
    return visible(found.group(0)) if found else None


def _normalise_id(raw: str) -> tuple[str, str | None]:
    """``(id, None)`` for a valid case id, ``("", reason)`` otherwise (see normalise_case_id)."""
    if raw.isascii() and raw.isprintable():  # fast path: the usual ``SIM2026…`` ids
        text = raw.strip()
    else:
        text = unicodedata.normalize("NFKC", raw).strip()
        bad = next((c for c in text if unicodedata.category(c) in _ID_BAD_CATEGORIES
                    or (c.isspace() and c != " ")), None)
        if bad is not None:
            return "", (f"案件编号含控制字符或不可见字符（{visible(bad)}）；"
                        "请只用字母、数字、汉字和 - _ / . 等可见字符。")
    if not text:
        return "", "案件编号为空；每行需要唯一的案件编号。"
    if len(text) > CASE_ID_MAX_LEN:
        return "", f"案件编号超过 {CASE_ID_MAX_LEN} 个字符（{len(text)} 个）；请使用更短的编号。"
    return text, None


def normalise_case_id(raw: str) -> str:
    r"""The canonical form of a user-given case id — the one rule for create, import and lookup.

    Unicode NFKC (full-width ``ＳＩＭ１`` → ``SIM1``, ideographic space → space), then surrounding
    whitespace removed. Case is kept (ids are case-sensitive).

    Parameters
    ----------
    raw : str
        The id as the user gave it (JSON field, path segment, file cell).

    Returns
    -------
    str
        The normalised id, 1–64 characters, no control, format or other invisible character.

    Raises
    ------
    InputError
        If the id is empty, too long or contains such a character (NUL, tab or newline inside,
        zero-width space, …); the message says what to fix.

    Examples
    --------
    >>> normalise_case_id(" ＳＩＭ２０２６ \t")
    'SIM2026'
    """
    text, reason = _normalise_id(str(raw))
    if reason is not None:
        raise InputError(reason)
    return text


@dataclass
class ParseResult:
    """Outcome of :func:`parse_cases`.

    Attributes
    ----------
    cases : geopandas.GeoDataFrame
        Valid rows (WGS84 points) with the canonical case columns and ``row`` (1-based file row).
    problems : list of Problem
        Every problem found, in row order.
    n_rows : int
        Number of data rows in the table.
    """

    cases: gpd.GeoDataFrame
    problems: list[Problem] = field(default_factory=list)
    n_rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    """Column names as written in the file, by canonical name (``case_id`` → ``案件编号``)."""

    @property
    def rejected_rows(self) -> list[int]:
        """Sorted file rows with at least one problem."""
        return sorted({p.row for p in self.problems if p.row})


def canonical_columns(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename Chinese or English headers to canonical names; return the frame and the original names.

    Raises
    ------
    FileReadError
        If a required column is missing (nothing in the file can be stored then).
    """
    rename: dict[str, str] = {}
    for col in table.columns:
        key = str(col).strip()
        canon = HEADER_ALIASES.get(key, HEADER_ALIASES.get(key.lower(), key.lower()))
        if canon in REQUIRED + OPTIONAL and canon not in rename.values():
            rename[col] = canon
    missing = [c for c in REQUIRED if c not in rename.values()]
    if missing:
        hint = "、".join(missing)
        raise FileReadError(
            f"缺少必需的列：{hint}。需要 case_id, category, reported_at, lon, lat "
            "（或中文表头 案件编号, 问题类型, 上报时间, 经度, 纬度）；现有列："
            + "、".join(map(str, table.columns))
        )
    return table.rename(columns=rename), {v: str(k) for k, v in rename.items()}


def _as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text; missing values (None, NaN, NaT) become ``""``."""
    out = pd.DataFrame(index=table.index)
    for col in table.columns:
        values = table[col]
        if isinstance(values.dtype, pd.DatetimeTZDtype):  # fast path: ISO text in UTC
            text = values.dt.tz_convert("UTC").dt.tz_localize(None).astype(str) + "Z"
        else:
            text = values.astype(str)
        out[col] = text.where(values.notna(), "")
    return out


def _problems(mask: np.ndarray, df: pd.DataFrame, col: str, names: dict[str, str],
              message: str | pd.Series) -> list[Problem]:
    idx = np.flatnonzero(mask)
    msgs = message if isinstance(message, pd.Series) else None
    return [
        Problem(int(df["row"].iat[i]), names.get(col, col), str(df[col].iat[i]),
                str(msgs.iat[i]) if msgs is not None else str(message))
        for i in idx
    ]


_AWARE = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _parse_subset(text: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    redo = parsed.isna()
    if redo.any():
        parsed = parsed.copy()
        parsed[redo] = pd.to_datetime(text[redo], errors="coerce", format="mixed")
    return parsed


def parse_times(values: pd.Series, *, tz: str) -> pd.Series:
    """Parse timestamps (ISO, ``2026/3/5 7:30``, ``2026年3月5日 7时30分``); naive ones are in ``tz``.

    Returns a tz-aware series in ``tz``; unparseable or empty values become NaT.
    """
    text = (values.astype(str).str.strip()
            .str.replace(r"[年月]", "-", regex=True).str.replace("日", " ", regex=False)
            .str.replace("时", ":", regex=False).str.replace("分", "", regex=False)
            .str.replace("秒", "", regex=False).str.strip())
    out = pd.Series(pd.NaT, index=values.index, dtype=f"datetime64[ns, {tz}]")
    aware = text.str.contains(_AWARE, regex=True) & (text != "")
    naive = ~aware & (text != "")
    if naive.any():
        parsed = _parse_subset(text[naive])
        out[naive] = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    if aware.any():
        parsed = pd.to_datetime(text[aware], errors="coerce", format="ISO8601", utc=True)
        out[aware] = parsed.dt.tz_convert(tz)
    return out


def _fast_times(values: pd.Series, *, tz: str) -> pd.Series:
    """Vectorised path for uniform ISO-like timestamps; falls back to :func:`parse_times`."""
    try:
        parsed = pd.to_datetime(values.astype(str).str.strip(), format="ISO8601")
    except (ValueError, TypeError):
        return parse_times(values, tz=tz)
    if parsed.dt.tz is None:
        return parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    return parsed.dt.tz_convert(tz)


def _check_text(df: pd.DataFrame, names: dict[str, str]) -> list[Problem]:
    """Reject cells with control characters (every text column but ``case_id``, which
    :func:`_check_ids` judges); the cells are cleaned so later checks report only real problems."""
    out: list[Problem] = []
    for col in [c for c in REQUIRED + OPTIONAL if c in df and c != "case_id"]:
        pattern = _FREE_CONTROL_RE if col in FREE_TEXT else _CONTROL_RE
        values = df[col].astype(str)
        suspect = ~values.map(str.isprintable).astype(bool)  # cheap pre-filter
        if not suspect.any():
            continue
        mask = (suspect & values.str.contains(pattern, regex=True)).to_numpy()
        if not mask.any():
            continue
        for i in np.flatnonzero(mask):
            value = values.iat[i]
            first = pattern.search(value)
            char = visible(first.group(0)) if first else ""
            allowed = "（可以有换行和制表符）" if col in FREE_TEXT else ""
            out.append(Problem(int(df["row"].iat[i]), names.get(col, col), visible(value),
                               f"含控制字符 {char}；文本中不能有 NUL 等不可见控制字符{allowed}，"
                               "请删除后重新导入。"))
        df.loc[mask, col] = values[mask].str.replace(pattern, "", regex=True)
    return out


def _check_ids(df: pd.DataFrame, names: dict[str, str]) -> list[Problem]:
    raw = df["case_id"].astype(str)
    ids = raw.str.strip()
    slow = ~(raw.map(str.isascii) & raw.map(str.isprintable)).astype(bool) | (ids == "") \
        | (ids.str.len() > CASE_ID_MAX_LEN)  # the rest: plain ids, stripped
    out: list[Problem] = []
    for i in np.flatnonzero(slow.to_numpy()):
        text, reason = _normalise_id(raw.iat[i])
        ids.iat[i] = text
        if reason is not None:
            out.append(Problem(int(df["row"].iat[i]), names.get("case_id", "case_id"),
                               visible(raw.iat[i]), reason))
    df["case_id"] = ids
    dup = (ids != "") & ids.duplicated(keep="first")
    if dup.any():
        first_row = df.loc[~ids.duplicated(keep="first")].set_index("case_id")["row"]
        msg = ids[dup].map(lambda v: f"与第 {int(first_row[v])} 行的案件编号重复；同一文件中编号须唯一。")
        out += _problems(dup.to_numpy(), df, "case_id", names, msg.reindex(df.index).fillna(""))
    return out


def _check_coords(df: pd.DataFrame, names: dict[str, str], coords: str) -> list[Problem]:
    out: list[Problem] = []
    for col, label in (("lon", "经度"), ("lat", "纬度")):
        raw = df[col].astype(str).str.strip()
        num = pd.to_numeric(raw, errors="coerce")
        out += _problems((raw == "").to_numpy(), df, col, names, f"缺少{label}；请填写数值坐标。")
        out += _problems(((raw != "") & num.isna()).to_numpy(), df, col, names,
                         f"{label}不是数字；请填写十进制度数（例如 113.92）或投影坐标（米）。")
        df[f"_{col}"] = num
    if coords.lower().startswith("epsg:") and coords.lower() not in ("epsg:4326", "epsg:4490"):
        return out
    lon, lat = df["_lon"], df["_lat"]
    both = lon.notna() & lat.notna()
    in_china = lon.between(_CHINA[0], _CHINA[1]) & lat.between(_CHINA[2], _CHINA[3])
    swapped_cn = lat.between(_CHINA[0], _CHINA[1]) & lon.between(_CHINA[2], _CHINA[3])
    swapped = both & ((lat.abs() > 90) & (lon.abs() <= 90) | (~in_china & swapped_cn))
    msg = "经纬度似乎填反了（经度列的值像纬度，纬度列的值像经度）；请交换这两列后重新导入。"
    out += _problems(swapped.to_numpy(), df, "lon", names, msg)
    bad = both & ~swapped & ((lon.abs() > 180) | (lat.abs() > 90))
    out += _problems(bad.to_numpy(), df, "lon", names,
                     "坐标超出经纬度范围（经度 −180…180，纬度 −90…90）；请检查坐标系参数 --coords。")
    df.loc[swapped | bad, ["_lon", "_lat"]] = np.nan
    return out


def _check_categories(df: pd.DataFrame, names: dict[str, str],
                      catalogue: Catalogue | None) -> list[Problem]:
    raw = df["category"].astype(str).str.strip()
    if catalogue is None:
        df["category"], df["category_name"] = raw, raw
        return _problems((raw == "").to_numpy(), df, "category", names, "问题类型为空。")
    codes = catalogue.resolve_many(raw)
    df["category"] = codes.fillna("")
    names_by_code = {c: catalogue.name(c) for c in pd.unique(codes.dropna())}
    df["category_name"] = [names_by_code.get(c, "") if isinstance(c, str) else "" for c in codes]
    df["_category_raw"] = raw
    bad = codes.isna().to_numpy()
    idx = np.flatnonzero(bad)
    return [
        Problem(int(df["row"].iat[i]), names.get("category", "category"), raw.iat[i],
                "无法识别的问题类型；请使用国标编码（如 09006）或中文名称（如 占道经营），"
                "或在 geo/data/categories.csv 中补充别名。")
        for i in idx
    ]


def _check_times(df: pd.DataFrame, names: dict[str, str], tz: str) -> list[Problem]:
    df["reported_at"] = df["reported_at"].astype(str)
    parsed = _fast_times(df["reported_at"], tz=tz)
    out = _problems(parsed.isna().to_numpy(), df, "reported_at", names,
                    "无法解析上报时间；请使用 2026-03-05 07:30 这样的格式。")
    df["_reported_at"] = parsed
    if "closed_at" in df:
        raw = df["closed_at"].astype(str).str.strip()
        closed = parse_times(raw, tz=tz) if (raw != "").any() else pd.Series(
            pd.NaT, index=df.index, dtype=f"datetime64[ns, {tz}]")
        out += _problems(((raw != "") & closed.isna()).to_numpy(), df, "closed_at", names,
                         "无法解析结案时间；请使用 2026-03-05 17:00 这样的格式，或留空。")
        df["_closed_at"] = closed
    return out


def _check_status(df: pd.DataFrame, names: dict[str, str]) -> list[Problem]:
    if "status" not in df:
        df["status"] = "上报"
        return []
    raw = df["status"].astype(str).str.strip()
    mapped = raw.map(lambda s: s if s in STATUSES else _STATUS_ALIASES.get(s.lower()))
    mapped = mapped.where(raw != "", "上报")
    df["status"] = mapped
    return _problems(mapped.isna().to_numpy(), df, "status", names,
                     "无法识别的案件状态；可用：" + "、".join(STATUSES) + "。")


def _join_area(cases: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, *,
               buffer_m: float, names: dict[str, str]) -> list[Problem]:
    comm = communities.to_crs(XIAONAN_WORKING_CRS if communities.crs is None
                              else communities.estimate_utm_crs())
    pts = cases.to_crs(comm.crs)[["geometry"]]
    cols = comm[["code", "name", "squad", "geometry"]]
    inside = gpd.sjoin(pts, cols, how="inner", predicate="within")
    inside = inside[~inside.index.duplicated(keep="first")]
    rest = pts.loc[~pts.index.isin(inside.index)]
    near = gpd.sjoin_nearest(rest, cols, how="left", max_distance=buffer_m, distance_col="_dist")
    joined = pd.concat([inside, near[~near.index.duplicated(keep="first")]])
    cases["community_code"] = joined["code"].reindex(cases.index)
    cases["community"] = joined["name"].reindex(cases.index)
    cases["squad"] = joined["squad"].reindex(cases.index)
    outside = cases["community_code"].isna().to_numpy()
    idx = np.flatnonzero(outside)
    return [
        Problem(int(cases["row"].iat[i]), names.get("lon", "lon"),
                f"{cases.geometry.iat[i].x:.6f},{cases.geometry.iat[i].y:.6f}",
                f"坐标在服务区域（各社区边界外 {buffer_m:.0f} 米）之外；请核对坐标和 --coords 坐标系。")
        for i in idx
    ]


def parse_cases(
    table: pd.DataFrame,
    *,
    coords: str = "wgs84",
    tz: str = "Asia/Shanghai",
    catalogue: Catalogue | bool | None = True,
    communities: gpd.GeoDataFrame | None = None,
    service_buffer_m: float = 300.0,
) -> ParseResult:
    """Validate a raw case table and return the valid cases in WGS84 with every problem found.

    Parameters
    ----------
    table : pandas.DataFrame
        Raw table (text cells), English or Chinese headers (see ``HEADER_ALIASES``).
    coords : str
        Coordinate system of ``lon``/``lat``: ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` or
        ``EPSG:n`` (projected x/y in the ``lon``/``lat`` columns).
    tz : str
        Time zone for naive timestamps (the deployment's zone).
    catalogue : Catalogue, bool or None
        ``True`` for the shipped catalogue, a :class:`Catalogue`, or ``False``/``None`` to keep
        categories as free text (foreign data).
    communities : geopandas.GeoDataFrame, optional
        Community polygons (``code``, ``name``, ``squad``); when given, each case is joined to its
        community and squad, and cases farther than ``service_buffer_m`` outside are rejected.
    service_buffer_m : float
        Tolerance outside the community polygons, in metres.

    Returns
    -------
    ParseResult
        Valid cases and the problems of the rejected rows.

    Raises
    ------
    FileReadError
        If required columns are missing.
    """
    df, names = canonical_columns(_as_text(table))
    df = df.reset_index(drop=True)
    df["row"] = np.arange(len(df)) + 2
    cat = default_catalogue() if catalogue is True else (catalogue or None)
    problems = _check_text(df, names)  # first: later checks see the cleaned cells
    problems += _check_ids(df, names) + _check_coords(df, names, coords)
    problems += _check_categories(df, names, cat) + _check_times(df, names, tz)
    problems += _check_status(df, names)
    bad_rows = {p.row for p in problems}
    ok = ~df["row"].isin(bad_rows)
    good = df.loc[ok].copy()
    lon, lat = to_wgs84(good["_lon"].to_numpy(), good["_lat"].to_numpy(), system=coords)
    good["coord_system"] = coords.lower()
    cases = _to_frame(good, lon, lat)
    if communities is not None and len(cases):
        problems += _join_area(cases, communities, buffer_m=service_buffer_m, names=names)
        cases = cases.loc[cases["community_code"].notna()]
    elif "community" not in cases:
        cases["community"] = None
    problems.sort(key=lambda p: (p.row, p.column))
    return ParseResult(cases=cases, problems=problems, n_rows=len(df), columns=names)


def _to_frame(good: pd.DataFrame, lon: np.ndarray, lat: np.ndarray) -> gpd.GeoDataFrame:
    cols = {
        "case_id": good["case_id"].to_numpy(),
        "category": good["category"].to_numpy(),
        "category_name": good["category_name"].to_numpy(),
        "reported_at": good["_reported_at"],
        "status": good["status"].to_numpy(),
        "closed_at": good.get("_closed_at", pd.NaT),
        "row": good["row"].to_numpy(),
        "coord_system": good["coord_system"].to_numpy(),
        "lon": lon,
        "lat": lat,
    }
    frame = pd.DataFrame(cols, index=good.index)
    for opt in ("description", "address", "source", "community"):
        text = good[opt].astype(str).str.strip() if opt in good else None
        if text is not None and opt in FREE_TEXT:
            text = text.str.replace("\r\n", "\n", regex=False).str.replace("\r", "\n", regex=False)
        frame[opt] = text.to_numpy() if text is not None else ""
    frame["community_code"] = None
    frame["squad"] = None
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
