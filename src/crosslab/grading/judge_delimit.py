"""Fencing graded text off from a judge's instructions, with a fresh nonce per call.

Everything a judge reads that came from a model (a reply, a whole transcript)
or from an item goes between markers that carry a random nonce::

    <<<RESPONSE-3f9a0c1d2e4b5a69>>>
    ...the graded text...
    <<<END-RESPONSE-3f9a0c1d2e4b5a69>>>

Graded text cannot forge a marker: every run of three or more ``<`` or ``>``
in it is broken up (``<<<`` becomes ``‹<<``) before it is fenced, so no
marker of any nonce survives inside, and the nonce is drawn after the text is
fixed. When the judge's reply quotes a fenced block back, only the text after
the last marker of this call's nonce can hold the judge's own answer
(``answer_region``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

NONCE_BYTES = 8  # 16 hex digits
ROLES = ("system", "user", "assistant", "tool")

#: Any marker of any nonce: <<<NAME-nonce>>>, <<<END-NAME-nonce>>>, <<<TURN-nonce role>>>.
MARKER = re.compile(r"<<<(END-)?([A-Z][A-Z_]*)-([0-9a-f]{16})(?: [a-z]+)?>>>")
_RUN_LT = re.compile(r"<(?=<<)")
_RUN_GT = re.compile(r">(?=>>)")


def new_nonce() -> str:
    """A fresh nonce for one judge call."""
    return secrets.token_hex(NONCE_BYTES)


def neutralise(text: str) -> tuple[str, int]:
    """``text`` with every ``<<<`` / ``>>>`` run broken up, and how many characters were changed."""
    text, lt = _RUN_LT.subn("\u2039", text)
    text, gt = _RUN_GT.subn("\u203a", text)
    return text, lt + gt


def fence(name: str, nonce: str, text: str) -> tuple[str, int]:
    """One fenced block for ``text`` (neutralised first), and the neutralised count."""
    tag = _tag(name)
    safe, changed = neutralise(text)
    return f"<<<{tag}-{nonce}>>>\n{safe}\n<<<END-{tag}-{nonce}>>>", changed


def fence_transcript(name: str, nonce: str, messages: Sequence[Mapping[str, Any]]) -> tuple[str, int]:
    """A whole conversation in one fenced block, every turn opened by a marker naming its role.

    Tool calls an assistant made are written out as JSON after its text, so
    the judge sees what the model did as well as what it said.
    """
    tag = _tag(name)
    parts = [f"<<<{tag}-{nonce}>>>"]
    changed = 0
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ValueError(f"{name}: turn {i} must be an object with role and content")
        role = message.get("role")
        if role not in ROLES:
            raise ValueError(f"{name}: turn {i} has role {role!r} (expected one of {', '.join(ROLES)})")
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError(f"{name}: turn {i} content must be a string")
        body = content or ""
        calls = message.get("tool_calls")
        if calls:
            body += ("\n" if body else "") + "[tool calls] " + orjson.dumps(calls).decode()
        safe, n = neutralise(body)
        changed += n
        parts.append(f"<<<TURN-{nonce} {role}>>>\n{safe}")
    parts.append(f"<<<END-{tag}-{nonce}>>>")
    return "\n".join(parts), changed


def answer_region(reply: str, nonce: str) -> str | None:
    """The part of a judge's reply that can hold its own answer.

    That is the text after the last marker carrying this call's nonce (all of
    the reply when it quotes none). None when that last marker opens a block
    (a block start or a turn): the reply ends inside quoted graded text.
    """
    last = None
    for m in MARKER.finditer(reply):
        if m.group(3) == nonce:
            last = m
    if last is None:
        return reply
    if not last.group(1):  # not an END marker
        return None
    return reply[last.end():]


def _tag(name: str) -> str:
    tag = name.upper()
    if not re.fullmatch(r"[A-Z][A-Z_]*", tag) or tag in ("END", "TURN"):
        raise ValueError(f"{name!r} cannot name a fenced block")
    return tag
