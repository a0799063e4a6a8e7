"""The monitor's view of a log over HTTP: its checkpoint, consistency proofs and entry tiles, read strictly.

Every answer is size-capped before it is read, and every field is checked
before it is used: a log that answers with garbage gets a ``LogAnswerError``
naming the URL and the field, never a split-view claim, a hang or a traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from crosslab.monitor.errors import LogAnswerError, LogUnreachable

__all__ = ["ConsistencyAnswer", "LogClient"]

MAX_CHECKPOINT_BYTES = 64 * 1024  # a signed note's limit (transparency.note.MAX_NOTE_BYTES)
MAX_PROOF_BYTES = 64 * 1024  # 64 base64 hashes and the JSON around them
MAX_TILE_BYTES = 256 * (2 + 0xFFFF)  # 256 entries of at most 65,535 bytes, each with its uint16 length
MAX_PROOF_HASHES = 64


@dataclass(frozen=True)
class ConsistencyAnswer:
    """The log's consistency proof from ``old`` to ``new``, with the roots it says those trees have."""

    old: int
    new: int
    old_root: bytes
    new_root: bytes
    hashes: tuple[bytes, ...]


class LogClient:
    """Reads one log at ``base_url`` (the registry's root: ``/checkpoint``, ``/tile/…``, ``/api/v1/proofs/…``)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise LogUnreachable(f"log URL {base_url!r} is not an http:// or https:// URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, limit: int) -> bytes:
        url = self.base_url + path
        request = urllib.request.Request(url, headers={"user-agent": "crosslab-monitor", "cache-control": "no-cache"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) only, checked above
                data = response.read(limit + 1)
        except urllib.error.HTTPError as exc:
            detail = _detail(exc)
            raise LogUnreachable(f"log {url} answered HTTP {exc.code}{detail}", status=exc.code) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LogUnreachable(f"log {url} is unreachable: {reason}") from None
        if len(data) > limit:
            raise LogAnswerError(f"log {url} answered more than {limit} bytes")
        return data

    def checkpoint(self) -> bytes:
        """The log's latest signed checkpoint note, as served (not yet verified)."""
        return self._get("/checkpoint", MAX_CHECKPOINT_BYTES)

    def consistency(self, old: int, new: int) -> ConsistencyAnswer:
        """The log's consistency proof between tree sizes ``old`` and ``new``, checked for shape only."""
        path = f"/api/v1/proofs/consistency?old={old}&new={new}"
        raw = self._get(path, MAX_PROOF_BYTES)
        where = f"log {self.base_url}{path}"
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise LogAnswerError(f"{where}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise LogAnswerError(f"{where}: the answer is not a JSON object")
        for field, want in (("old", old), ("new", new)):
            if body.get(field) != want or isinstance(body.get(field), bool):
                raise LogAnswerError(f"{where}: field {field!r} is {body.get(field)!r}, not {want}")
        hashes = body.get("hashes")
        if not isinstance(hashes, list) or len(hashes) > MAX_PROOF_HASHES:
            raise LogAnswerError(f"{where}: field 'hashes' is not a list of at most {MAX_PROOF_HASHES} hashes")
        old_root = b"" if old == 0 and body.get("old_root") == "" else _hash(body.get("old_root"), where, "old_root")
        return ConsistencyAnswer(old, new, old_root, _hash(body.get("new_root"), where, "new_root"),
                                 tuple(_hash(h, where, f"hashes[{i}]") for i, h in enumerate(hashes)))

    def entry_tile(self, path: str) -> bytes:
        """The bytes of an entry bundle ``tile/entries/…`` (parsed by ``tiles.parse_entry_bundle``)."""
        return self._get("/" + path, MAX_TILE_BYTES)


def _hash(value: Any, where: str, field: str) -> bytes:
    """A 32-byte hash from its canonical base64, or LogAnswerError naming the field."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raw = b""
        if len(raw) == 32 and base64.b64encode(raw).decode() == value:
            return raw
    raise LogAnswerError(f"{where}: field {field!r} is not the base64 of a 32-byte hash")


def _detail(exc: urllib.error.HTTPError) -> str:
    """The server's one-line reason, when it gave a FastAPI-style ``{"detail": …}`` (at most 200 characters)."""
    try:
        detail = json.loads(exc.read(4096)).get("detail")
    except (ValueError, AttributeError, OSError):
        return ""
    return f" ({' '.join(str(detail).split())[:200]})" if detail else ""
