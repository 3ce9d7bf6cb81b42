"""Work-log entries get a station, a team, several linked cases, a photo count and a void mark.

An entry of the 城管进社区工作日志 is never deleted: it is voided (作废) with a reason, by whom
and when, and stays in the log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = ("station_code", "team_id", "case_ids", "photo_count", "voided_at", "voided_by",
            "void_reason")


def upgrade() -> None:
    with op.batch_alter_table("work_log_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("station_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("team_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("case_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("photo_count", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("voided_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("voided_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("void_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_log_entries", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
