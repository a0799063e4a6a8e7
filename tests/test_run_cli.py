"""`crosslab run` end to end on the calibration baselines (fast, no model)."""

import json
from pathlib import Path

from conftest import REPO, run_cli

from crosslab.engine.journal import Journal


def write_items(path: Path) -> Path:
    rows = [
        {"id": "echo-paris", "input": "Please say Paris.", "target": "Paris"},
        {"id": "echo-tokyo", "input": "Please say tokyo.", "target": "Tokyo"},
        {"id": "no-echo", "input": "What is the capital of Italy?", "target": "Rome"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def only_run(out: Path) -> Path:
    [run_dir] = list(out.iterdir())
    return run_dir


def test_baselines_calibrate_the_includes_grader(tmp_path: Path, cache_dir: Path):
    items = write_items(tmp_path / "items.jsonl")
    passed = {}
    for baseline in ("comply-all", "refuse-all"):
        out = tmp_path / baseline
        result = run_cli("run", "--items", str(items), "--target", f"baseline:{baseline}", "--epochs", "2",
                         "--out", str(out), "--cache-dir", str(cache_dir), "--quiet")
        assert result.returncode == 0, result.stderr
        journal = Journal.open(only_run(out))
        records = list(journal.records())
        assert len(records) == 6 and all(r["status"] == "ok" for r in records)
        assert len({r["sample_id"] for r in records}) == 6
        verdicts = journal.verdicts()
        passed[baseline] = sorted(r["item_id"] for r in records
                                  if verdicts[r["sample_id"]]["includes"]["label"] == "pass")
        assert journal.verify_hashes() == []
    # comply-all restates the request, so exactly the two items whose answer is in the question pass
    assert passed["comply-all"] == ["echo-paris", "echo-paris", "echo-tokyo", "echo-tokyo"]
    assert passed["refuse-all"] == []


def test_summary_table_and_resume_of_a_finished_run(tmp_path: Path, cache_dir: Path):
    out = tmp_path / "runs"
    first = run_cli("run", "--suite", "smoke", "--target", "baseline:refuse-all", "--out", str(out),
                    "--cache-dir", str(cache_dir), "--quiet")
    assert first.returncode == 0, first.stderr
    assert "all" in first.stdout and "12" in first.stdout and "journal:" in first.stdout
    run_dir = only_run(out)
    again = run_cli("run", "--resume", str(run_dir), "--quiet", "--cache-dir", str(cache_dir))
    assert again.returncode == 0, again.stderr
    assert "resumed, 12 already done" in again.stdout
    assert len(list(Journal.open(run_dir).records())) == 12


def test_readme_test_command_is_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```bash\n")[1:]]
    setup = [b for b in blocks if "pip install" in b]
    assert len(setup) == 2, "the README must hold exactly two set-up commands"
    test_command = next(b for b in setup if "pytest" in b)
    assert test_command in ci.splitlines()
