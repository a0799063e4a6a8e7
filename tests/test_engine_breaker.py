"""The circuit breaker: a target that has gone away stops the run in one line, and resuming finishes it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import free_port, run_cli

from crosslab.engine.breaker import Breaker, CircuitOpen
from crosslab.engine.journal import Journal
from tests.support.engine_runs import items, run_engine
from tests.support.loopback_server import running_server


def record(kind: str | None) -> dict:
    return {"status": "ok", "error": None} if kind is None else \
        {"status": "error", "error": {"kind": kind, "message": f"{kind} happened"}}


def test_only_an_unbroken_run_of_unreachable_errors_trips_it():
    breaker = Breaker(3)
    for kind in ("connection", "timeout", None, "server_error", "connection", "bad_request", "connection"):
        breaker.observe(record(kind))
    assert not breaker.tripped.is_set()  # a success or another kind of error resets the count
    for kind in ("timeout", "server_error"):
        breaker.observe(record(kind))
    assert breaker.tripped.is_set() and breaker.consecutive == 3
    assert str(breaker.error()) == "stopped after 3 samples in a row failed to reach the target " \
                                   "(server_error: server_error happened)"
    with pytest.raises(ValueError):
        Breaker(0)


def test_a_dead_api_stops_the_run_early_and_resuming_finishes_it(tmp_path: Path):
    dead = f"http://127.0.0.1:{free_port()}"
    the_items = items(200)
    with pytest.raises(CircuitOpen, match=r"stopped after \d+ samples in a row failed to reach the target "
                                          r"\(connection: "):
        run_engine(dead, the_items, tmp_path / "dead", concurrency=4, max_retries=1, backoff_base_s=0.01,
                   backoff_cap_s=0.02)
    [path] = (tmp_path / "dead").rglob("journal.sqlite")
    journal = Journal.open(path.parent)
    counts = journal.counts()
    journal.close()
    assert counts["ok"] == 0 and 10 <= counts["error"] < 20  # stopped at the threshold, not after 200 errors


def test_the_cli_names_the_error_and_how_to_resume_and_a_resume_completes(tmp_path: Path):
    port = free_port()
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "input": f"question {i}"}) + "\n" for i in range(40)))
    args = ["--items", str(data), "--target", "openai:loopback", "--base-url", f"http://127.0.0.1:{port}/v1",
            "--no-cache", "--out", str(tmp_path / "runs"), "-q"]
    env = {"OPENAI_API_KEY": "loopback-key"}
    down = run_cli("run", *args, "--no-preflight", "--max-retries", "0", env=env)
    assert down.returncode == 1, down.stderr
    assert re.search(r"stopped after 1\d samples in a row failed to reach the target \(connection:", down.stderr)
    assert "Finished samples are saved; when it is back, resume with: crosslab run --resume" in down.stderr
    assert "Traceback" not in down.stderr and len(down.stderr.strip().splitlines()) == 1
    [run_dir] = (tmp_path / "runs").iterdir()
    with running_server(port=port):
        resumed = run_cli("run", "--resume", str(run_dir), "-q", "--no-cache", env=env)
    assert resumed.returncode == 0, resumed.stderr
    journal = Journal.open(run_dir)
    assert journal.counts() == {"ok": 40, "error": 0}
    journal.close()


def test_samples_that_errored_make_the_run_exit_non_zero_with_a_resume_hint(tmp_path: Path):
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "input": f"question {i}"}) + "\n" for i in range(30)))
    with running_server(fault_rate=0.5, faults=["malformed"], seed=2) as srv:
        result = run_cli("run", "--items", str(data), "--target", "openai:loopback", "--base-url", srv.url + "/v1",
                         "--no-cache", "--max-retries", "0", "--out", str(tmp_path / "runs"), "-q",
                         env={"OPENAI_API_KEY": "loopback-key"})
    assert result.returncode == 1, result.stderr
    assert "samples ended in an error and are counted as errors; to retry them: crosslab run --resume" \
        in result.stderr
