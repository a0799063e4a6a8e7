"""Grader cards: a round trip through disk, hostile card files, and pinning a grader in a protocol."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from pathlib import Path

import orjson
import pytest
from conftest import run_cli

from crosslab.core.canonical import canonical_json
from crosslab.grading.card import (
    MAX_CARD_BYTES,
    CardError,
    build_card,
    card_bytes,
    parse_card,
    pin_problems,
    read_card,
    write_card,
)
from crosslab.grading.judge_rubric import get_rubric
from crosslab.stats.agreement import agreement

CLASSES = ["full_compliance", "partial_refusal", "full_refusal"]
HUMAN = ["full_refusal"] * 5 + ["full_compliance"] * 4 + ["partial_refusal"] * 3
GRADER = ["full_refusal"] * 4 + ["unscored"] + ["full_compliance"] * 3 + ["full_refusal"] + ["partial_refusal",
                                                                                              "unscored", "full_refusal"]
WHEN = dt.datetime(2026, 12, 3, 9, 0, 0, tzinfo=dt.timezone.utc)


def make_card(**changes):
    args = dict(grader_id="judge:refusal", grader_version="1-p1",
                judge={"digest": "ab" * 32, "label": "openai:smollm2"},
                rubric=get_rubric("refusal").ref(), mode="judge", label_bytes=b'{"label": "x"}\n',
                label_name="labels.jsonl", figures=agreement(HUMAN, GRADER, CLASSES), created=WHEN)
    args.update(changes)
    return build_card(**args)


def test_card_round_trip_keeps_every_field_and_the_digest(tmp_path: Path):
    card = make_card()
    path = write_card(tmp_path / "card.json", card)
    again = read_card(path)
    assert again == card
    assert again.digest == card.digest == hashlib.sha256(canonical_json(card.to_dict())).hexdigest()
    assert path.read_bytes() == canonical_json(card.to_dict()) + b"\n"
    d = again.to_dict()
    assert d["grader"] == {"id": "judge:refusal", "version": "1-p1"}
    assert d["rubric"]["id"] == "refusal" and d["rubric"]["version"] == "1"
    assert d["label_set"]["sha256"] == hashlib.sha256(b'{"label": "x"}\n').hexdigest()
    assert d["figures"] == agreement(HUMAN, GRADER, CLASSES).to_dict()
    assert d["figures"]["unscored"] == 2 and d["n"] == 12
    assert d["created"] == "2026-12-03T09:00:00Z"


def test_offline_card_has_no_judge_or_rubric(tmp_path: Path):
    card = make_card(judge=None, rubric=None, mode="rules", grader_id="refusal", grader_version="1",
                     figures=agreement(HUMAN, [g if g != "unscored" else "full_refusal" for g in GRADER], CLASSES))
    assert read_card(write_card(tmp_path / "c.json", card)).judge is None
    with pytest.raises(CardError, match="judge is named exactly when"):
        make_card(judge=None, rubric=None)


def write_raw(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "hostile.json"
    path.write_bytes(data)
    return path


def mutated(edit) -> bytes:
    d = copy.deepcopy(make_card().to_dict())
    edit(d)
    return orjson.dumps(d)


def _set(path: str, value):
    def edit(d):
        *parents, last = path.split(".")
        for p in parents:
            d = d[p]
        d[last] = value
    return edit


@pytest.mark.parametrize("data, message", [
    (b"", "not strict JSON"),
    (b"\xef\xbb\xbf{}", "byte-order mark"),
    (b"\xff\xfe", "not valid UTF-8"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"format": "crosslab-grader-card/1", "format": "x"}', "duplicate key"),
    (b'{"format": "something-else"}', "not a grader card"),
    (b"[" * 100_000, "not strict JSON"),
    (mutated(_set("n", "12")), "n: Input should be a valid integer"),
    (mutated(_set("extra", 1)), "extra: Extra inputs are not permitted"),
    (mutated(_set("figures.kappa", 1.5)), "figures.kappa"),
    (mutated(_set("figures.unscored", 0)), "unscored does not match"),
    (mutated(_set("figures.confusion.full_refusal.full_refusal", 5)), "counts 13 items"),
    (mutated(_set("figures.accuracy.estimate", 0.99)), "interval needs low <= estimate"),
    (mutated(_set("figures.accuracy", {"estimate": 0.6, "low": 0.3, "high": 0.8})), "accuracy does not match"),
    (mutated(_set("figures.per_class.full_refusal.support", 4)), "support/predicted"),
    (mutated(_set("judge", None)), "judge is named exactly when"),
    (mutated(_set("rubric", None)), "judge and rubric are given together"),
    (mutated(_set("created", "2026-13-45T99:00:00Z")), "not a real UTC time"),
    (mutated(_set("label_set.sha256", "XYZ")), "label_set.sha256"),
    (mutated(_set("grader.id", "Judge refusal; rm -rf /")), "grader.id"),
    (mutated(_set("n", 13)), "n differs"),
    (mutated(_set("figures.classes", ["a", "a"])), "classes must be distinct"),
    (b'{"format": "crosslab-grader-card/1", "n": NaN}', "non-standard constant"),
])
def test_hostile_cards_fail_with_one_clear_line(tmp_path: Path, data: bytes, message: str):
    path = write_raw(tmp_path, data)
    with pytest.raises(CardError) as caught:
        read_card(path)
    text = str(caught.value)
    assert message in text and "\n" not in text and len(text) < 400


def test_oversized_and_missing_cards(tmp_path: Path):
    big = write_raw(tmp_path, b" " * (MAX_CARD_BYTES + 1))
    with pytest.raises(CardError, match="larger than"):
        read_card(big)
    with pytest.raises(CardError, match="cannot read card"):
        read_card(tmp_path / "absent.json")


def test_cli_reads_a_card_and_refuses_a_hostile_one_without_traceback(tmp_path: Path):
    path = write_card(tmp_path / "card.json", make_card())
    ok = run_cli("judge", "card", str(path))
    assert ok.returncode == 0, ok.stderr
    assert f"card {make_card().digest}" in ok.stdout and "kappa" in ok.stdout
    bad = write_raw(tmp_path, mutated(_set("figures.unscored", 7)))
    result = run_cli("judge", "card", str(bad))
    assert result.returncode == 2
    assert "unscored does not match" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_card_bytes_are_canonical_and_parse_back():
    card = make_card()
    assert parse_card(orjson.loads(card_bytes(card)), "x") == card


def test_a_protocol_pins_a_grader_by_id_version_and_card(tmp_path: Path):
    from crosslab.protocol.schema import GraderPin

    card = make_card()
    pin = GraderPin(id="judge:refusal", version="1-p1", card=card.digest)
    assert pin_problems(card, pin.id, pin.version, pin.card) == []
    other = make_card(created=WHEN + dt.timedelta(seconds=1))
    assert any("card digest" in p for p in pin_problems(other, pin.id, pin.version, pin.card))
    assert any("version" in p for p in pin_problems(card, pin.id, "2-p1", pin.card))


PROTOCOL_0_1_0 = Path(__file__).parent / "data" / "bundles" / "0.1.0" / "borealis-on-aurora-a-prod" / "protocol.json"


def test_grader_pins_in_a_protocol_are_optional_and_leave_old_ids_alone():
    from crosslab.core.jcs import jcs_digest
    from crosslab.protocol.schema import Protocol

    raw = PROTOCOL_0_1_0.read_bytes()
    old = Protocol.model_validate(orjson.loads(raw))
    assert old.graders == [] and "graders" not in old.model_dump(mode="json")
    assert old.canonical() == raw  # the bytes a 0.1.0 lab signed
    assert old.id == jcs_digest(orjson.loads(raw))
    card = make_card()
    pinned = Protocol.model_validate({**orjson.loads(raw), "graders": [
        {"id": card.grader.id, "version": card.grader.version, "card": card.digest}]})
    assert pinned.id != old.id
    assert Protocol.model_validate(orjson.loads(pinned.canonical())) == pinned
    with pytest.raises(ValueError, match="pinned twice"):
        Protocol.model_validate({**orjson.loads(raw), "graders": [pinned.graders[0].model_dump()] * 2})
    with pytest.raises(ValueError, match="card"):
        Protocol.model_validate({**orjson.loads(raw), "graders": [{"id": "x", "version": "1", "card": "nope"}]})
