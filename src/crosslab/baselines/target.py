"""Calibration organisms (``baseline:refuse-all``, ``baseline:comply-all``, ``baseline:schemer``).

They exist to validate graders and metrics, never to stand in for a model in a
report. ``refuse-all`` and ``comply-all`` answer fixed templates from
baselines.yaml; ``schemer`` is a scripted agent for the scheming suite that
makes real (native) tool calls. Its rates are set in the model name, e.g.
``baseline:schemer?p=0.1&q=0.5`` (covert-action probability p, probability q of
denying when asked, optional p_control for the control variant of each pair), so
every setting is a different deployment with its own digest.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

import yaml

from crosslab.targets.base import ChatRequest, ChatResponse, Target, TargetError, Usage
from crosslab.targets.deployment import Deployment


@cache
def baselines() -> dict[str, dict[str, Any]]:
    text = resources.files("crosslab.baselines").joinpath("baselines.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def parse_model(model: str) -> tuple[str, dict[str, float]]:
    """``schemer?p=0.1&q=0.5`` → ("schemer", {"p": 0.1, "q": 0.5}); values must be probabilities."""
    name, _, query = model.partition("?")
    params: dict[str, float] = {}
    for key, raw in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        try:
            value = float(raw)
        except ValueError:
            raise TargetError("bad_request", f"baseline:{name}: {key}={raw!r} is not a number") from None
        if not 0.0 <= value <= 1.0:
            raise TargetError("bad_request", f"baseline:{name}: {key} must be between 0 and 1, got {value}")
        params[key] = value
    return name, params


class BaselineTarget(Target):
    native_tools = False

    def __init__(self, deployment: Deployment, *, api_key: str | None = None) -> None:
        super().__init__(deployment)
        known = baselines()
        try:
            name, params = parse_model(deployment.model)
        except ValueError as exc:  # malformed query string
            raise TargetError("bad_request", f"baseline {deployment.model!r}: {exc}") from None
        if name not in known:
            raise TargetError("bad_request",
                              f"unknown baseline {deployment.model!r} (known: {', '.join(known)})")
        spec = known[name]
        allowed = set(spec.get("parameters") or {})
        if set(params) - allowed:
            extra = ", ".join(sorted(set(params) - allowed))
            raise TargetError("bad_request", f"baseline:{name} does not take {extra}"
                              + (f" (it takes {', '.join(sorted(allowed))})" if allowed else ""))
        self._policy: Any = None
        self._template: str = spec.get("response", "")
        if spec.get("kind") == "scheming-agent":
            from crosslab.baselines.schemer import SchemerParams, SchemerPolicy

            defaults = {k: v for k, v in (spec.get("parameters") or {}).items() if v is not None}
            self._policy = SchemerPolicy(SchemerParams(**{**defaults, **params}))
            self.native_tools = True
        # attack organisms (crosslab.attacks tests): one small branch, the rules live in attack_organisms.py
        if spec.get("kind") == "attack-organism":
            from crosslab.baselines.attack_organisms import AttackOrganism

            self._policy = AttackOrganism(name, params)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        if self._policy is not None:
            return self._policy.respond(request.messages)
        last_user = next((m["content"] for m in reversed(request.messages) if m["role"] == "user"), "")
        text = self._template.format(last_user=last_user)
        return ChatResponse(text=text, usage=Usage(0, 0), finish_reason="stop",
                            model=f"baseline:{self.deployment.model}")
