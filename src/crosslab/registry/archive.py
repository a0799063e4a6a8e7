"""A submitted bundle travels as one tar archive (optionally gzip'd); unpack it as untrusted input.

Nothing in the archive is believed before it is checked: members must be
regular files named exactly as a bundle's files are (``bundle/reader.py``:
the closed set, plus ``reveals/NNNN.jsonl``), each at most once and within
its size limit, with no more members than a bundle can have. Links,
devices, directories in place of files, absolute names and ``..`` are
refused. Sizes are checked from the header before any byte is read, and the
total is capped, so a gzip bomb stops at the cap. Each error is one line
that names the member.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from pathlib import Path

from crosslab.bundle import layout
from crosslab.bundle.reader import LIMITS, REVEAL_LIMIT, printable
from crosslab.core.errors import CrosslabError

MiB = 1024 * 1024
#: A submitted archive may unpack to at most this much (the registry's upload limit is lower).
TOTAL_LIMIT = 512 * MiB
MAX_MEMBERS = 64
_REVEAL = re.compile(r"reveals/[0-9]{4}\.jsonl")


class ArchiveError(CrosslabError, ValueError):
    """The archive is not a bundle the registry will read; the message names the member."""


def _limit(name: str) -> int | None:
    if name in LIMITS:
        return LIMITS[name]
    if _REVEAL.fullmatch(name):
        return REVEAL_LIMIT
    return None


def read_bundle_archive(data: bytes) -> dict[str, bytes]:
    """The bundle's files by name, from a tar or tar.gz archive; ArchiveError on anything else."""
    raw = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        raw = io.BytesIO(_gunzip(data))
    try:
        archive = tarfile.open(fileobj=raw, mode="r:")
    except tarfile.TarError as exc:
        raise ArchiveError(f"archive: not a tar archive ({exc})") from None
    files: dict[str, bytes] = {}
    total = 0
    with archive:
        for number, member in enumerate(_members(archive)):
            name = member.name.removeprefix("./")
            shown = printable(name)
            if number >= MAX_MEMBERS:
                raise ArchiveError(f"archive: more than {MAX_MEMBERS} members")
            if member.isdir() and name.rstrip("/") in ("", ".", layout.REVEALS):
                continue
            if not member.isreg():
                raise ArchiveError(f"{shown}: not a regular file (links, devices and directories are refused)")
            limit = _limit(name)
            if limit is None:
                raise ArchiveError(f"{shown}: not a bundle file")
            if name in files:
                raise ArchiveError(f"{shown}: appears twice in the archive")
            if member.size > limit:
                raise ArchiveError(f"{shown}: {member.size} bytes, over the limit of {limit}")
            total += member.size
            if total > TOTAL_LIMIT:
                raise ArchiveError(f"archive: unpacks to more than {TOTAL_LIMIT} bytes")
            extracted = archive.extractfile(member)
            if extracted is None:
                raise ArchiveError(f"{shown}: cannot be read")
            files[name] = extracted.read(member.size + 1)
            if len(files[name]) != member.size:
                raise ArchiveError(f"{shown}: truncated")
    return files


def _members(archive: tarfile.TarFile):  # noqa: ANN202 - yields TarInfo one by one, never the whole list
    while True:
        try:
            member = archive.next()
        except tarfile.TarError as exc:
            raise ArchiveError(f"archive: damaged ({exc})") from None
        if member is None:
            return
        yield member


def _gunzip(data: bytes) -> bytes:
    """Decompress at most TOTAL_LIMIT + 1 MiB (tar headers), never more."""
    cap = TOTAL_LIMIT + MiB
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(cap + 1)
    except (OSError, EOFError) as exc:
        raise ArchiveError(f"archive: not valid gzip ({exc})") from None
    if len(out) > cap:
        raise ArchiveError(f"archive: unpacks to more than {TOTAL_LIMIT} bytes")
    return out


def write_bundle_dir(files: dict[str, bytes], directory: Path) -> Path:
    """Lay the checked files out as a bundle directory (for the offline verifier); returns it."""
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return directory


def pack_bundle(bundle: Path) -> bytes:
    """A bundle directory as a gzip'd tar archive, members in a fixed order (what `registry submit` sends)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        names = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
        for name in names:
            content = (bundle / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()
