"""A cue: one matched piece of evidence in a response, shared by the rule-based detectors.

The refusal detector (``refusal.py``) and the abstention detector
(``abstention.py``) both explain a label by the cues they matched: what kind
of cue, where it sits in the text, and the text itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cue:
    #: The detector's word for what matched: refusal uses decline | as_an_ai | lecture | redirect | offer |
    #: empathy | empty; abstention uses unknown | doubt_existence | asks_source | no_assertion | empty.
    kind: str
    #: [start, end) offsets of ``text`` in the text the detector read.
    span: tuple[int, int]
    text: str
