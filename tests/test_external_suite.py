"""An external suite package, installed the way a user installs one, is discovered, run and graded.

tests/example_suite is a real package (pyproject.toml, hatchling, one data file,
one grader, an entry point in ``crosslab.suites``). It is installed into a
temporary directory, never into the test environment, and put on PYTHONPATH of
fresh interpreters only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, run_cli

from crosslab.engine.journal import Journal
from tests.support.install import pip_install

EXAMPLE = REPO / "tests" / "example_suite"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    pip_install(EXAMPLE, target)
    return target


def labels_by_item(out: Path) -> dict[str, tuple[str, str, str]]:
    [run_dir] = list(out.iterdir())
    journal = Journal.open(run_dir)
    verdicts = journal.verdicts()
    found = {}
    for record in journal.records():
        assert record["status"] == "ok"
        v = verdicts[record["sample_id"]]["example_mentions"]
        found[record["item_id"]] = (v["label"], v["grader"], v["version"])
    journal.close()
    return found


def test_the_package_is_installed_with_its_entry_point_and_data(installed: Path):
    [dist] = installed.glob("crosslab_example_suite-*.dist-info")
    assert "[crosslab.suites]\nexample = crosslab_example_suite:SUITE" in (dist / "entry_points.txt").read_text()
    assert (installed / "crosslab_example_suite" / "items.jsonl").is_file()


def test_crosslab_suites_lists_it(installed: Path):
    env = {"PYTHONPATH": str(installed), "COLUMNS": "250"}
    listed = run_cli("suites", env=env)
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if "│ example " in line]
    assert "│ 2 " in row and "External example suite" in row
    assert "│ example " not in run_cli("suites", env={"COLUMNS": "250"}).stdout  # only when installed


@pytest.mark.parametrize("baseline, expected", [
    # comply-all restates the request, so only the item whose question holds the word mentions it
    ("comply-all", {"example-echo": "mentioned", "example-recall": "missing"}),
    ("refuse-all", {"example-echo": "missing", "example-recall": "missing"}),
])
def test_crosslab_run_grades_it(installed: Path, tmp_path: Path, baseline: str, expected: dict[str, str]):
    out = tmp_path / "runs"
    result = run_cli("run", "--suite", "example", "--target", f"baseline:{baseline}", "--out", str(out),
                     "--cache-dir", str(tmp_path / "cache"), "--quiet",
                     env={"PYTHONPATH": str(installed), "COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    assert "example" in result.stdout and "echo" in result.stdout
    assert labels_by_item(out) == {k: (v, "example_mentions", "2") for k, v in expected.items()}


def test_a_function_target_runs_it_from_python(installed: Path, tmp_path: Path):
    script = textwrap.dedent(f"""
        import asyncio, json
        from pathlib import Path
        from crosslab import FunctionTarget
        from crosslab.run.session import RunConfig, create_journal, execute_run
        from crosslab.suites.registry import get_suite

        def marmalade_fan(messages):
            return "Marmalade, of course."

        suite = get_suite("example")
        target = FunctionTarget(marmalade_fan)
        config = RunConfig(target.deployment, suite.items(), {{"suite": suite.name}})
        journal = create_journal(Path({str(tmp_path / "runs")!r}), config)
        summary = asyncio.run(execute_run(config, target, journal, cache=None, environments=suite.environments))
        print(json.dumps([summary.ok, summary.errors, target.deployment.label]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**_env(), "PYTHONPATH": str(installed)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [2, 0, "function:__main__:marmalade_fan"]
    assert labels_by_item(tmp_path / "runs") == {"example-echo": ("mentioned", "example_mentions", "2"),
                                                 "example-recall": ("mentioned", "example_mentions", "2")}


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}


def _fake_distribution(site: Path, name: str, entry: str, module: str, source: str) -> None:
    """A minimal installed distribution (dist-info + module), enough for entry-point discovery."""
    dist = site / f"{name}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[crosslab.suites]\n{entry}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


DISCOVER = ("from crosslab.suites.registry import discover\n"
            "try:\n    print(sorted(discover()))\nexcept Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n")


def _discover(site: Path) -> str:
    result = subprocess.run([sys.executable, "-c", DISCOVER], capture_output=True, text=True, timeout=120,
                            env={**_env(), "PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_discovery_takes_a_function_returning_a_suite(tmp_path: Path):
    _fake_distribution(tmp_path, "lazy_suite", "lazy = lazy_suite:make", "lazy_suite", """
        from crosslab import Suite
        def make():
            return Suite("lazy", "built on demand", "crosslab.suites.smoke")
    """)
    found = _discover(tmp_path)
    assert "'lazy'" in found and "'smoke'" in found


@pytest.mark.parametrize("source, message", [
    ("SUITE = 42\n", "does not give a Suite"),
    ("from crosslab import Suite\nSUITE = Suite('smoke', 'a second smoke', 'crosslab.suites.smoke')\n",
     "'smoke' from 'bad_suite:SUITE' is already installed"),
])
def test_discovery_rejects_bad_entry_points(tmp_path: Path, source: str, message: str):
    _fake_distribution(tmp_path, "bad_suite", "bad = bad_suite:SUITE", "bad_suite", source)
    found = _discover(tmp_path)
    assert found.startswith("ItemsError") and message in found
