"""The smoke suite: a dozen quick items over single-turn, scripted and agent interactions."""

from __future__ import annotations


def suite():  # noqa: ANN201 - returns crosslab.suites.registry.Suite
    from crosslab.grading import includes
    from crosslab.suites.registry import Suite
    from crosslab.suites.smoke.lookup import LookupEnvironment

    return Suite("smoke", "A dozen quick items exercising single-turn, scripted and agent interactions.",
                 "crosslab.suites.smoke", {"lookup": LookupEnvironment.for_item},
                 grader_versions={includes.NAME: includes.VERSION})
