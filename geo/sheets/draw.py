"""The route map of a route sheet, laid out in a box (no tiles): shared by the PDF and HTML sheets.

:func:`layout_map` projects community polygons, the route and the stops of a
:class:`~geo.sheets.model.TeamSheet` into a ``width`` × ``height`` box (y pointing down, any unit:
millimetres for the PDF, pixels for the SVG) with a local equirectangular projection, which is
exact enough at the scale of a patrol area, and picks a scale bar. Stops closer than a marker's
width are spread on a small circle around where they are (:func:`spread_markers`), each with a
leader line back to its true position, so every number stays readable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from geo.crs import require_crs
from geo.errors import InputError
from geo.sheets.model import TeamSheet

Pt = tuple[float, float]
_R_EARTH_M = 6_371_008.8
_NICE_M = (20, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000)


@dataclass
class MapDrawing:
    """Shapes of a route map in box coordinates (origin top-left, y down).

    Attributes
    ----------
    width, height : float
        The box.
    polygons : list of (name, rings)
        Community polygons clipped to the view; each ring a list of points.
    labels : list of (name, x, y)
        Community names at a point inside each clipped polygon.
    route : list of (x, y)
        The route polyline.
    stops : list of (seq, x, y, kind)
        Numbered stops, where their markers are drawn (spread apart when they would overlap).
    anchors : list of (x, y)
        The true position of each stop (same order as ``stops``); differs from the marker
        position only for spread markers, which get a leader line.
    start : (x, y) or None
        The team's start (work station).
    scale_m, scale_len : float
        A scale bar: ``scale_m`` metres are ``scale_len`` box units long.
    """

    width: float
    height: float
    polygons: list[tuple[str, list[list[Pt]]]] = field(default_factory=list)
    labels: list[tuple[str, float, float]] = field(default_factory=list)
    route: list[Pt] = field(default_factory=list)
    stops: list[tuple[int, float, float, str]] = field(default_factory=list)
    anchors: list[Pt] = field(default_factory=list)
    start: Pt | None = None
    scale_m: float = 0.0
    scale_len: float = 0.0


def community_shapes(communities: object) -> list[tuple[str, BaseGeometry]]:
    """Normalise the sheet's ``communities`` to ``[(name, lon/lat geometry)]``.

    Parameters
    ----------
    communities : GeoDataFrame, list of (name, Polygon) or None
        A GeoDataFrame in any CRS (with a ``name`` or ``community`` column), or polygons in
        lon/lat.

    Raises
    ------
    CRSError
        If a GeoDataFrame has no CRS.
    InputError
        If it is neither of these.
    """
    if communities is None:
        return []
    if isinstance(communities, gpd.GeoDataFrame):
        require_crs(communities, what="路线单的社区边界")
        gdf = communities.to_crs("EPSG:4326")
        col = next((c for c in ("name", "community") if c in gdf.columns), None)
        names = gdf[col].astype(str).tolist() if col else [""] * len(gdf)
        return [(n, g) for n, g in zip(names, gdf.geometry, strict=True) if g is not None]
    if isinstance(communities, Iterable):
        out = []
        for item in communities:
            name, geom = item
            out.append((str(name), geom))
        return out
    raise InputError(
        "路线单的 communities 应为 GeoDataFrame 或 (名称, 多边形) 列表；"
        f"收到 {type(communities).__name__}。"
    )


def _view_lonlat(sheet: TeamSheet, shapes: list[tuple[str, BaseGeometry]]) -> tuple[float, ...]:
    """Lon/lat bounds to show: route, stops and start; else the communities."""
    pts = list(sheet.path_lonlat())
    pts += sheet.stop_points()
    if sheet.start_lonlat is not None:
        pts.append((float(sheet.start_lonlat[0]), float(sheet.start_lonlat[1])))
    if pts:
        xs, ys = zip(*pts, strict=True)
        return min(xs), min(ys), max(xs), max(ys)
    if shapes:
        b = shapely.bounds(shapely.union_all([g for _, g in shapes]))
        return tuple(float(v) for v in b)
    return (0.0, 0.0, 0.0, 0.0)


class _Projector:
    """Lon/lat → box coordinates, fitting the view with a margin and keeping the aspect."""

    def __init__(self, bounds: tuple[float, ...], width: float, height: float) -> None:
        x0, y0, x1, y1 = bounds
        self.lon0, self.lat0 = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        self.kx = math.radians(1.0) * _R_EARTH_M * math.cos(math.radians(self.lat0))
        self.ky = math.radians(1.0) * _R_EARTH_M
        span_x = max((x1 - x0) * self.kx, 200.0) * 1.15
        span_y = max((y1 - y0) * self.ky, 200.0) * 1.15
        self.scale = min(width / span_x, height / span_y)  # box units per metre
        self.w, self.h = width, height

    def __call__(self, lon: float, lat: float) -> Pt:
        x = (lon - self.lon0) * self.kx * self.scale + self.w / 2.0
        y = self.h / 2.0 - (lat - self.lat0) * self.ky * self.scale
        return (x, y)

    def lonlat_box(self) -> Polygon:
        """The box as a lon/lat rectangle (for clipping)."""
        dx = self.w / 2.0 / self.scale / self.kx
        dy = self.h / 2.0 / self.scale / self.ky
        return box(self.lon0 - dx, self.lat0 - dy, self.lon0 + dx, self.lat0 + dy)


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, MultiPolygon):
        return [g for g in geom.geoms if not g.is_empty]
    if hasattr(geom, "geoms"):
        return [g for part in geom.geoms for g in _polygons(part)]
    return []


def _scale_bar(proj: _Projector, width: float) -> tuple[float, float]:
    target_m = width / 5.0 / proj.scale
    nice = max([n for n in _NICE_M if n <= target_m] or [_NICE_M[0]])
    return float(nice), nice * proj.scale


def spread_markers(points: list[Pt], radius: float, *, width: float | None = None,
                   height: float | None = None) -> list[Pt]:
    """Marker positions for round markers of ``radius`` at ``points`` such that none overlap.

    Markers closer than a marker width form a group (transitively); a group's markers are put
    on a circle around the group's centre, in input order clockwise from the top, far enough
    apart that neighbours do not touch. Lone markers stay where they are. With ``width`` and
    ``height`` the positions are kept ``radius`` inside that box.

    Parameters
    ----------
    points : list of (x, y)
        True positions, in box units.
    radius : float
        Marker radius in the same units; ``0`` returns ``points`` unchanged.
    """
    n = len(points)
    if radius <= 0 or n < 2:
        return list(points)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    gap = 2.2 * radius
    for i in range(n):
        for j in range(i + 1, n):
            if math.dist(points[i], points[j]) < gap:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    out = list(points)
    for members in groups.values():
        k = len(members)
        if k < 2:
            continue
        cx = sum(points[i][0] for i in members) / k
        cy = sum(points[i][1] for i in members) / k
        ring = max(gap / (2.0 * math.sin(math.pi / k)), 1.3 * radius)
        for pos, i in enumerate(members):
            a = 2.0 * math.pi * pos / k
            out[i] = (cx + ring * math.sin(a), cy - ring * math.cos(a))
    if width is not None and height is not None:
        out = [(min(max(x, radius), width - radius), min(max(y, radius), height - radius))
               for x, y in out]
    return out


def layout_map(sheet: TeamSheet, *, width: float, height: float,
               marker_r: float = 0.0) -> MapDrawing:
    """Lay out the route map of ``sheet`` in a ``width`` × ``height`` box.

    Parameters
    ----------
    sheet : TeamSheet
        The route sheet.
    width, height : float
        Box size in the caller's units (mm for PDF, px for SVG).
    marker_r : float
        Radius of the stop markers the caller draws; markers that would overlap are spread
        (:func:`spread_markers`). ``0`` keeps every marker at its stop.

    Returns
    -------
    MapDrawing
        Shapes in box coordinates, y down.
    """
    shapes = community_shapes(sheet.communities)
    proj = _Projector(_view_lonlat(sheet, shapes), width, height)
    view = proj.lonlat_box()
    drawing = MapDrawing(width=width, height=height)
    min_label_area = view.area * 0.004
    for name, geom in shapes:
        if geom is None or not geom.intersects(view):
            continue
        clipped = geom.intersection(view)
        for poly in _polygons(clipped):
            rings = [[proj(x, y) for x, y, *_ in poly.exterior.coords]]
            rings += [[proj(x, y) for x, y, *_ in r.coords] for r in poly.interiors]
            drawing.polygons.append((name, rings))
        parts = _polygons(clipped)
        if name and parts:
            biggest = max(parts, key=lambda p: p.area)
            if biggest.area >= min_label_area:
                rp = biggest.representative_point()
                drawing.labels.append((name, *proj(rp.x, rp.y)))
    drawing.route = [proj(x, y) for x, y in sheet.path_lonlat()]
    placed = [s for s in sheet.stops if s.lon is not None and s.lat is not None
              and s.has_position()]
    drawing.anchors = [proj(float(s.lon), float(s.lat)) for s in placed]  # type: ignore[arg-type]
    shown = spread_markers(drawing.anchors, marker_r, width=width, height=height)
    drawing.stops = [(s.seq, x, y, s.kind) for s, (x, y) in zip(placed, shown, strict=True)]
    if sheet.start_lonlat is not None:
        drawing.start = proj(float(sheet.start_lonlat[0]), float(sheet.start_lonlat[1]))
    drawing.scale_m, drawing.scale_len = _scale_bar(proj, width)
    return drawing


def scale_label(scale_m: float) -> str:
    """``500 米`` or ``2 公里``."""
    return f"{scale_m / 1000:g} 公里" if scale_m >= 1000 else f"{scale_m:g} 米"
