"""The includes check: does the final answer contain the expected text?

Matching ignores case and runs of whitespace, the usual convention for short
factual answers (it is also what Inspect's ``includes`` scorer does).
"""

from __future__ import annotations

import re

from crosslab.grading.verdict import Verdict

NAME = "includes"
VERSION = "1"


def _pattern(expected: str) -> re.Pattern[str]:
    words = expected.split()
    return re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)


def _find_words(text: str, words: list[str]) -> tuple[int, int] | None:
    """Where ``words`` occur in ``text`` separated by runs of whitespace (both lower-cased)."""
    start = text.find(words[0])
    while start >= 0:
        end = start + len(words[0])
        for word in words[1:]:
            gap = end
            while gap < len(text) and text[gap].isspace():
                gap += 1
            if gap == end or not text.startswith(word, gap):
                break
            end = gap + len(word)
        else:
            return start, end
        start = text.find(words[0], start + 1)
    return None


def _find(response: str, expected: str) -> tuple[int, int] | None:
    if expected.isascii() and response.isascii():
        # fast path (no regex to compile per expected text): ASCII lower-casing keeps offsets
        return _find_words(response.lower(), expected.lower().split())
    match = _pattern(expected).search(response)
    return match.span() if match else None


def grade_includes(response: str, expected: str) -> Verdict:
    """Pass when ``response`` contains ``expected`` (the item's ``grading["expected"]``)."""
    if not expected.strip():
        raise ValueError("includes: the expected text is empty")
    span = _find(response, expected)
    if span:
        evidence = {"expected": expected, "span": list(span), "matched": response[span[0]:span[1]]}
        return Verdict(NAME, VERSION, "pass", 1.0, evidence)
    return Verdict(NAME, VERSION, "fail", 0.0, {"expected": expected, "span": None})
