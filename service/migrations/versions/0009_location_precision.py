"""Cases get a location precision: point, landmark or community (cases placed by name, geo.gazetteer).

Every case stored before this revision came with its own coordinates, so it is ``point``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location_precision", sa.String(length=16), nullable=True))
    op.execute("UPDATE cases SET location_precision = 'point'")


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("location_precision")
