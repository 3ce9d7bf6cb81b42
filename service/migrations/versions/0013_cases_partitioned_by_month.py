"""Cases partitioned by month on PostgreSQL, case numbers registered in ``case_keys``.

On PostgreSQL (SQLite keeps its one table and only loses the two redundant indexes named below),
copy and swap in the migration's one transaction: ``case_keys (id, case_id)`` is filled from
``cases`` with the same ids; a new ``cases`` ``PARTITION BY RANGE (reported_at)`` with ``PRIMARY KEY (id, reported_at)``
gets one partition per UTC month present (:mod:`service.partitions`), the rows, and its indexes
(declared on the parent, so every partition has them); ``case_events.case_pk``,
``case_photos.case_pk`` and ``cases.id`` then reference ``case_keys.id``; the old table goes.
``ix_cases_reported_at`` and ``ix_cases_squad_id`` are not rebuilt: ``ix_cases_reported_id
(reported_at, id)`` and ``ix_cases_squad_reported (squad_id, reported_at)`` lead with the same
columns. ``ix_cases_case_id`` (not unique: ``case_keys`` holds that) finds a case by its number.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-11
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from service.partitions import ensure_partitions

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

INDEXES = (("ix_cases_category", "(category)"), ("ix_cases_community_code", "(community_code)"),
           ("ix_cases_lon_lat", "(lon, lat)"), ("ix_cases_status", "(status)"),
           ("ix_cases_squad_reported", "(squad_id, reported_at)"),
           ("ix_cases_reported_id", "(reported_at, id)"), ("ix_cases_case_id", "(case_id)"),
           ("idx_cases_geom", "USING gist (geom)"))
"""Indexes of the partitioned ``cases`` (each partition gets its own)."""
OLD_INDEXES = (("ix_cases_category", "(category)"), ("ix_cases_community_code", "(community_code)"),
               ("ix_cases_lon_lat", "(lon, lat)"), ("ix_cases_status", "(status)"),
               ("ix_cases_squad_reported", "(squad_id, reported_at)"),
               ("ix_cases_reported_id", "(reported_at, id)"),
               ("ix_cases_reported_at", "(reported_at)"), ("ix_cases_squad_id", "(squad_id)"),
               ("idx_cases_geom", "USING gist (geom)"))
"""Indexes of ``cases`` at 0012 (for the downgrade)."""
REDUNDANT = ("ix_cases_reported_at", "ix_cases_squad_id")
"""Indexes dropped on both backends: a composite index leads with the same column."""
REFERRERS = ("case_events", "case_photos")
"""Tables whose ``case_pk`` pointed at ``cases.id``."""
OWN_FKS = ("FOREIGN KEY (batch_id) REFERENCES import_batches (id)",
           "FOREIGN KEY (community_code) REFERENCES communities (code)",
           "FOREIGN KEY (squad_id) REFERENCES squads (id)")


def _columns() -> str:
    rows = op.get_bind().execute(text(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = 'cases' ORDER BY ordinal_position")).scalars()
    return ", ".join(f'"{c}"' for c in rows)


def _drop_fks(table: str, target: str) -> None:
    """Drop every foreign key of ``table`` that references ``target``."""
    names = op.get_bind().execute(text(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = to_regclass(:t) "
        "AND confrelid = to_regclass(:r)"), {"t": table, "r": target}).scalars().all()
    for name in names:
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


def _set_aside() -> None:
    """Rename ``cases`` to ``cases_old`` and free its index and constraint names."""
    bind = op.get_bind()
    for ref in REFERRERS:
        _drop_fks(ref, "cases")
    op.execute("ALTER TABLE cases RENAME TO cases_old")
    for name in bind.execute(text(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'cases_old'::regclass "
            "AND contype IN ('p', 'u')")).scalars().all():
        op.execute(f'ALTER TABLE cases_old DROP CONSTRAINT "{name}"')
    for name in bind.execute(text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'cases_old'")).scalars().all():
        op.execute(f'DROP INDEX "{name}"')


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        for name in REDUNDANT:
            op.drop_index(name, table_name="cases")
        return
    cols = _columns()
    op.execute("CREATE TABLE case_keys (id SERIAL PRIMARY KEY, "
               "case_id VARCHAR(64) NOT NULL CONSTRAINT uq_case_keys_case_id UNIQUE)")
    op.execute("INSERT INTO case_keys (id, case_id) SELECT id, case_id FROM cases ORDER BY id")
    op.execute("SELECT setval(pg_get_serial_sequence('case_keys', 'id'), "
               "COALESCE((SELECT max(id) FROM case_keys), 0) + 1, false)")
    _set_aside()
    op.execute("CREATE TABLE cases (LIKE cases_old) PARTITION BY RANGE (reported_at)")
    op.execute("ALTER TABLE cases ADD CONSTRAINT cases_pkey PRIMARY KEY (id, reported_at)")
    months = bind.execute(text(
        "SELECT DISTINCT date_trunc('month', reported_at AT TIME ZONE 'UTC')::date "
        "FROM cases_old")).scalars().all()
    ensure_partitions(bind, months)
    op.execute(f"INSERT INTO cases ({cols}) SELECT {cols} FROM cases_old")
    for name, spec in INDEXES:
        op.execute(f"CREATE INDEX {name} ON cases {spec}")
    for fk in OWN_FKS:
        op.execute(f"ALTER TABLE cases ADD {fk}")
    op.execute("ALTER TABLE cases ADD CONSTRAINT cases_id_fkey FOREIGN KEY (id) "
               "REFERENCES case_keys (id) ON DELETE CASCADE")
    for ref in REFERRERS:
        op.execute(f"ALTER TABLE {ref} ADD CONSTRAINT {ref}_case_pk_fkey FOREIGN KEY (case_pk) "
                   "REFERENCES case_keys (id) ON DELETE CASCADE")
    op.execute("DROP TABLE cases_old")
    op.execute("ANALYZE case_keys")
    op.execute("ANALYZE cases")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        op.create_index("ix_cases_reported_at", "cases", ["reported_at"])
        op.create_index("ix_cases_squad_id", "cases", ["squad_id"])
        return
    cols = _columns()
    _set_aside()
    op.execute("CREATE TABLE cases (LIKE cases_old)")
    op.execute("CREATE SEQUENCE cases_id_seq OWNED BY cases.id")
    op.execute("ALTER TABLE cases ALTER COLUMN id SET DEFAULT nextval('cases_id_seq')")
    op.execute(f"INSERT INTO cases ({cols}) SELECT {cols} FROM cases_old")
    op.execute("SELECT setval('cases_id_seq', COALESCE((SELECT max(id) FROM cases), 0) + 1, false)")
    op.execute("ALTER TABLE cases ADD CONSTRAINT cases_pkey PRIMARY KEY (id)")
    op.execute("ALTER TABLE cases ADD CONSTRAINT cases_case_id_key UNIQUE (case_id)")
    for name, spec in OLD_INDEXES:
        op.execute(f"CREATE INDEX {name} ON cases {spec}")
    for fk in OWN_FKS:
        op.execute(f"ALTER TABLE cases ADD {fk}")
    for ref in REFERRERS:
        _drop_fks(ref, "case_keys")
        op.execute(f"ALTER TABLE {ref} ADD CONSTRAINT {ref}_case_pk_fkey FOREIGN KEY (case_pk) "
                   "REFERENCES cases (id) ON DELETE CASCADE")
    op.execute("DROP TABLE cases_old")
    op.execute("DROP TABLE case_keys")
