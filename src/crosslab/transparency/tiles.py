"""C2SP tlog-tiles paths: ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``.

A hash tile at tile level L holds up to 256 consecutive complete-subtree
hashes at tree level 8·L; an entry bundle holds up to 256 consecutive entries,
each as a big-endian uint16 length and the bytes. N is written in 3-digit
groups, all but the last prefixed with ``x`` (1234067 → ``x001/x234/067``).
The parser accepts only the one canonical spelling of each path: a cache or
a mirror keyed by path never holds two copies of a tile. The registry serves
tiles; the monitor and the evidence packer read entry bundles back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collections.abc import Iterator

from crosslab.transparency.errors import TileFormatError

__all__ = [
    "ENTRY_MAX",
    "TILE_WIDTH",
    "TilePath",
    "encode_index",
    "entry_bundle",
    "entry_bundle_paths",
    "parse_entry_bundle",
    "parse_tile_path",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
ENTRY_MAX = 0xFFFF  # an entry bundle prefixes each entry with a uint16 length
MAX_TILE_LEVEL = 63
_MAX_PATH = 200
_PATH = re.compile(r"tile/(entries|0|[1-9][0-9]?)/((?:x[0-9]{3}/){0,6}[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?")


def encode_index(n: int) -> str:
    """N as the spec's path groups: 5 → ``005``, 1234067 → ``x001/x234/067``."""
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


@dataclass(frozen=True)
class TilePath:
    """A tile (``level`` 0..63) or entry bundle (``level`` None): ``index`` N, ``width`` 1..256."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    @property
    def is_entries(self) -> bool:
        return self.level is None

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    def __str__(self) -> str:
        head = "entries" if self.level is None else str(self.level)
        tail = f".p/{self.width}" if self.partial else ""
        return f"tile/{head}/{encode_index(self.index)}{tail}"

    def first(self) -> int:
        """Index of the first hash (at tree level 8·L) or entry in the tile."""
        return self.index * TILE_WIDTH

    def tree_level(self) -> int:
        return 0 if self.level is None else TILE_HEIGHT * self.level

    def leaves_needed(self) -> int:
        """The smallest tree size in which every hash or entry of this tile exists."""
        return (self.first() + self.width) << self.tree_level()


def parse_tile_path(path: str) -> TilePath:
    """Parse a tile or entry-bundle path, refusing anything but its canonical spelling."""
    if not isinstance(path, str) or len(path) > _MAX_PATH:
        raise TileFormatError("malformed tile path")
    match = _PATH.fullmatch(path)
    if match is None:
        raise TileFormatError(f"malformed tile path {path!r} (expected tile/<L>/<N>[.p/<W>] or "
                              f"tile/entries/<N>[.p/<W>], N in x-prefixed 3-digit groups)")
    head, n_text, w_text = match.groups()
    level = None if head == "entries" else int(head)
    if level is not None and level > MAX_TILE_LEVEL:
        raise TileFormatError(f"malformed tile path {path!r}: tile level {level} is over {MAX_TILE_LEVEL}")
    width = int(w_text) if w_text else TILE_WIDTH
    if w_text and width >= TILE_WIDTH:
        raise TileFormatError(f"malformed tile path {path!r}: a partial tile is 1 to {TILE_WIDTH - 1} wide")
    index = int(n_text.replace("x", "").replace("/", ""))
    if encode_index(index) != n_text:
        raise TileFormatError(f"malformed tile path {path!r}: the index is not written canonically "
                              f"({encode_index(index)})")
    return TilePath(level, index, width)


def entry_bundle(entries: list[bytes]) -> bytes:
    """Entries as a bundle: each a big-endian uint16 length, then its bytes."""
    return b"".join(len(e).to_bytes(2, "big") + e for e in entries)


def entry_bundle_paths(start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(path, first index, width) of the entry bundles that hold entries ``start`` … ``end``−1 of a tree of ``end``."""
    for tile in range(start // TILE_WIDTH, -(-end // TILE_WIDTH)):
        first = tile * TILE_WIDTH
        yield str(TilePath(None, tile, min(TILE_WIDTH, end - first))), first, min(TILE_WIDTH, end - first)


def parse_entry_bundle(data: bytes, width: int, where: str) -> list[bytes]:
    """Exactly ``width`` length-prefixed entries filling ``data``; TileFormatError naming ``where`` otherwise."""
    entries = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise TileFormatError(f"entry bundle {where}: truncated length prefix at byte {at}")
        length = int.from_bytes(data[at:at + 2], "big")
        at += 2
        if at + length > len(data):
            raise TileFormatError(f"entry bundle {where}: entry {len(entries)} runs past the end of the bundle")
        entries.append(data[at:at + length])
        at += length
    if len(entries) != width:
        raise TileFormatError(f"entry bundle {where} holds {len(entries)} entries, not {width}")
    return entries
