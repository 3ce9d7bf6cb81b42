"""The Alembic migrations build exactly the schema the ORM models describe (no drift)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.models import Base
from service.storage import Storage

PARTITIONED = {("remove_table", "case_keys"), ("remove_fk", "case_events"),
               ("add_fk", "case_events"), ("remove_fk", "case_photos"),
               ("add_fk", "case_photos"), ("remove_fk", "cases"),
               ("remove_index", "ix_cases_case_id"), ("add_constraint", "cases")}
"""What migration 0013 makes differ from the models on PostgreSQL (the models describe the
unpartitioned SQLite table): the ``case_keys`` registry, foreign keys to it instead of
``cases.id``, ``ix_cases_case_id`` instead of ``UNIQUE (case_id)``. test_partitions.py checks
that shape itself."""


def _partition_layout(d: Any) -> bool:
    if not isinstance(d, tuple) or len(d) < 2:
        return False
    obj = d[1]
    name = getattr(obj, "name", None)
    table = getattr(getattr(obj, "table", None), "name", None)
    return (d[0], name) in PARTITIONED or ((d[0], table) in PARTITIONED and d[0] != "remove_index")


def test_migrated_schema_matches_models(db_url: str) -> None:
    storage = Storage(db_url)
    storage.init()
    with storage.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, Base.metadata)
        postgres = conn.dialect.name == "postgresql"
    storage.engine.dispose()
    # PostGIS adds its own spatial_ref_sys table and our GiST indexes live only in migrations.
    meaningful = [d for d in diff if not (
        d[0] == "remove_table" and d[1].name == "spatial_ref_sys") and not (
        d[0] == "remove_index" and d[1].name.endswith("_geom")) and not (
        postgres and _partition_layout(d))]
    assert meaningful == []
