"""`crosslab compare` and `crosslab plan` on real journals."""

import json
from pathlib import Path

import pytest
from conftest import run_cli


def write_items(path: Path) -> Path:
    rows = []
    for i in range(30):  # comply-all restates these, so it passes them
        rows.append({"id": f"echo-{i}", "input": f"Say the word token{i}.", "target": f"token{i}",
                     "category": "echo", "slice": "easy" if i < 15 else "hard"})
    for i in range(10):
        rows.append({"id": f"plain-{i}", "input": f"Name a colour ({i}).", "target": "vermilion",
                     "category": "plain"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_run(tmp_path: Path, items: Path, target: str, epochs: int = 1) -> Path:
    out = tmp_path / f"{target.replace(':', '-')}-{epochs}"
    result = run_cli("run", "--items", str(items), "--target", target, "--epochs", str(epochs), "--out", str(out),
                     "--no-cache", "--quiet")
    assert result.returncode == 0, result.stderr
    [run_dir] = list(out.iterdir())
    return run_dir


def compare_json(a: Path, b: Path, *extra: str) -> dict:
    result = run_cli("compare", str(a), str(b), "--json", "--resamples", "2000", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def rows_by_key(report: dict) -> dict:
    return {(r["category"], r["slice"]): r for r in report["rows"]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    items = write_items(tmp / "items.jsonl")
    return {
        "comply": make_run(tmp, items, "baseline:comply-all"),
        "refuse": make_run(tmp, items, "baseline:refuse-all"),
        "comply3": make_run(tmp, items, "baseline:comply-all", epochs=3),
        "refuse3": make_run(tmp, items, "baseline:refuse-all", epochs=3),
    }


def test_clear_difference_is_found_with_exact_methods(runs):
    report = compare_json(runs["comply"], runs["refuse"])
    rows = rows_by_key(report)
    overall = rows[("all", "all")]
    assert overall["n_pairs"] == 40
    assert overall["a"]["estimate"] == pytest.approx(0.75) and overall["b"]["estimate"] == 0.0
    assert overall["difference"]["estimate"] == pytest.approx(0.75)
    assert overall["verdict"] == "better" and overall["p_adjusted"] < 1e-6
    assert "Wilson" in overall["a"]["method"] and "McNemar" in overall["difference"]["method"]
    # refuse-all passes nothing: its rate is also given as an exact rare-event bound
    assert overall["rare_event_bound_b"]["text"] == "0/40, ≤ 7.2 % (95 %)"
    assert overall["rare_event_bound_a"] is None
    # no difference where neither passes; adjusted p is never below raw p
    assert rows[("plain", "all")]["verdict"] == "no detectable difference"
    for row in report["rows"]:
        assert row["p_adjusted"] >= row["difference"]["p_value"]
    assert {("echo", "easy"), ("echo", "hard"), ("echo", "all")} <= set(rows)
    reverse = rows_by_key(compare_json(runs["refuse"], runs["comply"]))
    assert reverse[("all", "all")]["verdict"] == "worse"


def test_a_run_against_itself_shows_no_difference(runs):
    for row in compare_json(runs["comply"], runs["comply"])["rows"]:
        assert row["difference"]["estimate"] == 0.0 and row["difference"]["p_value"] == 1.0
        assert row["verdict"] == "no detectable difference"


def test_epochs_switch_to_the_cluster_bootstrap(runs):
    report = compare_json(runs["comply3"], runs["refuse3"], "--correction", "bh", "--min-effect", "0.9")
    overall = rows_by_key(report)[("all", "all")]
    assert overall["n_pairs"] == 120
    assert "bootstrap" in overall["a"]["method"] and "bootstrap" in overall["difference"]["method"]
    assert report["correction"] == "bh"
    assert overall["verdict"] == "below minimum effect"  # 0.75 is significant but smaller than 0.9
    echo = rows_by_key(report)[("echo", "all")]
    assert echo["verdict"] == "better" and echo["difference"]["estimate"] == pytest.approx(1.0)


def test_a_slice_of_one_item_with_epochs_gets_no_verdict(tmp_path: Path):
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "solo", "input": "Say solo.", "target": "solo", "category": "one"}\n'
                     '{"id": "x1", "input": "Say x1.", "target": "x1", "category": "two"}\n'
                     '{"id": "x2", "input": "Say x2.", "target": "x2", "category": "two"}\n')
    comply = make_run(tmp_path, items, "baseline:comply-all", epochs=2)
    refuse = make_run(tmp_path, items, "baseline:refuse-all", epochs=2)
    rows = rows_by_key(compare_json(comply, refuse))
    solo = rows[("one", "all")]
    assert solo["n_pairs"] == 2 and solo["verdict"] == "too few items" and solo["difference"] is None
    assert rows[("two", "all")]["difference"]["estimate"] == 1.0


def test_table_output_and_bad_input(runs, tmp_path: Path):
    result = run_cli("compare", str(runs["comply"]), str(runs["refuse"]))
    assert result.returncode == 0, result.stderr
    assert "better" in result.stdout and "Holm" in result.stdout and "0/40, ≤ 7.2 %" in result.stdout
    bad = run_cli("compare", str(runs["comply"]), str(tmp_path / "nope"))
    assert bad.returncode == 2 and "cannot read run" in bad.stderr
    bad = run_cli("compare", str(runs["comply"]), str(runs["refuse"]), "--correction", "bonferroni")
    assert bad.returncode == 2 and "holm or bh" in bad.stderr


def test_plan_answers_the_protocol_questions():
    result = run_cli("plan", "--rate", "0.01", "--power", "0.8")
    assert result.returncode == 0 and "161 rollouts" in result.stdout
    result = run_cli("plan", "--rollouts", "300")
    assert result.returncode == 0 and "≤ 0.99%" in result.stdout
    result = run_cli("plan", "--rate-a", "0.30", "--rate-b", "0.20")
    assert result.returncode == 0 and "samples per target" in result.stdout
    assert run_cli("plan").returncode == 2


@pytest.mark.slow
def test_two_deployments_of_the_embedded_model(tmp_path: Path):
    runs = []
    for name, prefix in (("plain", None), ("careful", "Answer in as few words as possible.")):
        out = tmp_path / name
        args = ["run", "--suite", "smoke", "--limit", "6", "--target", "local:smollm2", "--max-tokens", "32", "--no-cache",
                "--quiet", "--out", str(out)]
        if prefix:
            args += ["--system-prefix", prefix]
        assert run_cli(*args).returncode == 0
        [run_dir] = list(out.iterdir())
        runs.append(run_dir)
    report = compare_json(*runs)
    overall = rows_by_key(report)[("smoke", "all")]
    assert overall["n_pairs"] == 6 and report["a"]["digest"] != report["b"]["digest"]
    assert overall["verdict"] in ("better", "worse", "no detectable difference")
