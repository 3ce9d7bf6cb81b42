"""State every worker process shares: rate-limit events (failed sign-ins, plan generations), the
plan-job rows that make one process compute a plan, rendered route-sheet documents, the data
versions in ``meta``, and the (reported_at, id) index that keyset pagination of cases walks.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("bucket", sa.String(length=80), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_rate_events_at", "rate_events", ["at"])
    op.create_index("ix_rate_events_bucket_at", "rate_events", ["bucket", "at"])
    op.create_table(
        "plan_jobs",
        sa.Column("squad_id", sa.String(length=32), primary_key=True),
        sa.Column("plan_date", sa.Date(), primary_key=True),
        sa.Column("owner", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("started_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "rendered_docs",
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_rendered_docs_created_at", "rendered_docs", ["created_at"])
    op.create_index("ix_cases_reported_id", "cases", ["reported_at", "id"])
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    have = {row[0] for row in op.get_bind().execute(sa.select(meta.c.key))}
    op.bulk_insert(meta, [{"key": k, "value": "0"} for k in ("cases_version", "plans_version")
                          if k not in have])


def downgrade() -> None:
    op.drop_index("ix_cases_reported_id", table_name="cases")
    op.drop_index("ix_rendered_docs_created_at", table_name="rendered_docs")
    op.drop_table("rendered_docs")
    op.drop_table("plan_jobs")
    op.drop_index("ix_rate_events_bucket_at", table_name="rate_events")
    op.drop_index("ix_rate_events_at", table_name="rate_events")
    op.drop_table("rate_events")
