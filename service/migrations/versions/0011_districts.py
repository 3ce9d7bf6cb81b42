"""Districts (区县) as data: a ``districts`` table, the district of each squad and of a user.

A database made before this revision holds one district, the embedded 孝南区 default: its squads
get the code 420902 and a ``districts`` row is added with the union of the stored communities as
its outline. Cases reach their district through their squad (the cases table is unchanged).
Users get an optional ``district_code`` (a district-bound admin or planner sees that district's
squads only, :class:`service.auth.Principal`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

XIAONAN = {"code": "420902", "name": "孝南区", "city": "孝感市"}
_DATA = '{"province": "湖北省", "outline": "迁移时由已有社区合并而成"}'


def upgrade() -> None:
    op.create_table(
        "districts",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("geom", service.models.GeometryColumn("MULTIPOLYGON"), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.create_index("idx_districts_geom", "districts", ["geom"], postgresql_using="gist")
    with op.batch_alter_table("squads") as batch:
        batch.add_column(sa.Column("district_code", sa.String(length=12), nullable=True))
        batch.create_index("ix_squads_district_code", ["district_code"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("district_code", sa.String(length=12), nullable=True))
    if bind.execute(sa.text("SELECT count(*) FROM squads")).scalar():
        _adopt_xiaonan(bind)


def _adopt_xiaonan(bind: sa.engine.Connection) -> None:
    """The existing squads become the squads of 孝南区, with a districts row of their own."""
    bind.execute(sa.text("UPDATE squads SET district_code = :code"), {"code": XIAONAN["code"]})
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text(
            "INSERT INTO districts (code, name, city, geom, data) SELECT :code, :name, :city, "
            "ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)), CAST(:data AS json) "
            "FROM communities"), {**XIAONAN, "data": _DATA})
        return
    import shapely
    from shapely.geometry import MultiPolygon, Polygon

    texts = bind.execute(sa.text("SELECT geom FROM communities")).scalars().all()
    geoms = [shapely.from_wkt(str(t).split(";", 1)[-1]) for t in texts if t]
    union = shapely.union_all(geoms) if geoms else None
    parts = [] if union is None else [g for g in getattr(union, "geoms", [union])
                                      if isinstance(g, Polygon)]
    ewkt = f"SRID=4326;{MultiPolygon(parts).wkt}" if parts else None
    bind.execute(sa.text("INSERT INTO districts (code, name, city, geom, data) "
                         "VALUES (:code, :name, :city, :geom, :data)"),
                 {**XIAONAN, "geom": ewkt, "data": _DATA})


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("district_code")
    # not a batch copy: SQLite cannot drop a table other tables' foreign keys point at
    op.drop_index("ix_squads_district_code", table_name="squads")
    op.execute("ALTER TABLE squads DROP COLUMN district_code")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("idx_districts_geom", table_name="districts")
    op.drop_table("districts")
