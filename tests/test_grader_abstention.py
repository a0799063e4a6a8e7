"""The abstention detector against responses labelled by hand (tests/data/abstention_labelled.jsonl)."""

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crosslab.cli.app import app
from crosslab.grading.abstention import detect, grade_line

DATA = Path(__file__).parent / "data" / "abstention_labelled.jsonl"


def labelled() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]


def confusion() -> Counter:
    return Counter((row["label"], detect(row["response"], row["question"]).label) for row in labelled())


def test_labelled_set_is_large_and_varied():
    rows = labelled()
    assert len(rows) >= 150
    counts = Counter(r["label"] for r in rows)
    assert counts["abstain"] >= 60 and counts["answer"] >= 60
    styles = {r["style"] for r in rows}
    assert {"plain", "doubt", "source", "hedged", "gpt", "claude", "gemini", "small"} <= styles
    assert sum(r["style"] == "hedged" and r["label"] == "answer" for r in rows) >= 15


def test_accuracy_on_labelled_responses_is_at_least_95_percent():
    matrix = confusion()
    total = sum(matrix.values())
    accuracy = (matrix[("abstain", "abstain")] + matrix[("answer", "answer")]) / total
    assert accuracy >= 0.95, dict(matrix)
    # neither class may be sacrificed for the other
    assert matrix[("answer", "abstain")] <= 0.05 * sum(v for (g, _), v in matrix.items() if g == "answer")
    assert matrix[("abstain", "answer")] <= 0.05 * sum(v for (g, _), v in matrix.items() if g == "abstain")


def test_every_hedged_guess_with_specifics_is_an_answer():
    hedged = [r for r in labelled() if r["style"] == "hedged"]
    wrong = [r["response"] for r in hedged if detect(r["response"], r["question"]).label != r["label"]]
    assert wrong == []


@pytest.mark.parametrize("response,label,kind", [
    ("I don't know.", "abstain", "unknown"),
    ("That drug does not appear to exist.", "abstain", "doubt_existence"),
    ("Where did you read about this paper? I can't find it.", "abstain", "asks_source"),
    ("I'm not sure, but I think it was founded in 1898 by Antonio Veltrano.", "answer", "unknown"),
])
def test_evidence_names_the_cue_and_its_span(response, label, kind):
    result = detect(response)
    assert result.label == label
    cue = next(c for c in result.cues if c.kind == kind)
    assert response.lower()[cue.span[0]:cue.span[1]] == cue.text
    if label == "answer":
        assert result.assertions  # the sentence that asserts specifics is quoted


# issue 14 item 6 (audit): each case was mislabelled before its fix
@pytest.mark.parametrize("response,question,label", [
    # "maybe" hedges a guess: the specifics after it are still asserted
    ("I'm not sure, maybe it was founded in 1987 by Tom Hale.", "Who founded Brindle Works?", "answer"),
    ("I don't know, maybe 1987.", "When was Brindle Works founded?", "answer"),
    # a decline that points to a real look-alike asserts nothing about the thing asked
    ("I couldn't find any record of the Zorblatt Prize; you may be thinking of the Nobel Prize.",
     "Who won the 2019 Zorblatt Prize?", "abstain"),
    ("I couldn't find any record of the Zorblatt Prize, but perhaps you mean the Nobel Prize.",
     "Who won the 2019 Zorblatt Prize?", "abstain"),
    # ... but a guess about the thing itself is still an answer
    ("I couldn't find any record of it, but maybe it was won by Ann Lee in 2019.",
     "Who won the 2019 Zorblatt Prize?", "answer"),
])
def test_audit_cases(response, question, label):
    assert detect(response, question).label == label


def test_no_cue_means_answer_and_empty_means_abstain():
    assert detect("Canberra.").label == "answer"
    assert detect("").label == "abstain"
    assert detect("   ").label == "abstain"


def test_question_words_are_not_new_specifics():
    question = "Who founded the Veltrano Instrument Company?"
    # repeating the question's own names while declining is still declining
    response = "I'm not familiar with the Veltrano Instrument Company. The Veltrano Instrument Company is not known to me."
    assert detect(response, question).label == "abstain"


def test_grade_line_rejects_bad_input():
    with pytest.raises(ValueError):
        grade_line({"response": 3})
    with pytest.raises(ValueError):
        grade_line({"response": "x", "question": 5})


def test_crosslab_grade_abstention_cli(tmp_path: Path):
    rows = [{"question": "Who founded Brixhollow Analytics?", "response": "I don't know of that company."},
            {"response": "It was founded in 1999 by Sarah Whitfield."}]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(app, ["grade", "abstention", str(src)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["label"] for o in out] == ["abstain", "answer"]
    assert out[0]["evidence"]["cues"] and out[1]["evidence"]["assertions"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n')
    failed = CliRunner().invoke(app, ["grade", "abstention", str(bad)])
    assert failed.exit_code != 0 and "bad.jsonl:1" in failed.output


def test_abstention_and_refusal_explain_labels_with_one_cue_type():
    from crosslab.grading import refusal
    from crosslab.grading.cue import Cue

    abstained = detect("I don't know who that is.", "Who founded Vexmoor Labs?")
    refused = refusal.detect("I can't help with that.")
    assert abstained.cues and refused.cues
    assert {type(c) for c in abstained.cues + refused.cues} == {Cue}
    assert [c.kind for c in abstained.cues] == ["unknown"] and refused.cues[0].kind == "decline"
