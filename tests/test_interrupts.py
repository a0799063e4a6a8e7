"""Ctrl-C and SIGTERM end a run with one clear line and a resume command; nothing finished is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from tests.support.engine_runs import ok_ids
from tests.support.loopback_server import running_server


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_says_how_to_resume_and_resumes(tmp_path: Path, sig: signal.Signals) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"id": f"q{i}", "input": f"question {i}"}) + "\n" for i in range(30)))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["OPENAI_API_KEY"] = "loopback-key"
    with running_server(latency=0.2) as srv:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crosslab", "run", "--items", str(items), "--target", "openai:loopback",
             "--base-url", srv.url + "/v1", "--concurrency", "1", "--no-cache", "--out", str(tmp_path / "runs")],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while True:
            journals = list((tmp_path / "runs").glob("*/journal.sqlite"))
            try:
                if journals and len(ok_ids(journals[0])) >= 2:
                    break
            except Exception:  # noqa: BLE001 - the journal's tables appear a moment after its file
                pass
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        done_before = ok_ids(journals[0])
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert f"interrupted; finished samples are saved. Resume with: crosslab run --resume {journals[0].parent}" \
            in " ".join(err.split())
        resumed = run_cli("run", "--resume", str(journals[0].parent), "--no-cache", "--quiet",
                          env={"OPENAI_API_KEY": "loopback-key"})
        assert resumed.returncode == 0, resumed.stderr
        served = srv.stats()["ok"]
    assert len(ok_ids(journals[0])) == 30
    sent = [served[f"question {i}"] for i in range(30)]  # the preflight's "Reply with the word OK." aside
    assert min(sent) == 1 and sum(sent) <= 30 + 1  # at most the sample in flight at the signal was sent again
    assert len(done_before) >= 2
