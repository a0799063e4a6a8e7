"""What the registry accepts, checked before anything is stored: signatures are the only identity.

Three kinds of document arrive:

* ``protocol``: the protocol (its canonical JSON object) and the DSSE
  envelope every participant signed (``crosslab protocol sign``);
* ``bundle``: a bundle as a tar archive (``registry/archive.py``), accepted
  only when the offline verifier passes with the protocol's own participants
  as the pinned identities; a bundle carrying the evaluated lab's
  countersignature, or later reveals, is the same bundle grown, and the store
  records it as a ``countersignature`` or ``reveal`` of the one it grows;
* ``declined``: a lab's signed statement that it declines to take part in a
  protocol round. It carries the protocol as proposed (which names the lab and
  pins its key), since a lab that declines never signs the protocol itself.

A rejection is one line: the verifier's exact reason, or what did not match.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from crosslab.attest.dsse import b64decode, load_envelope, verify_envelope
from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.bundle.installed import installed_contents, installed_definitions
from crosslab.bundle.verify import VerificationResult, verify_bundle
from crosslab.core.canonical import canonical_json, sha256_hex
from crosslab.core.errors import CrosslabError
from crosslab.core.strictjson import STRICT_DECODER
from crosslab.protocol.schema import Protocol
from crosslab.protocol.signing import verify_protocol
from crosslab.registry.archive import ArchiveError, read_bundle_archive, write_bundle_dir

DECLINED_PAYLOAD_TYPE = "application/vnd.crosslab.declined+json"
DECLINED_FORMAT = "crosslab-declined/1"
ENTRY_FORMAT = "crosslab-registry-entry/2"
KINDS = ("protocol", "bundle", "countersignature", "reveal", "declined")


class SubmissionError(CrosslabError, ValueError):
    """The submission is refused; the message is the one line the submitter sees."""


@dataclass(frozen=True)
class Submission:
    """A checked submission: what it is, who it concerns, its files, and what pages show of it."""
    kind: str
    protocol: Protocol
    #: The lab that signed it: the evaluator of a bundle, the declining lab; "" for a protocol (everyone signed).
    lab: str
    files: dict[str, bytes]
    summary: dict[str, Any] = field(default_factory=dict)

    def entry(self) -> bytes:
        """The log leaf: canonical JSON naming the kind, the protocol and round, the signer and every file's SHA-256.

        Entries about a bundle (the bundle, its countersignature, its reveals)
        also name the evaluated lab and the signed statement's digest, so an
        offline reader of the leaves alone can list every finding about a
        lab: an evidence package cannot leave one out unnoticed.
        """
        return canonical_json({
            "format": ENTRY_FORMAT, "kind": self.kind, "protocol_id": self.protocol.id,
            "round": self.protocol.round.number, "lab": self.lab,
            "evaluated": self.summary.get("evaluated"), "statement_sha256": self.summary.get("statement_sha256"),
            "files": {name: sha256_hex(data) for name, data in sorted(self.files.items())},
        })


def _json(data: bytes, what: str) -> Any:
    try:
        return STRICT_DECODER.decode(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SubmissionError(f"{what}: not strict UTF-8 JSON ({str(exc).splitlines()[0]})") from None


def _protocol(obj: Any, what: str) -> Protocol:
    try:
        return Protocol.model_validate(obj)
    except ValidationError as exc:
        raise SubmissionError(f"{what}: not a valid protocol ({str(exc).splitlines()[0]})") from None


def _protocol_and_envelope(body: bytes, what: str) -> tuple[Protocol, dict, bytes]:
    """``{"protocol": {...}, "envelope": {...}}``: the protocol, the parsed envelope and its bytes as stored."""
    doc = _json(body, what)
    if not isinstance(doc, dict) or set(doc) != {"protocol", "envelope"}:
        raise SubmissionError(f"{what}: expected exactly {{\"protocol\", \"envelope\"}}")
    protocol = _protocol(doc["protocol"], layout.PROTOCOL)
    raw = orjson.dumps(doc["envelope"])
    try:
        return protocol, load_envelope(raw), raw
    except VerificationError as exc:
        raise SubmissionError(f"{what}: {exc}") from None


def check_protocol(body: bytes) -> Submission:
    """``{"protocol": {...}, "envelope": {...}}``: accepted once every participant has signed it."""
    protocol, envelope, raw = _protocol_and_envelope(body, "protocol submission")
    try:
        verify_protocol(protocol, envelope)
    except VerificationError as exc:
        raise SubmissionError(f"{layout.PROTOCOL_SIGNATURES}: {exc}") from None
    files = {layout.PROTOCOL: protocol.canonical(), layout.PROTOCOL_SIGNATURES: raw}
    return Submission("protocol", protocol, "", files, {"title": protocol.title,
                                                        "participants": [p.identity.lab for p in protocol.participants]})


def check_bundle(archive: bytes) -> tuple[Submission, VerificationResult]:
    """A bundle archive, verified offline against its own protocol's participants; the verifier's reason on failure."""
    try:
        files = read_bundle_archive(archive)
    except ArchiveError as exc:
        raise SubmissionError(str(exc)) from None
    if layout.PROTOCOL not in files:
        raise SubmissionError(f"{layout.PROTOCOL}: missing from the bundle")
    protocol = _protocol(_json(files[layout.PROTOCOL], layout.PROTOCOL), layout.PROTOCOL)
    pinned = {p.identity.lab: p.identity for p in protocol.participants}
    with tempfile.TemporaryDirectory(prefix="crosslab-submission-") as tmp:
        bundle = write_bundle_dir(files, Path(tmp) / "bundle")
        try:
            result = verify_bundle(bundle, pinned, metric_definitions=installed_definitions(),
                                   pinned_contents=installed_contents)
        except VerificationError as exc:
            raise SubmissionError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - fail closed with one line whatever the input did
            raise SubmissionError(f"bundle: could not be checked ({type(exc).__name__}: {exc})") from None
    summary = {"evaluator": result.evaluator, "evaluated": result.evaluated, "deployment": result.deployment,
               "stubs": result.stubs, "by_tier": result.by_tier, "countersigned": result.countersigned,
               "revealed": result.revealed, "self_evaluation": result.self_evaluation,
               "statement_sha256": _statement_digest(files[layout.STATEMENT]),
               "round_date": str(result.round.get("date")), "response": result.response,
               "metrics": [r for r in result.metrics.get("rows", []) if r.get("slice") == "all"],
               "suite_metrics": {c: [r for r in rows if not r.get("group")]
                                 for c, rows in (result.metrics.get("suites") or {}).items()}}
    return Submission("bundle", protocol, result.evaluator, files, summary), result


def _statement_digest(envelope: bytes) -> str:
    """SHA-256 of the signed statement itself (the DSSE payload): the same when a countersignature is added."""
    return sha256_hex(b64decode(load_envelope(envelope)["payload"], "payload"))


def check_declined(body: bytes) -> Submission:
    """``{"protocol": {...}, "envelope": {...}}``: a lab named in the protocol declines, signed with its pinned key."""
    protocol, envelope, raw = _protocol_and_envelope(body, "declined statement")
    try:
        claim = _json(b64decode(envelope["payload"], "payload"), "declined statement payload")
    except VerificationError as exc:
        raise SubmissionError(f"declined statement: {exc}") from None
    if not isinstance(claim, dict) or set(claim) != {"format", "lab", "protocol_id", "round", "reason"} \
            or claim["format"] != DECLINED_FORMAT:
        raise SubmissionError(f"declined statement: payload is not {{format: {DECLINED_FORMAT}, lab, protocol_id, "
                              "round, reason}")
    lab = claim["lab"]
    if claim["protocol_id"] != protocol.id or claim["round"] != protocol.round.number:
        raise SubmissionError("declined statement: it names another protocol or round than the one it carries")
    if not isinstance(claim["reason"], str) or len(claim["reason"]) > 4000:
        raise SubmissionError("declined statement: reason must be text of at most 4000 characters")
    try:
        participant = protocol.participant(str(lab))
    except KeyError:
        raise SubmissionError(f"declined statement: {lab!r} is not named in the protocol") from None
    key = participant.identity.signing_key
    try:
        verified = verify_envelope(envelope, {key.keyid: key.public_key()}, required={key.keyid})
    except VerificationError as exc:
        raise SubmissionError(f"declined statement: not signed by {lab}'s pinned key ({exc})") from None
    if verified.payload_type != DECLINED_PAYLOAD_TYPE:
        raise SubmissionError(f"declined statement: payload type is not {DECLINED_PAYLOAD_TYPE}")
    files = {layout.PROTOCOL: protocol.canonical(), "declined.dsse.json": raw}
    return Submission("declined", protocol, str(lab), files, {"reason": claim["reason"]})


def protocol_body(protocol: Protocol, envelope: dict) -> bytes:
    """The body of a protocol submission (``crosslab registry submit PROTOCOL.yaml``)."""
    return orjson.dumps({"protocol": orjson.loads(protocol.canonical()), "envelope": envelope})


def declined_body(protocol: Protocol, lab: str, reason: str, private_key: Any, keyid: str) -> bytes:
    """A lab's signed statement that it declines ``protocol``'s round (``crosslab registry decline``)."""
    from crosslab.attest.dsse import sign_envelope

    claim = {"format": DECLINED_FORMAT, "lab": lab, "protocol_id": protocol.id, "round": protocol.round.number,
             "reason": reason}
    envelope = sign_envelope(canonical_json(claim), DECLINED_PAYLOAD_TYPE, private_key, keyid)
    return orjson.dumps({"protocol": orjson.loads(protocol.canonical()), "envelope": envelope})
