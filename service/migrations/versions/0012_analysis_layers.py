"""Analysis layers computed once per data version: the ``analysis_layers`` table holds each
layer's GeoJSON (hotspots, Gi* cells, trends, forecast cells) with its column types and
``attrs``, keyed by the layer (kind, scope, parameters: ``layer_key``) and the data version it
was computed from, so every worker serves the same stored rows (:mod:`service.layer_store`).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_layers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("layer_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=96), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("n_features", sa.Integer(), nullable=False),
        sa.Column("geojson", sa.LargeBinary(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.UniqueConstraint("layer_key", "version", name="uq_analysis_layers_key_version"),
    )
    op.create_index("ix_analysis_layers_created_at", "analysis_layers", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_analysis_layers_created_at", table_name="analysis_layers")
    op.drop_table("analysis_layers")
