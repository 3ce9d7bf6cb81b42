"""Case tables: header mapping, per-row validation, coordinate normalisation, community join.

This is the one case reader: the importer, the API and the analysis commands (``xuncha hotspots``,
``xuncha forecast``) all read case tables here, with one set of header names
(:mod:`geo.case_columns`), time formats and time-zone rules (:mod:`geo.case_times`), coordinate
systems (:mod:`geo.case_coords`) and text rules (:mod:`geo.case_text`).

:func:`parse_cases` turns a raw table (every cell text, as :func:`geo.io.tables.read_table` returns
it) into a case GeoDataFrame in WGS84 plus a list of :class:`~geo.errors.Problem` — one per bad
value, with row, column, value and a fix — so an importer can store the valid rows and report the
rest. Categories go through the national catalogue, statuses through the status vocabulary
(:func:`geo.statuses.default_statuses`), and cases outside the service area are rejected.

:func:`analysis_cases` is the mode of the analysis commands: the same headers, times and
coordinates, but any category text and any place on Earth, and every problem raised at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.case_columns import OPTIONAL, REQUIRED, ColumnMap, by_role, map_columns
from geo.case_coords import locate
from geo.case_places import join_area, place_rows, placed_note
from geo.case_text import (
    CASE_ID_MAX_LEN,
    FREE_TEXT,
    as_text,
    check_ids,
    check_text,
    find_control,
    normalise_case_id,
    row_problems,
    visible,
)
from geo.case_times import MAX_FUTURE, fast_times, future_message, parse_times, too_late
from geo.catalogue import Catalogue, default_catalogue
from geo.crs import WGS84
from geo.errors import Problem, ValidationError
from geo.gazetteer import Gazetteer
from geo.labels import STATUSES
from geo.statuses import StatusVocabulary, default_statuses

__all__ = ["CASE_ID_MAX_LEN", "FREE_TEXT", "OPTIONAL", "REQUIRED", "ParseResult",
           "analysis_cases", "find_control", "normalise_case_id", "parse_cases", "parse_times",
           "visible"]

NO_COORDS = ("无坐标：文件没有经纬度（或 X/Y 坐标）列，且未使用地名库，无法定位；"
             "请从系统导出带坐标的文件，或用 --map 列名=lon / 列名=lat 指定坐标列"
             "（导入到服务时按社区、地标和本局地名表定位）。")
"""Reason for every row of a file without coordinate columns read without a gazetteer."""
DEFAULT_ALIAS_HINT = "或把它加入本部署的本地类别别名表（CSV，两列 alias,code）后重新导入"


@dataclass
class ParseResult:
    """Outcome of :func:`parse_cases`.

    Attributes
    ----------
    cases : geopandas.GeoDataFrame
        Valid rows (WGS84 points) with the canonical case columns, ``row`` (the file row),
        ``status_flag`` (挂账, 超期 … or None), ``status_given`` (the file said the status, or a
        closure time implied 结案) and ``status_text`` (the status as written).
    problems : list of Problem
        Every problem found, in row order.
    n_rows : int
        Number of data rows in the table.
    columns : dict
        Column names as written in the file, by canonical name (``case_id`` → ``案件编号``).
    mapping : ColumnMap
        Which columns filled which role (:meth:`ColumnMap.describe` for the report).
    notes : list of str
        What the reader decided for the whole file (coordinate system, header row …).
    located : list of Problem
        Per valid row placed by name (no coordinates): the name and precision
        (``按地名「西大市场」定位（地标级）``).
    """

    cases: gpd.GeoDataFrame
    problems: list[Problem] = field(default_factory=list)
    n_rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    mapping: ColumnMap = field(default_factory=ColumnMap)
    notes: list[str] = field(default_factory=list)
    located: list[Problem] = field(default_factory=list)

    @property
    def rejected_rows(self) -> list[int]:
        """Sorted file rows with at least one problem."""
        return sorted({p.row for p in self.problems if p.row})


def _prepare(table: pd.DataFrame, *, columns: Mapping[str, str] | None, required: Iterable[str],
             allow_no_coords: bool) -> tuple[pd.DataFrame, ColumnMap, dict[str, str], list[str]]:
    header_row = table.attrs.get("header_row")
    text = as_text(table)
    cmap = map_columns(text.columns, overrides=columns, required=required,
                       allow_no_coords=allow_no_coords)
    df = by_role(text, cmap).reset_index(drop=True)
    rows = np.asarray(table.index, dtype=int) if header_row else np.arange(len(df)) + 2
    df["row"] = rows
    names = {role: cols[0] for role, cols in cmap.uses.items()}
    notes = [f"表头在第 {header_row} 行（上方的标题行已跳过）。"] if header_row and header_row > 1 else []
    return df, cmap, names, notes


def _check_coords(df: pd.DataFrame, names: dict[str, str], cmap: ColumnMap, *,
                  coords: str | None, china: bool, gazetteer: Gazetteer | None = None
                  ) -> tuple[list[Problem], list[str], list[Problem]]:
    """Coordinates checked and converted; rows with neither lon nor lat placed by name when a
    gazetteer is given. Returns the problems, the notes and the rows placed by name."""
    everyone = np.ones(len(df), dtype=bool)
    if "lon" not in df:
        df["_lon"] = df["_lat"] = np.nan
        df["coord_system"], df["location_precision"] = "", None
        if gazetteer is None:
            return row_problems(everyone, df, "row", {"row": "经度/纬度"}, NO_COORDS,
                                values=pd.Series([""] * len(df))), [], []
        out: list[Problem] = []
        notes: list[str] = []
        wanted = everyone
    else:
        loc = locate(df["lon"], df["lat"], coords=coords, implied=cmap.implied, china=china,
                     x_name=names["lon"], y_name=names["lat"])
        wanted = ~everyone if gazetteer is None else (
            (df["lon"].astype(str).str.strip() == "")
            & (df["lat"].astype(str).str.strip() == "")).to_numpy()
        out = [p for mask, role, message in loc.problems
               for p in row_problems(mask & ~wanted, df, role, names, message)]
        df["_lon"], df["_lat"], df["coord_system"] = loc.lon, loc.lat, loc.system
        precision = np.full(len(df), None, dtype=object)
        precision[np.isfinite(np.asarray(loc.lon, float))] = "point"
        df["location_precision"] = precision
        notes = loc.notes
    if gazetteer is None:
        return out, notes, []
    failed, placed = place_rows(df, names, gazetteer, wanted)
    return out + failed, notes, placed


def _check_categories(df: pd.DataFrame, names: dict[str, str], catalogue: Catalogue | None,
                      alias_hint: str) -> list[Problem]:
    raw = df["category"].astype(str).str.strip()
    empty = raw == ""
    out = row_problems(empty.to_numpy(), df, "category", names,
                       "问题类型为空；请填写国标编码（如 09006）或中文名称（如 占道经营）。")
    if catalogue is None:
        df["category"], df["category_name"] = raw, df.get("category_name", raw)
        return out
    codes = catalogue.resolve_many(raw)
    df["category"] = codes.fillna("")
    names_by_code = {c: catalogue.name(c) for c in pd.unique(codes.dropna())}
    df["category_name"] = [names_by_code.get(c, "") if isinstance(c, str) else "" for c in codes]
    bad = codes.isna() & ~empty
    messages: dict[str, str] = {}
    for value in pd.unique(raw[bad]):
        close = catalogue.closest(value, n=3)
        near = f"最接近的类别：{'、'.join(f'{c} {n}' for c, n in close)}；" if close else ""
        messages[value] = (f"无法识别的问题类型「{visible(value, limit=40)}」；{near}请改用国标编码"
                           f"（如 09006）或中文名称（如 占道经营），{alias_hint}。")
    return out + row_problems(bad.to_numpy(), df, "category", names, raw.map(messages),
                              values=raw)


def _check_times(df: pd.DataFrame, names: dict[str, str], tz: str, *, now: datetime | None,
                 max_future: timedelta | None, required: bool = True) -> list[Problem]:
    df["reported_at"] = df["reported_at"].astype(str)
    parsed = fast_times(df["reported_at"], tz=tz)
    out = row_problems(parsed.isna().to_numpy(), df, "reported_at", names,
                       "无法解析上报时间；请使用 2026-03-05 07:30 这样的格式。") if required else []
    late = too_late(parsed, now=now, max_future=max_future)
    out += row_problems(late.to_numpy(), df, "reported_at", names,
                        future_message("上报时间", max_future=max_future))
    df["_reported_at"] = parsed
    if "closed_at" in df:
        raw = df["closed_at"].astype(str).str.strip()
        closed = parse_times(raw, tz=tz) if (raw != "").any() else pd.Series(
            pd.NaT, index=df.index, dtype=f"datetime64[ns, {tz}]")
        out += row_problems(((raw != "") & closed.isna()).to_numpy(), df, "closed_at", names,
                            "无法解析结案时间；请使用 2026-03-05 17:00 这样的格式，或留空。")
        out += row_problems(too_late(closed, now=now, max_future=max_future).to_numpy(), df,
                            "closed_at", names, future_message("结案时间", max_future=max_future))
        df["_closed_at"] = closed
    return out


def _check_status(df: pd.DataFrame, names: dict[str, str],
                  vocab: StatusVocabulary) -> list[Problem]:
    closed = df["_closed_at"].notna() if "_closed_at" in df else pd.Series(False, index=df.index)
    implied = closed.map({True: "结案", False: "上报"})
    if "status" not in df:
        df["status"], df["status_flag"], df["status_given"] = implied, None, closed
        df["status_text"] = ""
        return []
    raw = df["status"].astype(str).str.strip()
    found = vocab.resolve_many(raw)
    empty = raw == ""
    unknown = ~empty & found["status"].isna() & found["flag"].isna()
    no_step = empty | found["status"].isna()
    df["status"] = found["status"].where(~no_step, implied)
    df["status_flag"] = found["flag"].where(found["flag"].notna(), None)
    df["status_given"] = ~no_step | closed
    df["status_text"] = raw
    return row_problems(unknown.to_numpy(), df, "status", names,
                        "无法识别的案件状态；可用：" + "、".join(STATUSES)
                        + "，以及导出中常见的状态词（待受理、立案派遣、办理中、已办结、挂账、已退单 …）；"
                        "请改成其中之一，或把这个词加入状态词表。", values=raw)


def parse_cases(
    table: pd.DataFrame,
    *,
    coords: str | None = None,
    tz: str = "Asia/Shanghai",
    catalogue: Catalogue | bool | None = True,
    communities: gpd.GeoDataFrame | None = None,
    service_buffer_m: float = 300.0,
    columns: Mapping[str, str] | None = None,
    statuses: StatusVocabulary | None = None,
    now: datetime | None = None,
    max_future: timedelta | None = MAX_FUTURE,
    alias_hint: str = DEFAULT_ALIAS_HINT,
    gazetteer: Gazetteer | None = None,
) -> ParseResult:
    """Validate a raw case table and return the valid cases in WGS84 with every problem found.

    Parameters
    ----------
    table : pandas.DataFrame
        Raw table (text cells), headers of any export :mod:`geo.case_columns` knows. A table from
        :func:`geo.io.tables.read_table` carries its spreadsheet row numbers (index).
    coords : str, optional
        Coordinate system of ``lon``/``lat``: ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` or
        ``EPSG:n``; ``None`` decides from the headers and values (:mod:`geo.case_coords`).
    tz : str
        Time zone for naive timestamps (the deployment's zone).
    catalogue : Catalogue, bool or None
        ``True`` for the shipped catalogue, a :class:`Catalogue` (with a deployment's aliases),
        or ``False``/``None`` to keep categories as free text (foreign data).
    communities : geopandas.GeoDataFrame, optional
        Community polygons (``code``, ``name``, ``squad``); when given, each case is joined to its
        community and squad, and cases farther than ``service_buffer_m`` outside are rejected.
    service_buffer_m : float
        Tolerance outside the community polygons, in metres.
    columns : mapping, optional
        ``{列名: role}`` overrides of the header guess (``--map``; see
        :func:`geo.case_columns.parse_map`).
    statuses : StatusVocabulary, optional
        Status texts (default :func:`geo.statuses.default_statuses`).
    now : datetime, optional
        The current time for the future check (default: the clock).
    max_future : timedelta or None
        Times later than ``now + max_future`` are rejected; ``None`` accepts any time.
    alias_hint : str
        How the deployment adds a local category alias (quoted for an unknown category).
    gazetteer : Gazetteer, optional
        The deployment's place names (:mod:`geo.gazetteer`): a row with neither lon nor lat is
        placed by its 地址 / 小区名称 / 小区地址 / 社区 (``location_precision`` ``landmark`` or
        ``community``; :attr:`ParseResult.located` names the name), or rejected with the reason.
        ``None``: such rows are rejected as 无坐标.

    Returns
    -------
    ParseResult
        Valid cases, the problems of the rejected rows, the column mapping and notes.

    Raises
    ------
    FileReadError
        If required columns are missing.
    InputError
        If ``columns`` names a column the table does not have.
    """
    df, cmap, names, notes = _prepare(table, columns=columns, required=REQUIRED,
                                      allow_no_coords=True)
    cat = default_catalogue() if catalogue is True else (catalogue or None)
    problems = check_text(df, names, REQUIRED + OPTIONAL)  # first: later checks see clean cells
    problems += check_ids(df, names)
    coord_problems, coord_notes, placed = _check_coords(df, names, cmap, coords=coords,
                                                        china=True, gazetteer=gazetteer)
    problems += coord_problems
    problems += _check_categories(df, names, cat, alias_hint)
    problems += _check_times(df, names, tz, now=now, max_future=max_future)
    problems += _check_status(df, names, statuses or default_statuses())
    good = df.loc[~df["row"].isin({p.row for p in problems})].copy()
    cases = _to_frame(good)
    if communities is not None and len(cases):
        problems += join_area(cases, communities, buffer_m=service_buffer_m, names=names)
        cases = cases.loc[cases["community_code"].notna()]
    problems.sort(key=lambda p: (p.row, p.column))
    kept = set(cases["row"].tolist())
    return ParseResult(cases=cases, problems=problems, n_rows=len(df), columns=names,
                       mapping=cmap, notes=notes + coord_notes + placed_note(cases),
                       located=[p for p in placed if p.row in kept])


def analysis_cases(table: pd.DataFrame, *, required: Iterable[str] = ("lon", "lat"),
                   times_required: bool = False, tz: str = "Asia/Shanghai",
                   coords: str | None = None, columns: Mapping[str, str] | None = None
                   ) -> tuple[gpd.GeoDataFrame, int]:
    """Read a case table for an analysis command: any category text, any place on Earth.

    Headers, time formats and zones, and coordinate systems follow the same rules as
    :func:`parse_cases`; the catalogue, the status vocabulary, the service area and the future
    check do not apply, and case ids need not be unique.

    Parameters
    ----------
    table : pandas.DataFrame
        Raw table (text cells).
    required : iterable of str
        Roles that must have a column (``lon`` and ``lat`` always must).
    times_required : bool
        A row without a readable ``reported_at`` is a problem (else its time is NaT).
    tz, coords, columns
        As for :func:`parse_cases`.

    Returns
    -------
    tuple of (geopandas.GeoDataFrame, int)
        The cases (EPSG:4326) with ``reported_at`` (tz-aware in ``tz``) and whichever of
        ``case_id``, ``category``, ``category_name``, ``community``, ``squad``, ``source`` the
        file has; and
        the number of rows without a readable time.

    Raises
    ------
    FileReadError
        A required column is missing.
    ValidationError
        Some rows are bad (every problem listed: row, column, value, fix).
    """
    need = tuple(dict.fromkeys(("lon", "lat", *required)))
    df, cmap, names, _ = _prepare(table, columns=columns, required=need, allow_no_coords=False)
    problems = check_text(df, names, REQUIRED + OPTIONAL)
    if "case_id" in df:
        problems += check_ids(df, names, unique=False)
    coord_problems, _, _ = _check_coords(df, names, cmap, coords=coords, china=False)
    problems += coord_problems
    if "reported_at" in df:
        problems += _check_times(df, names, tz, now=None, max_future=None,
                                 required=times_required)
        times = df["_reported_at"]
    else:
        times = pd.Series(pd.NaT, index=df.index, dtype=f"datetime64[ns, {tz}]")
    if problems:
        raise ValidationError(sorted(problems, key=lambda p: (p.row, p.column)), what="案件表")
    keep = [c for c in ("case_id", "category", "category_name", "community", "squad", "source")
            if c in df]
    out = df[keep].apply(lambda s: s.astype(str).str.strip())
    # .array keeps the tz-aware dtype (.to_numpy() makes Python objects that are parsed again)
    gdf = gpd.GeoDataFrame(out.assign(reported_at=times.array),
                           geometry=gpd.points_from_xy(df["_lon"], df["_lat"]), crs=WGS84)
    return gdf, int(times.isna().sum())


def _to_frame(good: pd.DataFrame) -> gpd.GeoDataFrame:
    lon, lat = good["_lon"].to_numpy(float), good["_lat"].to_numpy(float)
    cols = {
        "case_id": good["case_id"].to_numpy(),
        "category": good["category"].to_numpy(),
        "category_name": good["category_name"].to_numpy(),
        "reported_at": good["_reported_at"],
        "status": good["status"].to_numpy(),
        "status_flag": np.array([f if isinstance(f, str) and f else None
                                 for f in good["status_flag"]], dtype=object),
        "status_given": good["status_given"].to_numpy(bool),
        "status_text": good["status_text"].to_numpy(),
        "closed_at": good.get("_closed_at", pd.NaT),
        "row": good["row"].to_numpy(),
        "coord_system": good["coord_system"].to_numpy(),
        "location_precision": good["location_precision"].to_numpy(object),
        "lon": lon,
        "lat": lat,
    }
    frame = pd.DataFrame(cols, index=good.index)
    for opt in ("description", "address", "source", "community"):
        text = good[opt].astype(str).str.strip() if opt in good else None
        if text is not None and opt in FREE_TEXT:
            text = text.str.replace("\r\n", "\n", regex=False).str.replace("\r", "\n", regex=False)
        frame[opt] = text.to_numpy() if text is not None else ""
    for alt in ("compound_address", "compound"):  # 12345 set A: the compound where no address
        if alt in good:
            empty = frame["address"] == ""
            frame.loc[empty, "address"] = good.loc[empty, alt].astype(str).str.strip()
    frame["community_code"] = None
    frame["squad"] = None
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
