"""The log's reads and writes, one SQL statement each, for SQLite and PostgreSQL alike.

Reads of hashes take a set of ``(level, idx)`` keys and fetch them in one
query (per level, an ``idx IN (...)``), so a proof or a root costs one round
trip whatever the tree size.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, and_, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from crosslab.registry.tlog.errors import LogError
from crosslab.registry.tlog.tables import batches, checkpoints, entries, hashes
from crosslab.registry.tlog.tree import Key

APPEND_LOCK = 0x746C6F67617070  # "tlogapp": the PostgreSQL advisory lock that serializes appends
_INSERT_CHUNK = 5000  # rows per executemany call, to bound the memory of one statement


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def current_size(conn: Connection) -> int:
    """The committed tree size (as this transaction sees it): the size the last batch reached."""
    return conn.execute(select(func.coalesce(func.max(batches.c.size), 0))).scalar_one()


def reserve(conn: Connection, count: int) -> int:
    """Take the append lock and record a batch of ``count`` leaves; return the tree size before it.

    PostgreSQL: a transaction-scoped advisory lock, then the batch row (in READ
    COMMITTED each statement sees what the last lock holder committed). SQLite:
    the batch row's INSERT … SELECT is the transaction's first write, so it
    takes the database's write lock before it reads the size. Either way the
    primary keys turn any overlap into an error, never into two leaves at one index.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(APPEND_LOCK)))
    new_size = func.coalesce(func.max(batches.c.size), 0) + count
    stmt = (batches.insert()
            .from_select(["size", "count", "appended_ms"], select(new_size, literal(count), literal(now_ms())))
            .returning(batches.c.size))
    return conn.execute(stmt).scalar_one() - count


def insert_leaves(conn: Connection, start: int, data: Sequence[bytes], nodes: Sequence[tuple[int, int, bytes]]) -> None:
    """Insert the entries (from index ``start``) and the hashes they create, in ``conn``'s transaction.

    PostgreSQL gets binary COPY on the same connection (an order of magnitude
    faster than row-by-row INSERTs); SQLite, executemany.
    """
    if conn.dialect.name == "postgresql":
        with conn.connection.driver_connection.cursor() as cursor:
            with cursor.copy("COPY tlog_entries (idx, entry) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "bytea"])
                for j, entry in enumerate(data):
                    copy.write_row((start + j, entry))
            with cursor.copy("COPY tlog_hashes (level, idx, hash) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int2", "int8", "bytea"])
                for row in nodes:
                    copy.write_row(row)
        return
    for i in range(0, len(data), _INSERT_CHUNK):
        conn.execute(entries.insert(), [{"idx": start + j, "entry": data[j]}
                                        for j in range(i, min(i + _INSERT_CHUNK, len(data)))])
    for i in range(0, len(nodes), _INSERT_CHUNK):
        conn.execute(hashes.insert(), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes[i:i + _INSERT_CHUNK]])


def fetch_hashes(conn: Connection, keys: Iterable[Key]) -> dict[Key, bytes]:
    """The stored hashes for ``keys``, in one query; LogError if any is missing.

    An OR of primary-key equalities: both databases answer it with one index
    probe per key (SQLite scans the table for a row-value ``IN`` list).
    """
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    where = or_(*(and_(hashes.c.level == level, hashes.c.idx == idx) for level, idx in wanted))
    query = select(hashes.c.level, hashes.c.idx, hashes.c.hash).where(where)
    found = {(lv, ix): bytes(h) for lv, ix, h in conn.execute(query)}
    for level, idx in wanted:
        if (level, idx) not in found:
            raise LogError(f"the log's hash table lacks the hash at level {level}, index {idx}")
    return found


def read_entries(conn: Connection, first: int, end: int) -> list[tuple[int, bytes]]:
    """(idx, entry) for first <= idx < end, in order."""
    query = (select(entries.c.idx, entries.c.entry)
             .where(entries.c.idx >= first, entries.c.idx < end).order_by(entries.c.idx))
    return [(idx, bytes(e)) for idx, e in conn.execute(query)]


def read_level(conn: Connection, level: int, first: int, end: int) -> list[bytes]:
    """Stored hashes at ``level`` for first <= idx < end, in order."""
    query = (select(hashes.c.hash).where(hashes.c.level == level, hashes.c.idx >= first, hashes.c.idx < end)
             .order_by(hashes.c.idx))
    return [bytes(h) for h in conn.execute(query).scalars()]


def latest_checkpoint(conn: Connection) -> tuple[int, bytes, str] | None:
    """(size, root, note) of the largest checkpoint, or None."""
    row = conn.execute(select(checkpoints.c.size, checkpoints.c.root, checkpoints.c.note)
                       .order_by(checkpoints.c.size.desc()).limit(1)).first()
    return None if row is None else (row.size, bytes(row.root), row.note)


def store_checkpoint(conn: Connection, size: int, root: bytes, note: str) -> None:
    """Insert a checkpoint; a concurrent publisher's identical row (same size) wins silently."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(checkpoints).values(size=size, root=root, note=note, signed_ms=now_ms())
                 .on_conflict_do_nothing(index_elements=["size"]))
