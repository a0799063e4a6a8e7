"""Witnesses (C2SP tlog-witness) and the registry collecting their cosignatures, as real processes on 127.0.0.1.

A witness process is driven first by a log written in the test (leaves in a
list, roots and proofs from ``attest.merkle``) to hit every status code of
``add-checkpoint``, then by a registry that asks two witnesses to cosign
each checkpoint, on SQLite and on PostgreSQL. A fork of the registry's
database, signed with the same key, is refused by a witness that saw the
original, and never cosigned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crosslab.attest import merkle
from crosslab.transparency import (
    Checkpoint,
    LogKey,
    NoteError,
    NoteVerifier,
    WitnessKey,
    open_witnessed,
)
from crosslab.transparency.witness_protocol import AddCheckpoint
from tests.support.databases import registry_database

ORIGIN = "example.org/log"


# -- the cosignature format ---------------------------------------------------------------------
def test_a_cosignature_signs_exactly_the_header_the_time_and_the_body():
    seed = bytes(range(32))
    key = WitnessKey("witness.example/w1", Ed25519PrivateKey.from_private_bytes(seed))
    body = b"example.org/log\n5\n" + base64.b64encode(bytes(32)) + b"\n"
    line = key.cosign(body, timestamp=1_700_000_000)
    assert line.startswith("— witness.example/w1 ".encode()) and line.endswith(b"\n")
    raw = base64.b64decode(line.split(b" ")[-1])
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert raw[:4] == hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]  # type 0x04, not 0x01
    assert raw[4:12] == (1_700_000_000).to_bytes(8, "big") and len(raw) == 4 + 8 + 64
    message = b"cosignature/v1\ntime 1700000000\nexample.org/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    Ed25519PrivateKey.from_private_bytes(seed).public_key().verify(raw[12:], message)  # raises if not exactly this
    encoded = base64.b64encode(b"\x04" + public).decode()
    assert key.verifier_key() == f"witness.example/w1+{raw[:4].hex()}+{encoded}"
    with pytest.raises(NoteError):
        NoteVerifier.parse(key.verifier_key())  # a cosigner key is not a note signer key


def test_a_cosigned_note_counts_only_trusted_witnesses():
    log = LogKey.generate(ORIGIN)
    trusted, stranger = WitnessKey.generate("w1.example"), WitnessKey.generate("w2.example")
    body = Checkpoint(ORIGIN, 1, merkle.root([b"a"])).body()
    note = log.sign_note(body) + trusted.cosign(body) + stranger.cosign(body)
    seen = open_witnessed(note, log.verifier_key(), [trusted.verifier_key()], min_witnesses=1)
    assert [c.witness.name for c in seen.cosignatures] == ["w1.example"] and seen.checkpoint.size == 1
    with pytest.raises(NoteError, match="1 cosignature.*2 required"):
        open_witnessed(note, log.verifier_key(), [trusted.verifier_key()], min_witnesses=2)
    forged = log.sign_note(body) + trusted.cosign(Checkpoint(ORIGIN, 1, bytes(32)).body())
    with pytest.raises(NoteError, match="does not verify"):
        open_witnessed(forged, log.verifier_key(), [trusted.verifier_key()])


# -- processes ----------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


class Process:
    """``crosslab ARGS`` serving on a free port until ``stop``; started when ``ready_path`` answers."""

    def __init__(self, args: list[str], ready_path: str, port: int | None = None) -> None:
        self.args, self.ready_path = args, ready_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "crosslab", *self.args, "--port", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=5):
                    return
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    out, err = self.proc.communicate(timeout=10)
                    raise RuntimeError(f"{self.args[:2]} did not start: {err or out}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


def post(url: str, body: bytes, kind: str = "text/plain") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": kind})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers["content-type"], r.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["content-type"], exc.read()


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def witness_process(tmp: Path, name: str, *logs: str, key: WitnessKey | None = None) -> tuple[Process, WitnessKey]:
    key_file = tmp / f"{name}.key"
    if key is None:
        made = subprocess.run([sys.executable, "-m", "crosslab", "witness", "keygen", name, "--out", str(key_file)],
                              capture_output=True, text=True, env=_env(), timeout=60)
        assert made.returncode == 0, made.stderr
        key = WitnessKey.load(key_file)
        assert made.stdout.strip() == key.verifier_key()
    args = ["witness", "serve", "--key", str(key_file), "--state", str(tmp / f"{name}.db")]
    for log in logs:
        args += ["--log", log]
    return Process(args, "/"), key


class ListLog:
    """A log kept in the test: leaves in a list, checkpoints signed with ``key``."""

    def __init__(self, key: LogKey, leaves: list[bytes] | None = None) -> None:
        self.key, self.leaves = key, list(leaves or [])

    def grow(self, n: int, tag: str = "") -> None:
        self.leaves += [f"leaf {len(self.leaves) + i} {tag}".encode() for i in range(n)]

    def note(self) -> bytes:
        return self.key.sign_note(Checkpoint(self.key.name, len(self.leaves), merkle.root(self.leaves)).body())

    def request(self, old: int, proof: list[bytes] | None = None) -> bytes:
        proof = merkle.consistency_proof(old, self.leaves) if proof is None and old else (proof or [])
        return AddCheckpoint(old, tuple(proof), self.note()).encode()


# -- a witness on its own -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def lone(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("witness")
    log_key = LogKey.generate(ORIGIN)
    proc, key = witness_process(tmp, "w.example", log_key.verifier_key())
    yield {"proc": proc, "key": key, "log_key": log_key, "tmp": tmp}
    proc.stop()


def test_a_witness_cosigns_only_checkpoints_that_extend_what_it_saw(lone: dict):
    url = lone["proc"].url + "/add-checkpoint"
    log = ListLog(lone["log_key"])
    log.grow(3)
    status, kind, answer = post(url, log.request(0))
    assert status == 200 and kind.startswith("text/plain"), answer
    seen = open_witnessed(log.note() + answer, log.key.verifier_key(), [lone["key"].verifier_key()], min_witnesses=1)
    assert seen.checkpoint.size == 3 and abs(seen.cosignatures[0].timestamp - time.time()) < 60
    log.grow(5)
    assert post(url, log.request(3))[0] == 200

    stale = post(url, log.request(3))  # 409: the witness is at 8, and says so
    assert stale == (409, "text/x.tlog.size", b"8\n")
    assert post(url, ListLog(LogKey.generate("other.example/log"), log.leaves).request(0))[0] == 404
    impostor = ListLog(LogKey.generate(ORIGIN), log.leaves)  # the origin's name, another key
    status, _, answer = post(url, impostor.request(8))
    assert status == 403 and b"not signed by the trusted key" in answer
    log.grow(2)
    assert post(url, AddCheckpoint(11, (), log.note()).encode())[0] == 400  # old size above the checkpoint's
    assert post(url, b"old 8\nnot base64!\n\n" + log.note())[0] == 400
    assert post(url, b"")[0] == 400
    assert post(url, b"x" * 200_000)[0] == 400
    bad = merkle.consistency_proof(8, log.leaves)
    bad[0] = bytes([bad[0][0] ^ 1]) + bad[0][1:]
    status, _, answer = post(url, log.request(8, bad))
    assert status == 422 and b"does not verify" in answer
    same_size = ListLog(log.key, log.leaves[:7] + [b"another leaf"])  # size 8, another root
    status, kind, answer = post(url, same_size.request(8))
    assert status == 409 and kind.startswith("text/plain") and b"fork" in answer
    assert post(url, log.request(0))[2] == b"8\n"  # nothing refused moved the witness
    assert post(url, log.request(8))[0] == 200
    lone["log"] = log


def test_the_state_survives_a_restart_and_a_race_cannot_roll_it_back(lone: dict):
    log: ListLog = lone["log"]
    url = lone["proc"].url + "/add-checkpoint"
    lone["proc"].stop()
    lone["proc"].start()
    assert post(url, log.request(0)) == (409, "text/x.tlog.size", b"10\n")  # remembered across the restart
    # C2SP's race: "old N -> N" and "old N -> N+K" at once. Whatever the order, the witness must end at N+K:
    # either N+K is checked after N (both cosigned) or N is refused as stale; never stored after N+K.
    for _ in range(8):
        n = len(log.leaves)
        same = log.request(n)
        log.grow(3)
        ahead = log.request(n)
        answers: dict[str, tuple] = {}
        threads = [threading.Thread(target=lambda k=k, b=b: answers.__setitem__(k, post(url, b)))
                   for k, b in (("same", same), ("ahead", ahead))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers["ahead"][0] == 200, answers
        assert answers["same"][0] == 200 or answers["same"] == (409, "text/x.tlog.size", f"{n + 3}\n".encode())
        assert post(url, log.request(0))[2] == f"{n + 3}\n".encode(), "the state was rolled back"
    # many requests from one old size at once: exactly one wins, the rest learn its size
    n = len(log.leaves)
    forks = []
    for i in range(6):
        fork = ListLog(log.key, log.leaves)
        fork.grow(i + 1, tag=f"fork {i}")
        forks.append(fork.request(n))
    answers = [None] * len(forks)
    threads = [threading.Thread(target=lambda i=i: answers.__setitem__(i, post(url, forks[i])))
               for i in range(len(forks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [i for i, a in enumerate(answers) if a[0] == 200]
    assert len(won) == 1, answers
    assert all(a == (409, "text/x.tlog.size", f"{n + won[0] + 1}\n".encode()) for i, a in enumerate(answers)
               if i not in won)
    assert post(url, log.request(0))[2] == f"{n + won[0] + 1}\n".encode()


def test_witness_commands_refuse_bad_input_in_one_line(tmp_path: Path, lone: dict):
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "crosslab", "witness", *args], capture_output=True, text=True,
                              env=_env(), timeout=60)

    key_file = tmp_path / "w.key"
    assert cli("keygen", "w.example", "--out", str(key_file)).returncode == 0
    again = cli("keygen", "w.example", "--out", str(key_file))
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    bad_log = cli("serve", "--key", str(key_file), "--log", "nonsense", "--state", str(tmp_path / "s.db"))
    assert bad_log.returncode == 2 and "--log nonsense" in bad_log.stderr and "Traceback" not in bad_log.stderr
    cosigner = cli("serve", "--key", str(key_file), "--log", lone["key"].verifier_key(),
                   "--state", str(tmp_path / "s.db"))
    assert cosigner.returncode == 2 and "type 0x01" in cosigner.stderr  # a witness key is not a log key
    key_file.chmod(0o644)
    loose = cli("serve", "--key", str(key_file), "--log", LogKey.generate(ORIGIN).verifier_key(),
                "--state", str(tmp_path / "s.db"))
    assert loose.returncode == 2 and "chmod 600" in loose.stderr
    key_file.chmod(0o600)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    junk = cli("serve", "--key", str(key_file), "--log", LogKey.generate(ORIGIN).verifier_key(),
               "--state", str(tmp_path / "junk.db"))
    assert junk.returncode == 1 and "junk.db" in junk.stderr and "Traceback" not in junk.stderr


# -- a registry and two witnesses ---------------------------------------------------------------
@pytest.fixture(scope="module")
def labs(tmp_path_factory) -> dict:
    """Two labs' keys, to sign protocols: each new protocol is one more leaf of the registry's log."""
    from crosslab.identity.keystore import Keystore
    from crosslab.suites.registry import get_suite

    store = Keystore(tmp_path_factory.mktemp("keystore"))
    identities = [store.create(lab, lab.upper()) for lab in ("lab-a", "lab-b")]
    return {"store": store, "identities": identities, "digest": get_suite("smoke").content_digest()}


def publish_protocol(registry: Process, labs: dict, title: str) -> float:
    """POST a protocol both labs signed; the seconds the registry took to accept it."""
    from crosslab.protocol.schema import Protocol
    from crosslab.protocol.signing import sign_protocol
    from crosslab.registry.submission import protocol_body

    protocol = Protocol.model_validate({
        "title": title, "round": {"number": 1, "date": "2026-11-24"},
        "suites": [{"name": "smoke", "digest": labs["digest"]}],
        "participants": [{"identity": i.model_dump(mode="json"), "deployments": [
            {"name": f"{i.lab}-prod", "target": {"provider": "baseline", "model": "refuse-all"}}]}
            for i in labs["identities"]]})
    envelope = None
    for identity in labs["identities"]:
        envelope = sign_protocol(protocol, identity.lab, labs["store"].signing_key(identity.lab), envelope)
    started = time.monotonic()
    status, _, answer = post(registry.url + "/api/v1/protocols", protocol_body(protocol, envelope),
                             "application/json")
    assert status == 201, answer
    return time.monotonic() - started


def wait_for(fn, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def cosigned(registry: Process, size: int, count: int) -> bool:
    note = get(f"{registry.url}/api/v1/checkpoints/{size}").decode()
    return note.count("\n— ") == 1 + count


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request, tmp_path_factory) -> str:
    with registry_database(request.param, tmp_path_factory.mktemp("db"), "crosslab_witness") as url:
        yield url


@pytest.fixture(scope="module")
def world(db: str, tmp_path_factory, labs: dict) -> dict:
    tmp = tmp_path_factory.mktemp("world")
    origin = "registry.test/log"
    log_key = LogKey.generate(origin)
    log_key.save(tmp / "log.key")
    w1, k1 = witness_process(tmp, "w1.example", log_key.verifier_key())
    w2, k2 = witness_process(tmp, "w2.example", log_key.verifier_key())
    registry = Process(["registry", "serve", "--db", db, "--dir", str(tmp), "--key", str(tmp / "log.key"),
                        "--origin", origin, "--witness", f"{w1.url}={k1.verifier_key()}",
                        "--witness", f"{w2.url}={k2.verifier_key()}", "--min-witnesses", "2",
                        "--submissions-per-minute", "1000"],  # one client publishes every leaf of these tests
                       "/api/v1/witnesses")
    yield {"db": db, "tmp": tmp, "registry": registry, "log_key": log_key, "w1": w1, "w2": w2,
           "witness_keys": [k1.verifier_key(), k2.verifier_key()]}
    for proc in (registry, w1, w2):
        if proc.proc.poll() is None:
            proc.stop()


def test_two_witnesses_cosign_the_registry_checkpoints(world: dict, labs: dict):
    registry, log_vkey, witnesses = world["registry"], world["log_key"].verifier_key(), world["witness_keys"]
    for i in range(3):
        publish_protocol(registry, labs, f"Round {i}")
    wait_for(lambda: cosigned(registry, 3, 2), "both witnesses to cosign size 3")
    served = wait_for(lambda: get(registry.url + "/checkpoint"), "a cosigned checkpoint")
    seen = open_witnessed(served, log_vkey, witnesses, min_witnesses=2, origin="registry.test/log")
    assert seen.checkpoint.size == 3
    assert {c.witness.name for c in seen.cosignatures} == {"w1.example", "w2.example"}
    root = json.loads(get(f"{registry.url}/api/v1/proofs/consistency?old=0&new=3"))["new_root"]
    assert base64.b64decode(root) == seen.checkpoint.root  # the proofs a packer fetches are at the same size
    with pytest.raises(NoteError, match="required"):
        open_witnessed(served, log_vkey, witnesses[:1], min_witnesses=2)  # a key the buyer does not trust counts 0
    assert get(registry.url + "/api/v1/checkpoints/3") == served  # the same note, for an evidence packer
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(registry.url + "/api/v1/checkpoints/99")
    assert missing.value.code == 404


def test_a_witness_that_is_down_blocks_nothing_and_catches_up(world: dict, labs: dict):
    registry, log_vkey, witnesses = world["registry"], world["log_key"].verifier_key(), world["witness_keys"]
    world["w2"].stop()
    took = publish_protocol(registry, labs, "While w2 is down")
    assert took < 5, f"a submission waited {took:.1f} s on a witness"
    wait_for(lambda: cosigned(registry, 4, 1), "w1 to cosign size 4")
    report = wait_for(lambda: [w for w in json.loads(get(registry.url + "/api/v1/witnesses"))["witnesses"]
                               if w["name"] == "w2.example" and w["error"]], "w2's failure to be recorded")
    assert "unreachable" in report[0]["error"] and report[0]["cosigned_size"] == 3
    seen = open_witnessed(get(registry.url + "/checkpoint"), log_vkey, witnesses, min_witnesses=2)
    assert seen.checkpoint.size == 3  # k = 2: size 4 has only one cosignature, so 3 is still served
    world["w2"].start()  # same port, same state file
    publish_protocol(registry, labs, "After w2 is back")
    wait_for(lambda: cosigned(registry, 5, 2), "both witnesses to cosign size 5")
    seen = open_witnessed(get(registry.url + "/checkpoint"), log_vkey, witnesses, min_witnesses=2)
    assert seen.checkpoint.size == 5


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the fork copies the live SQLite file (PG forks: test_monitor)
def test_a_forked_copy_of_the_registry_is_never_cosigned(world: dict, labs: dict):
    from crosslab.registry.db import begin_write, make_engine
    from crosslab.registry.tlog import TransparencyLog

    registry, tmp = world["registry"], world["tmp"]
    n = json.loads(get(registry.url + "/api/v1/proofs/consistency?old=0"))["new"]
    copy = tmp / "fork.sqlite3"
    with sqlite3.connect(world["db"].removeprefix("sqlite:///")) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    for i in range(2):
        publish_protocol(registry, labs, f"After the copy {i}")
    wait_for(lambda: cosigned(registry, n + 2, 2), f"both witnesses to cosign size {n + 2}")
    fork = TransparencyLog(make_engine(f"sqlite:///{copy}"), world["log_key"], "registry.test/log")
    with begin_write(fork.engine) as conn:
        fork.append_many(conn, [b"a different entry 1", b"a different entry 2"])
    same_size = fork.publish_checkpoint()  # size n + 2, signed by the log's own key, another root
    w1 = world["w1"].url + "/add-checkpoint"
    status, kind, answer = post(w1, AddCheckpoint(n + 2, (), same_size).encode())
    assert status == 409 and b"fork" in answer
    status, _, answer = post(w1, AddCheckpoint(n, tuple(fork.consistency_proof(n, n + 2)), same_size).encode())
    assert (status, answer) == (409, f"{n + 2}\n".encode())  # stale: it has seen n + 2 already
    with begin_write(fork.engine) as conn:
        fork.append(conn, b"a different entry 3")
    longer = fork.publish_checkpoint()
    status, _, answer = post(w1, AddCheckpoint(n + 2, tuple(fork.consistency_proof(n + 2, n + 3)), longer).encode())
    assert status == 422 and b"does not verify" in answer
    assert post(w1, AddCheckpoint(0, (), longer).encode())[2] == f"{n + 2}\n".encode()  # never cosigned the fork
    from crosslab.witness import WitnessState

    evidence = WitnessState(tmp / "w1.example.db").refusals("registry.test/log")
    assert [s for s, _ in evidence][-2:] == [409, 422]  # the forked checkpoints are kept as evidence
    publish_protocol(registry, labs, "The real log goes on")
    wait_for(lambda: cosigned(registry, n + 3, 2), "the real log to be cosigned past the fork")
    seen = open_witnessed(get(registry.url + "/checkpoint"), world["log_key"].verifier_key(),
                          world["witness_keys"], min_witnesses=2)
    assert seen.checkpoint.size == n + 3 and seen.checkpoint.root != Checkpoint.parse(
        longer, world["log_key"].verifier_key()).root


def test_registry_refuses_bad_witness_options(tmp_path: Path):
    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "crosslab", "registry", "serve", "--dir", str(tmp_path),
                               *args], capture_output=True, text=True, env=_env(), timeout=60)

    vkey = WitnessKey.generate("w.example").verifier_key()
    for args, says in ((["--witness", "nonsense"], "URL=VKEY"),
                       (["--witness", f"http://127.0.0.1:1={LogKey.generate('x').verifier_key()}"], "type 0x04"),
                       (["--witness", f"http://127.0.0.1:1={vkey}", "--min-witnesses", "2"], "needs at least 2"),
                       (["--witness", f"http://127.0.0.1:1={vkey}", "--witness", f"http://127.0.0.1:2={vkey}"],
                        "twice")):
        result = serve(*args)
        assert result.returncode in (1, 2) and says in result.stderr and "Traceback" not in result.stderr, args
