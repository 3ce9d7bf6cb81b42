"""Import throughput: a 100k-row case CSV (simulated Xiaonan cases) into SQLite and PostGIS.

Usage: ``python benchmarks/import_speed.py [--rows 100000] [--postgis URL]``. Prints a table and
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


def run_once(url: str, csv: Path) -> dict[str, float]:
    """Import ``csv`` into a new database at ``url`` twice (insert, then re-import = update)."""
    storage = Storage(url)
    storage.init()
    t0 = time.perf_counter()
    first = import_file(storage, csv)
    t1 = time.perf_counter()
    second = import_file(storage, csv)
    t2 = time.perf_counter()
    stored = storage.count_cases()
    storage.engine.dispose()
    return {"rows": first.n_rows, "inserted": first.inserted, "rejected": first.rejected,
            "stored": stored, "insert_s": t1 - t0, "insert_rows_per_s": first.n_rows / (t1 - t0),
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
    ap.add_argument("--postgis", default="", help="admin URL of a PostgreSQL server with PostGIS")
    args = ap.parse_args()
    results: dict[str, object] = {"machine": machine_info(), "rows": args.rows, "backends": {}}
    with tempfile.TemporaryDirectory() as tmp:
        csv = make_csv(args.rows, Path(tmp))
        backends = {"sqlite": f"sqlite:///{Path(tmp) / 'bench.db'}"}
        drop = None
        if args.postgis:
            backends["postgis"], drop = postgis_db(args.postgis)
        try:
            for name, url in backends.items():
                results["backends"][name] = run_once(url, csv)  # type: ignore[index]
        finally:
            if drop is not None:
                drop()  # type: ignore[operator]
    print(f"{'backend':<8} {'rows':>7} {'stored':>7} {'insert s':>9} {'rows/s':>8} "
          f"{'re-import s':>11} {'rows/s':>8}")
    for name, r in results["backends"].items():  # type: ignore[union-attr]
        print(f"{name:<8} {r['rows']:>7} {r['stored']:>7} {r['insert_s']:>9.1f} "
              f"{r['insert_rows_per_s']:>8.0f} {r['reimport_s']:>11.1f} {r['reimport_rows_per_s']:>8.0f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import_speed.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
