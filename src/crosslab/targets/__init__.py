"""Targets: deployed systems behind one async interface, one module per provider."""

from crosslab.targets.base import (
    ChatRequest,
    ChatResponse,
    Target,
    TargetError,
    ToolCall,
    ToolSpec,
    Usage,
)
from crosslab.targets.deployment import Deployment
from crosslab.targets.registry import PROVIDERS, create_target, parse_target

__all__ = [
    "PROVIDERS",
    "ChatRequest",
    "ChatResponse",
    "Deployment",
    "Target",
    "TargetError",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "create_target",
    "parse_target",
]
