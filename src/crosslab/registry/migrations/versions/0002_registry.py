"""The registry's own tables: labs pinned by key, protocols, submissions, their files and blobs (registry/tables.py).

Revision ID: 0002_registry
Revises: 0001_log
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_registry"
down_revision = "0001_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "labs",
        sa.Column("lab", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("signing_keyid", sa.String(128), nullable=False),
        sa.Column("identity", sa.Text, nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("log_index", sa.Integer, nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("protocol_id", sa.String(64), nullable=False, index=True),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("lab", sa.String(64), nullable=False, index=True),
        sa.Column("evaluated", sa.String(64), index=True),
        sa.Column("deployment", sa.String(64)),
        sa.Column("statement_sha256", sa.String(64), index=True),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("entry", sa.LargeBinary, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
    )
    op.create_table(
        "protocols",
        sa.Column("protocol_id", sa.String(64), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("round_date", sa.String(10), nullable=False),
        sa.Column("previous", sa.String(64)),
        sa.Column("participants", sa.Text, nullable=False),
        sa.Column("review_window_days", sa.Integer, nullable=False),
        sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
    )
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "files",
        sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("blobs.sha256"), nullable=False),
        sa.UniqueConstraint("submission_id", "name"),
    )


def downgrade() -> None:
    for table in ("files", "blobs", "protocols", "submissions", "labs"):
        op.drop_table(table)
