"""The case layer as Mapbox Vector Tiles (``/tiles/cases/{z}/{x}/{y}.mvt``), on both backends.

A tile is the usual web-mercator XYZ tile (EPSG:3857, ``y`` down from the north) with one layer
``cases`` of extent :data:`EXTENT` and a :data:`BUFFER` around it (neighbouring tiles overlap a
little, so a circle on a tile edge is drawn whole). Points are snapped to a grid of :data:`GRID`
tile units (one screen pixel of a 256-pixel tile) and the cases on one grid point become one
feature with ``n`` (how many cases); a feature of one case (``n == 1``) also carries ``case_id``,
``status``, ``category``, ``category_name`` and ``reported_at`` (ISO 8601, UTC). So a tile holds
at most about 70 000 features whatever the number of cases under it.

A case belongs to a tile when its rounded tile coordinates lie within the buffer (both
backends read a unit more and decide on the rounded coordinates, so they agree on the edges).
On PostGIS one query does it all (``ST_TileEnvelope`` → GiST-indexed ``&&`` on ``cases.geom`` →
``ST_AsMVTGeom`` → ``ST_SnapToGrid`` → ``GROUP BY`` → ``ST_AsMVT``). On SQLite the cases are read
through the ``(lon, lat)`` index of the tile's bounding box and encoded by the
``mapbox-vector-tile`` package; both give the same features for the same data.

Every filter of :class:`service.storage.CaseFilter` applies, including the caller's squads (set
by the router from :attr:`service.auth.Principal.squads`). An empty tile is ``b""``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import numpy as np
from sqlalchemy import Select, case, func, literal_column, select

from geo.crs import wgs84_to_gcj02
from geo.errors import InputError
from service.models import Case
from service.storage import CaseFilter, Storage

EXTENT = 4096
"""Tile coordinate range (0 … EXTENT) of the ``cases`` layer."""
BUFFER = 64
"""Tile units drawn beyond each edge."""
GRID = 16
"""Cases closer than this (in tile units) share one feature."""
LAYER = "cases"
MAX_ZOOM = 22
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
_R = 6378137.0
_HALF = math.pi * _R
_GCJ_MARGIN = 0.01
_PROPS = ("case_id", "status", "category", "category_name", "reported_at")


def check_tile(z: int, x: int, y: int) -> None:
    """:class:`InputError` unless ``z/x/y`` names an existing tile (``0 ≤ x, y < 2**z``)."""
    if not 0 <= z <= MAX_ZOOM:
        raise InputError(f"缩放级别 z={z} 无效；应在 0–{MAX_ZOOM} 之间。")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise InputError(f"瓦片 {z}/{x}/{y} 不存在；该级别 x、y 应在 0–{n - 1} 之间。")


def mercator_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's (min x, min y, max x, max y) in EPSG:3857 metres."""
    size = 2 * _HALF / (1 << z)
    return -_HALF + x * size, _HALF - (y + 1) * size, -_HALF + (x + 1) * size, _HALF - y * size


def lonlat_bounds(z: int, x: int, y: int, *, margin: float = 0.0
                  ) -> tuple[float, float, float, float]:
    """The tile's (min lon, min lat, max lon, max lat) in WGS84, grown by ``margin`` (a fraction
    of the tile's size) on every side."""
    x0, y0, x1, y1 = mercator_bounds(z, x, y)
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    lon0, lat0 = _to_lonlat(x0 - dx, y0 - dy)
    lon1, lat1 = _to_lonlat(x1 + dx, y1 + dy)
    return lon0, lat0, lon1, lat1


def _to_lonlat(mx: float, my: float) -> tuple[float, float]:
    my = max(-_HALF, min(_HALF, my))
    return math.degrees(mx / _R), math.degrees(2 * math.atan(math.exp(my / _R)) - math.pi / 2)


def case_tile(storage: Storage, flt: CaseFilter, z: int, x: int, y: int, *,
              gcj02: bool = False) -> bytes:
    """The MVT of the cases of ``flt`` on tile ``z/x/y`` (``b""`` when it holds none).

    ``gcj02=True`` places the points in GCJ-02 (for the Amap base map, whose tiles are shifted):
    then the points are read by bounding box and encoded here on both backends.
    """
    check_tile(z, x, y)
    storage.init()
    flt = replace(flt, limit=None, offset=0, after=None, bbox=None)
    if storage.engine.dialect.name == "postgresql" and not gcj02:
        with storage.engine.begin() as conn:
            # PostGIS functions carry high cost estimates: the planner would JIT-compile this
            # ~10 ms query for seconds (2.2 s of JIT measured on a tile of 14k cases)
            conn.exec_driver_sql("SET LOCAL jit = off")
            body = conn.execute(postgis_statement(storage, flt, z, x, y)).scalar()
        return bytes(body or b"")
    cells, counts, single = _tile_cells(storage, flt, z, x, y, gcj02=gcj02)
    return _encoded(_features(storage, cells, counts, single))


def postgis_statement(storage: Storage, flt: CaseFilter, z: int, x: int, y: int) -> Select[Any]:
    """The one PostGIS query answering tile ``z/x/y`` of ``flt`` (a ``bytea``)."""
    zxy = [_int(v) for v in (z, x, y)]  # checked integers, inlined (PostgreSQL wants int4)
    envelope = func.ST_TileEnvelope(*zxy)
    near = func.ST_Transform(func.ST_TileEnvelope(*zxy, literal_column(
        f"margin => {(BUFFER + 1) / EXTENT!r}")), _int(4326))
    geom = func.ST_SnapToGrid(func.ST_AsMVTGeom(func.ST_Transform(Case.geom, _int(3857)),
                                                envelope, _int(EXTENT), _int(BUFFER), True),
                              _int(GRID))
    iso = func.to_char(func.timezone("UTC", Case.reported_at), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    points = (storage.case_query(flt).where(Case.geom.op("&&")(near))
              .with_only_columns(geom.label("g"), Case.case_id, Case.status, Case.category,
                                 Case.category_name, iso.label("reported_at"))
              .subquery("p"))
    one = func.count() == 1
    grouped = (select(points.c.g, func.count().label("n"),
                      *(case((one, func.min(points.c[p])), else_=None).label(p) for p in _PROPS))
               .where(points.c.g.is_not(None)).group_by(points.c.g).subquery("t"))
    return select(func.ST_AsMVT(literal_column("t"), LAYER, _int(EXTENT), "g")
                  ).select_from(grouped)


def _int(value: int) -> Any:
    return literal_column(str(int(value)))


def _tile_cells(storage: Storage, flt: CaseFilter, z: int, x: int, y: int, *,
                gcj02: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid cells of tile ``z/x/y`` holding cases: ``(cells, counts, single)`` where
    ``cells`` is an (n, 2) array of snapped tile coordinates, ``counts`` the cases in each and
    ``single`` the row id of the case of a one-case cell (-1 elsewhere). Positions in GCJ-02
    with ``gcj02``."""
    box = lonlat_bounds(z, x, y, margin=(BUFFER + 1) / EXTENT)
    if gcj02:  # the shift is under 0.01° (~1 km) in China: read a little more, filter below
        box = (box[0] - _GCJ_MARGIN, box[1] - _GCJ_MARGIN, box[2] + _GCJ_MARGIN,
               box[3] + _GCJ_MARGIN)
    stmt = storage.case_query(replace(flt, bbox=box)).with_only_columns(Case.id, Case.lon,
                                                                        Case.lat)
    with storage.begin() as session:
        rows = np.array([tuple(r) for r in session.execute(stmt)], dtype=float).reshape(-1, 3)
    ids, lon_d, lat_d = rows[:, 0].astype(np.int64), rows[:, 1], rows[:, 2]
    if gcj02 and len(ids):
        lon_d, lat_d = wgs84_to_gcj02(lon_d, lat_d)
    x0, y0, x1, y1 = mercator_bounds(z, x, y)
    lat = np.radians(np.clip(lat_d, -85.05112878, 85.05112878))
    mx, my = _R * np.radians(lon_d), _R * np.log(np.tan(np.pi / 4 + lat / 2))
    tx = np.round((mx - x0) / (x1 - x0) * EXTENT)  # half to even, as PostGIS
    ty = np.round((y1 - my) / (y1 - y0) * EXTENT)
    keep = (tx >= -BUFFER) & (tx <= EXTENT + BUFFER) & (ty >= -BUFFER) & (ty <= EXTENT + BUFFER)
    snapped = np.column_stack([np.round(tx[keep] / GRID), np.round(ty[keep] / GRID)]) * GRID
    cells, first, counts = np.unique(snapped.reshape(-1, 2), axis=0, return_index=True,
                                     return_counts=True)
    single = np.where(counts == 1, ids[keep][first] if len(first) else first, -1)
    return cells.astype(np.int64), counts, single


def _features(storage: Storage, cells: np.ndarray, counts: np.ndarray,
              single: np.ndarray) -> list[dict[str, Any]]:
    """One feature per cell: ``n`` and, for a single case, its properties (read by row id)."""
    wanted = [int(i) for i in single if i >= 0]
    props: dict[int, dict[str, str]] = {}
    cols = (Case.id, *(getattr(Case, p) for p in _PROPS))
    with storage.begin() as session:
        for k in range(0, len(wanted), 5000):
            for pk, *values in session.execute(select(*cols).where(
                    Case.id.in_(wanted[k:k + 5000]))):
                props[pk] = {p: (_iso(v) if p == "reported_at" else str(v))
                             for p, v in zip(_PROPS, values, strict=True) if v is not None}
    return [{"geometry": f"POINT({cx} {cy})",
             "properties": {"n": int(n), **props.get(int(one), {})}}
            for (cx, cy), n, one in zip(cells.tolist(), counts.tolist(), single.tolist(),
                                        strict=True)]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encoded(features: list[dict[str, Any]]) -> bytes:
    if not features:
        return b""
    import mapbox_vector_tile

    return bytes(mapbox_vector_tile.encode(
        [{"name": LAYER, "features": features}],
        default_options={"extents": EXTENT, "y_coord_down": True}))


TILES_FROM = 3000
"""A map whose case layer would hold more cases than this draws it from the tiles (below: the
points are written into the page)."""


def case_tile_url(flt: CaseFilter, *, gcj02: bool = False) -> str:
    """The XYZ template of the tiles of ``flt`` (time range, one squad, ``precise``, statuses and
    categories; ``coords=gcj02`` for a map on the Amap base map), for
    :class:`geo.maps.case_tiles.CaseTileLayer`."""
    params: list[tuple[str, str]] = [("coords", "gcj02")] if gcj02 else []
    if flt.start is not None:
        params.append(("start", flt.start.isoformat()))
    if flt.end is not None:
        params.append(("end", flt.end.isoformat()))
    if flt.squads is not None and len(flt.squads) == 1:
        params.append(("squad", flt.squads[0]))
    params += [("status", s) for s in flt.status or ()]
    params += [("category", c) for c in flt.categories or ()]
    if flt.community:
        params.append(("community", flt.community))
    if flt.precise:
        params.append(("precise", "true"))
    query = urlencode(params)
    return "/tiles/cases/{z}/{x}/{y}.mvt" + (f"?{query}" if query else "")
