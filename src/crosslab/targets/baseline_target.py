"""Calibration organisms (``baseline:refuse-all``, ``baseline:comply-all``).

They exist to validate graders and metrics, never to stand in for a model in a
report: their answers are fixed templates from baselines.yaml.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from crosslab.targets.base import ChatRequest, ChatResponse, Target, TargetError, Usage
from crosslab.targets.deployment import Deployment


@cache
def baselines() -> dict[str, dict[str, Any]]:
    text = resources.files("crosslab.targets").joinpath("baselines.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


class BaselineTarget(Target):
    native_tools = False

    def __init__(self, deployment: Deployment, *, api_key: str | None = None) -> None:
        super().__init__(deployment)
        known = baselines()
        if deployment.model not in known:
            raise TargetError("bad_request",
                              f"unknown baseline {deployment.model!r} (known: {', '.join(known)})")
        self._template: str = known[deployment.model]["response"]

    async def complete(self, request: ChatRequest) -> ChatResponse:
        last_user = next((m["content"] for m in reversed(request.messages) if m["role"] == "user"), "")
        text = self._template.format(last_user=last_user)
        return ChatResponse(text=text, usage=Usage(0, 0), finish_reason="stop",
                            model=f"baseline:{self.deployment.model}")
