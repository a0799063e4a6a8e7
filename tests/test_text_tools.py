from crosslab.targets.base import ToolSpec
from crosslab.targets.text_tools import (
    parse_tool_calls,
    to_text_messages,
    with_tool_instructions,
)

TOOL = ToolSpec("lookup", "Look up a keyword.", {"type": "object", "properties": {"keyword": {"type": "string"}}})


def test_tool_call_block_is_parsed():
    text = 'Let me check.\n```tool_call\n{"name": "lookup", "arguments": {"keyword": "wifi"}}\n```'
    [call] = parse_tool_calls(text, "s1")
    assert (call.id, call.name, call.arguments) == ("s1-0", "lookup", {"keyword": "wifi"})


def test_json_fence_needs_name_and_arguments():
    assert parse_tool_calls('```json\n{"name": "lookup", "arguments": {}}\n```', "s")[0].name == "lookup"
    # a json block that is just data is not a tool call
    assert parse_tool_calls('```json\n{"name": "Ada", "age": 3}\n```', "s") == []


def test_malformed_or_plain_text_is_not_a_call():
    assert parse_tool_calls("```tool_call\n{not json}\n```", "s") == []
    assert parse_tool_calls("The wifi is BlueHeron.", "s") == []
    assert parse_tool_calls('```tool_call\n["lookup"]\n```', "s") == []


def test_two_calls_in_one_reply_get_distinct_ids():
    text = ('```tool_call\n{"name": "a", "arguments": {}}\n```\n'
            '```tool_call\n{"name": "b", "arguments": {"x": 1}}\n```')
    calls = parse_tool_calls(text, "p")
    assert [(c.id, c.name) for c in calls] == [("p-0", "a"), ("p-1", "b")]


def test_instructions_join_existing_system_turn_and_history_is_rendered_as_text():
    msgs = with_tool_instructions([{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "hi"}], (TOOL,))
    assert msgs[0]["content"].startswith("Be brief.") and '"name": "lookup"' in msgs[0]["content"]
    assert len(msgs) == 2
    history = to_text_messages([
        {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "name": "lookup", "arguments": {"keyword": "x"}}]},
        {"role": "tool", "tool_call_id": "1", "name": "lookup", "content": "found"},
    ])
    assert history[0]["role"] == "assistant" and "```tool_call" in history[0]["content"]
    assert history[1] == {"role": "user", "content": "Tool result (lookup):\nfound"}
    # the rendered call parses back to the same call
    assert parse_tool_calls(history[0]["content"], "r")[0].arguments == {"keyword": "x"}
