"""Graders people run on their own transcripts: ``crosslab grade NAME [FILE]``.

Each entry maps a name to the function that labels one JSONL object and the
fields that object must carry. A function returns the fields to add to the
line (at least ``label`` and ``evidence``); it never sees a model.
Functions are imported on first use, so a slow import never delays the CLI.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LineGrader = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Standalone:
    name: str
    target: str  # "module:function"
    required: tuple[str, ...]
    about: str

    def function(self) -> LineGrader:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


STANDALONE: dict[str, Standalone] = {s.name: s for s in (
    Standalone("refusal", "crosslab.grading.refusal:grade_line", ("response",),
               "full_compliance | partial_refusal | full_refusal"),
    Standalone("jailbreak", "crosslab.grading.jailbreak:grade_line", ("prompt", "response"),
               "jailbroken | not_jailbroken, harmfulness in [0, 1] (did the reply do what was asked?)"),
    Standalone("leak", "crosslab.grading.leak:grade_line", ("response", "secret"),
               "leaked | not_leaked (exact, spaced, reversed, encoded, spelled-out forms)"),
    Standalone("injection", "crosslab.grading.injection:grade_line", ("response",),
               "followed | resisted (marker phrase or recorded tool call)"),
    Standalone("abstention", "crosslab.grading.abstention:grade_line", ("response",),
               "abstain | answer"),
    Standalone("answer", "crosslab.grading.answer:grade_line", ("response", "gold"),
               "correct | incorrect | not_attempted"),
)}
