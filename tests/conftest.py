"""Shared test helpers: run the CLI in a subprocess, as a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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


#: The longest test files (seconds on 2 cores: the demo ~260, the SmolLM2 judge ~50, ...), started first:
#: with one file per xdist worker, a long file that starts last decides the whole suite's wall time.
LONGEST_FIRST = ("test_judge_smollm2.py", "test_attack_smollm2.py", "test_demo.py", "test_suite_scheming.py",
                 "test_registry_participation.py", "test_round.py", "test_evidence_summary.py",
                 "test_evidence_compare.py", "test_compare_cli.py", "test_evidence.py", "test_evidence_tamper.py",
                 "test_registry.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept otherwise
