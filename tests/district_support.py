"""A second district built in code (simulated): six square communities of 800 m in a projected
CRS, two squads, written as GeoJSON / GeoPackage / Shapefile for ``xuncha boundaries import``.

The squares lie north of 孝南区 (around 114.0E, 31.25N, simulated "孝昌县" 420921) so that they
never overlap the embedded default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry import box

CODE, NAME, CITY = "420921", "孝昌县（模拟）", "孝感市"
SIDE_M = 800.0
ORIGIN = {4547: (500000.0, 3460000.0), 32650: (242900.0, 3461560.0)}
"""South-west corner of the grid in each CRS (EPSG:4547 CM 114E: 114.00E 31.26N; UTM 50N: 114.30E
31.26N)."""
SQUADS = {"xc-a": "花园中队（模拟）", "xc-b": "周巷中队（模拟）"}


def communities(epsg: int = 4547) -> gpd.GeoDataFrame:
    """Six 800 m squares (3 × 2) with codes 420921001001…006, in ``epsg``."""
    x0, y0 = ORIGIN[epsg]
    rows = []
    for k in range(6):
        i, j = divmod(k, 2)
        rows.append({"code": f"420921001{k + 1:03d}", "name": f"模拟{k + 1}社区",
                     "geometry": box(x0 + i * SIDE_M, y0 + j * SIDE_M,
                                     x0 + (i + 1) * SIDE_M, y0 + (j + 1) * SIDE_M)})
    return gpd.GeoDataFrame(rows, crs=epsg)


def squads_doc(codes: list[str]) -> dict[str, Any]:
    """``squads.json``: the first three communities in xc-a, the rest in xc-b; each squad has two
    (fictitious) officers in one day-shift patrol team starting at its first community."""
    out = []
    for sid, street, mine in (("xc-a", "花园镇", codes[:3]), ("xc-b", "周巷镇", codes[3:])):
        staff = [{"id": f"{sid}-{k}", "name": f"队员{k}", "role": "城管队员", "station": mine[0],
                  "fictitious": True} for k in (1, 2)]
        team = {"id": f"{sid}-1", "name": "一组", "members": [m["id"] for m in staff],
                "start_station": mine[0], "end_station": mine[0], "shift_start": "08:00",
                "shift_end": "16:00", "mode": "walk"}
        out.append({"id": sid, "name": SQUADS[sid], "street": street, "communities": mine,
                    "leader": staff[0]["id"], "officer_count": 2, "staff": staff,
                    "teams": [team]})
    return {"simulated": True, "squads": out}


def write_district(folder: Path, *, epsg: int = 4547, name: str = "b.geojson",
                   gdf: gpd.GeoDataFrame | None = None,
                   squads: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write the communities (``gdf`` or :func:`communities`) and ``squads.json``; their paths."""
    gdf = communities(epsg) if gdf is None else gdf
    path = folder / name
    driver = {".geojson": "GeoJSON", ".gpkg": "GPKG", ".shp": "ESRI Shapefile"}[path.suffix]
    gdf.to_file(path, driver=driver)
    sq = folder / "squads.json"
    sq.write_text(json.dumps(squads or squads_doc(list(gdf["code"])), ensure_ascii=False),
                  encoding="utf-8")
    return path, sq


def raw_geojson(folder: Path, features: list[dict[str, Any]], *, crs: int | None = 4547,
                name: str = "raw.geojson") -> Path:
    """A GeoJSON written by hand (to hold what GDAL would not write: unclosed rings, no CRS)."""
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs is not None:
        doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{crs}"}}
    path = folder / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def feature(code: str, name: str, ring: list[tuple[float, float]]) -> dict[str, Any]:
    """A GeoJSON polygon feature with one ring exactly as given (closed or not)."""
    return {"type": "Feature", "properties": {"code": code, "name": name},
            "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}}
