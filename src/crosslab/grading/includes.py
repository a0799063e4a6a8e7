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


def grade_includes(response: str, target: str) -> Verdict:
    if not target.strip():
        raise ValueError("includes: the target text is empty")
    match = _pattern(target).search(response)
    if match:
        evidence = {"target": target, "span": [match.start(), match.end()], "matched": match.group(0)}
        return Verdict(NAME, VERSION, "pass", 1.0, evidence)
    return Verdict(NAME, VERSION, "fail", 0.0, {"target": target, "span": None})
