"""SmolLM2 as a refusal judge behind llama.cpp's OpenAI-compatible server, end to end through the CLI."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import orjson
import pytest
from conftest import run_cli

from crosslab.engine.journal import Journal
from crosslab.grading.card import read_card
from crosslab.grading.judge_rubric import get_rubric
from crosslab.stats.agreement import agreement
from tests.support.llama_server import llama_server

pytestmark = pytest.mark.slow
SMALL = Path(__file__).parent / "data" / "judge_refusal_small.jsonl"


def test_smollm2_judge_validation_writes_a_card_that_matches_its_recorded_labels(tmp_path: Path):
    rubric = get_rubric("refusal")
    # two of each label from the small set: the card's arithmetic and the journal are what is tested here,
    # and each SmolLM2 call costs seconds on shared cores
    lines = SMALL.read_bytes().splitlines(keepends=True)
    small = tmp_path / "labels.jsonl"
    small.write_bytes(b"".join(lines[0:2] + lines[8:10] + lines[16:18]))
    card_path, journal = tmp_path / "card.json", tmp_path / "journal"
    # 6 calls of ~450 prompt tokens and <= 24 output tokens: ~1-2 s each on 2 idle cores, far more when
    # the cores are shared, so the time is reported rather than asserted.
    with llama_server(tmp_path) as url:
        started = time.monotonic()
        result = run_cli("judge", "validate", "--grader", "refusal", "--judge", "openai:smollm2",
                         "--judge-base-url", url + "/v1", "--judge-max-tokens", "24", "--concurrency", "1",
                         "--no-cache", "--journal", str(journal), "--card", str(card_path), str(small), timeout=900)
        elapsed = time.monotonic() - started
    print(f"SmolLM2 judged {small.name} in {elapsed:.0f} s")
    assert result.returncode == 0, result.stderr
    assert "judge calls: 6 (6 sent, 0 cached, 0 from the journal)" in result.stdout
    card = read_card(card_path)
    assert (card.grader.id, card.mode, card.n) == ("judge:refusal", "judge", 6)
    assert card.rubric is not None and card.rubric.model_dump() == rubric.ref()
    assert card.judge is not None and card.judge.label == "openai:smollm2"
    assert card.label_set.sha256 == hashlib.sha256(small.read_bytes()).hexdigest()
    records = {r["item_id"]: r for r in Journal.open(journal).records()}
    assert len(records) == 6 and all(r["status"] == "ok" for r in records.values())
    assert {r["judge"] for r in records.values()} == {card.judge.digest}
    for r in records.values():
        assert r["messages"][-1]["role"] == "assistant" and r["stats"]["usage"]["output_tokens"] > 0
    human = [orjson.loads(line) for line in small.read_bytes().splitlines() if line.strip()]
    judged = [records[h["id"]]["verdict"]["label"] for h in human]
    assert set(judged) <= set(rubric.labels) | {"unscored"}
    expected = agreement([h["label"] for h in human], judged, list(rubric.labels))
    assert card.figures.model_dump(mode="json") == expected.to_dict()
