"""``GET /tiles/cases/{z}/{x}/{y}.mvt`` on SQLite and PostGIS: decoded with the mapbox-vector-tile
decoder, every case where it belongs on the tile, squad scoping, filters, ETag 304, empty 204."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import pandas as pd
import pytest
from api_support import BACKENDS, Api, build_api, database_url, point_in

from service.importer import import_table
from service.tiles import BUFFER, EXTENT, GRID, MEDIA_TYPE, case_tile_url, mercator_bounds

Z = 15  # a tile of ~1.2 km: several communities of one squad


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    for url in database_url(request.param, tmp_path_factory.mktemp("tiles")):
        yield from build_api(url)


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def _tile_xy(lon: float, lat: float, z: int, x: int, y: int) -> tuple[float, float]:
    """Where (lon, lat) falls on tile z/x/y in tile units (y down)."""
    x0, y0, x1, y1 = mercator_bounds(z, x, y)
    mx = 6378137.0 * math.radians(lon)
    my = 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (mx - x0) / (x1 - x0) * EXTENT, (y1 - my) / (y1 - y0) * EXTENT


def _features(body: bytes) -> list[dict]:
    tile = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    assert list(tile) == ["cases"] and tile["cases"]["extent"] == EXTENT
    return tile["cases"]["features"]


@pytest.fixture(scope="module")
def grid(api: Api) -> dict[str, tuple[float, float]]:
    """25 cases of 书院 on a 5×5 grid ~30 m apart around one community's point (simulated)."""
    _code, lon0, lat0 = point_in(api.storage, "shuyuan", 3)
    rows, where = [], {}
    for i in range(25):
        lon, lat = lon0 + (i % 5) * 3e-4, lat0 + (i // 5) * 3e-4
        cid = f"TILE{i:02d}"
        rows.append({"case_id": cid, "category": "占道经营", "reported_at": "2026-05-12 08:00",
                     "lon": repr(lon), "lat": repr(lat), "description": "模拟数据"})
        where[cid] = (lon, lat)
    report = import_table(api.storage, pd.DataFrame(rows), filename="tiles.csv")
    assert report.inserted == 25 and not report.problems, report.as_dict()
    return where


def test_tile_holds_every_case_of_the_tile_where_it_is(api: Api, grid: dict) -> None:
    lon, lat = grid["TILE12"]
    x, y = _tile_of(lon, lat, Z)
    r = api.get(f"/tiles/cases/{Z}/{x}/{y}.mvt?month=2026-05&category=占道经营", "admin")
    assert r.status_code == 200 and r.headers["content-type"] == MEDIA_TYPE
    feats = {f["properties"]["case_id"]: f for f in _features(r.content)
             if f["properties"]["n"] == 1}
    expected = {c for c, (lo, la) in grid.items()
                if all(-BUFFER <= v <= EXTENT + BUFFER for v in _tile_xy(lo, la, Z, x, y))}
    assert expected and expected <= set(feats)
    assert {c for c in feats if c.startswith("TILE")} == expected
    for cid in expected:
        gx, gy = feats[cid]["geometry"]["coordinates"]
        ex, ey = _tile_xy(*grid[cid], Z, x, y)
        assert -BUFFER <= gx <= EXTENT + BUFFER and -BUFFER <= gy <= EXTENT + BUFFER
        assert abs(gx - ex) <= GRID / 2 + 1 and abs(gy - ey) <= GRID / 2 + 1
        props = feats[cid]["properties"]
        assert props["status"] == "上报" and props["category"] == "09006"
        assert props["reported_at"] == "2026-05-12T00:00:00Z"


def test_close_cases_share_one_feature_with_their_count(api: Api, grid: dict) -> None:
    lon, lat = grid["TILE00"]
    z = 11  # ~20 km tile: 30 m apart is under one grid cell (16 units ≈ 150 m)
    x, y = _tile_of(lon, lat, z)
    feats = _features(api.get(f"/tiles/cases/{z}/{x}/{y}.mvt?month=2026-05", "admin").content)
    total = sum(f["properties"]["n"] for f in feats)
    assert total == api.get("/api/cases?month=2026-05&limit=1", "admin").json()["numberMatched"]
    assert len(feats) < total
    assert all(("case_id" in f["properties"]) == (f["properties"]["n"] == 1) for f in feats)


def test_squad_leader_sees_only_the_own_squad(api: Api, grid: dict) -> None:
    z = 11
    x, y = _tile_of(*grid["TILE00"], z)
    xh = api.cases["XH1"]
    assert _tile_of(xh["lon"], xh["lat"], z) == (x, y)  # one tile holds both squads
    path = f"/tiles/cases/{z}/{x}/{y}.mvt"
    admin = sum(f["properties"]["n"] for f in _features(api.get(path, "admin").content))
    sy = _features(api.get(path, "leader_sy").content)
    xh_feats = _features(api.get(path, "leader_xh").content)
    ids_xh = {f["properties"].get("case_id") for f in xh_feats}
    assert sum(f["properties"]["n"] for f in xh_feats) == 3 and ids_xh <= {"XH1", "XH2", "XH3"}
    assert sum(f["properties"]["n"] for f in sy) == admin - 3
    assert not any(str(f["properties"].get("case_id", "")).startswith("XH") for f in sy)
    assert api.get(f"{path}?squad=xinhua", "leader_sy").status_code == 403


def test_etag_304_and_a_new_case_changes_it(api: Api, grid: dict) -> None:
    x, y = _tile_of(*grid["TILE00"], Z)
    path = f"/tiles/cases/{Z}/{x}/{y}.mvt"
    first = api.get(path, "admin")
    tag = first.headers["etag"]
    again = api.client.get(path, headers={**api.auth("admin"), "If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert api.get(f"{path}?status=结案", "admin").headers.get("etag") != tag  # filters count
    lon, lat = grid["TILE24"]
    import_table(api.storage, pd.DataFrame([{
        "case_id": "TILENEW", "category": "占道经营", "reported_at": "2026-05-13 08:00",
        "lon": repr(lon + 1e-5), "lat": repr(lat), "description": "模拟数据"}]))
    fresh = api.client.get(path, headers={**api.auth("admin"), "If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != tag


def test_empty_tile_is_204_and_bad_tiles_are_refused(api: Api, grid: dict) -> None:
    r = api.get("/tiles/cases/15/0/0.mvt", "admin")
    assert r.status_code == 204 and r.content == b"" and r.headers["etag"]
    x, y = _tile_of(*grid["TILE00"], Z)
    assert api.get(f"/tiles/cases/{Z}/{x}/{y}.mvt?month=2019-01", "admin").status_code == 204
    bad = api.get("/tiles/cases/3/8/0.mvt", "admin")
    assert bad.status_code == 400 and "0–7" in bad.json()["detail"]
    assert api.get("/tiles/cases/23/0/0.mvt", "admin").status_code == 422
    assert api.get(f"/tiles/cases/{Z}/{x}/{y}.mvt").status_code == 401


def test_tile_url_of_a_map_filter_round_trips(api: Api, grid: dict) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from service.storage import CaseFilter

    tz = ZoneInfo("Asia/Shanghai")
    flt = CaseFilter(squads=("shuyuan",), precise=True, start=datetime(2026, 5, 1, tzinfo=tz),
                     end=datetime(2026, 6, 1, tzinfo=tz))
    url = case_tile_url(flt)
    assert url.startswith("/tiles/cases/{z}/{x}/{y}.mvt?") and "squad=shuyuan" in url
    x, y = _tile_of(*grid["TILE00"], 11)
    feats = _features(api.get(url.format(z=11, x=x, y=y), "admin").content)
    assert sum(f["properties"]["n"] for f in feats) == api.storage.count_cases(flt)


def test_gcj02_tiles_follow_the_amap_shift(api: Api, grid: dict) -> None:
    from geo.crs import wgs84_to_gcj02

    lon, lat = grid["TILE06"]
    glon, glat = (float(v[0]) for v in wgs84_to_gcj02([lon], [lat]))
    assert abs(glon - lon) > 1e-3  # a shift of hundreds of metres in Xiaogan
    z = 17  # ~300 m tiles: the shifted point lies on another tile than the WGS84 one
    x, y = _tile_of(glon, glat, z)
    assert (x, y) != _tile_of(lon, lat, z)
    feats = _features(api.get(f"/tiles/cases/{z}/{x}/{y}.mvt?coords=gcj02", "admin").content)
    mine = [f for f in feats if f["properties"].get("case_id") == "TILE06"]
    assert len(mine) == 1
    gx, gy = mine[0]["geometry"]["coordinates"]
    ex, ey = _tile_xy(glon, glat, z, x, y)
    assert abs(gx - ex) <= GRID / 2 + 1 and abs(gy - ey) <= GRID / 2 + 1
    plain = api.get(f"/tiles/cases/{z}/{x}/{y}.mvt", "admin")
    assert plain.status_code == 204 or not any(
        f["properties"].get("case_id") == "TILE06" for f in _features(plain.content))


def test_gdal_reads_the_tile_and_places_its_cases(api: Api, grid: dict, tmp_path: Path) -> None:
    """GDAL's MVT driver (the one QGIS uses) opens a served tile saved as ``z/x/y.pbf``: one layer
    ``cases``, every case of the tile, each within a few metres of where it was reported."""
    if shutil.which("ogr2ogr") is None:
        if os.environ.get("CI"):
            pytest.fail("ogr2ogr missing on CI (apt-get install gdal-bin)")
        pytest.skip("ogr2ogr not installed (apt-get install gdal-bin)")
    lon, lat = grid["TILE12"]
    x, y = _tile_of(lon, lat, Z)
    r = api.get(f"/tiles/cases/{Z}/{x}/{y}.mvt?month=2026-05", "admin")
    assert r.status_code == 200
    tile = tmp_path / str(Z) / str(x) / f"{y}.pbf"
    tile.parent.mkdir(parents=True)
    tile.write_bytes(r.content)
    out = tmp_path / "cases.geojson"
    run = subprocess.run(["ogr2ogr", "-f", "GeoJSON", "-t_srs", "EPSG:4326", str(out),
                          f"MVT:{tile}", "cases"], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "ERROR" not in run.stderr, run.stderr
    feats = {f["properties"]["case_id"]: f["geometry"]["coordinates"]
             for f in json.loads(out.read_text(encoding="utf-8"))["features"]
             if f["properties"].get("n") == 1}
    single = {f["properties"]["case_id"] for f in _features(r.content) if f["properties"]["n"] == 1}
    inside = {c for c, (lo, la) in grid.items() if _tile_of(lo, la, Z) == (x, y)} & single
    assert inside and set(feats) == single  # GDAL reads exactly the features the tile holds
    for cid in inside:
        glon, glat = feats[cid]
        assert abs(glon - grid[cid][0]) * 95_000 < 5 and abs(glat - grid[cid][1]) * 111_000 < 5
