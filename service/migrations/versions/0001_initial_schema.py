"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-28 05:55:39.779292
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table('import_batches',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('coords', sa.String(length=32), nullable=False),
    sa.Column('created_at', service.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('n_rows', sa.Integer(), nullable=False),
    sa.Column('n_inserted', sa.Integer(), nullable=False),
    sa.Column('n_updated', sa.Integer(), nullable=False),
    sa.Column('n_rejected', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('siting_scenarios',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('created_at', service.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('squads',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('street', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('communities',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=128), nullable=False),
    sa.Column('street', sa.String(length=64), nullable=False),
    sa.Column('squad_id', sa.String(length=32), nullable=False),
    sa.Column('approximate', sa.Boolean(), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('geom', service.models.GeometryColumn('MULTIPOLYGON'), nullable=False),
    sa.ForeignKeyConstraint(['squad_id'], ['squads.id'], ),
    sa.PrimaryKeyConstraint('code')
    )
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_communities_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_communities_squad_id'), ['squad_id'], unique=False)

    op.create_table('plans',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('squad_id', sa.String(length=32), nullable=False),
    sa.Column('plan_date', sa.Date(), nullable=False),
    sa.Column('created_at', service.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['squad_id'], ['squads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('squad_id', 'plan_date', name='uq_plan_squad_date')
    )
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plans_plan_date'), ['plan_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_plans_squad_id'), ['squad_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('squad_id', sa.String(length=32), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', service.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['squad_id'], ['squads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('work_log_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('squad_id', sa.String(length=32), nullable=False),
    sa.Column('community_code', sa.String(length=16), nullable=True),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('at', service.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('place', sa.Text(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', service.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['squad_id'], ['squads.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('work_log_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_log_entries_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_log_entries_squad_id'), ['squad_id'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('category_name', sa.String(length=64), nullable=False),
    sa.Column('reported_at', service.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('closed_at', service.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deadline_at', service.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('coord_system', sa.String(length=32), nullable=False),
    sa.Column('community_code', sa.String(length=16), nullable=True),
    sa.Column('community', sa.String(length=64), nullable=True),
    sa.Column('squad_id', sa.String(length=32), nullable=True),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('geom', service.models.GeometryColumn('POINT'), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', service.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batches.id'], ),
    sa.ForeignKeyConstraint(['community_code'], ['communities.code'], ),
    sa.ForeignKeyConstraint(['squad_id'], ['squads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_community_code'), ['community_code'], unique=False)
        batch_op.create_index('ix_cases_lon_lat', ['lon', 'lat'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_reported_at'), ['reported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_squad_id'), ['squad_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)

    op.create_table('plan_visits',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('squad_id', sa.String(length=32), nullable=False),
    sa.Column('plan_date', sa.Date(), nullable=False),
    sa.Column('community_code', sa.String(length=16), nullable=False),
    sa.Column('stop_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('plan_visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_visits_community_code'), ['community_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_visits_plan_date'), ['plan_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_visits_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_visits_squad_id'), ['squad_id'], unique=False)

    op.create_table('stations',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('community_code', sa.String(length=16), nullable=False),
    sa.Column('squad_id', sa.String(length=32), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('geom', service.models.GeometryColumn('POINT'), nullable=False),
    sa.ForeignKeyConstraint(['community_code'], ['communities.code'], ),
    sa.ForeignKeyConstraint(['squad_id'], ['squads.id'], ),
    sa.PrimaryKeyConstraint('code')
    )
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stations_community_code'), ['community_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_stations_squad_id'), ['squad_id'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_pk', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=8), nullable=True),
    sa.Column('to_status', sa.String(length=8), nullable=False),
    sa.Column('at', service.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_pk'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_pk'), ['case_pk'], unique=False)

    if bind.dialect.name == "postgresql":
        for table in ("communities", "stations", "cases"):
            op.create_index(f"idx_{table}_geom", table, ["geom"], postgresql_using="gist")


def downgrade() -> None:
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_pk'))

    op.drop_table('case_events')
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stations_squad_id'))
        batch_op.drop_index(batch_op.f('ix_stations_community_code'))

    op.drop_table('stations')
    with op.batch_alter_table('plan_visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_visits_squad_id'))
        batch_op.drop_index(batch_op.f('ix_plan_visits_plan_id'))
        batch_op.drop_index(batch_op.f('ix_plan_visits_plan_date'))
        batch_op.drop_index(batch_op.f('ix_plan_visits_community_code'))

    op.drop_table('plan_visits')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_squad_id'))
        batch_op.drop_index(batch_op.f('ix_cases_reported_at'))
        batch_op.drop_index('ix_cases_lon_lat')
        batch_op.drop_index(batch_op.f('ix_cases_community_code'))
        batch_op.drop_index(batch_op.f('ix_cases_category'))

    op.drop_table('cases')
    with op.batch_alter_table('work_log_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_log_entries_squad_id'))
        batch_op.drop_index(batch_op.f('ix_work_log_entries_at'))

    op.drop_table('work_log_entries')
    op.drop_table('users')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plans_squad_id'))
        batch_op.drop_index(batch_op.f('ix_plans_plan_date'))

    op.drop_table('plans')
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_communities_squad_id'))
        batch_op.drop_index(batch_op.f('ix_communities_name'))

    op.drop_table('communities')
    op.drop_table('squads')
    op.drop_table('siting_scenarios')
    op.drop_table('meta')
    op.drop_table('import_batches')
