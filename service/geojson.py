"""GeoDataFrames and query parameters → GeoJSON (RFC 7946) responses, quickly.

Geometries follow RFC 7946: coordinates rounded to :data:`COORD_DECIMALS` (7 decimals, about
1 cm), polygon exterior rings counter-clockwise and holes clockwise (:func:`rfc7946_geometries`).

Responses are built from plain dicts and serialised once (no per-feature pydantic validation), so
a FeatureCollection of thousands of cases stays within a few milliseconds. ``orjson`` serialises when
installed (about 10x faster than :mod:`json`; datetimes natively, NaN as ``null``); the standard
library is the fallback and gives the same text for the values the service produces.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import Response

from geo.errors import InputError

try:  # optional speed-up; same output as the json fallback for the values used here
    import orjson
except ImportError:  # pragma: no cover - exercised only without orjson
    orjson = None  # type: ignore[assignment]

GEOJSON = "application/geo+json"
COORD_DECIMALS = 7
"""Decimals of every coordinate written (RFC 7946 §11.2: 7 decimals is about 1 cm)."""
_MIN_YEAR, _MAX_YEAR = 1900, 2200


def iso(value: Any) -> str | None:
    """ISO 8601 text of a datetime/Timestamp (``None`` for missing values)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def _default(value: Any) -> Any:
    """orjson/json ``default``: values neither serialises natively (Timestamp, NaT, numpy)."""
    out = _clean(value)
    if out is value:
        raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")
    return out


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or value is pd.NA or \
        (isinstance(value, float) and math.isnan(value))


def _column(values: pd.Series) -> list[Any]:
    """A column as JSON-ready Python values (missing → ``None``, times → ISO 8601)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values):
        return [None if t is pd.NaT else t.isoformat() for t in values]
    return [None if _missing(v) else _clean(v) for v in values.tolist()]


def _loads(text: str | bytes) -> Any:
    return orjson.loads(text) if orjson is not None else json.loads(text)


def loads(text: str | bytes) -> Any:
    """Parse JSON text (orjson when installed)."""
    return _loads(text)


def rfc7946_geometries(geoms: np.ndarray) -> np.ndarray:
    """``geoms`` (shapely array, ``None`` allowed) rounded to :data:`COORD_DECIMALS` with polygon
    exterior rings counter-clockwise and interior rings clockwise (RFC 7946 §3.1.6)."""
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, COORD_DECIMALS))
    return shapely.orient_polygons(rounded, exterior_cw=False)


def round_point(geometry: dict[str, Any] | None) -> dict[str, Any] | None:
    """A GeoJSON Point dict with its coordinates rounded to :data:`COORD_DECIMALS` (in place)."""
    if geometry is not None and geometry.get("type") == "Point":
        geometry["coordinates"] = [round(float(v), COORD_DECIMALS)
                                   for v in geometry["coordinates"]]
    return geometry


def frame_features(gdf: gpd.GeoDataFrame, *, id_column: str,
                   properties: list[str] | None = None) -> list[dict[str, Any]]:
    """GeoJSON features of ``gdf`` (WGS84) with ``id`` from ``id_column`` and its other columns;
    geometries as :func:`rfc7946_geometries` writes them.

    Column-wise (no per-cell pandas indexing): a few microseconds per feature.
    """
    names = properties if properties is not None else list(gdf.columns)
    cols = [c for c in names if c in gdf.columns and c != gdf.geometry.name]
    values = [_column(gdf[c]) for c in cols]
    geoms = [_loads(g) if g is not None else None
             for g in shapely.to_geojson(rfc7946_geometries(gdf.geometry.to_numpy()))]
    ids = gdf[id_column].tolist()
    return [{"type": "Feature", "id": ids[i], "geometry": geoms[i],
             "properties": dict(zip(cols, [v[i] for v in values], strict=True))}
            for i in range(len(gdf))]


_ORJSON_OPTS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY) if orjson else 0


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (Chinese kept readable; datetimes as ISO 8601; NaN as ``null``)."""
    if orjson is not None:
        return orjson.dumps(obj, default=_default, option=_ORJSON_OPTS)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_default,
                      allow_nan=True).encode()


def geojson_response(obj: dict[str, Any], *, status_code: int = 200) -> Response:
    """A response with ``application/geo+json`` content."""
    return Response(dumps(obj), status_code=status_code, media_type=GEOJSON)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` (WGS84; a 6-number 3-D bbox drops z) or ``None``."""
    if text is None or text == "":
        return None
    try:
        nums = [float(v) for v in text.split(",")]
    except ValueError:
        nums = []
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4 or not all(math.isfinite(v) for v in nums):
        raise InputError(f"bbox「{text[:80]}」无效；格式：最小经度,最小纬度,最大经度,最大纬度（WGS84）。")
    x0, y0, x1, y1 = nums
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InputError(f"bbox「{text[:80]}」超出经纬度范围或最小纬度大于最大纬度。")
    if x0 > x1:
        raise InputError("bbox 跨越 180° 经线的查询暂不支持；请拆成两个范围。")
    return x0, y0, x1, y1


def aware(value: datetime | date | None, tz: str, *, end: bool = False) -> datetime | None:
    """``value`` as a tz-aware datetime (naive values and dates are in ``tz``), range-checked.

    A date means the start of that day, or with ``end=True`` the start of the next day.
    """
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min)
        if end:
            value = value + timedelta(days=1)
    if not _MIN_YEAR <= value.year <= _MAX_YEAR:
        raise InputError(f"时间「{value.isoformat()}」超出 {_MIN_YEAR}–{_MAX_YEAR} 年范围。")
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(tz))


def parse_interval(text: str | None, tz: str) -> tuple[datetime | None, datetime | None]:
    """OGC ``datetime``: an instant, ``start/end``, ``../end`` or ``start/..`` → (start, end).

    An instant ``t`` selects ``[t, t]``; a date-only instant selects that whole day.
    """
    if not text:
        return None, None
    parts = text.split("/")
    if len(parts) > 2:
        raise InputError(f"datetime「{text[:80]}」无效；格式：时刻、起/止，开放端用 ..")

    def one(part: str, *, end: bool) -> datetime | None:
        if part in ("", ".."):
            return None
        try:
            if len(part) == 10:
                return aware(date.fromisoformat(part), tz, end=end)
            return aware(datetime.fromisoformat(part.replace("Z", "+00:00")), tz)
        except ValueError as exc:
            raise InputError(f"datetime「{part[:40]}」不是 ISO 8601 时间。") from exc

    if len(parts) == 1:
        start = one(parts[0], end=False)
        if len(parts[0]) == 10:
            return start, one(parts[0], end=True)
        return start, (start + timedelta(microseconds=1)) if start is not None else None
    return one(parts[0], end=False), one(parts[1], end=True)


def month_range(month: str, tz: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` → [first day, first day of next month) in ``tz``."""
    try:
        first = datetime.strptime(month, "%Y-%m")
    except ValueError as exc:
        raise InputError(f"month「{month[:20]}」无效；格式 YYYY-MM，如 2026-05。") from exc
    nxt = datetime(first.year + first.month // 12, first.month % 12 + 1, 1)
    start, end = aware(first, tz), aware(nxt, tz)
    assert start is not None and end is not None
    return start, end
