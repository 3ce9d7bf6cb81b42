"""File access for :mod:`geo`: the one module that reads or writes files.

Case tables come as CSV (UTF-8, UTF-8 with BOM, GBK/GB18030), XLSX or GeoJSON; they are read
defensively (size limit, encoding detection, every cell as text) so that validation in
:mod:`geo.cases` can report each bad value precisely. Package data (the category catalogue) and
GeoJSON output are also handled here.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.errors import FileReadError

MAX_TABLE_BYTES = 200 * 1024 * 1024
"""Default size limit for a case file (200 MiB, about 1.5 million rows of CSV)."""

_ENCODINGS = ("utf-8-sig", "gb18030")  # gb18030 is a superset of GBK and GB2312
_XLSX_MAGIC = b"PK\x03\x04"


def _load_bytes(source: str | Path | bytes, max_bytes: int) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        data, name = source, ""
    else:
        path = Path(source)
        if not path.is_file():
            raise FileReadError(f"找不到文件「{path}」；请检查路径。")
        size = path.stat().st_size
        if size > max_bytes:
            raise FileReadError(
                f"文件「{path.name}」有 {size / 1e6:.1f} MB，超过上限 {max_bytes / 1e6:.0f} MB；"
                "请拆分后分批导入。"
            )
        data, name = path.read_bytes(), path.name
    if len(data) > max_bytes:
        raise FileReadError(f"文件超过上限 {max_bytes / 1e6:.0f} MB；请拆分后分批导入。")
    if not data.strip():
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


def _read_csv(data: bytes) -> pd.DataFrame:
    text = _decode(data)
    try:
        df = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True,
            on_bad_lines="error",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FileReadError(f"CSV 文件无法解析：{exc}；请检查分隔符、引号和列数。") from exc
    return df


def _read_xlsx(data: bytes) -> pd.DataFrame:
    try:
        df = pd.read_excel(io.BytesIO(data), dtype=str, engine="openpyxl", keep_default_na=False)
    except Exception as exc:  # openpyxl raises many kinds on corrupt files
        raise FileReadError(f"Excel 文件无法读取：{exc}；请确认是 .xlsx 格式且未加密。") from exc
    return df


def _read_geojson(data: bytes) -> pd.DataFrame:
    try:
        doc = json.loads(_decode(data))
    except json.JSONDecodeError as exc:
        raise FileReadError(f"GeoJSON 无法解析（第 {exc.lineno} 行）：{exc.msg}。") from exc
    feats = doc.get("features") if isinstance(doc, Mapping) else None
    if not isinstance(feats, list):
        raise FileReadError("GeoJSON 必须是包含 features 数组的 FeatureCollection。")
    rows: list[dict[str, Any]] = []
    for feat in feats:
        props = dict(feat.get("properties") or {}) if isinstance(feat, Mapping) else {}
        geom = feat.get("geometry") if isinstance(feat, Mapping) else None
        if isinstance(geom, Mapping) and geom.get("type") == "Point":
            coords = geom.get("coordinates") or [None, None]
            props.setdefault("lon", coords[0] if len(coords) > 0 else None)
            props.setdefault("lat", coords[1] if len(coords) > 1 else None)
        rows.append({k: "" if v is None else str(v) for k, v in props.items()})
    return pd.DataFrame(rows, dtype=str)


def read_table(
    source: str | Path | bytes, *, filename: str = "", max_bytes: int = MAX_TABLE_BYTES
) -> pd.DataFrame:
    """Read a case table from CSV, XLSX or GeoJSON, every cell as text.

    Parameters
    ----------
    source : str, Path or bytes
        A file path, or the file's bytes (an upload).
    filename : str, optional
        The original file name for uploads (its suffix helps to tell the format).
    max_bytes : int, optional
        Size limit; larger files are refused before parsing.

    Returns
    -------
    pandas.DataFrame
        One row per data row, columns as in the file (stripped), values as ``str`` ("" if empty).
        GeoJSON Point geometries become ``lon``/``lat`` columns.

    Raises
    ------
    FileReadError
        If the file is missing, too large, empty, in an unknown encoding or not parseable.
    """
    data, name = _load_bytes(source, max_bytes)
    kind = _sniff_kind(data, filename or name)
    reader = {"csv": _read_csv, "xlsx": _read_xlsx, "geojson": _read_geojson}[kind]
    df = reader(data)
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    if df.empty:
        raise FileReadError("文件里没有数据行；请确认导出时包含了数据。")
    return df.fillna("")


def read_package_text(name: str) -> str:
    """Text of a data file shipped in ``geo/data/`` (e.g. ``"checklists.json"``)."""
    return resources.files("geo").joinpath("data", name).read_text(encoding="utf-8")


def read_catalogue() -> pd.DataFrame:
    """Read the category catalogue shipped with the package (``geo/data/categories.csv``)."""
    text = read_package_text("categories.csv")
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def read_geofile(path: str | Path) -> gpd.GeoDataFrame:
    """Read a vector file (GeoJSON, GPKG, Shapefile) with pyogrio; raise FileReadError if unreadable."""
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
