"""The demo's last step: two witnesses cosign the published log, then one evidence package per lab, verified offline.

Why real HTTP: the registry collects cosignatures through ``Cosigning``,
which speaks C2SP tlog-witness ``add-checkpoint`` over HTTP, and the packer
reads the registry only through its public API. So the demo serves each
witness (``crosslab.witness.app``) and, while packing, the registry
(``crosslab.registry.app``) with uvicorn on 127.0.0.1 in daemon threads,
each on a port the OS picks, for as long as the step lasts: the code paths
are production's, with no stand-ins and nothing left running.

Resumable: witness keys and states are kept in ``<demo>/witnesses`` and the
cosignatures in the registry's own table, so a second run finds the latest
checkpoint already cosigned and asks nobody; packages are re-packed (cheap,
and byte-identical while the log has not grown).
"""

from __future__ import annotations

import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The demo's two independent witnesses (key names; a real deployment uses the witness operators' domains).
WITNESSES = ("witness-1.crosslab-demo.local", "witness-2.crosslab-demo.local")
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DemoEvidence:
    """What a buyer needs: the packages, the log's verifier key and the witnesses' verifier keys."""

    packages: dict[str, Path]  # lab -> its evidence package
    log_key: str
    witness_keys: tuple[str, ...]
    size: int  # the cosigned checkpoint the packages were made at

    def verify_command(self, lab: str) -> str:
        """The exact ``crosslab evidence verify`` line a buyer runs for ``lab``'s package."""
        words = ["crosslab", "evidence", "verify", str(self.packages[lab]), "--log-key", self.log_key]
        for key in self.witness_keys:
            words += ["--witness-key", key]
        words += ["--min-witnesses", str(len(self.witness_keys)), "--vendor", lab]
        return shlex.join(words)


@contextmanager
def serving(app: Any, what: str) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a port the OS picks) in a daemon thread; yields its URL, stops it on exit."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"demo {what}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{what}: the local server did not start on 127.0.0.1")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
        sock.close()


def _witness_app(directory: Path, name: str, log_vkey: str) -> tuple[Any, str]:
    """A witness's app and verifier key: its key (made once, 0600) and SQLite state kept in ``directory``."""
    from crosslab.transparency.cosignature import WitnessKey
    from crosslab.transparency.note import NoteVerifier
    from crosslab.witness import Witness, WitnessState
    from crosslab.witness.app import create_app

    stem = name.split(".", 1)[0]
    key_path = directory / f"{stem}.key"
    if key_path.exists():
        key = WitnessKey.load(key_path)
    else:
        key = WitnessKey.generate(name)
        key.save(key_path)
    witness = Witness(key, [NoteVerifier.parse(log_vkey)], WitnessState(directory / f"{stem}-state.db"))
    return create_app(witness), key.verifier_key()


def witness_and_pack(out: Path, registry_dir: Path, labs: list[str], say: Callable[[str], None]) -> DemoEvidence:
    """Both witnesses cosign the registry's latest checkpoint; pack and verify offline each lab's package."""
    from crosslab.evidence import EvidenceError, Trust, pack, verify_package
    from crosslab.registry.app import create_app
    from crosslab.registry.cosigning import WitnessEndpoint, note_at
    from crosslab.registry.service import open_registry, sqlite_url
    from crosslab.transparency import LogKey, NoteError, open_witnessed
    from crosslab.transparency.cosignature import CosignerVerifier

    witnesses_dir = out / "witnesses"
    witnesses_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    evidence_dir = out / "evidence"
    evidence_dir.mkdir(parents=True, exist_ok=True)
    log_vkey = LogKey.load(registry_dir / "log.key").verifier_key()  # made when the round was published
    with ExitStack() as stack:
        endpoints = []
        for name in WITNESSES:
            app, vkey = _witness_app(witnesses_dir, name, log_vkey)
            url = stack.enter_context(serving(app, f"witness {name}"))
            endpoints.append(WitnessEndpoint(url, CosignerVerifier.parse(vkey)))
        registry = open_registry(sqlite_url(registry_dir), registry_dir / "log.key",
                                 witnesses=endpoints, min_witnesses=len(endpoints))
        stack.callback(registry.engine.dispose)
        size = registry.log.size()
        asked = registry.cosigning.collect()  # the same pass the registry's background thread makes
        for endpoint in endpoints:
            said = asked.get(endpoint.key)
            if said is not None and said != "cosigned":
                raise RuntimeError(f"witness {endpoint.verifier.name}: {said}")
            say(f"witness: {endpoint.verifier.name} "
                + ("cosigned" if said else "had already cosigned") + f" the log's checkpoint at size {size}")
        note = note_at(registry.engine, size)
        try:  # what the registry stored must carry both cosignatures, verified, before anything is packed
            open_witnessed(note or b"", log_vkey, [e.verifier for e in endpoints], min_witnesses=len(endpoints))
        except NoteError as exc:
            raise RuntimeError(f"registry checkpoint at size {size}: {exc}") from None
        witness_keys = tuple(e.key for e in endpoints)
        trust = Trust.parse(log_vkey, witness_keys, min_witnesses=len(witness_keys))
        packages = {}
        url = stack.enter_context(serving(create_app(registry), "registry"))
        for lab in labs:
            path = evidence_dir / f"{lab}.evidence"
            try:
                pack(url, lab, path, log_key=log_vkey)
                found = verify_package(path.read_bytes(), trust, vendor=lab)  # as a buyer: offline, from the file
            except EvidenceError as exc:
                raise RuntimeError(f"evidence package for {lab}: {exc}") from None
            packages[lab] = path
            say(f"evidence: {path} ({len(found.bundles)} bundle(s) about {lab}, log size {found.checkpoint.size}) "
                f"verified offline with {len(found.cosignatures)} witness cosignatures")
    return DemoEvidence(packages, log_vkey, witness_keys, size)
