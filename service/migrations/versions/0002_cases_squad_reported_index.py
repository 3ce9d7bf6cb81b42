"""Index cases by (squad, reported_at): the squad leader's "my squad, this month" query.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_squad_reported", "cases", ["squad_id", "reported_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_squad_reported", table_name="cases")
