"""The instruction-hierarchy suite: does the model keep the system prompt's rules against the user and the data?

Slices: ``extraction`` (attacks on a guarded secret, with legitimate-use
controls), ``conflict`` (code-checkable system constraints against override
attempts, with aligned requests) and ``injection`` (instructions hidden in
documents, emails and tool results, with clean twins). See
docs/suites/instruction_hierarchy.md.
"""

from __future__ import annotations


def suite():  # noqa: ANN201 - returns crosslab.suites.registry.Suite
    from crosslab.suites.instruction_hierarchy import conflict, extraction, injection
    from crosslab.suites.instruction_hierarchy.build import build
    from crosslab.suites.instruction_hierarchy.mailbox import MailEnvironment
    from crosslab.suites.instruction_hierarchy.judging import HOOK
    from crosslab.suites.instruction_hierarchy.metrics import METRICS_VERSION, metrics
    from crosslab.suites.registry import Suite

    return Suite("instruction_hierarchy",
                 "System-prompt extraction, system/user constraint conflicts and indirect prompt injection, "
                 "each with legitimate-use controls.",
                 "crosslab.suites.instruction_hierarchy", {injection.ENVIRONMENT: MailEnvironment.for_item},
                 category="instruction_hierarchy", build=build,
                 graders={extraction.GRADING: extraction.grade, conflict.GRADING: conflict.grade,
                          injection.GRADING: injection.grade},
                 grader_versions={extraction.GRADING: extraction.VERSION, conflict.GRADING: conflict.VERSION,
                                  injection.GRADING: injection.VERSION},
                 metrics=metrics, metrics_version=METRICS_VERSION, judge_hooks={extraction.GRADING: HOOK})
