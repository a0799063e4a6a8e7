"""A confidential system prompt: committed in public, sealed to the evaluators.

A lab may keep a deployment's system prompt out of the published protocol.
The protocol then carries only a salted commitment to it (an SD-JWT style
disclosure, ``commitments.py``), which is part of the deployment's digest, so
every bundle is bound to exactly that prompt. The prompt itself travels to
the evaluators as a *sealed prompt*: the disclosure string, age-encrypted to
their keys. Opening one checks it against the commitment, so an evaluator
cannot run a different prompt, and a buyer the lab later re-seals it to can
check the same commitment without anyone re-signing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from crosslab.attest.errors import VerificationError
from crosslab.core.errors import CrosslabError
from crosslab.disclosure.commitments import commitment_of, make_disclosure, open_disclosure
from crosslab.disclosure.encryption import EncryptionError, decrypt_with, encrypt_to

FORMAT = "crosslab-sealed-prompt/1"
#: Far above any system prompt; a sealed file larger than this is refused before decrypting.
MAX_SEALED_BYTES = 1 << 20


class SealedPromptError(CrosslabError, ValueError):
    """A sealed prompt that cannot be made, decrypted or opened; the message says which."""


@dataclass(frozen=True)
class OpenedPrompt:
    """A sealed prompt opened: the prompt, the commitment it opens, and the disclosure to re-seal."""

    prompt: str
    commitment: str
    disclosure: str


def _check_prompt(prompt: Any) -> str:
    if not isinstance(prompt, str):
        raise SealedPromptError(f"the sealed value is not a system prompt's text but a JSON {type(prompt).__name__}")
    if not prompt.strip():
        raise SealedPromptError("the system prompt is empty")
    return prompt


def seal(disclosure: str, recipients: list[str]) -> bytes:
    """Encrypt a prompt's disclosure to ``recipients`` (age X25519) as a sealed-prompt file."""
    plain = orjson.dumps({"format": FORMAT, "disclosure": disclosure})
    try:
        return encrypt_to(recipients, plain)
    except EncryptionError as exc:
        raise SealedPromptError(str(exc)) from None


def commit_and_seal(prompt: str, recipients: list[str]) -> tuple[OpenedPrompt, bytes]:
    """Commit to ``prompt`` with a fresh salt and seal it: (what the lab keeps, the file for evaluators)."""
    made = make_disclosure(_check_prompt(prompt))
    return OpenedPrompt(prompt, made.commitment, made.encoded), seal(made.encoded, recipients)


def open_sealed(data: bytes, identity: Any, source: str = "sealed prompt") -> OpenedPrompt:
    """Decrypt a sealed-prompt file with an age identity and open its disclosure.

    The commitment returned is computed from the disclosure; the caller matches it against the protocol.
    """
    if len(data) > MAX_SEALED_BYTES:
        raise SealedPromptError(f"{source}: {len(data)} bytes is too large for a sealed prompt")
    try:
        plain = decrypt_with(identity, data)
    except EncryptionError as exc:
        raise SealedPromptError(f"{source}: cannot decrypt it with your key ({exc}); was it sealed to you?") \
            from None
    try:
        doc = orjson.loads(plain)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("disclosure"), str):
        raise SealedPromptError(f"{source}: not a {FORMAT} file")
    try:
        _, prompt = open_disclosure(doc["disclosure"])
    except VerificationError as exc:
        raise SealedPromptError(f"{source}: {exc}") from None
    try:
        prompt = _check_prompt(prompt)
    except SealedPromptError as exc:
        raise SealedPromptError(f"{source}: {exc}") from None
    return OpenedPrompt(prompt, commitment_of(doc["disclosure"]), doc["disclosure"])
