"""SIGKILL during appends loses no committed entry and leaves a log that passes its start-up check.

A real child process appends in a loop (single entries and batches), prints
each index only after its transaction committed, and publishes checkpoints
now and then. The parent kills it with SIGKILL right after it announces an
append (so the kill lands inside a transaction, or between its commit and the
print), restarts it, and kills it again. After each kill: the start-up check
passes, every printed index holds exactly the printed entry, and the log is
dense (entries committed but not yet printed are allowed; they are whole).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from contextlib import nullcontext

import pytest

from crosslab.registry.tlog import Checkpoint, LogKey, TransparencyLog, verify_consistency
from tests.support.independent_tlog import BACKENDS, engine_for, migrated_url, pg_database

ORIGIN = "registry.example/kill-test"
ROUNDS = 2
MIN_PRINTED = 40  # commits seen before the parent starts looking for a moment to kill

CHILD = r"""
import sys
from crosslab.registry import db
from crosslab.registry.tlog import LogKey, TransparencyLog

url, key_path, origin, tag = sys.argv[1:5]
engine = db.make_engine(url)
log = TransparencyLog(engine, LogKey.load(key_path), origin)
log.check_on_start()
print("ready", log.size(), flush=True)
i = 0
while True:
    n = 1 if i % 2 else 1 + i % 40
    batch = [f"{tag}-{i}-{j}".encode() for j in range(n)]
    print("appending", flush=True)
    with db.begin_write(engine) as conn:
        indexes = log.append_many(conn, batch)
    for index, entry in zip(indexes, batch):
        print("committed", index, entry.decode(), flush=True)
    if i % 7 == 0:
        log.publish_checkpoint()
    i += 1
"""


def _run_until_killed(url: str, key_path: str, tag: str) -> tuple[int, dict[int, bytes]]:
    """Start the child, SIGKILL it mid-append; (size at its start, {index: entry} it printed)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, key_path, ORIGIN, tag],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    printed: dict[int, bytes] = {}
    start_size = -1
    deadline = time.monotonic() + 60
    try:
        while True:
            ready, _, _ = select.select([child.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = child.stdout.readline() if ready else ""
            if not line:
                raise AssertionError(f"child stopped or hung before it was killed: {child.stderr.read()[-2000:]}")
            word, *rest = line.split()
            if word == "ready":
                start_size = int(rest[0])
            elif word == "committed":
                printed[int(rest[0])] = rest[1].encode()
            elif word == "appending" and len(printed) >= MIN_PRINTED:
                os.kill(child.pid, signal.SIGKILL)  # inside append_many, or committing, or just after
                break
    finally:
        if child.poll() is None:
            child.kill()
        rest_out, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    for line in rest_out.splitlines():  # printed after a commit, before the kill
        word, *rest = line.split()
        if word == "committed" and len(rest) == 2:
            printed[int(rest[0])] = rest[1].encode()
    return start_size, printed


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_during_appends_loses_nothing_committed(backend, tmp_path):
    key = LogKey.generate(ORIGIN)
    key_path = str(key.save(tmp_path / "log.key"))
    with pg_database("crosslab_test_tlog_kill") if backend == "postgresql" else nullcontext() as pg_name:
        url = migrated_url(backend, tmp_path, pg_name)
        acknowledged: dict[int, bytes] = {}
        previous_size = 0
        for round_ in range(ROUNDS):
            start_size, printed = _run_until_killed(url, key_path, f"round{round_}")
            assert start_size == previous_size  # the restarted child passed its check and saw everything
            assert len(printed) >= MIN_PRINTED
            acknowledged.update(printed)
            with engine_for(url) as engine:
                log = TransparencyLog(engine, LogKey.load(key_path), ORIGIN)
                size = log.check_on_start()
                assert size >= max(acknowledged) + 1
                for index, entry in acknowledged.items():
                    assert log.entry(index) == entry, index
                for index in range(previous_size, size):  # committed but maybe never printed: still whole
                    assert log.entry(index).startswith(f"round{round_}-".encode())
                old = Checkpoint.parse(log.latest_checkpoint(), key.verifier)
                new = Checkpoint.parse(log.publish_checkpoint(), key.verifier)
                assert new.size == size and old.size <= size
                assert verify_consistency(old.size, new.size, old.root, new.root,
                                          log.consistency_proof(old.size, new.size))
                assert TransparencyLog(engine, key, ORIGIN).check_on_start() == size
            previous_size = size
