"""PostGIS part of ``benchmarks/scale.py``: import through ``xuncha import``'s own function and
the latency of the case layer (vector tiles, case list) at that size.

The simulated case dataset of ``scale.py`` (8 districts of ~8 km x 8 km) is moved
:data:`SHIFT_LON` degrees east, clear of the embedded 孝南区 default that every database holds
first, and each district is stored as a district of its own (``SIM01`` … ``SIM08``: 4 x 4
communities of ~2 km, four squads of 2 x 2 communities) through
:func:`geo.districts.build_district` + :func:`service.districts.store_district`, the functions of
``xuncha boundaries import``. The cases are written as one CSV per month (the form a platform's
monthly export takes) and imported by :func:`service.importer.import_file` (the function of
``xuncha import``: capped reader worker, validation, community join, binary ``COPY`` through a
staging table on PostgreSQL), one file after the other, in a child process whose process tree's
peak RSS and CPU seconds (plus those of the PostgreSQL backends of the scratch database) are
measured.

Everything here is simulated (模拟数据). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import contextlib
import json
import resource
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

SHIFT_LON = 0.20
"""Degrees the simulated districts move east for the import (the batch data start at 113.80E,
which overlaps the embedded 孝南区 at 113.89–113.96E)."""
DB_NAME = "xuncha_scale_bench"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ZOOMS = (12, 14, 16)
TILES_PER_ZOOM = 16
GRID = 4
"""Communities per district side (4 x 4)."""


@contextlib.contextmanager
def scratch_database(admin_url: str = ADMIN_URL) -> Iterator[str]:
    """Create :data:`DB_NAME` with PostGIS (dropping a leftover first); yield its URL; drop it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    drop = text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    with admin.connect() as c:
        c.execute(drop)
        c.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    url = make_url(admin_url).set(database=DB_NAME).render_as_string(hide_password=False)
    try:
        db = create_engine(make_url(url), isolation_level="AUTOCOMMIT")
        with db.connect() as c:
            c.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        db.dispose()
        yield url
    finally:
        with admin.connect() as c:
            c.execute(drop)
        admin.dispose()


def district_origin(d: int) -> tuple[float, float]:
    """South-west corner of simulated district ``d`` (0-based) as ``scale.simulate`` places it,
    moved :data:`SHIFT_LON` east."""
    return 113.80 + 0.10 * (d % 4) + SHIFT_LON, 30.85 + 0.09 * (d // 4)


def store_districts(url: str, n_districts: int, folder: Path) -> list[str]:
    """Store the simulated districts (as ``xuncha boundaries import`` does); their squad ids."""
    import geopandas as gpd
    from shapely.geometry import box

    from geo.districts import build_district
    from service.districts import store_district
    from service.storage import Storage

    storage = Storage(url, tz="Asia/Shanghai")
    storage.init()
    squads: list[str] = []
    step_x, step_y = 0.08 / GRID, 0.07 / GRID
    for d in range(n_districts):
        lon0, lat0 = district_origin(d)
        rows: list[dict[str, Any]] = []
        members: list[list[str]] = [[] for _ in range(4)]
        for i in range(GRID):
            for j in range(GRID):
                code = f"SIM{d + 1:02d}{i}{j}"
                members[(i // 2) * 2 + j // 2].append(code)
                rows.append({"code": code, "name": f"模拟{d + 1}区{i}{j}社区",
                             "geometry": box(lon0 + i * step_x, lat0 + j * step_y,
                                             lon0 + (i + 1) * step_x, lat0 + (j + 1) * step_y)})
        records = [{"id": f"sim{d + 1:02d}q{q + 1}", "name": f"模拟{d + 1}区{q + 1}中队",
                    "communities": codes} for q, codes in enumerate(members)]
        path = folder / f"district_{d + 1:02d}.geojson"
        gpd.GeoDataFrame(rows, crs=4326).to_file(path, driver="GeoJSON")
        layers = build_district(path, code=f"SIM{d + 1:02d}", name=f"模拟{d + 1}区",
                                city="模拟市", squads=records)
        store_district(storage, layers)
        squads += [str(r["id"]) for r in records]
    storage.engine.dispose()
    return squads


def write_month_csvs(dataset: Path, out: Path) -> tuple[list[Path], float]:
    """One CSV per month of the GeoParquet dataset (moved east); the files and seconds taken."""
    import pandas as pd
    import pyarrow.dataset as ds

    t0 = time.perf_counter()
    data = ds.dataset(dataset, format="parquet", partitioning="hive")
    cols = ["case_id", "category", "reported_at", "lon", "lat", "month"]
    frame = data.to_table(columns=cols).to_pandas()
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for month, part in frame.groupby("month", sort=True):
        path = out / f"cases_{month}.csv"
        when = pd.to_datetime(part["reported_at"]).dt.tz_convert("Asia/Shanghai")
        pd.DataFrame({"case_id": part["case_id"], "category": part["category"],
                      "reported_at": when.dt.strftime("%Y-%m-%d %H:%M:%S"),
                      "lon": (part["lon"] + SHIFT_LON).round(7), "lat": part["lat"].round(7),
                      "source": "模拟数据"}).to_csv(path, index=False)
        files.append(path)
    return files, time.perf_counter() - t0


def _backend_cpu(url: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to the scratch database now."""
    import psutil
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.connect() as c:
        pids = [r[0] for r in c.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"))]
    eng.dispose()
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


PHASES = (("service.upload_worker", "read_upload"), ("service.importer", "parse_cases"),
          ("service.importer", "_existing"), ("service.importer", "ensure_partitions_now"),
          ("service.bulk_copy", "register_keys"), ("service.importer", "copy_new_cases"),
          ("service.importer", "update_changed"), ("service.importer", "copy_events"),
          ("service.importer", "analyze_months"), ("service.importer", "_write"))
"""Functions of the import path whose wall seconds :func:`import_child` adds up (nested ones
are also counted in their caller: ``register_keys`` in ``copy_new_cases``, both in ``_write``)."""


def _time_phases() -> dict[str, float]:
    """Wrap :data:`PHASES` with wall-clock timers; the dict they add to."""
    import importlib

    spent: dict[str, float] = {}
    for module, name in PHASES:
        mod = importlib.import_module(module)
        real = getattr(mod, name, None)
        if real is None:  # an older import path (e.g. before monthly partitions)
            continue

        def timed(*a: Any, _real: Any = real, _name: str = name, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return _real(*a, **k)
            finally:
                spent[_name] = spent.get(_name, 0.0) + time.perf_counter() - t0

        setattr(mod, name, timed)
    return spent


def _db_layout(url: str) -> dict[str, Any]:
    """Size of the database and of ``cases`` (with indexes), and its partitions."""
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.connect() as c:
        db = c.execute(text("SELECT pg_database_size(current_database())")).scalar()
        parts = c.execute(text("SELECT count(*), COALESCE(sum(pg_total_relation_size(inhrelid)), 0)"
                               " FROM pg_inherits WHERE inhparent = to_regclass('cases')")).one()
        kind = c.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass('cases')")
                         ).scalar()
        plain = c.execute(text("SELECT pg_total_relation_size('cases')")).scalar()
    eng.dispose()
    return {"partitioned": kind == "p", "partitions": int(parts[0]),
            "cases_mb": round((int(parts[1]) if kind == "p" else int(plain or 0)) / 2**20),
            "database_mb": round(int(db or 0) / 2**20)}


def import_child(url: str, folder: str) -> None:
    """Subprocess body: import every CSV of ``folder`` with ``import_file``; print JSON."""
    spent = _time_phases()
    from service.importer import import_file
    from service.settings import Settings
    from service.storage import Storage

    storage = Storage(url, tz="Asia/Shanghai")
    storage.init()
    settings = Settings(database_url=url)
    files = sorted(Path(folder).glob("cases_*.csv"))
    inserted = rejected = 0
    c0, t0 = time.process_time(), time.perf_counter()
    per_file = []
    for path in files:
        f0 = time.perf_counter()
        rep = import_file(storage, path, settings=settings, actor="scale-bench")
        inserted, rejected = inserted + rep.inserted, rejected + rep.rejected
        per_file.append(round(time.perf_counter() - f0, 2))
    seconds = time.perf_counter() - t0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "seconds": seconds, "inserted": inserted, "rejected": rejected, "files": len(files),
        "per_file_s": per_file, "client_cpu_s": time.process_time() - c0,
        "reader_workers_cpu_s": kids.ru_utime + kids.ru_stime,
        "db_backends_cpu_s": _backend_cpu(url),
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "phases_s": {k: round(v, 1) for k, v in spent.items()}, "layout": _db_layout(url),
        "stored": storage.count_cases()}))


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = np.radians(lat)
    y = int((1.0 - np.log(np.tan(lat_r) + 1.0 / np.cos(lat_r)) / np.pi) / 2.0 * n)
    return x, y


def tile_set(n_districts: int, *, seed: int = 15) -> list[tuple[int, int, int]]:
    """A fixed set of z12/z14/z16 tiles: :data:`TILES_PER_ZOOM` per zoom at seeded points inside
    the districts (each district in turn; duplicates dropped)."""
    rng = np.random.default_rng(seed)
    out: list[tuple[int, int, int]] = []
    for z in ZOOMS:
        seen: set[tuple[int, int, int]] = set()
        for k in range(TILES_PER_ZOOM * 4):
            if len(seen) >= TILES_PER_ZOOM:
                break
            lon0, lat0 = district_origin(k % n_districts)
            t = (z, *_tile_of(lon0 + rng.uniform(0.005, 0.075), lat0 + rng.uniform(0.005, 0.065), z))
            if t not in seen:
                seen.add(t)
                out.append(t)
    return out


def _timed(fn: Any) -> tuple[float, float, Any]:
    c0, t0 = time.process_time(), time.perf_counter()
    res = fn()
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000, res


def _summary(ms: list[float], cpu: list[float], sizes: list[int]) -> dict[str, Any]:
    return {"requests": len(ms), "p50_ms": round(_pct(ms, 50), 1), "p95_ms": round(_pct(ms, 95), 1),
            "max_ms": round(max(ms), 1), "client_cpu_ms_mean": round(statistics.mean(cpu), 1),
            "bytes_mean": round(statistics.mean(sizes)) if sizes else 0}


def latency(url: str, n_districts: int) -> dict[str, Any]:
    """p50/p95 of the case tiles (z12/z14/z16, all cases and one month) and of the case list
    (bbox + month), through the app (TestClient, an admin's token)."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.auth import create_token, create_user, load_principal
    from service.settings import Settings

    secret = "scale-benchmark-secret-key-0123456789abcdef"
    app = create_app(Settings(database_url=url, secret_key=secret))
    with TestClient(app) as client:
        create_user(app.state.storage, "scale_admin", "scale-bench-pw-1", role="admin")
        user = load_principal(app.state.storage, "scale_admin")
        assert user is not None
        headers = {"Authorization": f"Bearer {create_token(user, key=secret, ttl_minutes=60)}"}

        def get(path: str) -> Any:
            resp = client.get(path, headers=headers)
            if resp.status_code not in (200, 204):
                raise RuntimeError(f"{path}: HTTP {resp.status_code} {resp.text[:300]}")
            return resp

        get("/tiles/cases/14/0/0.mvt")  # warm-up (app start, first connection)
        out: dict[str, Any] = {"tiles": {}}
        for label, query in (("all", ""), ("month", "?month=2025-06")):
            for z in ZOOMS:
                ms, cpu, sizes = [], [], []
                for zz, x, y in tile_set(n_districts):
                    if zz == z:
                        path = f"/tiles/cases/{z}/{x}/{y}.mvt{query}"
                        wall, c, resp = _timed(lambda path=path: get(path))
                        ms.append(wall)
                        cpu.append(c)
                        sizes.append(len(resp.content))
                out["tiles"][f"z{z}_{label}"] = _summary(ms, cpu, sizes)
        out["case_list_bbox_month"] = _case_list(get, n_districts)
    app.state.storage.engine.dispose()
    return out


def _case_list(get: Any, n_districts: int) -> dict[str, Any]:
    """``/api/cases?bbox=…&month=…``: 40 distinct map views of 0.5–3 km (none repeated, so the
    page cache, which stores a query seen twice, never answers)."""
    rng = np.random.default_rng(16)
    ms, cpu, sizes, counts = [], [], [], []
    for k in range(40):
        lon0, lat0 = district_origin(k % n_districts)
        cx, cy = lon0 + rng.uniform(0.01, 0.07), lat0 + rng.uniform(0.01, 0.06)
        hw = rng.uniform(0.0025, 0.015)
        bbox = f"{cx - hw:.6f},{cy - hw * 0.8:.6f},{cx + hw:.6f},{cy + hw * 0.8:.6f}"
        wall, c, resp = _timed(lambda bbox=bbox, k=k: get(
            f"/api/cases?bbox={bbox}&month=2025-{k % 12 + 1:02d}"))
        ms.append(wall)
        cpu.append(c)
        sizes.append(len(resp.content))
        counts.append(len(resp.json().get("features", [])))
    return {**_summary(ms, cpu, sizes), "features_mean": round(statistics.mean(counts))}
