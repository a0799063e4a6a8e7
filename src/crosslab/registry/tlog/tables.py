"""The log's four tables, as SQLAlchemy Core, on the registry's shared ``metadata``.

``metadata`` lives here rather than in ``registry/db.py`` because this package
may not import the registry above it; ``db.metadata`` is this same object, so
the registry's own tables join it. The schema is created by the Alembic
revision ``0001_log`` (which spells it out on its own, frozen); these objects
are what the code queries. Every table is append-only: database triggers
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, SmallInteger, Table, Text

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# SQLite: INTEGER PRIMARY KEY makes the key the rowid, so the table is one B-tree.
_Index = BigInteger().with_variant(Integer(), "sqlite")

entries = Table(
    "tlog_entries", metadata,
    Column("idx", _Index, primary_key=True, autoincrement=False),  # leaf index, 0-based, dense
    Column("entry", LargeBinary, nullable=False),  # the leaf's bytes, at most 65,535
)
"""One row per leaf: the bytes whose hash is the leaf hash."""

hashes = Table(
    "tlog_hashes", metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)
"""MTH(D[idx·2^level : (idx+1)·2^level]) for every complete subtree: 2n − popcount(n) rows.

Level 0 holds the leaf hashes. Any subtree hash of the RFC tree is at most
log2(n) of these, so proofs, roots and tiles read O(log n) rows.
"""

batches = Table(
    "tlog_batches", metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),  # tree size after the batch
    Column("count", Integer, nullable=False),
    Column("appended_ms", BigInteger, nullable=False),  # Unix time in ms when the batch was appended
)
"""One row per append: the tree size it reached, so MAX(size) is the current size.

Inserting this row is the append's first write, which on SQLite takes the
database's write lock before the size is read.
"""

checkpoints = Table(
    "tlog_checkpoints", metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),  # the signed note, as served
    Column("signed_ms", BigInteger, nullable=False),
)
"""Every checkpoint the log signed, by tree size."""

LOG_TABLES = (entries, hashes, batches, checkpoints)
