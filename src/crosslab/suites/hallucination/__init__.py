"""The hallucination suite: verifiable facts, fabricated entities, false premises, closed-world citations.

Slices: ``facts`` (with stated confidence for calibration), ``fabricated``,
``false_premise`` (each false premise has a true-premise twin), ``citations``
(an agent answers from a generated corpus through ``search_corpus``), and the
medicine and law items reported together as ``high_stakes``. See
docs/suites/hallucination.md.
"""

from __future__ import annotations


def suite():  # noqa: ANN201 - returns crosslab.suites.registry.Suite
    from crosslab.suites.hallucination.builder import build
    from crosslab.suites.hallucination.environment import CorpusEnvironment
    from crosslab.suites.hallucination.graders import GRADERS, VERSION
    from crosslab.suites.hallucination.judging import HOOKS
    from crosslab.suites.hallucination.metrics import METRICS_VERSION, metrics
    from crosslab.suites.registry import Suite
    from crosslab.suites.hallucination.views import outcome_bars

    return Suite("hallucination",
                 "Facts with calibration, fabricated entities, false premises, high-stakes (medicine, law) "
                 "and closed-world citations.",
                 "crosslab.suites.hallucination", {"orlavia_corpus": CorpusEnvironment.for_item},
                 category="hallucination", build=build, graders=dict(GRADERS), metrics=metrics,
                 grader_versions=dict.fromkeys(GRADERS, VERSION), metrics_version=METRICS_VERSION,
                 judge_hooks=HOOKS,
                 metric_graders={**dict.fromkeys(("correct", "incorrect", "not_attempted", "correct_given_attempted",
                                                  "f_score", "false_abstention"), "answer"),
                                 "abstention_recall": "abstention", "premise_correction": "false_premise"},
                 report_views=(outcome_bars,))
