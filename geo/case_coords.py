"""Case coordinates: numbers checked, the coordinate system settled, everything converted to WGS84.

The coordinate system of a case file is, in this order of precedence:

1. the one the user gives (``--coords``: ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` or
   ``EPSG:n``);
2. the one a header names (``经度(百度)`` → ``bd09``, ``高德经度`` → ``gcj02``; see
   :func:`geo.case_columns.map_columns`);
3. WGS84 lon/lat.

Values decide where they cannot be lon/lat: an easting of eight digits whose first two are a
Gauss-Krüger zone number (``38493456.2``: zone 38, 493 456.2 m) is a CGCS2000 Gauss-Krüger
coordinate with the zone prefix — 3° zones 25–45 are EPSG:4513–4533, 6° zones 13–23 EPSG:4491–4501.
The northing may stand in either column (Chinese surveyors call the northing X), so the column
with the zone prefix is taken as the easting. Plane coordinates without a zone prefix need
``--coords EPSG:n``; a row whose lon and lat look swapped is rejected, not silently swapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.crs import to_wgs84

_CHINA = (73.0, 136.0, 3.0, 54.0)  # lon/lat box used to spot swapped coordinates
SYSTEM_NAMES = {"wgs84": "WGS84", "cgcs2000": "CGCS2000 经纬度", "gcj02": "GCJ-02（高德/腾讯）",
                "bd09": "BD-09（百度）"}
"""Chinese names of the lon/lat systems, for reports."""
GEOGRAPHIC = ("wgs84", "cgcs2000", "gcj02", "bd09", "epsg:4326", "epsg:4490")


def gk_epsg(zone: int) -> int | None:
    """The CGCS2000 Gauss-Krüger EPSG code of a zone-prefixed easting's zone (``None``: no zone).

    3° zones 25–45 (central meridians 75°E–135°E) are EPSG:4513–4533, 6° zones 13–23 are
    EPSG:4491–4501; the two numberings do not overlap.
    """
    if 25 <= zone <= 45:
        return 4513 + zone - 25
    if 13 <= zone <= 23:
        return 4491 + zone - 13
    return None


def _zone_name(zone: int) -> str:
    width = " 3 度带" if zone >= 25 else " 6 度带"
    return f"CGCS2000 高斯-克吕格{width}第 {zone} 带（EPSG:{gk_epsg(zone)}）"


@dataclass
class Located:
    """Outcome of :func:`locate`: WGS84 lon/lat (NaN where rejected), per-row system, problems."""

    lon: np.ndarray
    lat: np.ndarray
    system: np.ndarray
    problems: list[tuple[np.ndarray, str, str]] = field(default_factory=list)
    """``(row mask, role, message)``: ``role`` is ``lon`` or ``lat`` (the column to name)."""
    notes: list[str] = field(default_factory=list)

    def reject(self, mask: np.ndarray, role: str, message: str) -> None:
        if mask.any():
            self.problems.append((mask, role, message))
            self.lon[mask] = np.nan
            self.lat[mask] = np.nan


def locate(x_text: pd.Series, y_text: pd.Series, *, coords: str | None = None,
           implied: str | None = None, china: bool = True, x_name: str = "lon",
           y_name: str = "lat") -> Located:
    """Check coordinates given as text and convert them to WGS84.

    Parameters
    ----------
    x_text, y_text : pandas.Series
        The ``lon`` (x, easting) and ``lat`` (y, northing) cells as text.
    coords : str, optional
        The user's coordinate system (wins over everything); ``None`` to decide from the header
        (``implied``) and the values.
    implied : str, optional
        The system a header names (``bd09`` for ``经度(百度)``).
    china : bool
        Data from China: a lon in 3–54 with a lat in 73–136 is taken as swapped. Off for the
        analysis commands, which work anywhere on Earth.
    x_name, y_name : str
        The file's column names, for the notes.

    Returns
    -------
    Located
        WGS84 coordinates, the per-row system (``wgs84``, ``bd09``, ``epsg:4526`` …), the
        rejected rows with a reason, and notes for the report.
    """
    n = len(x_text)
    xs, ys = x_text.astype(str).str.strip(), y_text.astype(str).str.strip()
    x = pd.to_numeric(xs.str.replace(",", "", regex=False), errors="coerce").to_numpy(float)
    y = pd.to_numeric(ys.str.replace(",", "", regex=False), errors="coerce").to_numpy(float)
    given = (coords or "").strip().lower()
    system = given or (implied or "wgs84")
    out = Located(np.full(n, np.nan), np.full(n, np.nan), np.full(n, system, dtype=object))
    if given and implied and implied != given:
        out.notes.append(f"表头表示 {SYSTEM_NAMES.get(implied, implied)}坐标，但指定了 --coords "
                         f"{coords}；已按 --coords 处理，若不对请改用 --coords {implied}。")
    elif not given and implied:
        out.notes.append(f"表头「{x_name}」「{y_name}」表示 {SYSTEM_NAMES.get(implied, implied)}坐标"
                         f"（相当于 --coords {implied}），已转换为 WGS84。")
    for vals, text, role, label in ((x, xs, "lon", "经度"), (y, ys, "lat", "纬度")):
        out.reject((text == "").to_numpy(), role, f"缺少{label}；请填写数值坐标。")
        out.reject(((text != "") & np.isnan(vals)).to_numpy(), role,
                   f"{label}不是数字；请填写十进制度数（例如 113.92）或投影坐标（米）。")
    ok = np.isfinite(x) & np.isfinite(y)
    if system not in GEOGRAPHIC:  # a projected EPSG code: x/y in its units, as given
        lon, lat = to_wgs84(x[ok], y[ok], system=system)
        out.lon[ok], out.lat[ok] = lon, lat
        out.system[:] = system
        return out
    plane = ok & ((np.abs(x) > 180) | (np.abs(y) > 180))
    if plane.any() and system in ("wgs84", "cgcs2000"):
        _plane(out, x, y, plane, x_name=x_name, y_name=y_name)
        deg = ok & ~plane
    else:
        deg = ok
    _degrees(out, x, y, deg, system=system, china=china)
    return out


def _plane(out: Located, x: np.ndarray, y: np.ndarray, plane: np.ndarray, *, x_name: str,
           y_name: str) -> None:
    """Zone-prefixed Gauss-Krüger rows converted; plane rows without a zone rejected."""
    x_east = plane & (np.abs(x) >= 1e7)
    y_east = plane & ~x_east & (np.abs(y) >= 1e7)
    east = np.where(y_east, y, x)
    north = np.where(y_east, x, y)
    zone = np.where(x_east | y_east, np.floor(east / 1e6), -1).astype(int)
    epsg = np.array([gk_epsg(int(z)) or 0 for z in zone])
    good = (x_east | y_east) & (epsg > 0) & (north > 0) & (north < 1e7)
    for code in sorted(set(epsg[good].tolist())):
        sel = good & (epsg == code)
        lon, lat = to_wgs84(east[sel], north[sel], system=f"EPSG:{code}")
        out.lon[sel], out.lat[sel] = lon, lat
        out.system[sel] = f"epsg:{code}"
        zones = sorted(set(zone[sel].tolist()))
        out.notes.append(f"「{x_name}」「{y_name}」是带带号的投影坐标（"
                         + "、".join(_zone_name(z) for z in zones)
                         + f"），已转换为 WGS84（{int(sel.sum())} 行）。")
    if (good & y_east).any():
        out.notes.append(f"「{x_name}」是北坐标、「{y_name}」是东坐标（测绘习惯 X 为北），已按此换算。")
    out.reject(plane & ~good, "lon",
               "坐标是以米为单位的投影坐标，但没有可识别的带号，无法判断坐标系；"
               "请用 --coords EPSG:编号 指定（例如孝南区 CGCS2000 3 度带、不带带号为 EPSG:4547）。")


def _degrees(out: Located, lon: np.ndarray, lat: np.ndarray, rows: np.ndarray, *, system: str,
             china: bool) -> None:
    """Lon/lat rows: swapped and out-of-range values rejected, the rest converted."""
    if china:
        in_china = ((lon >= _CHINA[0]) & (lon <= _CHINA[1]) & (lat >= _CHINA[2])
                    & (lat <= _CHINA[3]))
        swapped_cn = ((lat >= _CHINA[0]) & (lat <= _CHINA[1]) & (lon >= _CHINA[2])
                      & (lon <= _CHINA[3]))
    else:
        in_china = swapped_cn = np.zeros(len(lon), dtype=bool)
    swapped = rows & (((np.abs(lat) > 90) & (np.abs(lon) <= 90)) | (~in_china & swapped_cn))
    out.reject(swapped, "lon", "经纬度似乎填反了（经度列的值像纬度，纬度列的值像经度）；"
               "请交换这两列后重新导入。")
    bad = rows & ~swapped & ((np.abs(lon) > 180) | (np.abs(lat) > 90))
    out.reject(bad, "lon", "坐标超出经纬度范围（经度 −180…180，纬度 −90…90）；请检查坐标系参数 --coords。")
    keep = rows & ~swapped & ~bad
    if keep.any():
        wlon, wlat = to_wgs84(lon[keep], lat[keep], system=system)
        out.lon[keep], out.lat[keep] = wlon, wlat
        out.system[keep] = system
