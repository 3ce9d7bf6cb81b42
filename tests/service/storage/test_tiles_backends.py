"""The same cases give the same vector tiles on SQLite (mapbox-vector-tile encoder) and PostGIS
(``ST_AsMVT``): same features, positions, counts and properties, edges of the buffer included."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
import shapely
from api_support import fresh_postgis

from service.importer import import_table
from service.storage import CaseFilter, Storage
from service.tiles import case_tile

pytestmark = pytest.mark.postgis


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Storage]]:
    """8000 simulated cases at random points of the district, in SQLite and in PostGIS."""
    folder: Path = tmp_path_factory.mktemp("tiles_backends")
    for url in fresh_postgis():
        stores = {"sqlite": Storage(f"sqlite:///{folder / 't.db'}"), "postgis": Storage(url)}
        stores["sqlite"].init()
        area = shapely.union_all(stores["sqlite"].communities().geometry.to_numpy())
        rng = np.random.default_rng(5)
        x0, y0, x1, y1 = area.bounds
        xs, ys = rng.uniform(x0, x1, 16000), rng.uniform(y0, y1, 16000)
        inside = shapely.contains_xy(area, xs, ys)
        xs, ys = xs[inside][:8000], ys[inside][:8000]
        table = pd.DataFrame({
            "case_id": [f"R{i:05d}" for i in range(len(xs))], "category": "占道经营",
            "reported_at": [f"2026-05-{1 + i % 28:02d} 08:00" for i in range(len(xs))],
            "lon": [repr(float(v)) for v in xs], "lat": [repr(float(v)) for v in ys],
            "description": "模拟数据"})
        for s in stores.values():
            s.init()
            assert import_table(s, table).inserted == len(table)
        yield stores
        for s in stores.values():
            s.engine.dispose()


def _decoded(storage: Storage, z: int, x: int, y: int, **flt: object) -> list[tuple]:
    body = case_tile(storage, CaseFilter(**flt), z, x, y)  # type: ignore[arg-type]
    if not body:
        return []
    feats = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    return sorted((tuple(f["geometry"]["coordinates"]), tuple(sorted(f["properties"].items())))
                  for f in feats["cases"]["features"])


@pytest.mark.parametrize("z", [11, 13, 15])
def test_sqlite_and_postgis_tiles_are_equal(both: dict[str, Storage], z: int) -> None:
    c = shapely.union_all(both["sqlite"].communities().geometry.to_numpy()).centroid
    n = 1 << z
    x = int((c.x + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(c.y))) / math.pi) / 2.0 * n)
    for dx, dy in ((0, 0), (1, 0), (0, 1)):  # neighbours: the buffers overlap
        lite = _decoded(both["sqlite"], z, x + dx, y + dy)
        post = _decoded(both["postgis"], z, x + dx, y + dy)
        assert lite == post and (lite or (dx, dy) != (0, 0))
    start = pd.Timestamp("2026-05-10", tz="Asia/Shanghai")
    later = _decoded(both["sqlite"], z, x, y, start=start)
    assert later == _decoded(both["postgis"], z, x, y, start=start)
    everything = _decoded(both["sqlite"], z, x, y)
    assert 0 < sum(dict(p)["n"] for _g, p in later) < sum(dict(p)["n"] for _g, p in everything)
