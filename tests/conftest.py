"""Shared test helpers: run the CLI in a subprocess, as a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# One llama.cpp thread per local model in the tests (CLI subprocesses inherit it): the suite runs on
# every core already, and llama.cpp's spinning OpenMP team slows several-fold when it shares them.
os.environ.setdefault("CROSSLAB_LLAMA_THREADS", "1")


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `crosslab ARGS` in a fresh interpreter; never inherits real API keys."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.endswith("_API_KEY") and k != "OPENAI_BASE_URL"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "crosslab", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd or REPO)


def free_port() -> int:
    """A port nothing listens on right now (for servers the tests start, or to be refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


#: The longest test files (seconds of one worker on 2 cores, measured in a full run: the demo ~230, the evidence
#: worlds 60-110 each, the SmolLM2 judge and attack ~75, ...), started first: with one file per xdist worker, a
#: long file that starts last decides the whole suite's wall time. pyproject's --no-loadscope-reorder keeps
#: this order (xdist would otherwise start the files with the most tests first).
LONGEST_FIRST = ("test_demo.py", "test_evidence.py", "test_evidence_compare.py", "test_tier2_mcp.py",
                 "test_registry_participation.py", "test_judge_smollm2.py", "test_evidence_summary.py",
                 "test_attack_smollm2.py", "test_registry.py", "test_evidence_tamper.py", "test_compare_cli.py",
                 "test_round.py", "test_attack_protocol.py", "test_suite_scheming.py", "test_bundle.py",
                 "test_interop_inspect.py", "test_witness.py", "test_attack_compare.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept otherwise
