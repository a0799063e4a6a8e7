"""Reading a log's leaves from C2SP tlog-tiles entry bundles, to recompute its root without trusting it.

An entry bundle ``tile/entries/<N>[.p/<W>]`` holds entries 256·N … 256·N+W−1,
each as a big-endian uint16 length and its bytes. A partial bundle (W < 256)
is what a checkpoint covers before the tile fills.
"""

from __future__ import annotations

from collections.abc import Iterator

from crosslab.monitor.errors import LogAnswerError

__all__ = ["TILE_WIDTH", "entry_bundle_paths", "parse_entry_bundle", "tile_index_path"]

TILE_WIDTH = 256


def tile_index_path(n: int) -> str:
    """N in the spec's 3-digit groups, all but the last prefixed with ``x``: 1234067 → ``x001/x234/067``."""
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def entry_bundle_paths(start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(path, first index in the bundle, width) of the bundles that hold entries ``start`` … ``end``−1 in a tree of ``end``."""
    for tile in range(start // TILE_WIDTH, -(-end // TILE_WIDTH)):
        first = tile * TILE_WIDTH
        width = min(TILE_WIDTH, end - first)
        suffix = "" if width == TILE_WIDTH else f".p/{width}"
        yield f"tile/entries/{tile_index_path(tile)}{suffix}", first, width


def parse_entry_bundle(data: bytes, width: int, path: str) -> list[bytes]:
    """Exactly ``width`` length-prefixed entries filling ``data``; LogAnswerError naming ``path`` otherwise."""
    entries = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise LogAnswerError(f"entry bundle {path}: truncated length prefix at byte {at}")
        length = int.from_bytes(data[at:at + 2], "big")
        at += 2
        if at + length > len(data):
            raise LogAnswerError(f"entry bundle {path}: entry {len(entries)} runs past the end of the bundle")
        entries.append(data[at:at + length])
        at += length
    if len(entries) != width:
        raise LogAnswerError(f"entry bundle {path} holds {len(entries)} entries, not {width}")
    return entries
