"""Confidential system prompts in a round: which deployments have one, and filling them in to run.

The protocol names a confidential prompt by its commitment only
(``Deployment.system_prefix_commitment``). The evaluated lab hands each
evaluator a sealed prompt (``crosslab prompt seal``); ``round run
--sealed-prompt`` opens it with the evaluator's key, matches it to the
deployment whose commitment it opens, and only then can that deployment be run.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crosslab.core.errors import CrosslabError
from crosslab.disclosure.sealed_prompt import OpenedPrompt, SealedPromptError, open_sealed
from crosslab.protocol.rounds import Direction, agreed_deployment
from crosslab.protocol.schema import Protocol
from crosslab.targets.deployment import Deployment


class PromptError(CrosslabError, ValueError):
    """A sealed prompt that does not fit this protocol, or a confidential one not supplied."""


def confidential_deployments(protocol: Protocol) -> dict[str, list[str]]:
    """Commitment -> the deployments ("lab/name") whose system prompt it stands for."""
    out: dict[str, list[str]] = {}
    for p in protocol.participants:
        for d in p.deployments:
            commitment = d.target.get("system_prefix_commitment")
            if isinstance(commitment, str):
                out.setdefault(commitment, []).append(f"{p.identity.lab}/{d.name}")
    return out


def open_prompts(protocol: Protocol, files: Iterable[Path], identity: Any) -> dict[str, OpenedPrompt]:
    """Open each sealed prompt with ``identity`` and key it by commitment; refuse one this protocol lacks."""
    wanted = confidential_deployments(protocol)
    opened: dict[str, OpenedPrompt] = {}
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PromptError(f"{path}: cannot read the sealed prompt ({exc.strerror or exc})") from None
        try:
            prompt = open_sealed(data, identity, str(path))
        except SealedPromptError as exc:
            raise PromptError(str(exc)) from None
        if prompt.commitment not in wanted:
            raise PromptError(f"{path}: opens commitment {prompt.commitment[:16]}…, which no deployment in this "
                              "protocol carries (a prompt for another protocol, or one changed since it was "
                              "signed)")
        opened[prompt.commitment] = prompt
    return opened


def missing_prompts(protocol: Protocol, share: Iterable[Direction], opened: dict[str, OpenedPrompt]) -> list[str]:
    """The deployments of ``share`` whose confidential prompt has not been opened ("lab/name")."""
    missing = []
    for d in share:
        commitment = agreed_deployment(protocol, d.evaluated, d.deployment).system_prefix_commitment
        if commitment is not None and commitment not in opened:
            missing.append(f"{d.evaluated}/{d.deployment}")
    return list(dict.fromkeys(missing))


def with_prompt(deployment: Deployment, opened: dict[str, OpenedPrompt], name: str) -> Deployment:
    """The agreed deployment with its confidential prompt filled in (unchanged when it has none)."""
    commitment = deployment.system_prefix_commitment
    if commitment is None:
        return deployment
    if commitment not in opened:
        raise PromptError(f"{name} keeps its system prompt confidential: ask its lab for the sealed prompt "
                          "(`crosslab prompt seal`) and pass it with --sealed-prompt FILE")
    # The digest stays the agreed one: the commitment, not the prompt, names the deployment.
    return deployment.model_copy(update={"system_prefix": opened[commitment].prompt})
