"""File access for :mod:`geo`: the one module that reads or writes files.

Case tables come as CSV (UTF-8, UTF-8 with BOM, GBK/GB18030), XLSX or GeoJSON; they are read
defensively so that validation in :mod:`geo.cases` can report each bad value precisely, and within
:class:`~geo.io.limits.ReadLimits` (checked on the raw bytes, before anything is expanded; see
:mod:`geo.io.limits`). Real exports are not tidy, so :func:`read_table` also

- finds the header row below title rows (``孝南区数字城管案件明细（2026年5月）``, ``导出时间：…``)
  in the first :data:`~geo.io.limits.HEADER_SCAN_ROWS` rows of a CSV or XLSX sheet;
- fills cells of a vertically merged XLSX range (a 大类 written once for three rows) with the
  range's value;
- numbers the rows as a spreadsheet shows them (the index of the table it returns).

Package data (the category catalogue) and GeoJSON output are also handled here.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from geo.errors import FileReadError
from geo.io.limits import (
    HEADER_SCAN_ROWS,
    MAX_TABLE_BYTES,
    ReadLimitError,
    ReadLimits,
    check_csv,
    check_shape,
    check_xlsx,
    count_positions,
    size_text,
)

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["MAX_TABLE_BYTES", "ReadLimitError", "ReadLimits", "read_catalogue", "read_geofile",
           "read_package_text", "read_table", "write_geojson"]

_ENCODINGS = ("utf-8-sig", "gb18030")  # gb18030 is a superset of GBK and GB2312
_XLSX_MAGIC = b"PK\x03\x04"
_HEADER_ROW = "header_row"
"""Key of ``DataFrame.attrs`` holding the header's spreadsheet row (1 when there is no title)."""


def _load_bytes(source: str | Path | bytes, lim: ReadLimits) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        data, name = source, ""
    else:
        path = Path(source)
        if not path.is_file():
            raise FileReadError(f"找不到文件「{path}」；请检查路径。")
        size = path.stat().st_size
        if size > lim.max_bytes:
            raise lim.exceeded("max_bytes", f"文件「{path.name}」有 {size_text(size)}", size_text(lim.max_bytes))
        data, name = path.read_bytes(), path.name
    if len(data) > lim.max_bytes:
        raise lim.exceeded("max_bytes", f"文件有 {size_text(len(data))}", size_text(lim.max_bytes))
    if not data or data.isspace():
        raise FileReadError("文件是空的；请导出包含表头和数据行的文件。")
    return data, name


def _sniff_kind(data: bytes, name: str) -> str:
    suffix = Path(name).suffix.lower()
    if data.startswith(_XLSX_MAGIC) or suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".geojson", ".json") or data.lstrip()[:1] in (b"{", b"["):
        return "geojson"
    if suffix == ".xls":
        raise FileReadError("不支持旧版 .xls 文件；请在 Excel 中另存为 .xlsx 或 CSV（UTF-8）。")
    return "csv"


def _decode(data: bytes) -> str:
    for enc in _ENCODINGS:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise FileReadError(
        "无法识别文件编码（已尝试 UTF-8 和 GBK/GB18030）；请另存为 CSV UTF-8 后重试。"
    )


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def header_index(rows: list[list[str]]) -> int:
    """0-based index of the header row among the first rows of a raw grid.

    The header is the first row with at least half as many filled cells as the widest of the
    first :data:`~geo.io.limits.HEADER_SCAN_ROWS` rows (and at least two when that is wider than
    one), none of them a bare number. A title row (one merged cell), an export-time line or a
    blank row above it are passed over; a data-like row (with numbers) ends the search at row 0.
    """
    top = rows[:HEADER_SCAN_ROWS]
    counts = [sum(1 for c in r if c.strip()) for r in top]
    width = max(counts, default=0)
    need = max(2 if width > 1 else 1, math.ceil(width / 2))
    for i, (row, n) in enumerate(zip(top, counts, strict=True)):
        if n >= need:
            return 0 if any(_is_number(c.strip()) for c in row if c.strip()) else i
    return 0


def _frame(header: list[str], data: list[list[str]], first_row: int) -> pd.DataFrame:
    """A text frame from a header and data rows; the index holds the spreadsheet row numbers."""
    width = max([len(header), *map(len, data)]) if data else len(header)
    names: list[str] = []
    seen: dict[str, int] = {}
    for j in range(width):
        name = header[j].strip() if j < len(header) else ""
        name = name or f"Unnamed: {j}"
        if name in seen:  # duplicate headers: x, x.1, x.2 (as pandas names them)
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        names.append(name)
    rows = [r + [""] * (width - len(r)) for r in data]
    return pd.DataFrame(rows, columns=names, index=range(first_row, first_row + len(rows)),
                        dtype=str)


def _read_csv(data: bytes, lim: ReadLimits) -> tuple[pd.DataFrame, int]:
    check_csv(data, lim)
    text = _decode(data)
    reader = csv.reader(io.StringIO(text))
    top: list[list[str]] = []
    lines_before: list[int] = []
    try:
        for _ in range(HEADER_SCAN_ROWS):
            lines_before.append(reader.line_num)
            top.append(next(reader))
    except (StopIteration, csv.Error):
        pass
    h = header_index(top) if top else 0
    try:
        df = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True,
            on_bad_lines="error", skiprows=lines_before[h] if top else 0, skip_blank_lines=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FileReadError(f"CSV 文件无法解析：{exc}；请检查分隔符、引号和列数。") from exc
    df.index = range(h + 2, h + 2 + len(df))
    return df, h + 1


def _cell_text(value: object) -> str:
    """An XLSX cell as text, as ``pandas.read_excel(dtype=str)`` writes it."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return str(pd.Timestamp(value))
    if isinstance(value, time):
        return value.isoformat()
    return str(value)


def _fill_merged(grid: list[list[str]], refs: list[str]) -> None:
    """Give every cell of a vertically merged range (one column, several rows) its value."""
    from openpyxl.utils.cell import range_boundaries

    for ref in refs:
        try:
            c0, r0, c1, r1 = range_boundaries(ref)
        except (ValueError, TypeError):
            continue
        if c0 != c1 or r1 <= r0 or r0 > len(grid) or c0 is None or r0 is None:
            continue
        top = grid[r0 - 1]
        value = top[c0 - 1] if c0 - 1 < len(top) else ""
        for r in range(r0, min(r1, len(grid))):
            row = grid[r]
            if c0 - 1 < len(row) and not row[c0 - 1]:
                row[c0 - 1] = value


def _read_xlsx(data: bytes, lim: ReadLimits) -> tuple[pd.DataFrame, int]:
    merged = check_xlsx(data, lim)
    try:
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # as pandas does: a wrong <dimension> must not cut rows off
        grid = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        path = str(getattr(sheet, "_worksheet_path", "")).lstrip("/")
        book.close()
    except MemoryError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on corrupt files
        raise FileReadError(f"Excel 文件无法读取：{exc}；请确认是 .xlsx 格式且未加密。") from exc
    _fill_merged(grid, merged.get(path, []))
    if not grid:
        raise FileReadError("Excel 工作表是空的；请导出包含表头和数据行的文件。")
    h = header_index(grid)
    return _frame(grid[h], grid[h + 1:], h + 2), h + 1


def _read_geojson(data: bytes, lim: ReadLimits) -> tuple[pd.DataFrame, int]:
    try:
        doc = json.loads(_decode(data))
    except json.JSONDecodeError as exc:
        raise FileReadError(f"GeoJSON 无法解析（第 {exc.lineno} 行）：{exc.msg}。") from exc
    except RecursionError as exc:
        raise FileReadError("GeoJSON 嵌套层数过深，无法解析；请检查文件内容。") from exc
    feats = doc.get("features") if isinstance(doc, Mapping) else None
    if not isinstance(feats, list):
        raise FileReadError("GeoJSON 必须是包含 features 数组的 FeatureCollection。")
    counted = 0
    for feat in feats:
        if isinstance(feat, Mapping):
            counted = count_positions(feat.get("geometry"), lim, counted)
    rows: list[dict[str, Any]] = []
    keys: set[str] = set()
    for feat in feats:
        props = dict(feat.get("properties") or {}) if isinstance(feat, Mapping) else {}
        geom = feat.get("geometry") if isinstance(feat, Mapping) else None
        if isinstance(geom, Mapping) and geom.get("type") == "Point":
            coords = geom.get("coordinates") or [None, None]
            props.setdefault("lon", coords[0] if len(coords) > 0 else None)
            props.setdefault("lat", coords[1] if len(coords) > 1 else None)
        keys.update(props)
        check_shape(len(feats), len(keys), lim, "GeoJSON")
        rows.append({k: "" if v is None else str(v) for k, v in props.items()})
    return pd.DataFrame(rows, dtype=str, index=range(2, 2 + len(rows))), 1




def read_table(
    source: str | Path | bytes, *, filename: str = "", max_bytes: int | None = None,
    limits: ReadLimits | None = None,
) -> pd.DataFrame:
    """Read a case table from CSV, XLSX or GeoJSON, every cell as text, within ``limits``.

    Parameters
    ----------
    source : str, Path or bytes
        A file path, or the file's bytes (an upload).
    filename : str, optional
        The original file name for uploads (its suffix helps to tell the format).
    max_bytes : int, optional
        Size limit; larger files are refused before parsing (overrides ``limits.max_bytes``).
    limits : ReadLimits, optional
        Every limit, checked before the file is expanded (default :class:`ReadLimits`).

    Returns
    -------
    pandas.DataFrame
        One row per data row, columns as in the file (stripped), values as ``str`` ("" if empty).
        GeoJSON Point geometries become ``lon``/``lat`` columns. The index is each row's number
        as a spreadsheet shows it (header row + 1 for the first data row); blank rows are left
        out; ``attrs["header_row"]`` is the header's row (1 unless title rows precede it).

    Raises
    ------
    ReadLimitError
        If the file passes one of ``limits`` (the message names the limit, what was found and the
        setting in ``limits.hints`` that relaxes it).
    FileReadError
        If the file is missing, empty, in an unknown encoding or not parseable.
    """
    lim = limits or ReadLimits()
    if max_bytes is not None:
        lim = replace(lim, max_bytes=max_bytes)
    data, name = _load_bytes(source, lim)
    kind = _sniff_kind(data, filename or name)
    reader = {"csv": _read_csv, "xlsx": _read_xlsx, "geojson": _read_geojson}[kind]
    df, header_row = reader(data, lim)
    check_shape(len(df), len(df.columns), lim, {"csv": "CSV", "xlsx": "XLSX"}.get(kind, "GeoJSON"))
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    df = df.fillna("")
    if len(df.columns):
        filled = (df != "").any(axis=1)  # blank lines and rows are no cases
        if not filled.all():
            df = df.loc[filled]
    if df.empty:
        raise FileReadError("文件里没有数据行；请确认导出时包含了数据。")
    df.attrs[_HEADER_ROW] = header_row
    return df


def read_package_text(name: str) -> str:
    """Text of a data file shipped in ``geo/data/`` (e.g. ``"checklists.json"``)."""
    return resources.files("geo").joinpath("data", name).read_text(encoding="utf-8")


def read_catalogue() -> pd.DataFrame:
    """Read the category catalogue shipped with the package (``geo/data/categories.csv``)."""
    text = read_package_text("categories.csv")
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def read_geofile(path: str | Path) -> gpd.GeoDataFrame:
    """Read a vector file (GeoJSON, GPKG, Shapefile) with pyogrio; raise FileReadError if unreadable."""
    import geopandas as gpd

    p = Path(path)
    if not p.exists():
        raise FileReadError(f"找不到文件「{p}」；请检查路径。")
    try:
        return gpd.read_file(p)
    except Exception as exc:
        raise FileReadError(f"无法读取空间数据文件「{p.name}」：{exc}") from exc


def write_geojson(gdf: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write ``gdf`` as RFC 7946 GeoJSON (WGS84) to ``path`` and return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    out = gdf.to_crs(4326) if gdf.crs is not None else gdf
    p.write_text(out.to_json(drop_id=True, ensure_ascii=False, to_wgs84=True), encoding="utf-8")
    return p
