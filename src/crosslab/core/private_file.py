"""Private key files: created exactly 0600 and never over an existing file; read only if nobody else can.

A lab's signing key and the registry log's key follow ssh's rule: a key
file that group or others can read, or that is not a regular file, is
refused with the ``chmod`` that fixes it, before a byte of it is used.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from crosslab.core.errors import CrosslabError


def write_private(path: Path, data: bytes) -> Path:
    """Create ``path`` with ``data``, mode exactly 0600 whatever the umask; an existing file is an error."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(data)
    return path


def read_private(path: Path, error: type[CrosslabError], what: str, *, missing: str | None = None,
                 limit: int | None = None) -> bytes:
    """The bytes of a private file (at most ``limit + 1`` of them), or ``error`` naming ``what`` and the fix."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise error(missing or f"{what} {path} does not exist") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {path} is not a regular file")
        if st.st_mode & 0o077:
            raise error(f"permissions {stat.S_IMODE(st.st_mode):04o} for {what} {path} are too open; "
                        f"it must be readable by its owner only (run: chmod 600 {path})")
        return f.read() if limit is None else f.read(limit + 1)
