"""inspect-ai is optional: the Inspect commands import it here and say how to install it when missing."""

from __future__ import annotations

from types import ModuleType

from crosslab.interop.errors import InteropError

INSTALL = "pip install 'crosslab[inspect]'"


def require_inspect() -> ModuleType:
    """inspect_ai, or one line saying how to get it (it pulls in many packages most users never need)."""
    try:
        import inspect_ai.log
    except ImportError:
        raise InteropError(f"the Inspect commands need inspect-ai, which is not installed: {INSTALL}") from None
    return inspect_ai
