"""A published round for the evidence tests: a real registry (PostgreSQL) on 127.0.0.1, the round's bundles,
a countersignature and a decline submitted through the CLI, and witness cosignatures on packages.

Shared by tests/test_evidence.py, tests/test_evidence_tamper.py, tests/test_evidence_summary.py and
tests/test_evidence_compare.py. The round: lab-a evaluates lab-b (then lab-b countersigns), lab-b evaluates
lab-a, and lab-c declines a three-lab round (log entries 0..4).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import yaml
from conftest import run_cli

from crosslab.attest import merkle
from crosslab.core.canonical import canonical_json, sha256_hex
from crosslab.evidence import decode_package, encode_package
from crosslab.evidence.format import PackagedEntry
from crosslab.transparency import Checkpoint, LogKey, WitnessKey
from crosslab.transparency.note import split_note
from tests.support.databases import postgres_database
from tests.support.smoke_round import smoke_round

# -- a published round (also used by tests/test_evidence_tamper.py) -------------------------------------------
class Server:
    """``crosslab registry serve`` in its own process on a free loopback port."""

    def __init__(self, db: str, directory: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        self.proc = subprocess.Popen([sys.executable, "-m", "crosslab", "registry", "serve", "--db", db,
                                      "--dir", str(directory), "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/checkpoint", timeout=10).read()  # noqa: S310 - loopback
                return
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"registry did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
                time.sleep(0.2)

    @property
    def log_key(self) -> LogKey:
        return LogKey.load(self.directory / "log.key")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


def build_round(root: Path) -> dict:
    """The smoke round, lab-b's countersignature, a bundle the other way, and a round lab-c is invited to."""
    world = smoke_round(root)
    env, spec = world["env"], world["spec"]
    countersigned = Path(shutil.copytree(world["bundle"], root / "countersigned"))
    signed = run_cli("bundle", "countersign", str(countersigned), "--as", "lab-b", "--keys", str(world["keys"]),
                     "--response", "We accept the findings.", env=env)
    assert signed.returncode == 0, signed.stderr
    runs = root / "runs-b-on-a"
    ran = run_cli("run", "--suite", "smoke", "--target", "baseline:refuse-all", "--out", str(runs), "--no-cache",
                  "--quiet")
    assert ran.returncode == 0, ran.stderr
    [run_dir] = list(runs.iterdir())
    reverse = root / "b-on-a"
    made = run_cli("bundle", "create", str(run_dir), "--protocol", str(world["protocol"]), "--as", "lab-b",
                   "--evaluated", "lab-a", "--deployment", "a-prod", "--out", str(reverse), env=env)
    assert made.returncode == 0, made.stderr
    invited = root / "invited.yaml"
    invited.write_text(yaml.safe_dump({**spec, "title": "A, B and C", "participants": spec["participants"] + [
        {"identity": "keys/lab-c.identity.json", "deployments": [{"name": "c-prod", "target": {
            "provider": "baseline", "model": "refuse-all"}}]}]}))
    return {**world, "countersigned": countersigned, "reverse": reverse, "invited": invited}


def publish(server: Server, world: dict) -> None:
    """Protocol, bundle, countersignature, the reverse bundle, lab-c's decline: log entries 0..4."""
    for path in (world["protocol"], world["bundle"], world["countersigned"], world["reverse"]):
        done = run_cli("registry", "submit", server.url, str(path), env=world["env"])
        assert done.returncode == 0, done.stderr
    declined = run_cli("registry", "decline", server.url, str(world["invited"]), "--as", "lab-c",
                       "--reason", "Not this round.", env=world["env"])
    assert declined.returncode == 0, declined.stderr


def cosign(package: bytes, *witnesses: WitnessKey) -> bytes:
    """The package with each witness's cosignature line appended to its checkpoint note, as a witness answers."""
    decoded = decode_package(package)
    body, _ = split_note(decoded.checkpoint)
    note = decoded.checkpoint + b"".join(w.cosign(body) for w in witnesses)
    return encode_package(replace(decoded, checkpoint=note))


# -- a second protocol, and cosigned packages: the world of the summary and comparison tests ----------------------
def publish_second_protocol(server: Server, world: dict) -> None:
    """"A evaluates C": lab-a and lab-c sign it, lab-a evaluates lab-c on the same smoke items (log entries 5, 6).

    Same suite at the same digest as the first protocol, but another protocol: a comparison of lab-c with
    lab-b must say so rather than pair them.
    """
    root, env = Path(world["root"]), world["env"]
    spec = {**world["spec"], "title": "A evaluates C", "participants": [
        world["spec"]["participants"][0],
        {"identity": "keys/lab-c.identity.json", "deployments": [{"name": "c-prod", "target": {
            "provider": "baseline", "model": "refuse-all"}}]}],
        "round": {"number": 2, "date": "2026-12-01"}}
    protocol = root / "a-on-c.yaml"
    protocol.write_text(yaml.safe_dump(spec))
    for lab in ("lab-a", "lab-c"):
        signed = run_cli("protocol", "sign", str(protocol), "--as", lab, env=env)
        assert signed.returncode == 0, signed.stderr
    [run_dir] = list((root / "runs-b-on-a").iterdir())  # a run of baseline:refuse-all, c-prod's target
    bundle = root / "a-on-c"
    made = run_cli("bundle", "create", str(run_dir), "--protocol", str(protocol), "--as", "lab-a",
                   "--evaluated", "lab-c", "--deployment", "c-prod", "--out", str(bundle), env=env)
    assert made.returncode == 0, made.stderr
    for path in (protocol, bundle):
        done = run_cli("registry", "submit", server.url, str(path), env=env)
        assert done.returncode == 0, done.stderr


_WORLDS: dict[str, dict] = {}


@contextmanager
def published_round(root: Path) -> Iterator[tuple[dict, Server]]:
    """``build_round`` under ``root``, published to a registry on a fresh PostgreSQL database: (world, server)."""
    world = build_round(root / "round")
    with postgres_database("crosslab_evidence") as url:
        server = Server(url, root / "registry")
        try:
            publish(server, world)
            yield world, server
        finally:
            server.stop()


def two_witnesses() -> list[WitnessKey]:
    """Two fresh witness keys, as two independent witnesses would hold them."""
    return [WitnessKey.generate("witness-1.example"), WitnessKey.generate("witness-2.example")]


@pytest.fixture(scope="session")
def evidence_world(tmp_path_factory, request) -> dict:
    """The round, the second protocol, and one package per lab cosigned by two witnesses; built once a session.

    ``{"server", "witnesses", "trust", "log_key", "packages": {lab: Path}, "tmp", ...the round's world}``.
    """
    if "world" in _WORLDS:
        return _WORLDS["world"]
    from crosslab.evidence import Trust

    root = tmp_path_factory.mktemp("evidence-world")
    held = ExitStack()
    request.addfinalizer(held.close)
    request.addfinalizer(_WORLDS.clear)
    world, server = held.enter_context(published_round(root))
    publish_second_protocol(server, world)
    witnesses = two_witnesses()
    packages = {}
    for lab in ("lab-a", "lab-b", "lab-c"):
        path = root / f"{lab}.evidence"
        done = run_cli("evidence", "pack", "--registry", server.url, "--vendor", lab, "--out", str(path), "--quiet")
        assert done.returncode == 0, done.stderr
        path.write_bytes(cosign(path.read_bytes(), *witnesses))
        packages[lab] = path
    log_key = server.log_key.verifier_key()
    _WORLDS["world"] = {**world, "server": server, "witnesses": witnesses, "tmp": root, "packages": packages,
                        "log_key": log_key, "trust": Trust.parse(log_key, [w.verifier_key() for w in witnesses])}
    return _WORLDS["world"]


def trust_args(world: dict) -> list[str]:
    """``--log-key … --witness-key …`` for the world's log and both witnesses."""
    witnesses = [arg for w in world["witnesses"] for arg in ("--witness-key", w.verifier_key())]
    return ["--log-key", world["log_key"], *witnesses]


def relogged(decoded, index: int, files: dict[str, bytes], published: dict) -> bytes:  # noqa: ANN001
    """The package with entry ``index`` holding ``files``: leaf, root, proofs and signatures all redone.

    What an attacker holding the log key (and the witnesses' keys) could make;
    only the bundle verifier can still catch it.
    """
    leaf = orjson.loads(decoded.leaves[index])
    leaf["files"] = {name: sha256_hex(data) for name, data in sorted(files.items())}
    leaves = list(decoded.leaves)
    leaves[index] = canonical_json(leaf)
    old = Checkpoint.parse_body(split_note(decoded.checkpoint)[0])
    checkpoint = Checkpoint(old.origin, old.size, merkle.root(leaves))
    note = published["server"].log_key.sign_note(checkpoint.body())
    note += b"".join(w.cosign(checkpoint.body()) for w in published["witnesses"])
    entries = tuple(PackagedEntry(e.index, tuple(merkle.inclusion_proof(leaves, e.index)),
                                  files if e.index == index else e.files) for e in decoded.entries)
    return encode_package(replace(decoded, checkpoint=note, leaves=tuple(leaves), entries=entries))
