"""`crosslab monitor` against real registries on 127.0.0.1: honest, forked, rewritten, down, and misanswering.

The misbehaving logs are the registry's own code over a database changed
behind its back (tests/support/forked_log.py); the monitor runs as a user
runs it, `crosslab monitor` in a fresh interpreter, and its SQLite state is
read back to check that both signed notes of every split view are kept.
"""

from __future__ import annotations

import base64
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import REPO, free_port, run_cli

from crosslab.transparency import Checkpoint, LogKey, WitnessKey
from tests.support.databases import postgres_database
from tests.support.forked_log import LogCopy, append, edit_entry_only, fork, new_log, rewrite_entry, serving

SPLIT_VIEW = 3


def leaves(prefix: str, n: int) -> list[bytes]:
    return [f"{prefix}-{i}".encode() for i in range(n)]


def monitor(url: str, key: str, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("monitor", "--log", url, "--log-key", key, "--state", str(state), *extra, timeout=120)


def held(state: Path) -> list[tuple[int, bytes, str, int]]:
    with sqlite3.connect(state) as db:
        return [(s, bytes(r), n, c) for s, r, n, c in
                db.execute("SELECT size, root, note, consistent FROM checkpoints ORDER BY size, first_seen_ms")]


def split_rows(state: Path) -> list[tuple]:
    with sqlite3.connect(state) as db:
        return db.execute("SELECT kind, earlier_size, earlier_root, earlier_note, later_size, later_root, "
                          "later_note FROM split_views").fetchall()


def assert_evidence(state: Path, kind: str, key: str) -> tuple[Checkpoint, Checkpoint]:
    """One split view of ``kind`` is kept, with both notes verifying under the log key and matching their rows."""
    [(got, e_size, e_root, e_note, l_size, l_root, l_note)] = split_rows(state)
    assert got == kind
    earlier, later = Checkpoint.parse(e_note, key), Checkpoint.parse(l_note, key)
    assert (earlier.size, earlier.root) == (e_size, bytes(e_root))
    assert (later.size, later.root) == (l_size, bytes(l_root))
    assert (earlier.size, earlier.root) != (later.size, later.root)
    return earlier, later


@pytest.fixture
def sqlite_log(tmp_path: Path) -> LogCopy:
    return new_log(f"sqlite:///{tmp_path / 'log.sqlite3'}", tmp_path / "log.key")


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database("crosslab_monitor") as url:
        yield url


# -- an honest log --------------------------------------------------------------------------------
def test_an_honest_log_followed_over_several_appends_gives_no_alarm_and_every_checkpoint_is_kept(
        sqlite_log: LogCopy, tmp_path: Path):
    key, state = sqlite_log.verifier_key(), tmp_path / "monitor.db"
    sizes = []
    with serving(sqlite_log) as url:
        for batch in (0, 1, 3, 300, 2):  # 306 leaves: two entry tiles, the second partial
            note = append(sqlite_log, leaves(f"honest{batch}", batch))
            sizes.append(Checkpoint.parse(note, key).size)
            result = monitor(url, key, state, "--once", "--entries")
            assert result.returncode == 0, result.stderr
            assert f"size {sizes[-1]} root" in result.stdout and "first seen" in result.stdout
        again = monitor(url, key, state, "--once", "--entries")  # a restart remembers what it held
    assert again.returncode == 0, again.stderr
    assert "already held" in again.stdout and "first seen" not in again.stdout
    rows = held(state)
    assert [s for s, *_ in rows] == sizes == [0, 1, 4, 304, 306]
    assert all(c == 1 for *_, c in rows)
    for size, root, note, _ in rows:
        assert (Checkpoint.parse(note, key).size, Checkpoint.parse(note, key).root) == (size, root)
    assert split_rows(state) == []
    with sqlite3.connect(state) as db:  # --entries recomputed the root from every leaf
        assert db.execute("SELECT size FROM frontier").fetchone() == (306,)


def test_interval_mode_prints_one_line_per_new_checkpoint(sqlite_log: LogCopy, tmp_path: Path):
    key, state = sqlite_log.verifier_key(), tmp_path / "monitor.db"
    with serving(sqlite_log) as url:
        proc = subprocess.Popen([sys.executable, "-m", "crosslab", "monitor", "--log", url, "--log-key", key,
                                 "--state", str(state), "--interval", "0.1"], cwd=REPO, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = proc.stdout.readline()
            append(sqlite_log, leaves("tick", 2))
            second = proc.stdout.readline()
        finally:
            proc.terminate()
            proc.wait(20)
    assert first.startswith("size 0 root") and "first seen" in first
    assert second.startswith("size 2 root") and "consistent with size 0" in second
    assert [s for s, *_ in held(state)] == [0, 2]


# -- case (a): a fork ---------------------------------------------------------------------------------
@pytest.mark.parametrize("b_appends, kind", [(2, "same-size"), (3, "inconsistent"), (1, "shrunk")])
def test_a_forked_log_is_reported_as_a_split_view_with_both_notes_kept(
        sqlite_log: LogCopy, tmp_path: Path, b_appends: int, kind: str):
    append(sqlite_log, leaves("common", 3))
    other = fork(sqlite_log, f"sqlite:///{tmp_path / 'fork.sqlite3'}")
    append(sqlite_log, leaves("view-a", 2))
    append(other, leaves("view-b", b_appends))
    key, state = sqlite_log.verifier_key(), tmp_path / "monitor.db"
    with serving(sqlite_log) as url_a, serving(other) as url_b:
        seen_a = monitor(url_a, key, state, "--once")
        assert seen_a.returncode == 0, seen_a.stderr
        seen_b = monitor(url_b, key, state, "--once")
        again = monitor(url_b, key, state, "--once")  # still served: still reported, evidence not doubled
    assert seen_b.returncode == SPLIT_VIEW, seen_b.stderr
    [line] = seen_b.stderr.strip().splitlines()
    assert f"split view ({kind})" in line and str(state) in line
    earlier, later = assert_evidence(state, kind, key)
    assert (earlier.size, later.size) == (5, 3 + b_appends)
    for cp in (earlier, later):  # the line names both sizes and both roots
        assert f"size {cp.size}" in line and base64.b64encode(cp.root).decode() in line
    assert again.returncode == SPLIT_VIEW and len(split_rows(state)) == 1
    flags = [c for *_, c in held(state)]  # the fork's checkpoint is held, marked inconsistent
    assert flags == ([1, 0] if later.size >= 5 else [0, 1])


# -- case (b): history rewritten behind the registry's back -----------------------------------------
@pytest.mark.parametrize("backend, appended_after, kind", [
    ("sqlite", 0, "same-size"), ("sqlite", 1, "inconsistent"), ("postgresql", 1, "inconsistent")])
def test_a_history_rewritten_and_resigned_is_reported_as_a_split_view(
        request, tmp_path: Path, backend: str, appended_after: int, kind: str):
    url_db = f"sqlite:///{tmp_path / 'log.sqlite3'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    log = new_log(url_db, tmp_path / "log.key", leaves("history", 5))
    key, state = log.verifier_key(), tmp_path / "monitor.db"
    with serving(log) as url:
        assert monitor(url, key, state, "--once").returncode == 0
    rewrite_entry(log, 1, b"what we wish we had published")
    if appended_after:
        append(log, leaves("after", appended_after))
    with serving(log) as url:  # the start-up check passes: the operator re-signed
        result = monitor(url, key, state, "--once")
    assert result.returncode == SPLIT_VIEW, result.stderr
    assert f"split view ({kind})" in result.stderr
    earlier, later = assert_evidence(state, kind, key)
    assert earlier.size == 5 and later.size == 5 + appended_after and earlier.root != later.root


def test_entries_edited_under_a_running_log_are_caught_by_recomputing_the_root(sqlite_log: LogCopy, tmp_path: Path):
    key, state = sqlite_log.verifier_key(), tmp_path / "monitor.db"
    append(sqlite_log, leaves("first", 4))
    with serving(sqlite_log) as url:
        assert monitor(url, key, state, "--once", "--entries").returncode == 0
        append(sqlite_log, leaves("second", 3))
        edit_entry_only(sqlite_log, 5, b"not what the root commits to")
        plain = monitor(url, key, tmp_path / "plain.db", "--once")  # proofs come from the untouched hashes
        result = monitor(url, key, state, "--once", "--entries")
    assert plain.returncode == 0, plain.stderr
    assert result.returncode == SPLIT_VIEW, result.stderr
    assert "split view (entries)" in result.stderr and "hash to" in result.stderr
    earlier, later = assert_evidence(state, "entries", key)
    assert (earlier.size, later.size) == (4, 7)


# -- logs that cannot be judged ---------------------------------------------------------------------
class StaticLog:
    """A loopback HTTP server answering fixed bytes per path (404 elsewhere): a log that misanswers."""

    def __init__(self, routes: dict[str, bytes]) -> None:
        self.routes = routes

    @contextmanager
    def serve(self) -> Iterator[str]:
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server interface
                body = routes.get(self.path.split("?")[0])
                self.send_response(404 if body is None else 200)
                self.send_header("content-length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


def signed(key: LogKey, size: int, root: bytes = b"\x07" * 32) -> bytes:
    return key.sign_note(Checkpoint(key.name, size, root).body())


def test_a_log_that_is_down_is_an_error_not_a_split_view(tmp_path: Path):
    key = LogKey.generate("down.example/log").verifier_key()
    result = monitor(f"http://127.0.0.1:{free_port()}", key, tmp_path / "monitor.db", "--once")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "cannot check the log (no split view claimed)" in line and "unreachable" in line
    assert "Traceback" not in result.stderr and split_rows(tmp_path / "monitor.db") == []


@pytest.mark.parametrize("served, expected", [
    (b"this is not a checkpoint\n", "does not verify: signed note has no blank line"),
    (b"\xff\xfe garbage", "not valid UTF-8"),
    (None, "is not signed by"),  # a well-formed note, signed by another key
])
def test_a_malformed_or_unsigned_checkpoint_is_an_error_not_a_split_view(tmp_path: Path, served, expected):
    key = LogKey.generate("garbage.example/log")
    note = signed(LogKey.generate("garbage.example/log"), 3) if served is None else served
    with StaticLog({"/checkpoint": note}).serve() as url:
        result = monitor(url, key.verifier_key(), tmp_path / "monitor.db", "--once")
    assert result.returncode == 1, result.stdout
    [line] = result.stderr.strip().splitlines()
    assert "no split view claimed" in line and expected in line
    assert held(tmp_path / "monitor.db") == []


def test_a_garbage_consistency_proof_is_an_error_and_the_checkpoint_is_not_held(tmp_path: Path):
    key, state = LogKey.generate("proofs.example/log"), tmp_path / "monitor.db"
    with StaticLog({"/checkpoint": signed(key, 2)}).serve() as url:
        assert monitor(url, key.verifier_key(), state, "--once").returncode == 0
    routes = {"/checkpoint": signed(key, 5, b"\x09" * 32), "/api/v1/proofs/consistency": b"<html>oops</html>"}
    with StaticLog(routes).serve() as url:
        result = monitor(url, key.verifier_key(), state, "--once")
    assert result.returncode == 1
    assert "no split view claimed" in result.stderr and "not JSON" in result.stderr
    assert [s for s, *_ in held(state)] == [2] and split_rows(state) == []


def test_witness_cosignatures_are_required_when_witness_keys_are_given(tmp_path: Path):
    key, witness, stranger = (LogKey.generate("w.example/log"), WitnessKey.generate("witness-1"),
                              WitnessKey.generate("witness-2"))
    body = Checkpoint(key.name, 1, b"\x05" * 32).body()
    bare = key.sign_note(body)
    args = ("--once", "--witness-key", witness.verifier_key())
    with StaticLog({"/checkpoint": bare + stranger.cosign(body)}).serve() as url:
        refused = monitor(url, key.verifier_key(), tmp_path / "a.db", *args)
    with StaticLog({"/checkpoint": bare + witness.cosign(body)}).serve() as url:
        accepted = monitor(url, key.verifier_key(), tmp_path / "b.db", *args)
    assert refused.returncode == 1 and "0 cosignature(s) from trusted witnesses; 1 required" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert [s for s, *_ in held(tmp_path / "b.db")] == [1]


def test_a_state_file_is_bound_to_one_log_and_bad_arguments_get_one_line(tmp_path: Path):
    state = tmp_path / "monitor.db"
    first, second = LogKey.generate("one.example/log"), LogKey.generate("two.example/log")
    with StaticLog({"/checkpoint": signed(first, 1)}).serve() as url:
        assert monitor(url, first.verifier_key(), state, "--once").returncode == 0
        other = monitor(url, second.verifier_key(), state, "--once")
        bad_key = monitor(url, "not-a-key", state, "--once")
        both = monitor(url, first.verifier_key(), state, "--once", "--interval", "1")
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    junk = monitor("http://127.0.0.1:1", first.verifier_key(), tmp_path / "junk.db", "--once")
    for result, expected in ((other, "follows the log with key"), (bad_key, "--log-key"),
                             (both, "exclude each other"), (junk, "cannot be used")):
        assert result.returncode == 2, (expected, result.stderr)
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr
