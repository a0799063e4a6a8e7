"""The transparency log: entries, complete-subtree hashes, batches, checkpoints; append-only by trigger.

The schema is spelled out here, frozen, rather than taken from
``tlog/tables.py``: a migration must keep creating what it created the day it
shipped. The triggers make the database itself refuse UPDATE and DELETE on
every log table (PostgreSQL also TRUNCATE, which skips row triggers); only
someone who can drop or disable triggers can change a row, and the log's
start-up check catches that.

Revision ID: 0001_log
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_log"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("tlog_entries", "tlog_hashes", "tlog_batches", "tlog_checkpoints")
_INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY = the rowid


def upgrade() -> None:
    op.create_table(
        "tlog_entries",
        sa.Column("idx", _INDEX, primary_key=True, autoincrement=False),
        sa.Column("entry", sa.LargeBinary, nullable=False),
        sa.CheckConstraint("idx >= 0", name="idx_nonnegative"),
    )
    op.create_table(
        "tlog_hashes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.CheckConstraint("level >= 0 AND level < 64 AND idx >= 0", name="position"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "tlog_batches",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("appended_ms", sa.BigInteger, nullable=False),
        sa.CheckConstraint("count > 0 AND count <= size", name="count"),
    )
    op.create_table(
        "tlog_checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("signed_ms", sa.BigInteger, nullable=False),
        sa.CheckConstraint("size >= 0", name="size_nonnegative"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _postgresql_triggers() -> None:
    op.execute("""
        CREATE FUNCTION tlog_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% on % refused: the transparency log is append-only', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END $$""")
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION tlog_refuse_change()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION tlog_refuse_change()")


def _sqlite_triggers() -> None:
    for table in TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN "
                       f"SELECT RAISE(ABORT, '{action} on {table} refused: the transparency log is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION tlog_refuse_change()")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
    for table in reversed(TABLES):
        op.drop_table(table)
