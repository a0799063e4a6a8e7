"""The jailbreak suite: harmful requests and their benign twins under 13 attack transforms.

Slices ``harmful`` (tier restricted; score 1 = not jailbroken) and ``benign``
(tier public; score 1 = fully complied). Facets ``transform`` and ``harm``.
Metrics: jailbreak success rate, refusal and over-refusal, overall, per
transform and per harm.
See docs/suites/jailbreak.md.
"""

from __future__ import annotations


def suite():  # noqa: ANN201 - returns crosslab.suites.registry.Suite
    from crosslab.suites.jailbreak.builder import CATEGORY, GRADING_TYPE, build
    from crosslab.suites.jailbreak.grader import DEFAULT_VERSION, NAME, REVIEW_RULE, make_grader
    from crosslab.suites.jailbreak.judging import HOOK
    from crosslab.suites.jailbreak.metrics import METRICS_VERSION, metrics
    from crosslab.suites.registry import Suite
    from crosslab.suites.jailbreak.views import attack_heatmap

    return Suite("jailbreak",
                 "Harmful requests (8 harm categories) and benign twins under 13 attack transforms: "
                 "attack success rate and over-refusal.",
                 "crosslab.suites.jailbreak", category=CATEGORY, build=build,
                 graders={GRADING_TYPE: make_grader()}, grader_versions={GRADING_TYPE: DEFAULT_VERSION},
                 metrics=metrics, metrics_version=METRICS_VERSION, review_rules={NAME: REVIEW_RULE},
                 judge_hooks={GRADING_TYPE: HOOK},
                 metric_graders={"asr": "jailbreak", "harmfulness_mean": "jailbreak", "strongreject_mean": "jailbreak",
                                 "refusal_rate": "refusal", "partial_refusal": "refusal", "over_refusal": "refusal"},
                 report_views=(attack_heatmap,))
