"""The evaluated lab's review: countersign the statement, optionally with a reply.

Countersigning adds the evaluated lab's signature to the same statement (it
agrees this is what was run and found); the reply is a separate statement,
signed by the evaluated lab, that names the exact statement it answers.
Reports show it as the right of reply.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crosslab.core.atomic import write_atomically
from crosslab.attest.dsse import add_signature, b64decode, dump_envelope, load_envelope
from crosslab.attest.errors import VerificationError
from crosslab.attest.intoto import sign_statement, statement
from crosslab.bundle import layout
from crosslab.bundle.installed import installed_contents, installed_definitions
from crosslab.disclosure.leakscan import scan_text
from crosslab.suites.registry import installed_sensitive
from crosslab.bundle.verify import VerificationResult, verify_bundle
from crosslab.identity.keys import PublicIdentity, raw_public_bytes


def refuse_second_countersignature(bundle: Path, envelope: dict, keyid: str, lab: str, self_evaluation: bool) -> None:
    """A lab countersigns once: a second run would silently replace its signature and its reply.

    What the lab signed first may already be published or quoted; a changed
    reply is a new statement, not an edit, so it is refused rather than swapped.
    A self-evaluation carries the lab's key already, as the evaluator's (DSSE
    keeps one signature per key id), so there only a reply marks a countersignature.
    """
    replied = (bundle / layout.RESPONSE).exists()
    signed = not self_evaluation and any(sig.get("keyid") == keyid for sig in envelope.get("signatures", []))
    if signed or replied:
        had = " and its reply" if replied else ""
        raise VerificationError(f"{bundle} is already countersigned by {lab}; refusing to replace that "
                                f"countersignature{had} (nothing was changed)")


def countersign(bundle: Path, lab: str, signing_key: Ed25519PrivateKey, pinned: dict[str, PublicIdentity],
                response: str | None = None) -> VerificationResult:
    """Verify the bundle, then add ``lab``'s signature (it must be the evaluated lab) and its reply."""
    report = verify_bundle(bundle, pinned, metric_definitions=installed_definitions(),
                          pinned_contents=installed_contents)
    if lab != report.evaluated:
        raise VerificationError(f"only the evaluated lab ({report.evaluated}) countersigns this bundle, not {lab}")
    if raw_public_bytes(pinned[lab].public_key()) != raw_public_bytes(signing_key.public_key()):
        raise VerificationError(f"the private key given is not {lab}'s pinned signing key")
    add_countersignature(bundle, lab, signing_key, pinned[lab].signing_key.keyid, response,
                         self_evaluation=report.self_evaluation)
    return verify_bundle(bundle, pinned, metric_definitions=installed_definitions(),
                          pinned_contents=installed_contents)


def add_countersignature(bundle: Path, lab: str, signing_key: Ed25519PrivateKey, keyid: str, response: str | None,
                         *, self_evaluation: bool = False) -> None:
    """Add ``lab``'s signature to the bundle's statement envelope, and its reply as a statement of its own.

    The caller has verified the bundle and checked the key is the lab's. The reply is leak-scanned first;
    a second countersignature is refused. Each file is replaced atomically.
    """
    if response is not None:
        hits = scan_text("the reply", response, installed_sensitive())
        if hits:
            raise VerificationError(f"leak scan: the reply would publish {hits[0].kind} ({hits[0]}); "
                                    "nothing was countersigned")
    envelope = load_envelope((bundle / layout.STATEMENT).read_bytes())
    refuse_second_countersignature(bundle, envelope, keyid, lab, self_evaluation)
    files = {layout.STATEMENT: dump_envelope(add_signature(envelope, signing_key, keyid))}
    if response is not None:
        payload_sha = hashlib.sha256(b64decode(envelope["payload"], "payload")).hexdigest()
        reply = statement([(layout.STATEMENT, payload_sha)], layout.RESPONSE_PREDICATE_TYPE,
                          {"lab": lab, "statement_sha256": payload_sha, "response": response})
        files[layout.RESPONSE] = dump_envelope(sign_statement(reply, signing_key, keyid))
    for name, data in files.items():
        write_atomically(bundle / name, data)
