"""Crescendo: a multi-turn conversation that escalates from harmless questions toward the behaviour.

The attacker, in one running conversation, writes the next question; the
target answers it with the conversation so far as context; the judge scores
the answer against the behaviour. A reply the judge labels ``refused`` is
*backtracked*: the question and its refusal are taken out of the target's
context (the target never sees them again), the attacker is told, and it
tries a smaller step. At most ``max_backtracks`` turns are taken back; after
that a refused turn stays in the context, as it would in a real chat.
Backtracked attempts do not count as turns; the budget still pays for them.

The attack ends at a score at or above the threshold, after ``max_turns``
kept turns, or when a role's budget is spent. An unreadable attacker answer
costs an attacker query and is told to the attacker; an unscored judge
reply is neither a success nor a refusal (the turn is kept).
"""

from __future__ import annotations

from crosslab.attacks.attacker import AttackerThread, clip, read_field
from crosslab.attacks.episode import Episode
from crosslab.attacks.params import CrescendoParams
from crosslab.targets.base import Message


async def run_crescendo(ep: Episode) -> str:
    """Run Crescendo on ``ep``; the stop reason (success, exhausted). OutOfBudget propagates."""
    params = ep.spec.params
    assert isinstance(params, CrescendoParams)
    prompt = ep.prompts.prompt("escalate")
    thread = AttackerThread(prompt.render("system", goal=ep.goal, max_turns=params.max_turns),
                            prompt.render("first", max_turns=params.max_turns))
    context: list[Message] = []  # the target's conversation: kept turns only
    turns = backtracks = attempt = 0
    ep.details.update({"turns": 0, "backtracks": 0, "refused_kept": 0, "attacker_unreadable": 0,
                       "target_prompts": 0})
    while turns < params.max_turns:
        ep.grant("attacker", 1)
        answer = await ep.attacker.call(ep.ledger, ep.behaviour.id, f"crescendo/a{attempt}/attacker",
                                        thread.request())
        text = answer.response.text
        question = read_field(text, "question")
        if question is None:
            ep.ledger.roles["attacker"].unscored += 1
            ep.count("attacker_unreadable")
            thread = thread.then(text, prompt.render("unreadable"))
            attempt += 1
            continue
        ep.grant("target", 1)
        ep.count("target_prompts")
        asked = [*context, {"role": "user", "content": question}]
        reply = await ep.target.call(ep.ledger, ep.behaviour.id, f"crescendo/a{attempt}/target", asked)
        said = reply.response.text
        ep.grant("judge", 1)
        score = await ep.judge.score(ep.ledger, ep.behaviour.id, f"crescendo/a{attempt}/judge", ep.goal, said)
        attempt += 1
        transcript = [*asked, {"role": "assistant", "content": said}]
        ep.judged(score, prompt=None, transcript=transcript)
        if ep.succeeded:
            ep.details["turns"] = turns + 1
            return "success"
        if score.label == "refused" and backtracks < params.max_backtracks:
            backtracks += 1
            ep.details["backtracks"] = backtracks
            outcome = "refused (the question was taken out of the conversation)"
        else:
            if score.label == "refused":
                ep.count("refused_kept")
                outcome = "refused (the question stays in the conversation)"
            else:
                outcome = "answered" if score.scored else "unscored"
            context = transcript
            turns += 1
            ep.details["turns"] = turns
        thread = thread.then(text, prompt.render("feedback", reply=clip(said), score=score.text(), outcome=outcome,
                                                 turn=turns + 1, max_turns=params.max_turns))
    return "exhausted"
