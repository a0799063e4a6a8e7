"""TAP: tree-of-attacks search with two pruning phases.

The tree starts from one attacker conversation (the root). At each depth, every leaf asks the
attacker for ``branching`` children (each request carries a "Candidate j of
b" note so a deterministic attacker can tell them apart, and a sampling
attacker is asked for variety). Then:

1. *Phase 1 (before the target).* The judge checks each child prompt for
   being on topic; children judged ``off_topic`` are dropped without a
   target query. An unparseable check keeps the child. With
   ``prune_off_topic: false`` every child goes to the target (the ablation
   the tests use to show what pruning saves).
2. The target answers each surviving prompt alone; the judge scores it.
   A score at or above the threshold ends the attack.
3. *Phase 2.* The ``width`` best-scored children become the next leaves;
   unscored ones rank last, and ties are broken by a seeded shuffle.
   When no child survives phase 1, the search ends (``exhausted``).

Queries are granted in a fixed order (leaves in order, children in order),
so a budget that runs out mid-level always cuts the same children.
"""

from __future__ import annotations

from dataclasses import dataclass

from crosslab.attacks.attacker import AttackerThread, read_field
from crosslab.attacks.episode import Episode, OutOfBudget, gather_all
from crosslab.attacks.judge import Score
from crosslab.attacks.pair import feedback, make_streams
from crosslab.attacks.params import TapParams


@dataclass
class Node:
    path: str
    thread: AttackerThread


@dataclass
class Child:
    parent: Node
    path: str
    prompt: str
    answer: str  # the attacker's whole answer, kept in the child's history


async def run_tap(ep: Episode) -> str:
    """Run TAP on ``ep``; the stop reason (success, exhausted). OutOfBudget propagates."""
    params = ep.spec.params
    assert isinstance(params, TapParams)
    [root] = make_streams(ep, 1, params.keep_last, "tap")
    refine = ep.prompts.prompt("refine")
    frontier = [Node("r", root.thread)]
    ep.details.update({"depth": 0, "generated": 0, "pruned_off_topic": 0, "pruned_width": 0,
                       "attacker_unreadable": 0, "target_prompts": 0})
    for depth in range(params.depth):
        ep.details["depth"] = depth + 1
        asks = [(node, j) for node in frontier for j in range(params.branching)]
        asks = asks[:ep.grant("attacker", len(asks))]
        answers = await gather_all((
            ep.attacker.call(ep.ledger, ep.behaviour.id, f"tap/d{depth}/{node.path}.{j}/attacker",
                             node.thread.request(refine.render("branch", index=j + 1, count=params.branching)))
            for node, j in asks))
        children: list[Child] = []
        for (node, j), answer in zip(asks, answers, strict=True):
            prompt = read_field(answer.response.text, "prompt")
            if prompt is None:
                ep.ledger.roles["attacker"].unscored += 1
                ep.count("attacker_unreadable")
            else:
                children.append(Child(node, f"{node.path}.{j}", prompt, answer.response.text))
        ep.details["generated"] += len(children)
        if params.prune_off_topic and children:
            checked = children[:ep.grant("judge", len(children))]
            verdicts = await gather_all((
                ep.judge.on_topic(ep.ledger, ep.behaviour.id, f"tap/{c.path}/on_topic", ep.goal, c.prompt)
                for c in checked))
            kept = [c for c, on in zip(checked, verdicts, strict=True) if on is not False]
            ep.details["pruned_off_topic"] += len(checked) - len(kept)
            if len(checked) < len(children):
                children = kept  # the rest were never checked; the judge's budget is spent
                if not children:
                    raise OutOfBudget("judge")
            else:
                children = kept
        if not children:
            return "exhausted"  # nothing left to grow: every child was unreadable or off topic
        children = children[:ep.grant("target", len(children))]
        ep.details["target_prompts"] += len(children)
        replies = await gather_all((
            ep.target.call(ep.ledger, ep.behaviour.id, f"tap/{c.path}/target", [{"role": "user", "content": c.prompt}])
            for c in children))
        judged = children[:ep.grant("judge", len(children))]
        scores: list[Score] = list(await gather_all((
            ep.judge.score(ep.ledger, ep.behaviour.id, f"tap/{c.path}/judge", ep.goal, r.response.text)
            for c, r in zip(judged, replies, strict=False))))
        scored: list[tuple[Child, Score, str]] = []
        for child, reply, score in zip(judged, replies, scores, strict=False):
            text = reply.response.text
            ep.judged(score, prompt=child.prompt, transcript=[{"role": "user", "content": child.prompt},
                                                              {"role": "assistant", "content": text}])
            scored.append((child, score, text))
        if ep.succeeded:
            return "success"
        if len(judged) < len(children):
            raise OutOfBudget("judge")
        tiebreak = ep.rng("tap", depth, "ties")
        order = [(-(s.score if s.score is not None else 0), tiebreak.random(), i) for i, (_, s, _) in enumerate(scored)]
        best = [scored[i] for *_, i in sorted(order)[:params.width]]
        ep.details["pruned_width"] += len(scored) - len(best)
        frontier = [Node(c.path, c.parent.thread.then(c.answer, feedback(ep, text, s.text(), s.label)))
                    for c, s, text in best]
    return "exhausted"
