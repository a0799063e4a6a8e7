"""Reading a file that may be hostile: never more than a stated number of bytes into memory."""

from __future__ import annotations

from pathlib import Path


def read_capped(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it holds more than ``limit`` bytes (OSError when it cannot be read)."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    return None if len(data) > limit else data
