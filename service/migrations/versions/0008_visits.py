"""Confirmed visits (the officer's 到达确认 at each stop of a day's plan) and an officer's team.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("plans.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("squad_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("plan_date", sa.Date(), nullable=False),
        sa.Column("stop_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("community_code", sa.String(length=16), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("officer", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.UniqueConstraint("squad_id", "plan_date", "stop_id", name="uq_visits_squad_date_stop"),
    )
    op.create_index("ix_visits_squad_id", "visits", ["squad_id"])
    op.create_index("ix_visits_plan_date", "visits", ["plan_date"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("team_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("team_id")
    op.drop_index("ix_visits_plan_date", table_name="visits")
    op.drop_index("ix_visits_squad_id", table_name="visits")
    op.drop_table("visits")
