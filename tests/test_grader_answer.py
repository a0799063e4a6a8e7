"""The short-answer grader: aliases, numbers at the gold's precision, not attempted, stated confidence."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crosslab.cli.app import app
from crosslab.grading.answer import (
    grade_answer,
    grade_line,
    normalise,
    split_confidence,
)

# (response, gold, aliases, expected label) — labelled by hand
CASES = [
    ("Canberra", "Canberra", [], "correct"),
    ("The capital of Australia is Canberra.", "Canberra", [], "correct"),
    ("Sydney.", "Canberra", [], "incorrect"),
    ("I don't know.", "Canberra", [], "not_attempted"),
    ("I'm not sure, and I don't want to guess.", "Canberra", [], "not_attempted"),
    ("", "Canberra", [], "not_attempted"),
    ("I'm not certain, but I believe it's Canberra.", "Canberra", [], "correct"),
    ("I'm not certain, but I believe it's Sydney.", "Canberra", [], "incorrect"),
    # aliases, case, accents, articles, punctuation
    ("Da Vinci painted it.", "Leonardo da Vinci", ["da Vinci", "Leonardo"], "correct"),
    ("It was painted by LEONARDO DA VINCI.", "Leonardo da Vinci", [], "correct"),
    ("Brasília", "Brasilia", [], "correct"),
    ("The Nile.", "Nile", ["River Nile"], "correct"),
    ("Hemoglobin carries it.", "haemoglobin", ["hemoglobin"], "correct"),
    ("Erythrocytes", "red blood cells", ["erythrocytes"], "correct"),
    ("ACE inhibitor", "ACE inhibitors", ["ACE inhibitor"], "correct"),
    ("Beta blockers", "ACE inhibitors", ["ACE inhibitor"], "incorrect"),
    # whole words only: "Mali" is not inside "Somalia"
    ("Somalia", "Mali", [], "incorrect"),
    ("Mars.", "Mars", [], "correct"),
    ("Marseille", "Mars", [], "incorrect"),
    # numbers: integers exactly, decimals and scientific notation at the gold's precision
    ("1945", "1945", [], "correct"),
    ("It ended in 1945.", "1945", [], "correct"),
    ("It ended in 1946.", "1945", [], "incorrect"),
    ("299,792,458 m/s", "299792458", [], "correct"),
    ("about 300,000,000 m/s", "299792458", [], "incorrect"),
    ("9.81 m/s²", "9.81", [], "correct"),
    ("9.80665 m/s²", "9.81", [], "correct"),
    ("9.8 m/s²", "9.81", [], "incorrect"),
    ("-273.15 °C", "-273.15", [], "correct"),
    ("−273.15 °C", "-273.15", [], "correct"),
    ("-273 °C", "-273.15", [], "incorrect"),
    ("6.022 × 10^23 per mole", "6.02e23", [], "correct"),
    ("6.02214076e23", "6.02e23", [], "correct"),
    ("6.0 × 10^23", "6.02e23", [], "incorrect"),
    ("6.02 × 10^22", "6.02e23", [], "incorrect"),
    ("6.626 x 10^-34 J s", "6.63e-34", [], "correct"),
    ("eight planets", "8", ["eight"], "correct"),
    ("Twelve pairs.", "12", [], "correct"),
    ("3.14159", "3.14", [], "correct"),
    # numbers far from the gold's scale never overflow the comparison
    ("In 2019 it was 299792458 or 10^40.", "6.63e-34", [], "incorrect"),
    ("1" + "0" * 60, "1.60e-19", [], "incorrect"),
    ("0.000000000000000000000000000000000663", "6.63e-34", [], "correct"),  # 6.63e-34 written out
    ("3.1", "3.14", [], "incorrect"),
    # a stated confidence never counts as the answer's number
    ("I think it is 7.\nConfidence: 46", "46", [], "incorrect"),
    ("46\nConfidence: 90", "46", [], "correct"),
]


# issue 14 item 6: fixes found by an audit of the hallucination graders — each case failed before its fix
AUDIT = [
    # an integer gold matches exactly, not after rounding
    ("The pH is 6.5.", "7", ["seven"], "incorrect"),
    ("pH 7.0", "7", [], "correct"),
    # signs, decimal commas, superscript exponents
    ("\u2013273.15 °C", "-273.15", [], "correct"),
    ("minus 273.15 degrees", "-273.15", [], "correct"),
    ("-273,15 °C", "-273.15", [], "correct"),
    ("1930\u20131939", "-1939", [], "incorrect"),  # an en dash between numbers is a range, not a minus
    ("6.022×10²³ per mole", "6.02e23", [], "correct"),
    ("6.022 x 10^23", "6.02e23", [], "correct"),
    ("6.022e23", "6.02e23", [], "correct"),
    ("6.022×10²² per mole", "6.02e23", [], "incorrect"),
    # number words above twenty
    ("forty-two", "42", [], "correct"),
    ("It has one hundred and twelve.", "112", [], "correct"),
    ("two thousand and nine", "2009", [], "correct"),
    ("forty-three", "42", [], "incorrect"),
    ("between one and two", "3", [], "incorrect"),  # "and" joins number words only after hundred, thousand ...
    # a stated certainty is not the answer's number
    ("I am 90% sure it is 7.", "90", [], "incorrect"),
    ("I'm about 80 percent confident: 46", "46", [], "correct"),
    # spelling and symbol aliases
    ("N-acetyl cysteine", "N-acetylcysteine", [], "correct"),
    ("acetyl-cysteine", "acetylcysteine", [], "correct"),
    ("Prices are in ¥.", "Japanese yen", ["¥"], "correct"),
    ("It costs 500 $.", "Japanese yen", ["¥"], "incorrect"),
]


@pytest.mark.parametrize("response,gold,aliases,label", AUDIT)
def test_audit_cases(response, gold, aliases, label):
    assert grade_answer(response, gold, aliases).label == label


# forms of the gold the grader accepts beyond the literal string (written for this test, not taken from a data set)
FORMS = [
    ("(Colonel) Ada Marsh", "Ada Marsh", "correct"),  # the part outside parentheses
    ("European Space Agency or ESA", "It was the ESA.", "correct"),  # either side of " or "
    ("Tom Reyes, who later became mayor", "Tom Reyes", "correct"),  # the head before the clause
    ("Robert Kennedy", "It was Robert F. Kennedy.", "correct"),  # every word, not contiguous
    ("Oslo, Bergen and Tromso", "Tromso, Oslo and Bergen.", "correct"),  # a list in another order
    ("Professor Henry Higgins", "Henry Higgins taught her.", "correct"),  # titles name no one
    ("Queen Mary II", "the Queen Mary 2", "correct"),  # Roman numerals
    ("Shostakovich", "Dmitri Shostakovitch", "correct"),  # a word spelled nearly the same
    ("India", "Indiana", "incorrect"),
    ("distil liquids", "used for distillation of liquids", "correct"),  # inflected
    ("Rough collie", "Collie", "correct"),  # a short answer that is half the gold
    ("Rough collie", "A dog.", "incorrect"),
    ("red blood cells", "white blood cells", "incorrect"),
    ("9 years", "nine years old", "correct"),  # a counted unit: the number decides
    ("8 %", "about 6.8 %", "incorrect"),  # a decimal is one number
    ("Leo Tolstoy", "I'm sure it is not known.", "not_attempted"),
]


@pytest.mark.parametrize("gold,response,label", FORMS)
def test_accepted_forms_of_the_gold(gold, response, label):
    assert grade_answer(response, gold).label == label


def test_the_question_repeated_back_is_no_answer():
    question = "Which 1998 UK Act brought the European Convention on Human Rights into UK law?"
    echo = f"Here is my answer to your request: {question}"
    assert grade_answer(echo, "Human Rights Act", question=question).label == "incorrect"
    assert grade_answer(f"{echo} The Human Rights Act.", "Human Rights Act", question=question).label == "correct"
    # an initial left over once the question's words are set aside is not enough
    assert grade_answer("I can help.", "Amendment I", question="Which amendment protects speech?").label == "incorrect"


def test_stated_certainty_is_returned_as_the_confidence():
    assert split_confidence("It is 7. I am 90% sure.") == ("It is 7.", 0.9)
    assert grade_answer("I'm 75% certain it is 46.", "46").confidence == 0.75


@pytest.mark.parametrize("response,gold,aliases,label", CASES)
def test_labelled_cases(response, gold, aliases, label):
    assert grade_answer(response, gold, aliases).label == label


def test_all_labelled_cases_pass_together():
    wrong = [c for c in CASES if grade_answer(c[0], c[1], c[2]).label != c[3]]
    assert not wrong and len(CASES) >= 40


@pytest.mark.parametrize("text,body,confidence", [
    ("Paris\nConfidence: 95", "Paris", 0.95),
    ("Paris (confidence 80%)", "Paris", 0.8),
    ("Paris. Confidence: 70/100", "Paris.", 0.7),
    ("Paris\nconfidence level: 100", "Paris", 1.0),
    ("Paris", "Paris", None),
    ("Paris\nConfidence: 250", "Paris\nConfidence: 250", None),  # out of range: not a confidence
])
def test_confidence_is_parsed_and_removed(text, body, confidence):
    assert split_confidence(text) == (body, confidence)


def test_normalise():
    assert normalise("The  Ångström, Ltd.") == "angstrom ltd"
    assert normalise("Newton's laws") == "newton laws"


def test_evidence_and_errors():
    result = grade_answer("It is about 9.807.\nConfidence: 60", "9.81")
    assert result.label == "correct" and result.how == "number" and result.confidence == 0.6
    assert result.evidence("9.81")["matched"] == "9.81"
    with pytest.raises(ValueError):
        grade_answer("x", " ")
    with pytest.raises(ValueError):
        grade_line({"response": "x", "gold": "y", "aliases": "y"})


def test_crosslab_grade_answer_cli(tmp_path: Path):
    rows = [
        {"question": "Capital of Australia?", "response": "Canberra", "gold": "Canberra"},
        {"question": "Who painted the Mona Lisa?", "response": "da Vinci", "gold": "Leonardo da Vinci",
         "aliases": ["da Vinci"]},
        {"question": "g to two decimals?", "response": "9.8", "gold": "9.81"},
        {"question": "Capital of Kestavia?", "response": "I don't know.", "gold": "Nowhere"},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out_file = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["grade", "answer", str(src), "--out", str(out_file)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [o["label"] for o in out] == ["correct", "correct", "incorrect", "not_attempted"]
    assert out[1]["evidence"]["matched"] == "da Vinci"
    failed = CliRunner().invoke(app, ["grade", "answer"], input='{"response": "x"}\n')
    assert failed.exit_code != 0 and "gold" in failed.output
