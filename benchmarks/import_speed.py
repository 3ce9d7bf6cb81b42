"""Import throughput: a 100k-row case CSV (simulated Xiaonan cases) into SQLite and PostGIS.

Usage: ``python benchmarks/import_speed.py [--rows 100000] [--postgis URL] [--skip-sqlite]``.
On PostGIS it runs the import twice side by side, each into a fresh database: the row-by-row
``INSERT`` path (``service.importer.BULK_COPY = False``, as before) and ``COPY``; ``write s`` is
the time of the database writes alone (``service.importer._write``), ``import s`` the whole
import (reading and checking the file included). Prints a table and
writes ``benchmarks/results/import_speed.json``. The PostGIS run needs a server URL (as in CI:
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``); a fresh database is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info

import service.importer as importer
from geo.boundaries import load_default
from geo.simulate.generator import simulate_cases
from service.importer import import_file
from service.storage import Storage

RESULTS = Path(__file__).resolve().parent / "results"


def make_csv(rows: int, folder: Path) -> Path:
    """Write ``rows`` simulated cases (unique ids, repeated years) to a CSV file."""
    area = load_default()
    cases, _ = simulate_cases(area)
    reps = -(-rows // len(cases))
    big = pd.concat([cases] * reps, ignore_index=True).iloc[:rows].copy()
    big["case_id"] = [f"BENCH{i:07d}" for i in range(len(big))]
    path = folder / "cases_100k.csv"
    big[["case_id", "category", "reported_at", "lon", "lat", "description", "address", "source",
         "status", "closed_at"]].to_csv(path, index=False)
    return path


_WRITE_S: list[float] = []
_real_write = importer._write


def _timed_write(session: object, plan: object) -> None:
    """:func:`service.importer._write`, timed (the database writes of an import, no parsing)."""
    t0 = time.perf_counter()
    _real_write(session, plan)  # type: ignore[arg-type]
    _WRITE_S.append(time.perf_counter() - t0)


importer._write = _timed_write  # type: ignore[assignment]


def run_once(url: str, csv: Path, *, copy: bool = True) -> dict[str, float]:
    """Import ``csv`` into a new database at ``url`` twice (insert, then re-import = update);
    ``copy`` picks the PostgreSQL write path (COPY, or row-by-row INSERT as before)."""
    importer.BULK_COPY = copy
    storage = Storage(url)
    storage.init()
    _WRITE_S.clear()
    t0 = time.perf_counter()
    first = import_file(storage, csv)
    t1 = time.perf_counter()
    second = import_file(storage, csv)
    t2 = time.perf_counter()
    stored = storage.count_cases()
    storage.engine.dispose()
    write_s = _WRITE_S[0] if _WRITE_S else float("nan")
    return {"rows": first.n_rows, "inserted": first.inserted, "rejected": first.rejected,
            "stored": stored, "insert_s": t1 - t0, "insert_rows_per_s": first.n_rows / (t1 - t0),
            "write_s": write_s, "write_rows_per_s": first.inserted / write_s,
            "reimport_s": t2 - t1, "reimport_rows_per_s": second.n_rows / (t2 - t1),
            "updated": second.updated}


def postgis_db(admin_url: str) -> tuple[str, object]:
    """Create a fresh database on the server; return its URL and a cleanup function."""
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"xuncha_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--postgis", default="", help="admin URL of a PostgreSQL server with PostGIS "
                    "(runs the row-by-row INSERT path and the COPY path side by side)")
    ap.add_argument("--skip-sqlite", action="store_true", help="PostGIS runs only")
    args = ap.parse_args()
    results: dict[str, object] = {"machine": machine_info(), "rows": args.rows, "backends": {}}
    with tempfile.TemporaryDirectory() as tmp:
        csv = make_csv(args.rows, Path(tmp))
        runs: list[tuple[str, str, bool]] = []
        if not args.skip_sqlite:
            runs.append(("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", True))
        drops = []
        try:
            if args.postgis:  # side by side: the row-by-row INSERT path, then COPY
                for name, copy in (("postgis-insert", False), ("postgis-copy", True)):
                    url, drop = postgis_db(args.postgis)
                    drops.append(drop)
                    runs.append((name, url, copy))
            for name, url, copy in runs:
                results["backends"][name] = run_once(url, csv, copy=copy)  # type: ignore[index]
        finally:
            for drop in drops:
                drop()  # type: ignore[operator]
    print(f"{'backend':<15} {'rows':>7} {'stored':>7} {'import s':>9} {'rows/s':>8} "
          f"{'write s':>8} {'rows/s':>8} {'re-import s':>11} {'rows/s':>8}")
    for name, r in results["backends"].items():  # type: ignore[union-attr]
        print(f"{name:<15} {r['rows']:>7} {r['stored']:>7} {r['insert_s']:>9.1f} "
              f"{r['insert_rows_per_s']:>8.0f} {r['write_s']:>8.1f} {r['write_rows_per_s']:>8.0f} "
              f"{r['reimport_s']:>11.1f} {r['reimport_rows_per_s']:>8.0f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import_speed.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
