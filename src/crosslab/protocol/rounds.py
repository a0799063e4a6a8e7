"""A round's directions: every evaluator lab × every other lab's agreed deployment.

With N labs each putting up deployments, a round is N × (the others'
deployments) ordered pairs, plus each lab's own deployments when the protocol
allows self-evaluation. Each direction is run by the evaluator alone and
ends in one bundle. ``agreed_deployment`` is the single place that turns a
protocol's deployment spec into a Deployment, so the run, the bundle writer and
the verifier always derive the same deployment digest.
"""

from __future__ import annotations

from dataclasses import dataclass

from crosslab.protocol.schema import Protocol, ProtocolError
from crosslab.targets.deployment import Deployment, DeploymentError, build_deployment


@dataclass(frozen=True)
class Direction:
    """Who evaluates whom: evaluator lab -> evaluated lab's named deployment."""

    evaluator: str
    evaluated: str
    deployment: str

    @property
    def slug(self) -> str:
        """A directory name for this direction's runs and bundle."""
        return f"{self.evaluator}-on-{self.evaluated}-{self.deployment}"

    def __str__(self) -> str:
        return f"{self.evaluator} → {self.evaluated}/{self.deployment}"


def directions(protocol: Protocol, evaluator: str | None = None) -> list[Direction]:
    """All ordered pairs of the round (or one evaluator's share), in participant order.

    A lab evaluates its own deployments only when the protocol allows self-evaluation."""
    labs = [p.identity.lab for p in protocol.participants]
    if evaluator is not None and evaluator not in labs:
        raise ProtocolError(f"{evaluator!r} is not a participant of this protocol (participants: {', '.join(labs)})")
    return [Direction(ev.identity.lab, ed.identity.lab, d.name)
            for ev in protocol.participants if evaluator in (None, ev.identity.lab)
            for ed in protocol.participants
            if ed.identity.lab != ev.identity.lab or protocol.allow_self_evaluation
            for d in ed.deployments]


def agreed_judge(protocol: Protocol) -> Deployment | None:
    """The protocol's judge as a deployment at temperature 0 (its own max_tokens, else 512), or None."""
    if protocol.judge is None:
        return None
    fields = {"temperature": 0.0, "max_tokens": 512, **protocol.judge.target}
    try:
        deployment = build_deployment(fields, "the protocol's judge")
    except DeploymentError as exc:
        raise ProtocolError(str(exc)) from None
    if deployment.temperature != 0.0:
        raise ProtocolError(f"the protocol's judge must run at temperature 0, not {deployment.temperature}")
    return deployment


def agreed_attack_roles(protocol: Protocol) -> dict[str, Deployment]:
    """The protocol attack's attacker and judge as deployments (judge at temperature 0); empty without one."""
    if protocol.attack is None:
        return {}
    roles = {}
    for role, target in (("attacker", protocol.attack.attacker), ("judge", protocol.attack.judge)):
        fields = {"temperature": 0.0, "max_tokens": 512, **target}
        try:
            roles[role] = build_deployment(fields, f"the protocol attack's {role}")
        except DeploymentError as exc:
            raise ProtocolError(str(exc)) from None
    if roles["judge"].temperature != 0.0:
        raise ProtocolError(f"the protocol attack's judge must run at temperature 0, not {roles['judge'].temperature}")
    return roles


def agreed_deployment(protocol: Protocol, lab: str, name: str) -> Deployment:
    """The deployment as agreed: the protocol's sampling settings, overridden by the deployment's own."""
    try:
        participant = protocol.participant(lab)
    except KeyError as exc:
        raise ProtocolError(str(exc.args[0])) from None
    spec = next((d for d in participant.deployments if d.name == name), None)
    if spec is None:
        raise ProtocolError(f"{lab} has no deployment named {name!r} in the protocol")
    if spec.target.get("system_prefix") is not None and spec.target.get("system_prefix_commitment") is not None:
        raise ProtocolError(f"deployment {lab}/{name} gives its system prompt and a commitment to it: a "
                            "confidential prompt must not be written into the protocol, which is published "
                            "(keep system_prefix_commitment, drop system_prefix; see `crosslab prompt seal`)")
    fields = {**protocol.sampling.model_dump(), **spec.target}
    try:
        return build_deployment(fields, f"deployment {lab}/{name}")
    except DeploymentError as exc:
        raise ProtocolError(str(exc)) from None
