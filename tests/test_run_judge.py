"""`crosslab run --judge`: a judge model grading beside the rules, against real loopback servers.

The loopback model echoes each prompt; as a judge it answers with the object
a ``JUDGE_SAYS`` line in the echoed reply asks for (tests/support/loopback_server.py),
or echoes the rubric back, which never parses (``unscored``). That fixes what
the judge says, so these tests check what the run does with it: who decides,
what is unscored, what is journaled, resumed and counted.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli

from crosslab.engine.journal import Journal
from crosslab.results.outcomes import outcomes_from_journal, suite_metrics
from tests.support.loopback_server import running_server


def fact(key: str, prompt: str, gold: str, question: str = "Which city is meant?") -> dict:
    """An answerable item; the echoing model's reply is the prompt, graded against ``question``."""
    return {"id": f"fact-{key}", "category": "hallucination", "slice": "facts",
            "messages": [{"role": "user", "content": prompt}],
            "grading": {"type": "hallucination_answer", "gold": gold, "aliases": []},
            "metadata": {"question": question}}


ITEMS = [
    # the rules find no "Canberra" in the echo (incorrect); the judge says correct and decides
    fact("judge-correct", "Capital of Australia? JUDGE_SAYS label=correct", "Canberra"),
    # the rules find "Paris" (correct); the judge says incorrect and decides: a disagreement
    fact("judge-incorrect", "Paris. JUDGE_SAYS label=incorrect", "Paris"),
    # the judge echoes the rubric back: unscored, never the rules' label
    fact("judge-echo", "Capital of Peru?", "Lima"),
]


def run(tmp_path: Path, url: str, *extra: str, items: list[dict] = ITEMS):
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return run_cli("run", "--items", str(path), "--target", "openai:model", "--base-url", url + "/v1",
                   "--judge", "openai:judge", "--judge-base-url", url + "/v1", "--out", str(tmp_path / "runs"),
                   "--cache-dir", str(tmp_path / "cache"), "--quiet", "--no-preflight", *extra)


def verdicts_by_item(run_dir: Path) -> dict[str, dict]:
    journal = Journal.open(run_dir)
    try:
        verdicts = journal.verdicts()
        return {r["item_id"]: next(iter(verdicts[r["sample_id"]].values())) for r in journal.records()}
    finally:
        journal.close()


def test_the_judge_decides_disagreements_are_flagged_and_unscored_is_counted(tmp_path: Path):
    with running_server() as srv:
        result = run(tmp_path, srv.url)
        assert result.returncode == 0, result.stderr
        [run_dir] = list((tmp_path / "runs").iterdir())
        v = verdicts_by_item(run_dir)
        assert (v["fact-judge-correct"]["label"], v["fact-judge-correct"]["score"]) == ("correct", 1.0)
        assert v["fact-judge-correct"]["evidence"]["rules"]["label"] == "incorrect"
        assert v["fact-judge-incorrect"]["label"] == "incorrect"
        assert v["fact-judge-incorrect"]["evidence"]["disagree"] is True
        assert (v["fact-judge-echo"]["label"], v["fact-judge-echo"]["score"]) == ("unscored", None)
        assert v["fact-judge-echo"]["evidence"]["rules"]["label"] == "incorrect"  # kept, not used
        assert all("+judge.answer." in x["version"] for x in v.values())
        assert "3 samples asked, 2 decided, 2 disagree with the rules, 1 unscored" in result.stdout

        journal = Journal.open(run_dir)
        rows = {(r["metric"], json.dumps(r["group"])): r for r in suite_metrics(outcomes_from_journal(journal))[
            "hallucination"]}
        assert journal.meta()["judge"]["mode"] == "both"
        journal.close()
        assert (rows[("unscored", "{}")]["k"], rows[("unscored", "{}")]["n"]) == (1, 3)
        # unscored enters no rate: correct is 1 of the 2 judged samples
        assert (rows[("correct", "{}")]["k"], rows[("correct", "{}")]["n"]) == (1, 2)

        judged = Journal.open(run_dir / "judge" / "answer")
        assert len(list(judged.records())) == 3
        judged.close()
        before = srv.stats()["requests"]
        again = run_cli("run", "--resume", str(run_dir), "--quiet", "--cache-dir", str(tmp_path / "cache"),
                        "--no-preflight")
        assert again.returncode == 0, again.stderr
        assert srv.stats()["requests"] == before  # every judge call came back from its journal
        assert "0 sent, 0 cached, 3 from the judge journal" in again.stdout
        assert verdicts_by_item(run_dir) == v


def test_judge_when_unsure_asks_only_where_the_rules_are_unsure(tmp_path: Path):
    items = [fact("sure", "Paris. JUDGE_SAYS label=incorrect", "Paris"),
             fact("unsure", "Capital of Australia? JUDGE_SAYS label=correct", "Canberra")]
    with running_server() as srv:
        result = run(tmp_path, srv.url, "--judge-mode", "judge_when_unsure", items=items)
        assert result.returncode == 0, result.stderr
        [run_dir] = list((tmp_path / "runs").iterdir())
    v = verdicts_by_item(run_dir)
    assert v["fact-sure"]["label"] == "correct" and "judge" not in v["fact-sure"]["version"]  # rules stood
    assert v["fact-unsure"]["label"] == "correct" and v["fact-unsure"]["evidence"]["decided_by"] == "judge"
    assert "1 samples asked" in result.stdout


def test_bad_judge_options_fail_in_one_line(tmp_path: Path):
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps(ITEMS[0]) + "\n")
    base = ["run", "--items", str(path), "--target", "baseline:refuse-all", "--out", str(tmp_path / "r")]
    bad_mode = run_cli(*base, "--judge", "openai:j", "--judge-base-url", "http://127.0.0.1:1/v1",
                       "--judge-mode", "rules")
    assert bad_mode.returncode != 0 and "judge mode must be one of" in bad_mode.stderr
    assert "Traceback" not in bad_mode.stderr
    no_judge = run_cli(*base, "--judge-base-url", "http://127.0.0.1:1/v1")
    assert no_judge.returncode != 0 and "--judge-base-url needs --judge" in no_judge.stderr
    assert not (tmp_path / "r").exists()
