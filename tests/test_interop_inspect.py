"""Inspect logs in and out, checked with Inspect itself.

Logs are written by inspect-ai in the test (its ``mockllm/model`` running a tiny
task, answering from a function so it needs no network), imported into crosslab
runs, graded, compared, and exported back; every exported log is read with
Inspect's own reader and compared sample by sample and score by score.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_cli

pytest.importorskip("inspect_ai")

from inspect_ai import Task  # noqa: E402
from inspect_ai import eval as inspect_eval  # noqa: E402
from inspect_ai.dataset import Sample  # noqa: E402
from inspect_ai.log import read_eval_log  # noqa: E402
from inspect_ai.model import ModelOutput, ModelUsage, get_model  # noqa: E402
from inspect_ai.scorer import includes  # noqa: E402
from inspect_ai.solver import generate  # noqa: E402

from crosslab.engine.journal import Journal  # noqa: E402
from crosslab.interop.inspect_export import write_inspect  # noqa: E402
from crosslab.interop.source import from_run  # noqa: E402

QUESTIONS = [("capital", "What is the capital of France?", "Paris"),
             ("greet", "Say hello to the reader.", "hello"),
             ("sum", "What is two plus two? Answer with a digit.", "4")]


def inspect_log(tmp_path: Path, answers: dict[str, str], name: str = "tiny", folder: str = "logs") -> Path:
    """Run a three-question task, two epochs, on Inspect's mock model; returns the .eval file Inspect wrote."""

    def reply(messages, tools, tool_choice, config):
        text = messages[-1].text
        out = ModelOutput.from_content(model="mockllm", content=next(a for q, a in answers.items() if q in text))
        out.usage = ModelUsage(input_tokens=len(text), output_tokens=3, total_tokens=len(text) + 3)
        return out

    task = Task(name=name, dataset=[Sample(id=i, input=q, target=t, metadata={"kind": i}) for i, q, t in QUESTIONS],
                solver=[generate()], scorer=includes())
    log_dir = tmp_path / folder
    [log] = inspect_eval(task, model=get_model("mockllm/model", custom_outputs=reply), log_dir=str(log_dir),
                         log_format="eval", display="none", epochs=2)
    assert log.status == "success", log.error
    [path] = list(log_dir.glob("*.eval"))
    return path


def input_text(value) -> str:
    return value if isinstance(value, str) else "\n".join(m.text for m in value)


GOOD = {"France": "It is Paris.", "hello": "Hello there, reader!", "two plus two": "4"}
WORSE = {"France": "It is Lyon.", "hello": "Hello there, reader!", "two plus two": "5"}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inspect")
    log = inspect_log(tmp, GOOD)
    runs = tmp / "runs"
    result = run_cli("import", "inspect", str(log), "--out", str(runs), "--tier", "public")
    assert result.returncode == 0, result.stderr
    [run_dir] = list(runs.iterdir())
    return {"tmp": tmp, "log": log, "runs": runs, "run": run_dir}


def test_import_keeps_transcripts_and_records_provenance(imported):
    original = read_eval_log(str(imported["log"]))
    journal = Journal.open(imported["run"])
    meta, records, verdicts = journal.meta(), list(journal.records()), journal.verdicts()
    journal.close()
    assert meta["imported"]["sha256"] == hashlib.sha256(imported["log"].read_bytes()).hexdigest()
    assert meta["imported"]["model"] == "mockllm/model" and meta["imported"]["task"] == original.eval.task
    assert meta["imported"]["task_id"] == original.eval.task_id and meta["epochs"] == 2
    assert len(records) == 6
    by_key = {(r["item_id"], r["epoch"]): r for r in records}
    for sample in original.samples:
        record = by_key[(str(sample.id), sample.epoch)]
        assert [(m["role"], m["content"]) for m in record["messages"]] == \
            [(m.role, m.text) for m in sample.messages]
        assert record["stats"]["usage"]["input_tokens"] == sample.model_usage["mockllm/model"].input_tokens
        assert record["inspect_scores"]["includes"]["value"] == sample.scores["includes"].value
    # our own grader graded every sample, agreeing with Inspect's includes() here
    for record in records:
        [verdict] = verdicts[record["sample_id"]].values()
        assert verdict["grader"] == "includes"
        assert verdict["score"] == (1.0 if record["inspect_scores"]["includes"]["value"] == "C" else 0.0)
    assert {v["score"] for vs in verdicts.values() for v in vs.values()} == {1.0}


def test_compare_works_on_imported_runs(imported):
    worse = inspect_log(imported["tmp"], WORSE, folder="logs-worse")
    runs = imported["tmp"] / "runs-b"
    assert run_cli("import", "inspect", str(worse), "--out", str(runs)).returncode == 0
    [run_b] = list(runs.iterdir())
    result = run_cli("compare", str(imported["run"]), str(run_b), "--json", "--resamples", "200")
    assert result.returncode == 0, result.stderr
    import json
    rows = {(r["category"], r["slice"]): r for r in json.loads(result.stdout)["rows"]}
    row = rows[("tiny", "all")]
    assert row["a"]["estimate"] == 1.0 and row["b"]["estimate"] == pytest.approx(2 / 6)


def test_export_of_a_run_reads_back_with_inspect(imported, tmp_path):
    out = tmp_path / "run.eval"
    result = run_cli("export", "inspect", str(imported["run"]), "--out", str(out))
    assert result.returncode == 0, result.stderr
    log = read_eval_log(str(out))
    journal = Journal.open(imported["run"])
    records, verdicts = list(journal.records()), journal.verdicts()
    journal.close()
    assert log.eval.model == "function/inspect:mockllm/model" and log.status == "success"
    assert len(log.samples) == len(records)
    exported = {(s.id, s.epoch): s for s in log.samples}
    for record in records:
        sample = exported[(record["item_id"], record["epoch"])]
        assert [(m.role, m.text) for m in sample.messages] == [(m["role"], m["content"]) for m in record["messages"]]
        assert sample.metadata["crosslab"]["sample_id"] == record["sample_id"]
        assert sample.output.completion == record["messages"][-1]["content"]
        [(grader, verdict)] = verdicts[record["sample_id"]].items()
        assert sample.scores[grader].value == verdict["score"]
        assert sample.scores[grader].metadata["label"] == verdict["label"]
        usage = sample.model_usage[log.eval.model]
        assert (usage.input_tokens, usage.output_tokens) == (record["stats"]["usage"]["input_tokens"],
                                                            record["stats"]["usage"]["output_tokens"])
    [score] = [s for s in log.results.scores if s.name == "tiny"]
    assert score.metrics["pass_rate"].value == 1.0 and score.metrics["samples"].value == 6
    assert 0 < score.metrics["pass_rate_low"].value < 1.0 == score.metrics["pass_rate_high"].value
    assert log.results.metadata["crosslab_metrics"]["rows"]


def test_round_trip_inspect_crosslab_inspect(imported, tmp_path):
    """Inspect log -> crosslab run -> Inspect log: the same samples, transcripts and targets."""
    original = read_eval_log(str(imported["log"]))
    back = tmp_path / "back.eval"
    write_inspect(from_run(imported["run"]), back)
    again = read_eval_log(str(back))
    def key(s): return (str(s.id), s.epoch)
    assert sorted(map(key, again.samples)) == sorted(map(key, original.samples))
    twins = {key(s): s for s in again.samples}
    for sample in original.samples:
        twin = twins[key(sample)]
        assert [(m.role, m.text) for m in twin.messages] == [(m.role, m.text) for m in sample.messages]
        assert twin.target == sample.target and input_text(twin.input) == input_text(sample.input)
        assert twin.scores["includes"].value == (1.0 if sample.scores["includes"].value == "C" else 0.0)


def test_bundle_export_writes_only_the_tiers_the_reader_may_see(tmp_path):
    from support.smoke_round import smoke_round

    world = smoke_round(tmp_path)
    out = tmp_path / "bundle.eval"
    result = run_cli("export", "inspect", str(world["bundle"]), "--keys", str(world["keys"]), "--out", str(out),
                     env=world["env"])
    assert result.returncode == 0, result.stderr
    log = read_eval_log(str(out))
    run = Journal.open(world["run"])
    records = list(run.records())
    run.close()
    public = [r for r in records if r["tier"] == "public"]
    assert len(public) < len(records)  # the smoke suite has withheld items
    assert sorted(s.metadata["crosslab"]["sample_id"] for s in log.samples) == sorted(r["sample_id"] for r in public)
    assert all(s.metadata["crosslab"]["tier"] == "public" for s in log.samples)
    withheld_ids = {r["item_id"] for r in records if r["tier"] != "public"}
    assert not withheld_ids & {s.id for s in log.samples}
    meta = log.eval.metadata["crosslab"]
    assert meta["samples_total"] == len(records) and meta["samples_left_out"] == len(records) - len(public)
    assert meta["origin"]["verified"] is True and meta["origin"]["tiers_written"] == ["public"]
    # a bundle nobody pinned keys for is refused, in one line
    result = run_cli("export", "inspect", str(world["bundle"]), "--out", str(tmp_path / "x.eval"))
    assert result.returncode == 2 and "needs --keys" in result.stderr and "Traceback" not in result.stderr


def test_bad_inputs_fail_in_one_line(tmp_path, imported):
    junk = tmp_path / "junk.eval"
    junk.write_bytes(b"not a zip file at all")
    for args in (["import", "inspect", str(junk), "--out", str(tmp_path / "r")],
                 ["import", "inspect", str(tmp_path / "absent.eval"), "--out", str(tmp_path / "r")],
                 ["import", "inspect", str(imported["log"]), "--out", str(imported["runs"])],  # already imported
                 ["export", "inspect", str(imported["run"]), "--out", str(tmp_path / "x.json")],
                 ["export", "inspect", str(tmp_path), "--out", str(tmp_path / "x.eval")]):
        result = run_cli(*args)
        err = result.stderr.strip()
        assert result.returncode == 2, (args, result.stdout, err)
        assert "\n" not in err and "Traceback" not in err, err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_missing_inspect_says_how_to_install(tmp_path, imported):
    code = ("import sys; sys.modules['inspect_ai'] = None; sys.modules['inspect_ai.log'] = None\n"
            "from crosslab.cli.app import main; sys.argv = ['crosslab'] + sys.argv[1:]; main()")
    result = subprocess.run([sys.executable, "-c", code, "export", "inspect", str(imported["run"]), "--out",
                             str(tmp_path / "x.eval")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2 and "pip install 'crosslab[inspect]'" in result.stderr
    assert "Traceback" not in result.stderr
