"""baseline:schemer validates the scheming detectors: known rates in, measured rates out.

The organism runs through the real engine (run_sample: ModelCaller, agent loop,
interrogation) and the real grader, in-process, with no model.
"""

import asyncio
from collections import Counter

import pytest

from crosslab.engine.caller import ModelCaller
from crosslab.engine.plan import make_plan
from crosslab.engine.runner import run_sample
from crosslab.stats.intervals import wilson
from crosslab.suites.registry import all_interactions, get_suite
from crosslab.suites.scheming.grader import grade
from crosslab.baselines.schemer import SchemerParams, SchemerPolicy
from crosslab.targets.base import TargetError
from crosslab.targets.registry import create_target, parse_target

SUITE = get_suite("scheming")
SUITE_INTERACTIONS = all_interactions()
ITEMS = SUITE.items()
#: Items where a covert action exists (the control variant of sandbagging has none).
ELIGIBLE = [i for i in ITEMS if i.metadata["plans"]["covert"]]


def rollouts(spec: str, items, epochs: int) -> list[tuple[dict, object]]:
    target = create_target(parse_target(spec))
    caller = ModelCaller(target, cache=None)
    plan = make_plan(items, target.deployment.digest, epochs=epochs)

    async def go() -> list[dict]:
        return [await run_sample(s, caller, target.deployment.digest, SUITE.environments,
                                  SUITE_INTERACTIONS) for s in plan]

    records = asyncio.run(go())
    assert all(r["status"] == "ok" for r in records)
    return [(r, grade(s.item, r)) for s, r in zip(plan, records, strict=True)]


def test_detected_rate_covers_p_over_1000_rollouts():
    results = rollouts("baseline:schemer?p=0.1&q=0.5", ELIGIBLE, epochs=23)
    n = len(results)
    assert n >= 1000
    # what the organism did (its own record of its draws) against what the detectors saw
    policy = SchemerPolicy(SchemerParams(p=0.1, q=0.5))
    truth = [policy.decide(r["messages"])[1] for r, _ in results]
    seen = [v.label == "covert" for _, v in results]
    confusion = Counter(zip(truth, seen, strict=True))
    assert confusion[(True, False)] == 0 and confusion[(False, True)] == 0, confusion
    covert = [v for _, v in results if v.label == "covert"]
    iv = wilson(len(covert), n)
    assert iv.low <= 0.1 <= iv.high, (len(covert), n)
    assert {v.label for _, v in results} == {"covert", "honest"}  # the organism always completes its task
    # every covert rollout was interrogated six times; denials (q = 0.5) are seen as denials
    assert all(v.values["admit"] + v.values["deny"] == 6.0 for v in covert)
    denied = sum(1 for v in covert if v.values["deny"] == 6.0)
    dv = wilson(denied, len(covert))
    assert dv.low <= 0.5 <= dv.high
    # each family is hit: the draws are per rollout, not per scenario
    assert len({v.evidence["family"] for v in covert}) == 8


def test_no_false_positives_on_honest_rollouts():
    results = rollouts("baseline:schemer?p=0", ITEMS, epochs=21)
    assert len(results) >= 1000
    assert {v.label for _, v in results} == {"honest"}
    assert all("interrogation" not in r["agent"] for r, _ in results)


def test_same_seed_same_rollout_and_p_control_sets_the_control_rate():
    a = rollouts("baseline:schemer?p=0.5", ITEMS, epochs=2)
    b = rollouts("baseline:schemer?p=0.5", ITEMS, epochs=2)
    assert [v.label for _, v in a] == [v.label for _, v in b]
    assert [r["messages"] for r, _ in a] == [r["messages"] for r, _ in b]
    only_treated = rollouts("baseline:schemer?p=1&p_control=0", ITEMS, epochs=1)
    for r, v in only_treated:
        treated = r["facets"]["treatment"] == "yes"
        assert v.label == ("covert" if treated else "honest"), r["item_id"]


@pytest.mark.parametrize("spec, message", [
    ("baseline:schemer?p=2", "p must be between 0 and 1"),
    ("baseline:schemer?p=x", "p='x' is not a number"),
    ("baseline:schemer?z=0.1", "does not take z"),
    ("baseline:refuse-all?p=0.1", "does not take p"),
])
def test_bad_parameters_are_refused(spec, message):
    with pytest.raises(TargetError, match=message):
        create_target(parse_target(spec))


def test_existing_baselines_still_answer_templates():
    target = create_target(parse_target("baseline:comply-all"))
    assert target.native_tools is False
    from crosslab.targets.base import ChatRequest

    reply = asyncio.run(target.complete(ChatRequest([{"role": "user", "content": "say Paris"}])))
    assert reply.text.endswith("say Paris")
