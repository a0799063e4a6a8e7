"""The registry asks witnesses to cosign its checkpoints, keeps what they return, and serves checkpoints with k of them.

A checkpoint signed only by the log proves nothing to someone the log might
be lying to; cosigned by independent witnesses (each checks that it extends
the last one they saw), a split view needs the witnesses to collude. After
each new checkpoint a background thread sends every configured witness a
C2SP tlog-witness ``add-checkpoint`` request from the size that witness last
cosigned for us (the ``cosignatures`` table), with a consistency proof. A
409 naming another size is retried once from that size. Each cosignature is
verified before it is stored. A witness that is down never blocks or fails
a submission: the failure is recorded and the witness retried on the next
checkpoint (or after ``retry_s``).
"""

from __future__ import annotations

import base64
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from crosslab.core.errors import CrosslabError
from crosslab.registry.tables import cosignatures
from crosslab.registry.tlog import TransparencyLog
from crosslab.registry.tlog.tables import checkpoints
from crosslab.transparency.cosignature import CosignerVerifier, verified_cosignatures
from crosslab.transparency.errors import NoteError
from crosslab.transparency.note import SignatureLine, parse_signature_lines, split_note
from crosslab.transparency.witness_protocol import ADD_CHECKPOINT_PATH, SIZE_CONTENT_TYPE, AddCheckpoint

__all__ = ["CosignError", "Cosigning", "WitnessEndpoint", "note_at"]

MAX_ANSWER_BYTES = 64 * 1024
_SIZE = re.compile(rb"(0|[1-9][0-9]{0,18})\n")


class CosignError(CrosslabError, RuntimeError):
    """A witness did not cosign: unreachable, refused, or answered something that does not verify."""


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the registry asks: its submission prefix URL and the verifier key it cosigns with."""

    url: str
    verifier: CosignerVerifier

    @classmethod
    def parse(cls, spec: str) -> WitnessEndpoint:
        """``URL=VKEY`` (``--witness``): the URL is everything before the first ``=``."""
        url, sep, vkey = spec.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise NoteError(f"witness {spec!r} is not URL=VKEY with an http(s) URL")
        return cls(url.rstrip("/"), CosignerVerifier.parse(vkey))

    @property
    def key(self) -> str:
        return str(self.verifier)


class Cosigning:
    """Collects cosignatures for ``log``'s checkpoints from ``witnesses``; serves notes carrying them."""

    def __init__(self, engine: Engine, log: TransparencyLog, witnesses: Sequence[WitnessEndpoint] = (),
                 min_witnesses: int = 0, *, timeout_s: float = 3.0, interval_s: float = 0.5,
                 retry_s: float = 30.0) -> None:
        keys = [w.key for w in witnesses]
        if len(set(keys)) != len(keys):
            raise CosignError("the same witness key is configured twice")
        if not 0 <= min_witnesses <= len(witnesses):
            raise CosignError(f"--min-witnesses {min_witnesses} needs at least that many witnesses; "
                              f"{len(witnesses)} configured")
        self.engine, self.log = engine, log
        self.witnesses = tuple(witnesses)
        self.min_witnesses = min_witnesses
        self.timeout_s, self.interval_s, self.retry_s = timeout_s, interval_s, retry_s
        #: witness key -> (checkpoint size last tried, monotonic time of the next retry, last error or "")
        self.status: dict[str, tuple[int, float, str]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- collecting -------------------------------------------------------------------------
    def start(self) -> None:
        """Collect in a daemon thread until ``stop``; nothing to do without witnesses."""
        if not self.witnesses or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="cosigning", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout_s * 2 + 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.collect()
            except Exception as exc:  # noqa: BLE001 - the thread must outlive a database hiccup; it is recorded
                self.status["*"] = (0, 0.0, f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.interval_s)

    def collect(self) -> dict[str, str]:
        """One pass: ask each witness without a cosignature of the latest checkpoint; what each said."""
        latest = self._latest()
        if latest is None:
            return {}
        size, note = latest
        have = self._cosigned_by(size)
        outcome = {}
        for witness in self.witnesses:
            if witness.key in have:
                continue
            tried, next_try, _ = self.status.get(witness.key, (-1, 0.0, ""))
            if tried == size and time.monotonic() < next_try:
                continue  # failed at this size recently: wait for the next checkpoint or the retry time
            try:
                self._cosign(witness, size, note)
            except (CosignError, NoteError) as exc:
                self.status[witness.key] = (size, time.monotonic() + self.retry_s, str(exc))
                outcome[witness.key] = str(exc)
            else:
                self.status[witness.key] = (size, 0.0, "")
                outcome[witness.key] = "cosigned"
        return outcome

    def _cosign(self, witness: WitnessEndpoint, size: int, note: bytes) -> None:
        old = min(self._last_size(witness), size)
        for attempt in (1, 2):
            proof = self.log.consistency_proof(old, size) if old else []
            status, kind, answer = self._post(witness, AddCheckpoint(old, tuple(proof), note).encode())
            if status == 200:
                self._store(witness, size, note, answer)
                return
            if status == 409 and kind == SIZE_CONTENT_TYPE and attempt == 1:
                theirs = _size_answer(answer)
                if theirs is None or theirs > size:
                    raise CosignError(f"witness {witness.verifier.name} answered 409 with size "
                                      f"{answer[:40]!r}, not a size up to {size}")
                old = theirs
                continue
            detail = answer[:200].decode("utf-8", "replace").strip().splitlines()
            raise CosignError(f"witness {witness.verifier.name} refused size {size} from old size {old}: "
                              f"{status} {detail[0] if detail else ''}".rstrip())
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, witness: WitnessEndpoint, body: bytes) -> tuple[int, str, bytes]:
        request = urllib.request.Request(witness.url + ADD_CHECKPOINT_PATH, data=body, method="POST",
                                         headers={"content-type": "text/plain; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - operator's URL
                return response.status, response.headers.get_content_type(), response.read(MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers.get_content_type(), exc.read(MAX_ANSWER_BYTES)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CosignError(f"witness {witness.verifier.name} at {witness.url} unreachable: {reason}") from None

    def _store(self, witness: WitnessEndpoint, size: int, note: bytes, answer: bytes) -> None:
        """Keep the witness's cosignature line once it verifies on this checkpoint; CosignError if there is none."""
        body, _ = split_note(note)
        mine = [line for line in parse_signature_lines(answer)
                if (line.name, line.key_id) == (witness.verifier.name, witness.verifier.key_id)]
        found = verified_cosignatures(body, mine, [witness.verifier])
        if not found:
            raise CosignError(f"witness {witness.verifier.name} answered 200 without a cosignature by its key")
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        with self.engine.begin() as conn:
            conn.execute(insert(cosignatures).values(
                size=size, witness=witness.key, line=_line(mine[0]), timestamp=found[0].timestamp,
                received_ms=time.time_ns() // 1_000_000).on_conflict_do_nothing(index_elements=["size", "witness"]))

    # -- reading ----------------------------------------------------------------------------
    def _latest(self) -> tuple[int, bytes] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(checkpoints.c.size, checkpoints.c.note)
                               .order_by(checkpoints.c.size.desc()).limit(1)).first()
        return None if row is None else (row.size, row.note.encode())

    def _last_size(self, witness: WitnessEndpoint) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.coalesce(func.max(cosignatures.c.size), 0))
                                .where(cosignatures.c.witness == witness.key)).scalar_one()

    def _cosigned_by(self, size: int) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(cosignatures.c.witness).where(cosignatures.c.size == size)).scalars())

    def report(self) -> list[dict[str, object]]:
        """Per witness: the largest size it cosigned for us, and its last failure ("" when its last request worked)."""
        return [{"name": w.verifier.name, "url": w.url, "vkey": w.key, "cosigned_size": self._last_size(w),
                 "error": self.status.get(w.key, (0, 0.0, ""))[2]} for w in self.witnesses]

    def served_checkpoint(self) -> bytes | None:
        """What ``GET /checkpoint`` serves: the newest note with ≥ k cosignatures from the configured witnesses.

        With k = 0, the log's latest checkpoint as it signed it; None while no checkpoint has k yet.
        """
        if self.min_witnesses == 0:
            return self.log.latest_checkpoint()
        configured = [w.key for w in self.witnesses]
        with self.engine.connect() as conn:
            size = conn.execute(select(cosignatures.c.size).where(cosignatures.c.witness.in_(configured))
                                .group_by(cosignatures.c.size)
                                .having(func.count() >= self.min_witnesses)
                                .order_by(cosignatures.c.size.desc()).limit(1)).scalar_one_or_none()
        return None if size is None else note_at(self.engine, size)


def note_at(engine: Engine, size: int) -> bytes | None:
    """The log's note at ``size`` with every cosignature collected for it appended; None if it signed none there."""
    with engine.connect() as conn:
        note = conn.execute(select(checkpoints.c.note).where(checkpoints.c.size == size)).scalar_one_or_none()
        if note is None:
            return None
        lines = conn.execute(select(cosignatures.c.line).where(cosignatures.c.size == size)
                             .order_by(cosignatures.c.witness)).scalars().all()
    return note.encode() + "".join(lines).encode()


def _size_answer(answer: bytes) -> int | None:
    """The size in a 409 ``text/x.tlog.size`` body (decimal, then a newline); None if it is not one."""
    match = _SIZE.fullmatch(answer)
    return int(match.group(1)) if match and int(match.group(1)) < 1 << 63 else None


def _line(line: SignatureLine) -> str:
    """A signature line as the note carries it."""
    return f"— {line.name} {base64.b64encode(line.key_id + line.signature).decode()}\n"
