"""Coordinate reference systems: the working CRS in metres, guards, and GCJ-02/BD-09 conversion.

Lon/lat (EPSG:4326) is used only at the edges. Distances, areas, clustering and routing run in one
projected CRS in metres: the configured one, else the CGCS2000 3-degree Gauss–Krüger zone (with
the central meridian in the EPSG code, EPSG:4534–4554) for data inside China, else the UTM zone.

GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are not PROJ CRSs. :func:`gcj02_to_wgs84`,
:func:`wgs84_to_gcj02`, :func:`bd09_to_gcj02`, :func:`gcj02_to_bd09`, :func:`bd09_to_wgs84` and
:func:`wgs84_to_bd09` convert them explicitly, vectorised over numpy arrays; the inverses are
solved by fixed-point iteration so that a round trip is exact to far better than 1 cm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
from pyproj import CRS

from geo.errors import CRSError, InputError

FloatArray = npt.NDArray[np.float64]
CoordSystem = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]

WGS84 = "EPSG:4326"
CGCS2000_GEOGRAPHIC = "EPSG:4490"
XIAONAN_WORKING_CRS = "EPSG:4547"

# China's rough extent: where GCJ-02 obfuscation applies (the usual rectangle test).
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_BD_PI = np.pi * 3000.0 / 180.0


def working_crs(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, configured: str | None = None
) -> CRS:
    """Choose the projected working CRS (metres) for points given in lon/lat.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes (WGS84 or CGCS2000) of the data; their median picks the zone.
    configured : str, optional
        A CRS the deployment configured (``"EPSG:4547"``); it wins when given, and must be
        projected in metres.

    Returns
    -------
    pyproj.CRS
        CGCS2000 3-degree Gauss–Krüger (EPSG:4534–4554) inside China, else WGS84 / UTM.

    Raises
    ------
    CRSError
        If ``configured`` is not a projected CRS in metres, or there are no finite coordinates.
    """
    if configured:
        crs = CRS.from_user_input(configured)
        require_metric(crs, what=f"配置的工作坐标系 {configured}")
        return crs
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon_a) & np.isfinite(lat_a)
    if not ok.any():
        raise CRSError("没有有效坐标，无法选择工作坐标系；请先提供至少一个有效的经纬度点。")
    lon0 = float(np.median(lon_a[ok]))
    lat0 = float(np.median(lat_a[ok]))
    if in_china(lon0, lat0) and 73.5 <= lon0 <= 136.5:
        zone_cm = round(lon0 / 3.0) * 3  # central meridians 75E … 135E
        return CRS.from_epsg(4534 + (zone_cm - 75) // 3)
    zone = int((lon0 + 180.0) // 6.0) % 60 + 1
    return CRS.from_epsg((32600 if lat0 >= 0 else 32700) + zone)


def require_metric(crs: object, *, what: str = "数据") -> CRS:
    """Return ``crs`` as a :class:`pyproj.CRS`, raising unless it is projected in metres.

    Raises
    ------
    CRSError
        If ``crs`` is missing, geographic, or has a unit other than metres.
    """
    if crs is None:
        raise CRSError(f"{what}没有坐标参考系（CRS）；请用 set_crs() 指定，例如 EPSG:4326。")
    c = CRS.from_user_input(crs)
    if c.is_geographic:
        raise CRSError(
            f"{what}使用地理坐标系 {c.to_string()}（经纬度），此处需要以米为单位的投影坐标系；"
            "请先用 to_working() 转换，例如转到 EPSG:4547。"
        )
    units = {ax.unit_name for ax in c.axis_info}
    if units - {"metre", "meter"}:
        raise CRSError(f"{what}的坐标系 {c.to_string()} 单位为 {sorted(units)}，需要米。")
    return c


def require_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, what: str = "数据") -> CRS:
    """Raise :class:`CRSError` if ``gdf`` has no CRS; return it otherwise."""
    if gdf.crs is None:
        raise CRSError(f"{what}没有坐标参考系（CRS）；请用 set_crs() 指定，例如 EPSG:4326。")
    return CRS.from_user_input(gdf.crs)


def to_working(
    gdf: gpd.GeoDataFrame, *, crs: str | CRS | None = None
) -> gpd.GeoDataFrame:
    """Project ``gdf`` to the working CRS (``crs`` if given, else chosen from the data).

    Raises
    ------
    CRSError
        If ``gdf`` has no CRS or the target is not metric.
    """
    require_crs(gdf)
    if crs is not None:
        target = require_metric(crs, what="目标坐标系")
    else:
        geo = gdf.to_crs(WGS84)
        cent = geo.geometry.representative_point()
        target = working_crs(cent.x.to_numpy(), cent.y.to_numpy())
    return gdf.to_crs(target)


def in_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where a point lies in the rectangle where GCJ-02 obfuscation applies."""
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    return (
        (lon_a >= _CHINA_LON[0]) & (lon_a <= _CHINA_LON[1])
        & (lat_a >= _CHINA_LAT[0]) & (lat_a <= _CHINA_LAT[1])
    )


def _gcj_delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    d_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    d_lon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, d_lon, 0.0), np.where(inside, d_lat, 0.0)


def _as_arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    if lon_a.shape != lat_a.shape:
        raise InputError(f"经度与纬度数组形状不一致：{lon_a.shape} 与 {lat_a.shape}。")
    return lon_a, lat_a


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    lon: FloatArray,
    lat: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Solve forward(x) = target by fixed-point iteration (converges: the shift is smooth)."""
    x, y = lon.copy(), lat.copy()
    for _ in range(30):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        if np.nanmax(np.abs(np.concatenate([ex.ravel(), ey.ravel(), [0.0]]))) < 1e-12:
            break
    return x, y


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 lon/lat to GCJ-02 (identity outside China)."""
    lon_a, lat_a = _as_arrays(lon, lat)
    d_lon, d_lat = _gcj_delta(lon_a, lat_a)
    return lon_a + d_lon, lat_a + d_lat


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 lon/lat to WGS84, exact to well under 1 mm (iterative inverse)."""
    lon_a, lat_a = _as_arrays(lon, lat)
    return _invert(wgs84_to_gcj02, lon_a, lat_a)


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 lon/lat to BD-09 (Baidu)."""
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 lon/lat to GCJ-02, exact to well under 1 mm (iterative inverse)."""
    lon_a, lat_a = _as_arrays(lon, lat)
    return _invert(gcj02_to_bd09, lon_a, lat_a)


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 lon/lat to BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 lon/lat to WGS84 (through GCJ-02), exact to well under 1 mm."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, system: str
) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates in ``system`` to WGS84 lon/lat.

    Parameters
    ----------
    lon, lat : array_like
        Coordinates (x/y in the CRS's units for an EPSG code).
    system : str
        ``wgs84``, ``cgcs2000`` (treated as identical to WGS84 at the metre level),
        ``gcj02``, ``bd09``, or any ``EPSG:n`` that PROJ knows.

    Raises
    ------
    CRSError
        If ``system`` is not one of these.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    key = system.strip().lower()
    if key in ("wgs84", "cgcs2000", "epsg:4326", "epsg:4490"):
        return lon_a, lat_a
    if key == "gcj02":
        return gcj02_to_wgs84(lon_a, lat_a)
    if key == "bd09":
        return bd09_to_wgs84(lon_a, lat_a)
    try:
        src = CRS.from_user_input(system)
    except Exception as exc:  # pyproj raises its own CRSError subclasses
        raise CRSError(
            f"未知的坐标系「{system}」；可用 wgs84、cgcs2000、gcj02、bd09 或 EPSG:编号。"
        ) from exc
    pts = gpd.GeoSeries(gpd.points_from_xy(lon_a, lat_a), crs=src).to_crs(WGS84)
    return pts.x.to_numpy(), pts.y.to_numpy()
