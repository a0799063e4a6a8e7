"""PAIR: parallel streams of an attacker refining one prompt from the target's reply and the judge's score.

Each of ``streams`` streams is its own attacker conversation, given one
approach from the prompt set (assigned by a seeded shuffle). A round, run
for all streams at once: the attacker writes a prompt, the target answers it
alone (single turn), the judge scores the answer 1-10, and the reply and
score go back to that stream's attacker. The attack stops at the first
round with a score at or above the success threshold, after ``iterations``
rounds, or when a role's budget cannot pay for the next step. Within a
round, queries are granted in stream order, so a budget that runs out mid-
round always cuts the same streams.
"""

from __future__ import annotations

from dataclasses import dataclass

from crosslab.attacks.attacker import AttackerThread, clip, read_field
from crosslab.attacks.episode import Episode, OutOfBudget, gather_all
from crosslab.attacks.params import PairParams


@dataclass
class Stream:
    index: int
    strategy: str
    thread: AttackerThread


def make_streams(ep: Episode, count: int, keep_last: int, prefix: str) -> list[Stream]:
    """``count`` attacker threads, each with a strategy from a seeded shuffle of the prompt set's list."""
    prompt = ep.prompts.prompt("refine")
    strategies = list(ep.prompts.strategies)
    ep.rng(prefix, "strategies").shuffle(strategies)
    streams = []
    for i in range(count):
        strategy = strategies[i % len(strategies)]
        system = prompt.render("system", goal=ep.goal, strategy=strategy.text, series=i + 1, series_count=count)
        streams.append(Stream(i, strategy.id, AttackerThread(system, prompt.render("first", goal=ep.goal),
                                                             keep_last=keep_last)))
    return streams


def feedback(ep: Episode, reply: str, score_text: str, outcome: str) -> str:
    return ep.prompts.prompt("refine").render("feedback", reply=clip(reply), score=score_text, outcome=outcome)


async def run_pair(ep: Episode) -> str:
    """Run PAIR on ``ep``; the stop reason (success, exhausted). OutOfBudget propagates."""
    params = ep.spec.params
    assert isinstance(params, PairParams)
    streams = make_streams(ep, params.streams, params.keep_last, "pair")
    ep.details.update({"strategies": [s.strategy for s in streams], "iterations": 0, "attacker_unreadable": 0,
                       "target_prompts": 0})
    for it in range(params.iterations):
        ep.details["iterations"] = it + 1
        active = streams[:ep.grant("attacker", len(streams))]
        answers = await gather_all((
            ep.attacker.call(ep.ledger, ep.behaviour.id, f"pair/s{s.index}/i{it}/attacker", s.thread.request())
            for s in active))
        candidates: list[tuple[Stream, str, str]] = []
        for stream, answer in zip(active, answers, strict=True):
            text = answer.response.text
            prompt = read_field(text, "prompt")
            if prompt is None:
                ep.ledger.roles["attacker"].unscored += 1
                ep.count("attacker_unreadable")
                stream.thread = stream.thread.then(text, ep.prompts.prompt("refine").render("unreadable"))
            else:
                candidates.append((stream, prompt, text))
        if not candidates:
            continue
        candidates = candidates[:ep.grant("target", len(candidates))]
        ep.details["target_prompts"] += len(candidates)
        replies = await gather_all((
            ep.target.call(ep.ledger, ep.behaviour.id, f"pair/s{s.index}/i{it}/target",
                           [{"role": "user", "content": prompt}])
            for s, prompt, _ in candidates))
        judged = candidates[:ep.grant("judge", len(candidates))]
        scores = await gather_all((
            ep.judge.score(ep.ledger, ep.behaviour.id, f"pair/s{s.index}/i{it}/judge", ep.goal, r.response.text)
            for (s, _, _), r in zip(judged, replies, strict=False)))
        for (stream, prompt, answer), reply, score in zip(judged, replies, scores, strict=False):
            text = reply.response.text
            ep.judged(score, prompt=prompt, transcript=[{"role": "user", "content": prompt},
                                                        {"role": "assistant", "content": text}])
            stream.thread = stream.thread.then(answer, feedback(ep, text, score.text(), score.label))
        if ep.succeeded:
            return "success"
        if len(judged) < len(candidates):
            raise OutOfBudget("judge")  # some replies could not be scored: the judge's budget is spent
    return "exhausted"
