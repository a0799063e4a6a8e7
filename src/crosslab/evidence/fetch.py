"""Reading a registry over HTTP for the packer: checkpoints, every leaf (as tlog-tiles entry bundles), files, proofs.

Plain ``urllib``: a handful of GETs, each size-capped before it is read, each
failure one line naming the URL. Nothing fetched is trusted: the packer
checks it all (``pack.py``) before writing a byte.
"""

from __future__ import annotations

import base64
import binascii
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson

from crosslab.evidence.errors import EvidenceError
from crosslab.transparency.errors import TileFormatError
from crosslab.transparency.tiles import ENTRY_MAX, entry_bundle_paths, parse_entry_bundle

MiB = 1024 * 1024
_JSON_LIMIT = 16 * MiB
_NOTE_LIMIT = 64 * 1024
Progress = Callable[[str, int, int], None]


class NotFound(EvidenceError):
    """The registry answered 404."""


class RegistryReader:
    """GETs against one registry's API, each capped at ``limit`` bytes."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise EvidenceError(f"registry URL {url!r} is not http(s)://HOST[:PORT]")
        self.base = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str, limit: int) -> bytes:
        url = self.base + path
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310 - the user's registry
                data = response.read(limit + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise NotFound(f"{url}: not found (404)") from None
            raise EvidenceError(f"{url}: the registry answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EvidenceError(f"{url}: cannot be fetched ({reason})") from None
        if len(data) > limit:
            raise EvidenceError(f"{url}: more than {limit:,} bytes")
        return data

    def json(self, path: str) -> Any:
        data = self.get(path, _JSON_LIMIT)
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise EvidenceError(f"{self.base}{path}: not JSON") from None

    def latest_checkpoint(self) -> bytes:
        return self.get("/checkpoint", _NOTE_LIMIT)

    def cosigned_checkpoint(self, size: int) -> bytes | None:
        """The checkpoint of ``size`` with the witnesses' cosignatures, or None if the registry serves none."""
        try:
            return self.get(f"/api/v1/checkpoints/{size}", _NOTE_LIMIT)
        except NotFound:
            return None

    def leaves(self, size: int, progress: Progress | None = None) -> list[bytes]:
        """Leaves 0 .. size-1, from full and partial entry bundles (``tile/entries/N[.p/W]``)."""
        leaves: list[bytes] = []
        for path, _, width in entry_bundle_paths(0, size):
            try:
                leaves.extend(parse_entry_bundle(self.get("/" + path, width * (2 + ENTRY_MAX)), width,
                                                 f"{self.base}/{path}"))
            except TileFormatError as exc:
                raise EvidenceError(str(exc)) from None
            if progress:
                progress("leaves", len(leaves), size)
        return leaves

    def file(self, index: int, name: str, limit: int) -> bytes:
        return self.get(f"/api/v1/entries/{index}/files/{urllib.parse.quote(name, safe='/')}", limit)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        path = f"/api/v1/proofs/inclusion?index={index}&size={size}"
        answer = self.json(path)
        hashes = answer.get("hashes") if isinstance(answer, dict) else None
        if not isinstance(hashes, list) or len(hashes) > 64:
            raise EvidenceError(f"{self.base}{path}: no list of proof hashes")
        try:
            return [base64.b64decode(h, validate=True) for h in hashes]
        except (binascii.Error, ValueError, TypeError):
            raise EvidenceError(f"{self.base}{path}: a proof hash is not base64") from None
