from pathlib import Path

import pytest

from crosslab.items.item import Item
from crosslab.items.loader import ItemsError, load_items_file, parse_items
from crosslab.suites.registry import get_suite


def test_simple_form_becomes_user_turn_with_includes_grading():
    item = Item.model_validate({"id": "a", "input": "Capital of France?", "expected": "Paris"})
    assert item.messages == [{"role": "user", "content": "Capital of France?"}]
    assert item.grading == {"type": "includes", "expected": "Paris"}
    assert item.tier == "public" and item.interaction == "single_turn"


def test_simple_form_accepts_target_as_another_name_for_expected():
    old = Item.model_validate({"id": "a", "input": "Capital of France?", "target": "Paris"})
    new = Item.model_validate({"id": "a", "input": "Capital of France?", "expected": "Paris"})
    assert old == new and old.grading == {"type": "includes", "expected": "Paris"}
    with pytest.raises(ValueError, match="'expected' or as 'target', not both"):
        Item.model_validate({"id": "a", "input": "x", "expected": "Paris", "target": "Rome"})


@pytest.mark.parametrize("key", ["expected", "target"])
def test_includes_grading_reads_expected_and_the_older_target(key: str):
    """Built specs say "expected"; journals written before the rename say "target" and still grade."""
    from crosslab.run.grade import grade_record

    item = Item.model_validate({"id": "a", "messages": [{"role": "user", "content": "Capital of France?"}],
                                "grading": {"type": "includes", key: "Paris"}})
    record = {"messages": [*item.messages, {"role": "assistant", "content": "It is Paris."}]}
    verdict = grade_record(item, record)
    assert verdict is not None and verdict.label == "pass" and verdict.evidence["expected"] == "Paris"


def test_smoke_suite_names_the_expected_answer_expected():
    graded = [i.grading for i in get_suite("smoke").items()]
    assert graded and all(g["type"] == "includes" and "expected" in g and "target" not in g for g in graded)


def test_bad_lines_are_reported_with_file_and_line(tmp_path: Path):
    path = tmp_path / "items.jsonl"
    path.write_text('{"id": "a", "input": "x"}\n\n{"id": "b", "input": \n')
    with pytest.raises(ItemsError, match=r"items.jsonl:3: not valid JSON"):
        load_items_file(path)


@pytest.mark.parametrize("line, message", [
    ('{"input": "x"}', "id"),
    ('{"id": "a", "input": "x", "tier": "secret"}', "tier"),
    ('{"id": "a", "messages": [{"role": "assistant", "content": "hi"}]}', "end with a user turn"),
    ('{"id": "a", "input": "x", "interaction": "agent"}', "needs an environment"),
    ('{"id": "a", "input": "x", "interaction": "scripted"}', "needs followups"),
    ('{"id": "a", "input": "x", "colour": "red"}', "colour"),
])
def test_invalid_items_are_refused(line: str, message: str):
    with pytest.raises(ItemsError, match=message):
        parse_items([line], "f.jsonl")


def test_duplicate_ids_and_empty_files_are_refused():
    with pytest.raises(ItemsError, match="duplicate item id 'a'"):
        parse_items(['{"id": "a", "input": "x"}', '{"id": "a", "input": "y"}'], "f")
    with pytest.raises(ItemsError, match="no items"):
        parse_items(["", "  "], "f")


def test_smoke_suite_loads_every_interaction_type():
    suite = get_suite("smoke")
    items = suite.items()
    assert {i.interaction for i in items} == {"single_turn", "scripted", "agent"}
    assert all(i.grading.get("type") == "includes" for i in items)
    assert len(suite.content_digest()) == 64
