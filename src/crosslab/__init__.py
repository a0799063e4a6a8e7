"""crosslab: cross-lab AI safety evaluation with verifiable, redacted publication.

The public extension API (docs/extending.md)::

    from crosslab import Item, Suite, Transcript, Verdict, suite, grader, FunctionTarget

The names are loaded on first use (PEP 562), so importing any part of crosslab
(e.g. the offline verifier, ``crosslab.bundle.verify``) loads no suite, engine
or grading code.
"""

import importlib as _importlib
from typing import TYPE_CHECKING

from crosslab.core.version import __version__

if TYPE_CHECKING:
    from crosslab.grading.grader import grader
    from crosslab.grading.transcript import Transcript
    from crosslab.grading.verdict import Verdict
    from crosslab.items.item import Item
    from crosslab.suites.declare import suite
    from crosslab.suites.registry import Suite
    from crosslab.targets.function_target import FunctionTarget

#: public name -> the module that defines it
_EXPORTS = {
    "FunctionTarget": "crosslab.targets.function_target",
    "Item": "crosslab.items.item",
    "Suite": "crosslab.suites.registry",
    "Transcript": "crosslab.grading.transcript",
    "Verdict": "crosslab.grading.verdict",
    "grader": "crosslab.grading.grader",
    "suite": "crosslab.suites.declare",
}

__all__ = ["FunctionTarget", "Item", "Suite", "Transcript", "Verdict", "__version__", "grader", "suite"]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crosslab' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
