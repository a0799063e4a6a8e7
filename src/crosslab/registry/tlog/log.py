"""The transparency log: append inside the caller's transaction, sign checkpoints, serve proofs and tiles.

Append path: the caller opens a transaction, stores its own rows, then calls
``append``/``append_many`` on the same connection; the log takes its lock,
records the batch, and inserts the entries and the complete-subtree hashes
they create; the caller commits (both or neither). After the commit the
caller calls ``publish_checkpoint``, which signs the new size in a few
milliseconds. Reads (proofs, roots, tiles) touch O(log n) stored hashes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, select

from crosslab.attest.merkle import EMPTY_ROOT, leaf_hash, verify_consistency
from crosslab.registry.tlog import store
from crosslab.registry.tlog.audit import check_log
from crosslab.registry.tlog.errors import LogError, LogRequestError, NoteError, TileNotFound
from crosslab.registry.tlog.memory import TreeMemory
from crosslab.registry.tlog.tables import entries
from crosslab.transparency.checkpoint import Checkpoint
from crosslab.transparency.errors import TileFormatError
from crosslab.transparency.keys import LogKey
from crosslab.transparency.tiles import ENTRY_MAX, entry_bundle, parse_tile_path
from crosslab.registry.tlog.tree import (
    consistency_ranges,
    extend,
    inclusion_ranges,
    keys_for,
    range_hash,
    subtree_keys,
)

__all__ = ["TransparencyLog"]


class TransparencyLog:
    """An append-only RFC 9162 Merkle log stored in the registry's database, signed by ``key``."""

    def __init__(self, engine: Engine, key: LogKey, origin: str) -> None:
        try:
            Checkpoint(origin, 0, EMPTY_ROOT)  # validates the origin line
        except NoteError as exc:
            raise LogError(f"bad log origin: {exc}") from None
        self.engine = engine
        self.key = key
        self.origin = origin
        self._refusal: LogError | None = None
        self._published: tuple[int, bytes] | None = None  # (size, note) this process last saw
        self._roots: dict[int, bytes] = {}  # committed tree sizes -> their roots (immutable, so safe to keep)
        self._memory = TreeMemory()  # the committed tree's hashes and entries, read once (tlog/memory.py)

    # -- start-up ---------------------------------------------------------

    def check_on_start(self) -> int:
        """Recompute the tree from the stored entries; LogError (and refuse to serve) if anything differs.

        Returns the size checked. Run it before serving; it reads the whole log once.
        """
        try:
            with self.engine.connect() as conn:
                if conn.dialect.name == "postgresql":  # one snapshot for every read, appends or not
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():  # SQLite: a read transaction is one snapshot already
                    size = check_log(conn, self.origin, self.key.verifier)
        except LogError as exc:
            self._refusal = exc
            raise
        self._refusal = None
        return size

    def warm(self) -> int:
        """Read the committed tree's hashes and entries into memory, so the first proofs are as fast as the rest.

        Call it after ``check_on_start``; returns the size held.
        """
        self._serving()
        with self.engine.connect() as conn:
            size = store.current_size(conn)
            self._memory.extend(conn, size)
            self._memory.hold_entries(conn)
        self.root(size)
        return size

    def _serving(self) -> None:
        if self._refusal is not None:
            raise LogError(str(self._refusal))

    # -- appends ----------------------------------------------------------

    def append(self, conn: Connection, entry: bytes) -> int:
        """Append one entry inside ``conn``'s open transaction; its index (valid once the caller commits)."""
        return self.append_many(conn, [entry])[0]

    def append_many(self, conn: Connection, data: Sequence[bytes]) -> list[int]:
        """Append entries in order inside ``conn``'s open transaction; their indexes.

        Appends are serialized: on PostgreSQL by an advisory lock held to the
        end of the transaction, on SQLite by its write lock. Commit soon.
        """
        self._serving()
        data = list(data)
        for i, entry in enumerate(data):
            if not isinstance(entry, bytes):
                raise LogRequestError(f"log entry {i} is {type(entry).__name__}, not bytes")
            if len(entry) > ENTRY_MAX:
                raise LogRequestError(f"log entry {i} is {len(entry)} bytes; entries are at most {ENTRY_MAX} "
                                      f"(the tile format's uint16 length)")
        if not data:
            return []
        if not conn.in_transaction() or conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            raise LogError("append needs the caller's open transaction (not autocommit): "
                           "call it inside `with engine.begin() as conn:`")
        start = store.reserve(conn, len(data))
        border = subtree_keys(0, start)
        stored = store.fetch_hashes(conn, border)
        created = extend(start, [stored[k] for k in border], (leaf_hash(e) for e in data))
        store.insert_leaves(conn, start, data, created)
        return list(range(start, start + len(data)))

    # -- checkpoints ------------------------------------------------------

    def publish_checkpoint(self) -> bytes:
        """The signed note of the checkpoint at the current size, signing and storing it if the size grew.

        Call it after committing appends. Two queries when nothing changed; a
        new checkpoint is first checked to be consistent with the previous one.
        """
        self._serving()
        with self.engine.connect() as conn, conn.begin():
            size = store.current_size(conn)
            if self._published is not None and self._published[0] == size:
                return self._published[1]
            latest = store.latest_checkpoint(conn)
            if latest is not None and latest[0] >= size:
                if latest[0] > size:
                    raise LogError(f"the latest checkpoint has size {latest[0]} but the log holds {size} entries")
                self._published = (size, latest[2].encode())
                return self._published[1]
            ranges = [(0, size)]
            if latest is not None:
                ranges += consistency_ranges(latest[0], size)
            stored = store.fetch_hashes(conn, keys_for(ranges))
        root = range_hash(0, size, stored)
        if latest is not None:
            proof = [range_hash(lo, hi, stored) for lo, hi in ranges[1:]]
            if not verify_consistency(latest[0], size, latest[1], root, proof):
                raise LogError(f"refusing to sign size {size}: the tree is not consistent with the checkpoint "
                               f"at size {latest[0]}")
        note = self.key.sign_note(Checkpoint(self.origin, size, root).body())
        with self.engine.connect() as conn, conn.begin():  # a write-first transaction: SQLite takes its lock at once
            store.store_checkpoint(conn, size, root, note.decode())
        self._published = (size, note)
        return note

    def latest_checkpoint(self) -> bytes:
        """The signed note of the largest stored checkpoint; TileNotFound before the first publish."""
        self._serving()
        with self.engine.connect() as conn:
            latest = store.latest_checkpoint(conn)
        if latest is None:
            raise TileNotFound("the log has not published a checkpoint yet")
        return latest[2].encode()

    # -- reads ------------------------------------------------------------

    def size(self) -> int:
        """The committed number of entries (possibly ahead of the latest checkpoint)."""
        self._serving()
        with self.engine.connect() as conn:
            return store.current_size(conn)

    def entry(self, index: int) -> bytes:
        self._serving()
        with self.engine.connect() as conn:
            size = store.current_size(conn)
            _check_range("entry index", index, 0, size - 1)
            return bytes(conn.execute(select(entries.c.entry).where(entries.c.idx == index)).scalar_one())

    def _committed(self, size: int | None, low: int = 0, what: str = "tree size") -> int:
        """``size`` (default: the current size), checked to be committed, with its hashes in memory."""
        if size is not None and low <= size <= self._memory.size:
            return size  # held already: a committed size never stops being one
        with self.engine.connect() as conn:
            current = store.current_size(conn)
            size = current if size is None else size
            _check_range(what, size, low, current)
            self._memory.extend(conn, size)
        return size

    def root(self, size: int) -> bytes:
        """MTH of the first ``size`` entries (0 <= size <= current size)."""
        self._serving()
        size = self._committed(size)
        root = self._roots.get(size)
        if root is None:
            root = range_hash(0, size, self._memory)
            if len(self._roots) > 64:
                self._roots.clear()
            self._roots[size] = root
        return root

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]), bottom-up (RFC 9162 §2.1.3.1), for 0 <= index < size <= current size."""
        self._serving()
        size = self._committed(size, 1)
        _check_range("leaf index", index, 0, size - 1)
        return self._path(index, size)

    def _path(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]) from the held tree; the caller has checked both are committed and in range."""
        return [range_hash(lo, hi, self._memory) for lo, hi in inclusion_ranges(index, size)]

    def inclusion(self, index: int, size: int | None = None) -> tuple[int, list[bytes], bytes, bytes]:
        """(size, PATH(index, D[size]), MTH(D[size]), entry): what a proof request needs.

        ``size`` defaults to the current size. The committed tree is held in
        memory (tlog/memory.py), so a proof for a size already seen costs no
        database round trip once its entry tile has been read.
        """
        self._serving()
        size = self._committed(size, 1)
        _check_range("leaf index", index, 0, size - 1)
        return size, self._path(index, size), self.root(size), self._memory.entry(self.engine, index)

    def held_inclusion(self, index: int, size: int) -> tuple[int, list[bytes], bytes, bytes] | None:
        """``inclusion(index, size)`` when memory holds all it needs, else None: safe on an event loop.

        None also for anything out of range or a log that refused to serve:
        ``inclusion`` then gives the error.
        """
        if self._refusal is not None or not 0 <= index < size <= self._memory.size:
            return None
        entry = self._memory.held_entry(index)
        root = self._roots.get(size)
        if entry is None or root is None:
            return None
        return size, self._path(index, size), root, entry

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """PROOF(old, D[new]), bottom-up (RFC 9162 §2.1.4.1), for 0 <= old <= new <= current size."""
        self._serving()
        new = self._committed(new, 0, "new tree size")
        _check_range("old tree size", old, 0, new)
        return [range_hash(lo, hi, self._memory) for lo, hi in consistency_ranges(old, new)]

    def tile(self, path: str) -> bytes:
        """The bytes served at ``path``: ``checkpoint``, ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``.

        LogRequestError for a malformed path; TileNotFound for a tile not
        (yet) covered by the latest checkpoint, so everything served is
        committed to by a signed checkpoint.
        """
        self._serving()
        if path == "checkpoint":
            return self.latest_checkpoint()
        try:
            tile = parse_tile_path(path)
        except TileFormatError as exc:
            raise LogRequestError(str(exc)) from None
        with self.engine.connect() as conn:
            latest = store.latest_checkpoint(conn)
            published = 0 if latest is None else latest[0]
            if tile.leaves_needed() > published:
                raise TileNotFound(f"{tile} is not available: the latest checkpoint has {published} entries")
            first, end = tile.first(), tile.first() + tile.width
            if tile.is_entries:
                rows = [e for _, e in store.read_entries(conn, first, end)]
            else:
                rows = store.read_level(conn, tile.tree_level(), first, end)
        if len(rows) != tile.width:
            raise LogError(f"the log's tables lack rows of {tile}")
        return entry_bundle(rows) if tile.is_entries else b"".join(rows)


def _check_range(what: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise LogRequestError(f"{what} {value!r} is outside {low}..{high}")
