"""Write a file so readers see the old bytes or the new ones, never half: temp file, then rename."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, private: bool = False) -> Path:
    """Replace ``path`` with ``data`` via a hidden temp file beside it; ``private``: mode exactly 0600."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666)
    with os.fdopen(fd, "wb") as fh:
        if private:
            os.fchmod(fh.fileno(), 0o600)  # even if a stale temp file was left with wider rights
        fh.write(data)
    os.replace(tmp, path)
    return path
