"""File access for the embedded Xiaonan default (to be folded into :mod:`geo.io.tables`).

This is the only module of the boundaries code that touches the file system: it locates
``data/boundaries/`` in the repository and reads its files into GeoDataFrames and dicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd

from geo.errors import FileReadError, NotFoundError

DEFAULT_FILES = {
    "district": "xiaonan_district.geojson",
    "communities": "communities.geojson",
    "stations": "stations.geojson",
    "landmarks": "landmarks.geojson",
    "squads": "squads.json",
}


def default_boundaries_dir() -> Path:
    """Return ``<repo root>/data/boundaries``, resolved from this file's location."""
    return Path(__file__).resolve().parents[2] / "data" / "boundaries"


def _read_geojson(path: Path) -> gpd.GeoDataFrame:
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several unrelated classes
        raise FileReadError(f"无法读取边界文件 {path}：{exc}；请用 scripts/build_boundaries.py 重新生成。") from exc
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")  # RFC 7946 GeoJSON is WGS84 by definition
    return gdf


def read_default_files(directory: Path | None = None) -> dict[str, Any]:
    """Read every file of the embedded default.

    Parameters
    ----------
    directory : Path, optional
        The folder holding the files; :func:`default_boundaries_dir` when omitted.

    Returns
    -------
    dict
        ``district``, ``communities``, ``stations``, ``landmarks`` (GeoDataFrames, EPSG:4326) and
        ``squads`` (the parsed ``squads.json``: a dict with a ``squads`` list).

    Raises
    ------
    NotFoundError
        If a file is missing.
    FileReadError
        If a file cannot be parsed.
    """
    folder = Path(directory) if directory is not None else default_boundaries_dir()
    missing = [name for name in DEFAULT_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise NotFoundError(
            f"内置边界数据缺少文件 {', '.join(missing)}（目录 {folder}）；"
            "请在仓库根目录运行 python scripts/build_boundaries.py 生成。"
        )
    out: dict[str, Any] = {}
    for key, name in DEFAULT_FILES.items():
        path = folder / name
        if name.endswith(".json"):
            try:
                out[key] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise FileReadError(f"无法解析 {path}：{exc}。") from exc
        else:
            out[key] = _read_geojson(path)
    return out
