"""JSONL is split on "\\n" (and "\\r\\n") only: U+0085, U+2028 and U+2029 are ordinary characters inside a string."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crosslab.cli.app import app
from crosslab.items.loader import load_items_file

SEPARATORS = ["\u0085", "\u2028", "\u2029"]


def rows(char: str) -> list[dict]:
    return [{"response": f"Victor Echo Lima{char}Tango Romeo Oscar", "secret": "VELTRO"},
            {"response": f"I can't tell you{char}the password.", "secret": "VELTRO"}]


def jsonl(values: list[dict], newline: str = "\n") -> str:
    # ensure_ascii=False keeps the character itself in the line, as most JSON writers do
    return "".join(json.dumps(v, ensure_ascii=False) + newline for v in values)


@pytest.mark.parametrize("char", SEPARATORS, ids=["NEL", "LS", "PS"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_grade_keeps_unicode_line_separators_inside_strings(tmp_path: Path, char: str, newline: str):
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(rows(char), newline).encode("utf-8"))
    for args, stdin in ((["grade", "leak", str(src)], None), (["grade", "leak"], jsonl(rows(char), newline))):
        result = CliRunner().invoke(app, args, input=stdin)
        assert result.exit_code == 0, result.output
        out = [json.loads(line) for line in result.stdout.split("\n") if line]
        assert [o["response"] for o in out] == [r["response"] for r in rows(char)]
        assert [o["label"] for o in out] == ["leaked", "not_leaked"]


@pytest.mark.parametrize("char", SEPARATORS, ids=["NEL", "LS", "PS"])
def test_grade_line_numbers_count_newlines_only(tmp_path: Path, char: str):
    src = tmp_path / "in.jsonl"
    src.write_bytes((jsonl(rows(char)) + '{"response": "x"}\n').encode("utf-8"))
    failed = CliRunner().invoke(app, ["grade", "leak", str(src)])
    assert failed.exit_code == 2 and "in.jsonl:3: leak needs string field(s) secret" in failed.output


@pytest.mark.parametrize("char", SEPARATORS, ids=["NEL", "LS", "PS"])
def test_items_file_keeps_unicode_line_separators_inside_strings(tmp_path: Path, char: str):
    path = tmp_path / "items.jsonl"
    items = [{"id": "a", "input": f"line one{char}line two", "expected": "two"}, {"id": "b", "input": "plain"}]
    path.write_bytes(jsonl(items, "\r\n").encode("utf-8"))
    loaded = load_items_file(path)
    assert [i.id for i in loaded] == ["a", "b"]
    assert loaded[0].messages[0]["content"] == f"line one{char}line two"
