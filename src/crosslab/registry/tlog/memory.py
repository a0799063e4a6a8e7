"""The committed tree held in memory: proofs computed without a database round trip.

A tree of size n never changes once committed (append-only, and the
start-up audit checked it), so every complete-subtree hash the log has
stored, and every entry, can be kept after its first read. Hashes are kept
per level in one bytearray (32 bytes each: 64 MB for a million leaves);
entries in tiles of 256, the ``max_tiles`` most recently read. A
proof then costs about log2(n) slices and folds, and its entry one dict
lookup, which is what lets one process serve thousands of proofs a second.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping

from sqlalchemy import Connection, Engine

from crosslab.registry.tlog import store
from crosslab.registry.tlog.errors import LogError
from crosslab.transparency.tiles import TILE_WIDTH
from crosslab.registry.tlog.tree import Key

__all__ = ["TreeMemory"]

HASH = 32


class TreeMemory(Mapping[Key, bytes]):
    """Stored hashes of the tree of ``size`` leaves, by ``(level, idx)``; ``extend`` reads what a larger tree adds."""

    def __init__(self, max_tiles: int = 4096) -> None:
        self.size = 0
        self._levels: list[bytearray] = []
        self._tiles: OrderedDict[int, list[bytes]] = OrderedDict()
        self._max_tiles = max_tiles
        self._lock = threading.Lock()

    # -- hashes -------------------------------------------------------------
    def extend(self, conn: Connection, size: int) -> None:
        """Hold every complete-subtree hash of the tree of ``size`` leaves (committed: ``size`` <= current)."""
        if size <= self.size:
            return
        with self._lock:
            for level in range(size.bit_length()):
                if level == len(self._levels):
                    self._levels.append(bytearray())
                held = len(self._levels[level]) // HASH
                wanted = size >> level
                if wanted > held:
                    rows = store.read_level(conn, level, held, wanted)
                    if len(rows) != wanted - held:
                        raise LogError(f"the log's tables lack hashes at level {level} for a tree of size {size}")
                    self._levels[level] += b"".join(rows)
            self.size = max(self.size, size)

    def __getitem__(self, key: Key) -> bytes:
        level, idx = key
        if level >= len(self._levels) or not 0 <= idx < len(self._levels[level]) // HASH:
            raise KeyError(key)
        return bytes(self._levels[level][idx * HASH:(idx + 1) * HASH])

    def __iter__(self) -> Iterator[Key]:
        for level, data in enumerate(self._levels):
            for idx in range(len(data) // HASH):
                yield level, idx

    def __len__(self) -> int:
        return sum(len(data) // HASH for data in self._levels)

    # -- entries ------------------------------------------------------------
    def hold_entries(self, conn: Connection) -> int:
        """Read the held tree's entries, in tiles of 256, up to ``max_tiles`` (newest first); how many tiles.

        The last tile may be partial: entries never change, so it stays
        right for every index it holds, and a larger tree only adds to it.
        """
        tiles = -(-self.size // TILE_WIDTH)
        first_tile = max(0, tiles - self._max_tiles)
        rows = [e for _, e in store.read_entries(conn, first_tile * TILE_WIDTH, self.size)]
        if len(rows) != self.size - first_tile * TILE_WIDTH:
            raise LogError(f"the log's tables lack entries below {self.size}")
        with self._lock:
            for n, tile in enumerate(range(first_tile, tiles)):
                self._tiles[tile] = rows[n * TILE_WIDTH:(n + 1) * TILE_WIDTH]
            while len(self._tiles) > self._max_tiles:
                self._tiles.popitem(last=False)
        return tiles - first_tile

    def held_entry(self, index: int) -> bytes | None:
        """Entry ``index`` if its tile is held that far, else None (no database read)."""
        rows = self._tiles.get(index // TILE_WIDTH)
        at = index % TILE_WIDTH
        return rows[at] if rows is not None and at < len(rows) else None

    def entry(self, engine: Engine, index: int) -> bytes:
        """Entry ``index`` (< size): from a held tile, or read with its tile (as far as the tree goes) and kept."""
        held = self.held_entry(index)
        if held is not None:
            return held
        tile = index // TILE_WIDTH
        first = tile * TILE_WIDTH
        with engine.connect() as conn:
            rows = [e for _, e in store.read_entries(conn, first, min(first + TILE_WIDTH, self.size))]
        if len(rows) <= index - first:
            raise LogError(f"the log's tables lack entry {index}")
        with self._lock:
            self._tiles[tile] = rows
            while len(self._tiles) > self._max_tiles:
                self._tiles.popitem(last=False)
        return rows[index - first]
