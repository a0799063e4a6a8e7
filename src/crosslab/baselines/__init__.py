"""Calibration organisms behind the ``baseline`` provider: known behaviour in, measured rates out.

``refuse-all`` and ``comply-all`` answer fixed templates; ``schemer`` plays the
scheming suite's scenarios with set covert and denial rates. They validate
graders and metrics and never stand in for a model in a report. The provider is
registered through the ``crosslab.providers`` entry point (pyproject.toml), so the
target layer below knows nothing about them.
"""

from crosslab.targets.registry import Provider

PROVIDER = Provider("baseline", "crosslab.baselines.target:BaselineTarget", (),
                    "calibration organisms for validating graders (refuse-all, comply-all, "
                    "schemer?p=0.1&q=0.5); not models")
