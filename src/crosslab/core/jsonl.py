"""Splitting JSONL text into lines the way JSON Lines defines them."""

from __future__ import annotations


def jsonl_lines(text: str) -> list[str]:
    """The lines of JSONL ``text``: split on ``"\\n"`` only, a ``"\\r"`` before it dropped (``"\\r\\n"``).

    Not ``str.splitlines()``: it also breaks at U+0085, U+2028, U+2029 (and a
    few control characters), which are ordinary characters inside a JSON
    string, so a valid line holding one would be cut in two. A final newline
    ends the last line rather than starting an empty one.
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
