"""The vendor's bundles in a package, each verified offline as the registry accepted it, entry by entry.

A bundle is published once and may grow: the evaluated lab's
countersignature, then later reveals, each its own log entry holding only
the files it adds (a countersigned ``statement.dsse.json`` replaces the
first). The bundle as it stood after each entry is laid out in a private
directory and given to the offline verifier (``bundle.verify``) with the
participants of the *published* protocol as the pinned identities, exactly
as the registry checked it on submission; what the verifier found must then
agree with what the leaf says (protocol, round, signer, evaluated lab,
statement digest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from crosslab.attest.dsse import b64decode, load_envelope
from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.bundle.installed import installed_contents, installed_definitions
from crosslab.bundle.metrics import MetricDefinition
from crosslab.bundle.verify import VerificationResult, verify_bundle
from crosslab.evidence.errors import EvidenceError
from crosslab.evidence.leaves import Leaf
from crosslab.evidence.records import VerifiedBundle
from crosslab.protocol.schema import Protocol

#: What an entry growing a published bundle may add: a countersigned statement, the reply, reveals.
_GROWTH = (layout.STATEMENT, layout.RESPONSE)


class BundleChecker:
    """Verifies bundle groups in ``workdir``, reusing the installed suites' definitions and pinned contents."""

    def __init__(self, workdir: Path, protocols: Mapping[str, Protocol],
                 definitions: Mapping[str, MetricDefinition] | None = None,
                 contents: Callable[[Protocol], Mapping[str, list[tuple[str, str]]]] = installed_contents) -> None:
        self.workdir = workdir
        self.protocols = protocols
        self.definitions = installed_definitions() if definitions is None else definitions
        self._contents = contents
        self._cached: dict[str, Mapping[str, list[tuple[str, str]]]] = {}

    def _pinned_contents(self, protocol: Protocol) -> Mapping[str, list[tuple[str, str]]]:
        if protocol.id not in self._cached:
            self._cached[protocol.id] = self._contents(protocol)
        return self._cached[protocol.id]

    def verify(self, group: Sequence[tuple[Leaf, Mapping[str, bytes]]]) -> VerifiedBundle:
        """``group``: the bundle's entries in log order, the bundle first; each with its files."""
        base = group[0][0]
        if base.kind != "bundle":
            raise EvidenceError(f"entry {base.index} ({base.kind}): grows a bundle that is not in the log before it")
        protocol = self.protocols[base.protocol_id]
        pinned = {p.identity.lab: p.identity for p in protocol.participants}
        directory = self.workdir / f"bundle-{base.index}"
        state: dict[str, bytes] = {}
        stages = []
        for leaf, files in group:
            _grow(state, leaf, files)
            for name, data in files.items():
                path = directory / name  # names are from a closed set (format.file_limit): never outside
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            result = self._verify_stage(directory, leaf, pinned, protocol)
            _agrees(result, leaf, state)
            stages.append(result)
        return VerifiedBundle(str(base.statement_sha256), tuple(leaf.index for leaf, _ in group),
                              tuple(leaf.kind for leaf, _ in group), base.protocol_id, stages[-1], tuple(stages),
                              dict(state))

    def _verify_stage(self, directory: Path, leaf: Leaf, pinned: dict, protocol: Protocol) -> VerificationResult:
        where = f"entry {leaf.index} ({leaf.kind})"
        try:
            return verify_bundle(directory, pinned, metric_definitions=self.definitions,
                                 pinned_contents=self._pinned_contents, expected_protocol_id=leaf.protocol_id,
                                 expected_round=leaf.round)
        except VerificationError as exc:
            raise EvidenceError(f"{where}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - fail closed with one line, whatever the files did
            raise EvidenceError(f"{where}: the bundle could not be checked ({type(exc).__name__})") from None


def _grow(state: dict[str, bytes], leaf: Leaf, files: Mapping[str, bytes]) -> None:
    """Add an entry's files to the bundle, as the registry allows: the first entry has them all, later ones add."""
    where = f"entry {leaf.index} ({leaf.kind})"
    if state:
        if leaf.kind == "bundle":
            raise EvidenceError(f"{where}: a second bundle entry under the same signed statement")
        for name in files:
            if name not in _GROWTH and not name.startswith(layout.REVEALS + "/"):
                raise EvidenceError(f"{where}: {name}: only a countersignature or reveals can grow a bundle")
            if name in state and name != layout.STATEMENT:
                raise EvidenceError(f"{where}: {name}: published again under the same signed statement")
        if (layout.RESPONSE in files) != (leaf.kind == "countersignature"):
            raise EvidenceError(f"{where}: a countersignature entry adds {layout.RESPONSE}, and only it does")
    state.update(files)


def _agrees(result: VerificationResult, leaf: Leaf, state: Mapping[str, bytes]) -> None:
    """What the verifier found is what the leaf says: protocol, round, signer, evaluated lab, statement."""
    where = f"entry {leaf.index} ({leaf.kind})"
    signer = result.evaluated if leaf.kind == "countersignature" else result.evaluator
    if result.evaluated != leaf.evaluated or signer != leaf.lab:
        raise EvidenceError(f"{where}: the bundle is {result.evaluator} evaluating {result.evaluated}; the leaf "
                            f"names lab {leaf.lab}, evaluated {leaf.evaluated}")
    if leaf.kind == "countersignature" and not result.countersigned:
        raise EvidenceError(f"{where}: {layout.STATEMENT} is not countersigned by {result.evaluated}")
    try:
        payload = b64decode(load_envelope(state[layout.STATEMENT])["payload"], "payload")
    except VerificationError as exc:
        raise EvidenceError(f"{where}: {layout.STATEMENT}: {exc}") from None
    if hashlib.sha256(payload).hexdigest() != leaf.statement_sha256:
        raise EvidenceError(f"{where}: {layout.STATEMENT}: its statement is not the one the leaf names")
