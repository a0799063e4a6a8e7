"""The includes check: does the final answer contain the expected text?

Matching ignores case and runs of whitespace, the usual convention for short
factual answers (it is also what Inspect's ``includes`` scorer does).
"""

from __future__ import annotations

import re

from crosslab.grading.verdict import Verdict

NAME = "includes"
VERSION = "1"


def _pattern(target: str) -> re.Pattern[str]:
    words = target.split()
    return re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)


def _find(response: str, target: str) -> tuple[int, int] | None:
    if target.isascii() and response.isascii() and len(target.split()) == 1:
        # fast path: ASCII lower-casing keeps offsets, and one word needs no whitespace folding
        start = response.lower().find(target.strip().lower())
        return None if start < 0 else (start, start + len(target.strip()))
    match = _pattern(target).search(response)
    return match.span() if match else None


def grade_includes(response: str, target: str) -> Verdict:
    if not target.strip():
        raise ValueError("includes: the target text is empty")
    span = _find(response, target)
    if span:
        evidence = {"target": target, "span": list(span), "matched": response[span[0]:span[1]]}
        return Verdict(NAME, VERSION, "pass", 1.0, evidence)
    return Verdict(NAME, VERSION, "fail", 0.0, {"target": target, "span": None})
