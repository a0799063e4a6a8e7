"""Read a bundle directory as a closed set of regular files, each under a size limit.

A bundle reaches a buyer through hands nobody trusts (a mirror, a file
share), so nothing in it is followed or believed before it is checked:
symlinks, devices, FIFOs, directories in place of files and unexpected
entries are errors naming the entry; every file is opened without following
links, checked to be a regular file, and refused above its size limit before
a byte is read. Each error is one line that starts with the entry's name.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout

MiB = 1024 * 1024
#: Largest accepted size per file. Stubs and disclosures grow with the bundle (100,000 stubs are
#: about 30 MiB of items.jsonl); signed JSON documents stay small whatever the bundle's size.
LIMITS = {
    layout.ITEMS: 1024 * MiB,
    layout.PUBLIC: 2048 * MiB,
    layout.RESTRICTED: 2048 * MiB,
    layout.STATEMENT: 16 * MiB,
    layout.PROTOCOL: 4 * MiB,
    layout.PROTOCOL_SIGNATURES: 8 * MiB,
    layout.RESPONSE: 1 * MiB,
}
REVEAL_LIMIT = 2048 * MiB
REQUIRED = (layout.ITEMS, layout.PUBLIC, layout.RESTRICTED, layout.STATEMENT, layout.PROTOCOL,
            layout.PROTOCOL_SIGNATURES)
OPTIONAL = (layout.RESPONSE,)


def printable(name: str) -> str:
    """A file name safe to print: control and other non-printing characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


class BundleFiles:
    """The entries of one bundle directory, listed and checked once, read on demand."""

    def __init__(self, root: Path, *, required: tuple[str, ...] = REQUIRED, optional: tuple[str, ...] = OPTIONAL,
                 limits: dict[str, int] | None = None) -> None:
        """``required``/``optional``/``limits``: the file set of this kind of bundle (tier 1 by default)."""
        self.root = root
        self.limits = {**LIMITS, **(limits or {})}
        try:
            st = os.stat(root)
        except FileNotFoundError:
            raise VerificationError(f"{printable(str(root))}: no such bundle directory") from None
        except OSError as exc:
            raise VerificationError(f"{printable(str(root))}: cannot be read ({exc.strerror})") from None
        if not stat.S_ISDIR(st.st_mode):
            raise VerificationError(f"{printable(str(root))}: not a bundle directory")
        try:
            entries = sorted(os.listdir(root))
        except OSError as exc:
            raise VerificationError(f"{printable(str(root))}: cannot be listed ({exc.strerror})") from None
        known = set(required) | set(optional) | {layout.REVEALS}
        for name in entries:
            if name not in known:
                raise VerificationError(f"{printable(name)}: unexpected entry in the bundle (a bundle holds only "
                                        "the files docs/protocol.md §6 lists)")
        self.present = set(entries)
        for name in required:
            if name not in self.present:
                raise VerificationError(f"{name}: missing from the bundle")
        for name in self.present - {layout.REVEALS}:
            self._regular(name)
        self.reveals = self._reveal_names() if layout.REVEALS in self.present else []

    def _regular(self, name: str) -> os.stat_result:
        st = os.lstat(self.root / name)
        if stat.S_ISLNK(st.st_mode):
            raise VerificationError(f"{printable(name)}: a symbolic link, not a file (links are never followed)")
        if not stat.S_ISREG(st.st_mode):
            raise VerificationError(f"{printable(name)}: not a regular file ({_kind(st.st_mode)})")
        return st

    def _reveal_names(self) -> list[str]:
        st = os.lstat(self.root / layout.REVEALS)
        if not stat.S_ISDIR(st.st_mode):
            raise VerificationError(f"{layout.REVEALS}: not a directory ({_kind(st.st_mode)})")
        names = []
        for entry in sorted(os.listdir(self.root / layout.REVEALS)):
            name = f"{layout.REVEALS}/{entry}"
            if not (len(entry) == 10 and entry[:4].isdigit() and entry.endswith(".jsonl")):
                raise VerificationError(f"{printable(name)}: not a reveal file (expected NNNN.jsonl)")
            self._regular(name)
            names.append(name)
        return names

    def has(self, name: str) -> bool:
        return name in self.present

    def read(self, name: str) -> bytes:
        """The file's bytes: a regular file, opened without following links, within its size limit."""
        limit = REVEAL_LIMIT if name.startswith(layout.REVEALS + "/") else self.limits[name]
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(self.root / name, flags)
        except FileNotFoundError:
            raise VerificationError(f"{printable(name)}: missing from the bundle") from None
        except OSError as exc:
            raise VerificationError(f"{printable(name)}: cannot be opened ({exc.strerror})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise VerificationError(f"{printable(name)}: not a regular file ({_kind(st.st_mode)})")
            if st.st_size > limit:
                raise VerificationError(f"{printable(name)}: {st.st_size:,} bytes, over the {limit // MiB:,} MiB "
                                        "limit for this file")
            chunks, left = [], st.st_size
            while left > 0:
                chunk = os.read(fd, min(left, 64 * MiB))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            if os.read(fd, 1):
                raise VerificationError(f"{printable(name)}: changed while being read")
            return b"".join(chunks)
        finally:
            os.close(fd)


def _kind(mode: int) -> str:
    for test, word in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return word
    return "not a regular file"
