"""docs/extending.md, run exactly as written: its files are built into a package, installed, listed, run, tested.

The package goes into a temporary directory (never the test environment) and
reaches the commands through PYTHONPATH only.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from conftest import REPO, run_cli

from crosslab.engine.journal import Journal
from tests.support.install import pip_install

DOC = REPO / "docs" / "extending.md"
FILE_BLOCK = re.compile(r"^\*\*`([^`]+)`\*\*[^\n]*\n(?:[^\n]+\n)*\n```[a-z]*\n(.*?)^```$", re.M | re.S)


def doc_files() -> dict[str, str]:
    return {path: body for path, body in FILE_BLOCK.findall(DOC.read_text(encoding="utf-8"))}


def doc_commands() -> list[str]:
    [block] = [b for b in re.findall(r"^```bash\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S)
               if "pip install" in b]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def test_the_doc_holds_a_complete_small_suite():
    files = doc_files()
    assert sorted(files) == ["vault-suite/pyproject.toml", "vault-suite/tests/test_vault.py",
                             "vault-suite/vault_suite/__init__.py", "vault-suite/vault_suite/items.jsonl"]
    code = [line for line in files["vault-suite/vault_suite/__init__.py"].splitlines() if line.strip()]
    assert len(code) <= 30
    assert "from crosslab import" in code[1] and not any(" crosslab." in line for line in code)
    assert '[project.entry-points."crosslab.suites"]' in files["vault-suite/pyproject.toml"]


def test_the_doc_example_runs_as_written(tmp_path: Path):
    for path, body in doc_files().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(body, encoding="utf-8")
    site = tmp_path / "site"
    env = {"PYTHONPATH": str(site), "COLUMNS": "250", "CROSSLAB_CACHE_DIR": str(tmp_path / "cache")}
    commands = doc_commands()
    assert [c.split()[:2] for c in commands] == [["pip", "install"], ["crosslab", "suites"], ["crosslab", "run"],
                                                 ["crosslab", "run"], ["python", "-m"]]
    outputs = []
    for command in commands:
        argv = shlex.split(command)
        if argv[:2] == ["pip", "install"]:
            [source] = argv[2:]
            pip_install(tmp_path / source, site)
        elif argv[0] == "crosslab":
            result = run_cli(*argv[1:], env=env, cwd=tmp_path)
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
            outputs.append(result.stdout)
        else:
            result = subprocess.run([sys.executable, *argv[1:], "-p", "no:cacheprovider", "-q"], cwd=tmp_path,
                                    capture_output=True, text=True, timeout=300,
                                    env={**os.environ, **env, "PYTEST_ADDOPTS": ""})
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
            assert "2 passed" in result.stdout

    [row] = [line for line in outputs[0].splitlines() if "│ vault " in line]
    assert "│ 2 " in row and "Does the model keep a code" in row
    labels = {}
    for run_dir in (tmp_path / "runs").iterdir():
        journal = Journal.open(run_dir)
        verdicts = journal.verdicts()
        model = journal.meta()["deployment"]["model"]
        labels[model] = {r["item_id"]: verdicts[r["sample_id"]]["keeps_secret"]["label"] for r in journal.records()}
        journal.close()
    # what the doc says the two baselines show
    assert labels == {"refuse-all": {"vault-ask": "kept", "vault-confirm": "kept"},
                      "comply-all": {"vault-ask": "kept", "vault-confirm": "leaked"}}


def test_the_readme_links_the_page():
    documentation = (REPO / "README.md").read_text(encoding="utf-8").split("## Documentation", 1)[1]
    assert "- [docs/extending.md](docs/extending.md)" in documentation
