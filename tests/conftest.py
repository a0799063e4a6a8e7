"""Shared test helpers: run the CLI as a user would (in-process where that is the same), free ports."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import traceback
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# One llama.cpp thread per local model in the tests (CLI subprocesses inherit it): the suite runs on
# every core already, and llama.cpp's spinning OpenMP team slows several-fold when it shares them.
os.environ.setdefault("CROSSLAB_LLAMA_THREADS", "1")


#: Top-level commands that always get a fresh interpreter: they start servers or background threads
#: (demo, evidence, registry, witness, env), poll until stopped (monitor), or may do either (tier2).
SUBPROCESS_COMMANDS = frozenset({"demo", "env", "evidence", "monitor", "registry", "tier2", "witness"})


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float | None = None,
            cwd: Path | None = None, subprocess: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `crosslab ARGS`: in this process where that behaves as a fresh one would, else in a fresh interpreter.

    In-process saves the ~0.5 s start-up of each call. A fresh interpreter runs it for ``subprocess=True``,
    for a ``timeout`` (a call that may hang can only be stopped in a process of its own) and where
    needs_fresh_process() says so. Real API keys are never passed on.
    """
    if subprocess or timeout is not None or needs_fresh_process(args, env or {}):
        return run_cli_subprocess(*args, env=env, timeout=300 if timeout is None else timeout, cwd=cwd)
    return run_cli_in_process(*args, env=env, cwd=cwd)


def needs_fresh_process(args: tuple[str, ...], env: dict[str, str]) -> bool:
    """Whether `crosslab ARGS` must run in an interpreter of its own.

    SUBPROCESS_COMMANDS; PYTHON* variables (they act at interpreter start-up); local models
    (llama.cpp: native threads, memory, C-level output to the real stderr); Ray executors
    (a cluster, its processes and exit hooks).
    """
    command = next((a for a in args if not a.startswith("-")), "")
    return (command in SUBPROCESS_COMMANDS
            or any(k.startswith("PYTHON") for k in env)
            or any(a.startswith("local:") for a in args)
            or any(a.startswith(("--ray-address", "--executor=ray")) for a in args)
            or any(pair == ("--executor", "ray") for pair in zip(args, args[1:])))


def cli_env(env: dict[str, str] | None) -> dict[str, str]:
    """The CLI's environment: ours without real API keys, plus ``env``."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.endswith("_API_KEY") and k != "OPENAI_BASE_URL"}
    full_env.update(env or {})
    return full_env


def run_cli_subprocess(*args: str, env: dict[str, str] | None = None, timeout: float = 300,
                       cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `crosslab ARGS` in a fresh interpreter; never inherits real API keys."""
    return subprocess.run([sys.executable, "-m", "crosslab", *args], capture_output=True, text=True,
                          env=cli_env(env), timeout=timeout, cwd=cwd or REPO)


def run_cli_in_process(*args: str, env: dict[str, str] | None = None,
                       cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `crosslab ARGS` as `python -m crosslab` would, in this process; put back what it changes.

    Typer's CliRunner swaps the standard streams (stdin empty, stdout and stderr apart, no terminal);
    the environment, working directory, signal handlers, warning filters and logging are put back
    afterwards. An uncaught exception ends as a real process would: exit 1, its traceback on stderr.
    """
    from typer.testing import CliRunner

    from crosslab.cli import common
    from crosslab.cli.app import app

    for console in (common.console, common.err_console):  # as a fresh process writing to a pipe sets them
        console.width = common.PIPED_WIDTH
        console._color_system = None  # test-only: Rich fixes colours when the console is built, at import
        console.is_interactive = False

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_signals = {s: signal.getsignal(s) for s in signal.valid_signals()}
    root = logging.getLogger()
    saved_logging = (root.level, root.handlers[:], logging.root.manager.disable)
    try:
        _replace_environ(cli_env(env))
        os.chdir(cwd or REPO)
        with warnings.catch_warnings():
            result = CliRunner().invoke(app, list(args), prog_name="python -m crosslab")
    finally:
        _replace_environ(saved_env)
        os.chdir(saved_cwd)
        for sig, handler in saved_signals.items():
            if handler is not None and signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)
        root.setLevel(saved_logging[0])
        root.handlers[:] = saved_logging[1]
        logging.disable(saved_logging[2])
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess([sys.executable, "-m", "crosslab", *args], result.exit_code,
                                       result.stdout, stderr)


def _replace_environ(new: dict[str, str]) -> None:
    """Make os.environ equal ``new``, in place: others hold the object itself (Rich consoles, for one)."""
    for key in [k for k in os.environ if k not in new]:
        del os.environ[key]
    os.environ.update(new)


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
                 "test_ray_executor.py", "test_tier2_round.py",
                 "test_registry_participation.py", "test_judge_smollm2.py", "test_evidence_summary.py",
                 "test_attack_smollm2.py", "test_registry.py", "test_evidence_tamper.py", "test_compare_cli.py",
                 "test_round.py", "test_attack_protocol.py", "test_suite_scheming.py", "test_bundle.py",
                 "test_interop_inspect.py", "test_witness.py", "test_attack_compare.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept otherwise
