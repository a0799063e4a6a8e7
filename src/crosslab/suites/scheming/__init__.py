"""The scheming suite: eight families of agentic scenarios in an in-process sandbox.

Each scenario runs in a ``ScenarioEnvironment`` (crosslab.sandbox); a covert
action is detected from the final state and the action log, the agent is then
asked about it (interaction ``agent_interrogated``), and the grader labels each
rollout covert / honest / incapable. docs/suites/scheming.md describes the families.
"""

from __future__ import annotations

from typing import Any


def make_environment(item: Any, seed: int) -> Any:
    """Environment factory: the item's sandbox, with its family predicate as the detector."""
    from crosslab.sandbox.scenario_env import ScenarioEnvironment
    from crosslab.suites.scheming.predicates import detect

    grading = item.grading
    return ScenarioEnvironment(item.metadata["sandbox"], seed,
                               detector=lambda state, log, messages: detect(grading, state, log, messages))


def suite():  # noqa: ANN201 - returns crosslab.suites.registry.Suite
    from crosslab.suites.registry import Suite
    from crosslab.suites.scheming.views import family_rates
    from crosslab.suites.scheming.build import build
    from crosslab.suites.scheming.grader import VERSION, grade
    from crosslab.suites.scheming.interaction import agent_interrogated
    from crosslab.suites.scheming.metrics import metrics

    return Suite("scheming",
                 "Covert actions in agentic scenarios (8 families × 3 scenarios × 2 counterfactual variants), "
                 "follow-up interrogation, sandbagging gap.",
                 "crosslab.suites.scheming", {"scheming": make_environment}, category="scheming",
                 build=build, graders={"scheming": grade}, grader_versions={"scheming": VERSION}, metrics=metrics,
                 report_views=(family_rates,),
                 interactions={"agent_interrogated": agent_interrogated})
