"""``crosslab.grader``: declare a grader as ``fn(item, transcript) -> Verdict``.

Inside crosslab a grader is ``(item, journal record) -> Verdict | None`` (see
``crosslab.suites.registry.GraderFn``). The decorator adapts a function that
takes a read-only ``Transcript`` instead, and stamps the verdicts it returns
with the grading type and version it declares::

    @grader("haiku", version="2")
    def haiku(item: Item, transcript: Transcript) -> Verdict:
        lines = [x for x in transcript.final_answer.splitlines() if x.strip()]
        return Verdict.of("pass" if len(lines) == 3 else "fail", float(len(lines) == 3), {"lines": len(lines)})

``haiku`` is then a ``Grader``: pass it to ``crosslab.suite(..., graders=[haiku])``.
It can still be called with a ``Transcript`` (in the grader's own tests) or a
journal record (by the grading stage).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from crosslab.grading.transcript import Transcript
from crosslab.grading.verdict import Verdict
from crosslab.items.item import Item

#: What a user writes: (item, transcript) -> verdict, or None when the sample is not graded.
TranscriptGraderFn = Callable[[Item, Transcript], Verdict | None]

_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


class Grader:
    """A grader for the items whose ``grading.type`` is ``kind``; a ``GraderFn`` for the registry."""

    def __init__(self, kind: str, version: str, fn: TranscriptGraderFn) -> None:
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise ValueError(f"grading type {kind!r} must be a word (letters, digits, _ . -)")
        if not isinstance(version, str) or not version:
            raise ValueError(f"grader {kind!r}: version must be a non-empty string")
        self.kind = kind
        self.version = version
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, item: Item, record: Mapping[str, Any] | Transcript) -> Verdict | None:
        transcript = record if isinstance(record, Transcript) else Transcript.from_record(record)
        verdict = self.fn(item, transcript)
        if verdict is None:
            return None
        if not isinstance(verdict, Verdict):
            raise TypeError(f"grader {self.kind!r} returned {type(verdict).__name__}, not a Verdict (or None)")
        if not 0.0 <= verdict.score <= 1.0:
            raise ValueError(f"grader {self.kind!r}: score {verdict.score} is outside [0, 1]")
        return dataclasses.replace(verdict, grader=verdict.grader or self.kind,
                                   version=verdict.version or self.version)

    def __repr__(self) -> str:
        return f"<Grader {self.kind!r} v{self.version} {getattr(self.fn, '__qualname__', self.fn)!r}>"


def grader(kind: str, *, version: str = "1") -> Callable[[TranscriptGraderFn], Grader]:
    """Declare ``fn(item, transcript) -> Verdict`` as the grader of grading type ``kind``.

    Verdicts built with ``Verdict.of(label, score, evidence)`` get ``kind`` as
    their grader name and ``version`` as their version; bump the version
    whenever the same transcript could get another verdict.
    """
    def wrap(fn: TranscriptGraderFn) -> Grader:
        return Grader(kind, version, fn)

    return wrap
