"""Reading a community boundary file (GeoPackage, Shapefile, GeoJSON) in any CRS.

:func:`read_boundary_file` reads the features one by one from their WKB, so that a polygon whose
ring is not closed (GDAL passes such rings through with a warning, shapely then refuses them) is a
:class:`~geo.errors.Problem` of that feature instead of an exception that names no feature.

The CRS comes from the file. A GeoJSON without a ``crs`` member is WGS84 by RFC 7946 only when
its coordinates are longitudes and latitudes: projected coordinates without a declared CRS (GDAL
would still call them EPSG:4326) are refused, like a Shapefile without its ``.prj``, unless the
caller names the CRS (``--crs``). A file that declares a CRS different from the one named is
refused too: one of the two is wrong.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from geo.errors import CRSError, FileReadError, Problem

GEOJSON_SUFFIXES = (".geojson", ".json")
BOUNDARY_SUFFIXES = (".gpkg", ".shp", ".zip", *GEOJSON_SUFFIXES)
"""File types :func:`read_boundary_file` accepts (a ``.zip`` holding a Shapefile)."""


@dataclass(frozen=True)
class BoundaryFile:
    """The features of a boundary file.

    Attributes
    ----------
    frame : GeoDataFrame
        Every feature's attributes and geometry, in the file's CRS; the geometry is None where
        the feature's polygon could not be built (see ``problems``).
    problems : list of Problem
        One per feature whose geometry could not be read (row = feature number + 1).
    crs : pyproj.CRS
        The CRS of the coordinates (from the file, or the one the caller named).
    """

    frame: gpd.GeoDataFrame
    problems: list[Problem]
    crs: CRS


def parse_crs(text: str) -> CRS:
    """``EPSG:4547``, ``4547`` or any pyproj CRS text as a CRS; :class:`CRSError` if unknown."""
    value = text.strip()
    try:
        return CRS.from_user_input(int(value) if value.isdigit() else value)
    except (ProjCRSError, ValueError, TypeError) as exc:
        raise CRSError(f"无法识别坐标参考系「{value[:40]}」；请写成 EPSG:4547 这样的 EPSG 编号。") from exc


def read_boundary_file(path: Path, *, crs: str | None = None,
                       layer: str | None = None) -> BoundaryFile:
    """Read the features of a boundary file, one geometry at a time.

    Parameters
    ----------
    path : Path
        A GeoPackage, Shapefile (or zip of one) or GeoJSON file.
    crs : str, optional
        The CRS of a file that declares none (``EPSG:4547``).
    layer : str, optional
        The layer of a multi-layer GeoPackage (default: the first).

    Returns
    -------
    BoundaryFile

    Raises
    ------
    FileReadError
        The file is missing, of another type, unreadable or holds no feature.
    CRSError
        The file declares no CRS and ``crs`` is not given (or it is unknown, or contradicts the
        file's).
    """
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    if not path.is_file():
        raise FileReadError(f"找不到边界文件 {path}。")
    if path.suffix.lower() not in BOUNDARY_SUFFIXES:
        raise FileReadError(f"边界文件 {path.name} 的类型不受支持；请用 GeoPackage（.gpkg）、"
                            "Shapefile（.shp 或其 .zip）或 GeoJSON（.geojson）。")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "Non closed ring detected"
            meta, _fids, wkb, fields = pyogrio.raw.read(path, layer=layer)
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise FileReadError(f"无法读取边界文件 {path.name}：{str(exc)[:300]}") from exc
    names = [str(n) for n in meta["fields"]]
    frame = gpd.GeoDataFrame({n: list(v) for n, v in zip(names, fields, strict=True)},
                             geometry=[None] * len(wkb))
    if len(frame) == 0:
        raise FileReadError(f"边界文件 {path.name} 没有任何要素（社区）。")
    geoms, problems = _geometries(wkb)
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index))
    source = _file_crs(path, meta.get("crs"), frame)
    named = parse_crs(crs) if crs else None
    if source is None and named is None:
        raise CRSError(f"边界文件 {path.name} 没有坐标参考系（Shapefile 缺少 .prj，或 GeoJSON 未声明 "
                       "crs 且坐标不是经纬度）；请加 --crs 指明，例如 --crs EPSG:4547。")
    if source is not None and named is not None and not source.equals(named):
        raise CRSError(f"边界文件 {path.name} 声明的坐标系是 {_name(source)}，与 --crs {_name(named)} "
                       "不一致；请去掉 --crs，或改正文件的坐标系。")
    used = source or named
    assert used is not None
    return BoundaryFile(frame=frame.set_crs(used, allow_override=True), problems=problems,
                        crs=used)


def _name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _geometries(wkb: np.ndarray) -> tuple[list[shapely.Geometry | None], list[Problem]]:
    """Shapely geometries of the WKB values; a Problem for each one that cannot be built."""
    geoms: list[shapely.Geometry | None] = []
    problems: list[Problem] = []
    for pos, blob in enumerate(wkb):
        if blob is None:
            geoms.append(None)
            continue
        try:
            geoms.append(shapely.from_wkb(blob))
        except shapely.errors.GEOSException as exc:
            geoms.append(None)
            text = str(exc)
            why = ("边界环未闭合（首尾坐标不同）；请闭合多边形，例如在 QGIS 中用「修复几何」。"
                   if "closed" in text else f"几何无法解析（{text[:120]}）；请在 GIS 中修复。")
            problems.append(Problem(pos + 2, "geometry", "", why))
    return geoms, problems


def _file_crs(path: Path, declared: str | None, frame: gpd.GeoDataFrame) -> CRS | None:
    """The CRS the file really declares (None: none)."""
    if path.suffix.lower() in GEOJSON_SUFFIXES and not _geojson_declares_crs(path):
        return CRS.from_epsg(4326) if _looks_lonlat(frame) else None
    if not declared:
        return None
    try:
        return CRS.from_user_input(declared)
    except ProjCRSError:
        return None


def _geojson_declares_crs(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("crs") is not None


def _looks_lonlat(frame: gpd.GeoDataFrame) -> bool:
    """Whether every coordinate is a plausible longitude/latitude."""
    geoms = frame.geometry.dropna()
    if len(geoms) == 0:
        return True
    x0, y0, x1, y1 = geoms.total_bounds
    return bool(-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90)
