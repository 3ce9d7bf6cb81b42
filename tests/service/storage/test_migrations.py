"""The Alembic migrations build exactly the schema the ORM models describe (no drift)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.models import Base
from service.storage import Storage


def test_migrated_schema_matches_models(db_url: str) -> None:
    storage = Storage(db_url)
    storage.init()
    with storage.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, Base.metadata)
    storage.engine.dispose()
    # PostGIS adds its own spatial_ref_sys table and our GiST indexes live only in migrations.
    meaningful = [d for d in diff if not (
        d[0] == "remove_table" and d[1].name == "spatial_ref_sys") and not (
        d[0] == "remove_index" and d[1].name.endswith("_geom"))]
    assert meaningful == []
