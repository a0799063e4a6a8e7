"""Transcript, @grader, suite() and FunctionTarget: the pieces of the public extension API."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from pathlib import Path

import pytest

from crosslab import FunctionTarget, Item, Suite, Transcript, Verdict, grader, suite
from crosslab.engine.journal import Journal
from crosslab.engine.plan import make_plan
from crosslab.engine.runner import execute
from crosslab.run.grade import grade_record
from crosslab.run.session import RunConfig, create_journal, execute_run
from crosslab.suites.registry import all_environments, get_suite
from crosslab.targets.base import ChatRequest, ChatResponse, Usage

EXAMPLE = Path(__file__).parent / "example_suite"

RECORD = {
    "sample_id": "s1",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is in notes.txt?"},
        {"role": "assistant", "content": "Let me look.",
         "tool_calls": [{"id": "c1", "name": "read_file", "arguments": {"path": "notes.txt"}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "read_file", "content": "buy milk"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c2", "name": "done", "arguments": None}]},
        {"role": "assistant", "content": "It says: buy milk."},
    ],
    "agent": {"stop_reason": "answered", "environment": {"state": {"files": 1}}},
}

ITEM = Item.model_validate({"id": "i1", "messages": [{"role": "user", "content": "hi"}],
                            "grading": {"type": "says", "word": "milk"}})


# --- Transcript -------------------------------------------------------------------------------

def test_transcript_reads_a_record():
    t = Transcript.from_record(RECORD)
    assert t.final_answer == "It says: buy milk."
    assert t.assistant_texts == ("Let me look.", "", "It says: buy milk.")
    assert t.tool_calls == ({"name": "read_file", "arguments": {"path": "notes.txt"}},
                            {"name": "done", "arguments": {}})
    assert t.agent == {"stop_reason": "answered", "environment": {"state": {"files": 1}}}
    assert [m["role"] for m in t.messages] == ["system", "user", "assistant", "tool", "assistant", "assistant"]


def test_transcript_is_a_read_only_copy():
    record = json.loads(json.dumps(RECORD))
    t = Transcript.from_record(record)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.messages = ()  # type: ignore[misc]
    assert isinstance(t.messages, tuple)
    t.messages[-1]["content"] = "changed"
    t.agent["environment"]["state"]["files"] = 99
    assert record["messages"][-1]["content"] == "It says: buy milk."
    assert record["agent"]["environment"]["state"]["files"] == 1
    record["messages"].append({"role": "assistant", "content": "later"})
    assert Transcript.from_record(RECORD).final_answer == "It says: buy milk."


def test_transcript_without_an_answer_or_agent():
    t = Transcript([{"role": "user", "content": "hi"}])
    assert (t.final_answer, t.assistant_texts, t.tool_calls, t.agent) == ("", (), (), {})


# --- @grader -------------------------------------------------------------------------------------

@grader("says", version="3")
def says(item: Item, transcript: Transcript) -> Verdict | None:
    """Does the answer say the item's word?"""
    if "word" not in item.grading:
        return None
    word = item.grading["word"]
    hit = word in transcript.final_answer
    return Verdict.of("said" if hit else "silent", float(hit), {"word": word}, {"length": 1.0})


def test_grader_takes_a_record_or_a_transcript_and_stamps_its_verdicts():
    from_record = says(ITEM, RECORD)
    assert from_record == Verdict("says", "3", "said", 1.0, {"word": "milk"}, {"length": 1.0})
    assert says(ITEM, Transcript.from_record(RECORD)) == from_record
    silent = says(ITEM, {"messages": [{"role": "assistant", "content": "no"}]})
    assert (silent.grader, silent.version, silent.label, silent.score) == ("says", "3", "silent", 0.0)
    assert says(ITEM.model_copy(update={"grading": {"type": "says"}}), RECORD) is None
    assert (says.kind, says.version, says.__name__, says.__doc__) == (
        "says", "3", "says", "Does the answer say the item's word?")


def test_the_grading_stage_runs_a_decorated_grader():
    verdict = grade_record(ITEM, RECORD, {"says": says})
    assert verdict is not None and verdict.to_dict() == {
        "grader": "says", "version": "3", "label": "said", "score": 1.0,
        "evidence": {"word": "milk"}, "values": {"length": 1.0}}


def test_a_full_verdict_keeps_its_own_name_and_version():
    named = grader("named")(lambda item, t: Verdict("includes", "7", "pass", 1.0, {}))
    assert (named(ITEM, RECORD).grader, named(ITEM, RECORD).version) == ("includes", "7")


@pytest.mark.parametrize("returned, error", [
    ("pass", TypeError), ({"label": "pass"}, TypeError), (Verdict.of("pass", 1.5), ValueError),
    (Verdict.of("bad", -0.1), ValueError),
])
def test_grader_rejects_what_is_not_a_verdict_on_the_unit_scale(returned, error):
    bad = grader("bad")(lambda item, t: returned)
    with pytest.raises(error, match="bad"):
        bad(ITEM, RECORD)


@pytest.mark.parametrize("kind, version", [("", "1"), ("two words", "1"), (3, "1"), ("ok", ""), ("ok", 2)])
def test_grader_declaration_is_checked(kind, version):
    with pytest.raises(ValueError):
        grader(kind, version=version)(lambda item, t: None)


# --- suite() ---------------------------------------------------------------------------------------

@pytest.fixture
def example_package(monkeypatch: pytest.MonkeyPatch):
    """The external example package, imported from its source tree (no entry point: not discovered)."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import crosslab_example_suite

    return crosslab_example_suite


def test_suite_reads_its_data_file_and_keys_graders_by_kind(example_package):
    s = example_package.SUITE
    assert isinstance(s, Suite)
    assert (s.name, s.category, s.package, s.data) == ("example", "example", "crosslab_example_suite", "items.jsonl")
    assert s.description.startswith("External example suite")
    assert list(s.graders) == ["example_mentions"] and s.graders["example_mentions"] is example_package.mentions
    items = s.items()
    assert [i.id for i in items] == ["example-echo", "example-recall"]
    assert len(s.content_digest()) == 64
    verdict = grade_record(items[0], {"messages": [{"role": "assistant", "content": "Marmalade!"}]}, s.graders)
    assert (verdict.grader, verdict.version, verdict.label, verdict.evidence["span"]) == (
        "example_mentions", "2", "mentioned", [0, 9])


def test_suite_with_another_data_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    package = tmp_path / "other_suite"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "cases.jsonl").write_text(json.dumps(
        {"id": "c1", "messages": [{"role": "user", "content": "x"}], "grading": {"type": "says", "word": "x"}}) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    s = suite("other", package="other_suite", data="cases.jsonl", graders=[says])
    assert [i.id for i in s.items()] == ["c1"] and s.graders == {"says": says}
    with pytest.raises(FileNotFoundError, match="items.jsonl"):
        suite("other", package="other_suite", graders=[says])


def test_suite_rejects_plain_functions_and_duplicate_kinds(example_package):
    with pytest.raises(TypeError, match="@crosslab.grader"):
        suite("x", package="crosslab_example_suite", graders=[says.fn])
    with pytest.raises(ValueError, match="says"):
        suite("x", package="crosslab_example_suite", graders=[says, grader("says")(says.fn)])


# --- FunctionTarget ------------------------------------------------------------------------------

def answer_from_knowledge(messages: list[dict]) -> str:
    question = messages[-1]["content"]
    facts = {"France": "Paris.", "Japan": "Tokyo.", "sky": "Blue."}
    return next((a for k, a in facts.items() if k in question), "I don't know.")


def test_function_target_deployment_names_the_function():
    target = FunctionTarget(answer_from_knowledge)
    d = target.deployment
    assert (d.provider, d.model) == ("function", f"{__name__}:answer_from_knowledge")
    assert d.label == f"function:{__name__}:answer_from_knowledge" and len(d.digest) == 64
    assert FunctionTarget(answer_from_knowledge).deployment.digest == d.digest
    other = FunctionTarget(answer_from_knowledge, model="knowledge-v2", system_prefix="Be brief.", temperature=None)
    assert (other.deployment.model, other.deployment.system_prefix) == ("knowledge-v2", "Be brief.")
    assert other.deployment.digest != d.digest
    assert FunctionTarget(lambda m: "x").deployment.model == (
        f"{__name__}:test_function_target_deployment_names_the_function.<locals>.<lambda>")
    with pytest.raises(ValueError, match="max_tokens"):
        FunctionTarget(answer_from_knowledge, max_tokens=0)
    with pytest.raises(TypeError):
        FunctionTarget("not a function")  # type: ignore[arg-type]


def test_function_target_sync_async_and_chat_responses():
    async def async_fn(messages):
        await asyncio.sleep(0)
        return ChatResponse("async " + messages[0]["content"], usage=Usage(3, 4))

    seen = []

    def sync_fn(messages):
        seen.append(messages)
        messages.append({"role": "user", "content": "mutated"})
        return "sync"

    async def go():
        request = ChatRequest([{"role": "user", "content": "hi"}])
        sync = await FunctionTarget(sync_fn, system_prefix="Be careful.").complete(request)
        assert (sync.text, sync.finish_reason) == ("sync", "stop")
        assert sync.model == f"function:{__name__}:{sync_fn.__qualname__}"
        assert seen[0][:2] == [{"role": "system", "content": "Be careful."}, {"role": "user", "content": "hi"}]
        assert request.messages == [{"role": "user", "content": "hi"}]
        got = await FunctionTarget(async_fn).complete(request)
        assert (got.text, got.usage.output_tokens) == ("async hi", 4)
        with pytest.raises(TypeError, match="int"):
            await FunctionTarget(lambda m: 42).complete(request)

    asyncio.run(go())


def _run(target: FunctionTarget, items: list[Item], out: Path) -> Journal:
    config = RunConfig(target.deployment, items, {"suite": "smoke"})
    journal = create_journal(out, config)
    asyncio.run(execute_run(config, target, journal, cache=None, environments=all_environments()))
    return journal


def test_function_target_runs_the_smoke_suite_through_execute_run(tmp_path: Path):
    smoke = get_suite("smoke").items()
    facts = [i for i in smoke if i.interaction == "single_turn" and i.slice == "facts"][:3]
    target = FunctionTarget(answer_from_knowledge)
    journal = _run(target, facts, tmp_path)
    records = list(journal.records())
    assert journal.meta()["deployment"]["provider"] == "function"
    assert journal.meta()["target_digest"] == target.deployment.digest
    assert {r["target"] for r in records} == {target.deployment.digest}
    assert {s.id for s in make_plan(facts, target.deployment.digest)} == {r["sample_id"] for r in records}
    verdicts = journal.verdicts()
    labels = {r["item_id"]: verdicts[r["sample_id"]]["includes"]["label"] for r in records}
    assert labels == {"smoke-capital-france": "pass", "smoke-capital-japan": "pass", "smoke-sky-colour": "pass"}
    assert journal.verify_hashes() == []


def test_function_target_plays_an_agent_item_through_the_text_tool_protocol(tmp_path: Path):
    [wifi] = [i for i in get_suite("smoke").items() if i.id == "smoke-tool-wifi"]
    turns = []

    def agent(messages):
        turns.append(messages)
        if messages[-1]["content"].startswith("Tool result (lookup):"):
            return "The network is " + re.search(r"called (\w+)", messages[-1]["content"]).group(1)
        assert "lookup" in messages[0]["content"]  # the tools, described in the system turn
        return '```tool_call\n{"name": "lookup", "arguments": {"keyword": "wifi"}}\n```'

    journal = _run(FunctionTarget(agent), [wifi], tmp_path)
    [record] = list(journal.records())
    assert record["status"] == "ok" and len(turns) == 2
    t = Transcript.from_record(record)
    assert t.tool_calls == ({"name": "lookup", "arguments": {"keyword": "wifi"}},)
    assert t.final_answer == "The network is BlueHeron"
    assert t.agent["stop_reason"] == "answered"
    assert journal.verdicts()[record["sample_id"]]["includes"]["label"] == "pass"


def test_function_target_with_the_engine_directly(tmp_path: Path):
    items = [Item.model_validate({"id": f"q{n}", "messages": [{"role": "user", "content": f"{n} + {n}?"}]})
             for n in range(5)]

    async def adder(messages):
        n = int(messages[-1]["content"].split()[0])
        return ChatResponse(str(n + n), tool_calls=[], usage=Usage(1, 1))

    target = FunctionTarget(adder)
    journal = Journal.create(tmp_path / "run", {"run_id": "r"}, items)
    summary = asyncio.run(execute(make_plan(items, target.deployment.digest), target, journal, cache=None))
    assert (summary.planned, summary.ok, summary.errors) == (5, 5, 0)
    answers = {r["item_id"]: Transcript.from_record(r).final_answer for r in journal.records()}
    assert answers == {f"q{n}": str(2 * n) for n in range(5)}


def test_a_failing_function_is_journaled_as_an_error(tmp_path: Path):
    def broken(messages):
        raise RuntimeError("no answer today")

    [item] = [i for i in get_suite("smoke").items() if i.id == "smoke-capital-france"]
    journal = _run(FunctionTarget(broken), [item], tmp_path)
    [record] = list(journal.records())
    assert record["status"] == "error" and "no answer today" in record["error"]["message"]
    assert journal.verdicts() == {}
