"""The metric definitions of the installed suites: what a writer declares and a verifier can re-check.

Kept apart from the verifier core, which never imports suites: a buyer's
verifier checks every signature, digest and commitment with no suite code at
all, and re-computes a suite's metrics only when it has that suite's
definition at the version the bundle declares.
"""

from __future__ import annotations

from crosslab.bundle.metrics import MetricDefinition
from crosslab.core.version import __version__
from crosslab.suites.registry import discover


def installed_definitions() -> dict[str, MetricDefinition]:
    """Category -> the installed suite's metric definition (suites without metrics have none)."""
    return {s.category: MetricDefinition(s.name, s.category, s.metrics_version, __version__, s.metrics)
            for s in discover().values() if s.category and s.metrics}
