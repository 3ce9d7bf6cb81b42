"""Helpers of the stored (JSON) form of a plan, used by :mod:`geo.planning.model`.

:class:`Reader` carries what reading a stored plan needs; :func:`stops_frame` rebuilds a stored
plan's stops from its visits and unvisited stops. Nothing here imports :mod:`geo.planning.model`:
the helpers take plain data (visits are read by attribute).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from pyproj import Transformer
from shapely.geometry import Point

from geo.crs import WGS84
from geo.planning.clock import day_start

STOP_FIELDS = ("stop_id", "kind", "what", "priority", "required", "community_code", "community",
               "lon", "lat")


@dataclass(frozen=True)
class Reader:
    """What reading a stored plan needs: its midnight, time zone and the WGS84 → CRS transform."""

    midnight: datetime
    zone: ZoneInfo
    to_crs: Transformer

    def time(self, text: str) -> datetime:
        """An ISO 8601 time of the plan, in the plan's time zone."""
        return datetime.fromisoformat(text).astimezone(self.zone)

    def seconds(self, text: str) -> float:
        """An ISO 8601 time of the plan as seconds of the plan day."""
        return (datetime.fromisoformat(text) - self.midnight).total_seconds()

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """WGS84 lon/lat in the plan's CRS."""
        x, y = self.to_crs.transform(lon, lat)
        return float(x), float(y)

    def xy_array(self, lonlat: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """An (n, 2) array of WGS84 lon/lat in the plan's CRS."""
        x, y = self.to_crs.transform(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack([x, y])


def reader_for(day: date, tz: str, crs: str) -> Reader:
    """The :class:`Reader` of a plan of ``day`` in time zone ``tz`` and working CRS ``crs``."""
    return Reader(midnight=day_start(day, tz), zone=ZoneInfo(tz),
                  to_crs=Transformer.from_crs(WGS84, crs, always_xy=True))


def opt_float(value: Any) -> float | None:
    """``None`` stays ``None``; anything else becomes a float."""
    return None if value is None else float(value)


def unvisited_json(unvisited: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The unvisited stops, JSON-ready (missing values as ``None``)."""
    return [{k: (None if pd.isna(v) else v) if not isinstance(v, list) else v
             for k, v in u.items()} for u in unvisited]


def stops_frame(visits: Iterable[Any], unvisited: Iterable[Mapping[str, Any]], reader: Reader,
                crs: str) -> gpd.GeoDataFrame:
    """The stops of a stored plan: the visited (``visits``) then the ``unvisited`` ones."""
    rows: list[dict[str, Any]] = [{"stop_id": v.stop_id, "kind": v.kind, "what": v.what, "priority": v.priority,
             "required": v.required, "community_code": v.community_code,
             "community": v.community, "lon": v.lon, "lat": v.lat}
            for v in visits]
    rows += [{k: u.get(k) for k in STOP_FIELDS} for u in unvisited]
    geoms = [Point(reader.xy(float(r["lon"]), float(r["lat"]))) for r in rows]
    return gpd.GeoDataFrame(rows or None, columns=list(STOP_FIELDS), geometry=geoms, crs=crs)
