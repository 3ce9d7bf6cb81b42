"""Case steps get an assignee (team, officer or partner unit) and photos stored with the case.

``case_events`` and ``cases`` get ``assignee_kind``/``assignee_id``/``assignee_name`` (on the
case: the current assignee); ``case_photos`` keeps each photo's bytes in the database (both
backends), linked to the case and to the step it was attached to.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ASSIGNEE = ("assignee_kind", "assignee_id", "assignee_name")
_LENGTHS = {"assignee_kind": 16, "assignee_id": 64, "assignee_name": 64}


def upgrade() -> None:
    for table in ("case_events", "cases"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in _ASSIGNEE:
                batch_op.add_column(sa.Column(name, sa.String(length=_LENGTHS[name]),
                                              nullable=True))
    op.create_table(
        "case_photos",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_pk", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", service.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_pk"], ["cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_id"], ["case_events.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_photos_case_pk", "case_photos", ["case_pk"], unique=False)
    op.create_index("ix_case_photos_event_id", "case_photos", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_photos_event_id", table_name="case_photos")
    op.drop_index("ix_case_photos_case_pk", table_name="case_photos")
    op.drop_table("case_photos")
    for table in ("cases", "case_events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in reversed(_ASSIGNEE):
                batch_op.drop_column(name)
