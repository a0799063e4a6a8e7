"""Hostile bundles: whatever a mirror or file share puts in the directory, verify fails closed.

Each case used to be followed, crash with a traceback, hang, or pass; now it
is refused with one line that names the entry. The fixtures are real bundles
written by crosslab 0.1.0 (tests/data/bundles/0.1.0).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import run_cli
from support.release_bundles import BUNDLES, FIXTURES, TRUSTED, pinned, resigned

from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.bundle.verify import verify_bundle

@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(FIXTURES / BUNDLES[0], copy)
    return copy


def refused(bundle: Path, pattern: str) -> None:
    with pytest.raises(VerificationError, match=pattern):
        verify_bundle(bundle, pinned())
    result = run_cli("verify", str(bundle), "--keys", str(TRUSTED), timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_unexpected_file_is_refused(bundle: Path):
    (bundle / "README.md").write_text("These results were independently audited.\n")
    refused(bundle, r"^README\.md: unexpected entry in the bundle")


def test_symlink_to_a_file_outside_is_not_followed(bundle: Path, tmp_path: Path):
    outside = tmp_path / "outside.jsonl"
    shutil.copy(bundle / layout.PUBLIC, outside)
    (bundle / layout.PUBLIC).unlink()
    (bundle / layout.PUBLIC).symlink_to(outside)
    refused(bundle, r"^public\.jsonl: a symbolic link, not a file")


def test_restricted_appendix_pointing_at_dev_zero(bundle: Path):
    (bundle / layout.RESTRICTED).unlink()
    (bundle / layout.RESTRICTED).symlink_to("/dev/zero")
    refused(bundle, r"^restricted\.age: a symbolic link")


def test_directory_in_place_of_a_file(bundle: Path):
    (bundle / layout.ITEMS).unlink()
    (bundle / layout.ITEMS).mkdir()
    refused(bundle, r"^items\.jsonl: not a regular file \(a directory\)")


def test_fifo_does_not_hang(bundle: Path):
    (bundle / layout.STATEMENT).unlink()
    os.mkfifo(bundle / layout.STATEMENT)
    refused(bundle, r"^statement\.dsse\.json: not a regular file \(a FIFO\)")


def test_huge_statement_is_refused_before_it_is_read(bundle: Path):
    with open(bundle / layout.STATEMENT, "r+b") as f:  # sparse: 2 GiB on paper, no disk used
        f.truncate(2 * 1024**3)
    refused(bundle, r"^statement\.dsse\.json: 2,147,483,648 bytes, over the 16 MiB limit")


def test_huge_reveal_is_refused_before_it_is_read(bundle: Path):
    (bundle / layout.REVEALS).mkdir()
    with open(bundle / layout.REVEALS / "0001.jsonl", "wb") as f:
        f.truncate(3 * 1024**3)
    refused(bundle, r"^reveals/0001\.jsonl: .* over the 2,048 MiB limit")


def test_reveal_with_an_odd_name(bundle: Path):
    (bundle / layout.REVEALS).mkdir()
    (bundle / layout.REVEALS / "notes.txt").write_text("x")
    refused(bundle, r"^reveals/notes\.txt: not a reveal file")


def test_escape_sequences_in_names_never_reach_the_terminal(bundle: Path):
    (bundle / "\x1b[2Jcleared").write_text("x")
    with pytest.raises(VerificationError) as caught:
        verify_bundle(bundle, pinned())
    assert "\x1b" not in str(caught.value) and "\\x1b[2Jcleared" in str(caught.value)
    result = run_cli("verify", str(bundle), "--keys", str(TRUSTED))
    assert result.returncode == 1 and "\x1b" not in result.stderr


def test_missing_directory_is_named(tmp_path: Path):
    result = run_cli("verify", str(tmp_path / "nope"), "--keys", str(TRUSTED))
    assert result.returncode == 1 and "nope: no such bundle directory" in result.stderr


# A cheating evaluator re-signs with its own valid key: what it claims must agree with the protocol.

def resign_refused(tmp_path: Path, pattern: str, edit=lambda p: None, files=None) -> None:
    bundle = resigned(tmp_path, edit, files)
    with pytest.raises(VerificationError, match=pattern):
        verify_bundle(bundle, pinned())


def test_resigned_without_changes_still_verifies(tmp_path: Path):
    result = verify_bundle(resigned(tmp_path, lambda p: None), pinned())
    assert result.evaluator == "aurora" and not result.countersigned  # the countersignature went with the edit


def test_another_round_number_or_date(tmp_path: Path):
    resign_refused(tmp_path, r"^statement\.dsse\.json: the round .* differs from the protocol's",
                   lambda p: p["round"].update(number=2))
    resign_refused(tmp_path / "b", r"the round", lambda p: p["round"].update(date="2027-01-01"))


def test_a_forged_deployment_digest(tmp_path: Path):
    resign_refused(tmp_path, r"^statement\.dsse\.json: the evaluated deployment's digest is not the one agreed",
                   lambda p: p["evaluated"].update(target_digest="0" * 64))


def test_a_forged_crosslab_version(tmp_path: Path):
    resign_refused(tmp_path, r"^statement\.dsse\.json: crosslab_version .* is not a version number",
                   lambda p: p.update(crosslab_version="99 (audited)"))


def test_a_changed_disclosure_policy(tmp_path: Path):
    resign_refused(tmp_path, r"^statement\.dsse\.json: the disclosure policy differs",
                   lambda p: p["disclosure"].update(public_excerpt_chars=10_000))


def test_a_lab_evaluating_itself(tmp_path: Path):
    def self_eval(p: dict) -> None:
        p["evaluated"] = {**p["evaluated"], "lab": "aurora", "deployment": "a-prod"}
    resign_refused(tmp_path, r"^statement\.dsse\.json: aurora evaluated itself", self_eval)


def test_restricted_appendix_shipped_as_plain_text(tmp_path: Path):
    def plain(bundle: Path) -> None:
        (bundle / layout.RESTRICTED).write_bytes(b'{"d": "x", "i": 1}\n')
    resign_refused(tmp_path, r"^restricted\.age: not an age file", files=plain)


def test_restricted_appendix_encrypted_to_an_outsider_too(tmp_path: Path):
    import pyrage

    outsider = pyrage.x25519.Identity.generate().to_public()
    recipients = [pyrage.x25519.Recipient.from_str(p.age_recipient) for p in pinned().values()]

    def extra(bundle: Path) -> None:
        from crosslab.disclosure.encryption import decrypt_with
        from support.release_bundles import borealis_age

        plain = decrypt_with(borealis_age(), (bundle / layout.RESTRICTED).read_bytes())
        (bundle / layout.RESTRICTED).write_bytes(pyrage.encrypt(plain, [*recipients, outsider]))
    resign_refused(tmp_path, r"^restricted\.age: encrypted to 3 recipients; the protocol entitles 2", files=extra)


def test_a_disclosure_moved_to_another_epoch_position(tmp_path: Path):
    """Swapping two public stubs *and* their disclosures re-signs consistently; positions still pin epochs."""
    import base64 as b64
    import json

    from crosslab.disclosure.commitments import make_disclosure, open_disclosure

    def shift(bundle: Path) -> None:
        lines = (bundle / layout.PUBLIC).read_bytes().splitlines()
        entry = json.loads(lines[0])
        _salt, value = open_disclosure(entry["d"])
        value["record"]["epoch"] = 2
        d = make_disclosure(value)
        stubs = (bundle / layout.ITEMS).read_bytes().splitlines()
        stub = json.loads(stubs[entry["i"]])
        stub["c"] = d.commitment
        from crosslab.core.jcs import jcs
        stubs[entry["i"]] = jcs(stub)
        (bundle / layout.ITEMS).write_bytes(b"".join(s + b"\n" for s in stubs))
        lines[0] = jcs({"d": d.encoded, "i": entry["i"]})
        (bundle / layout.PUBLIC).write_bytes(b"".join(s + b"\n" for s in lines))
        assert b64  # (kept for readers: disclosures are base64url JSON)

    def fix_root(p: dict) -> None:
        from crosslab.attest import merkle
        stubs = (tmp_path / "resigned" / layout.ITEMS).read_bytes().splitlines()
        p["stubs"]["merkle_root"] = merkle.root(stubs).hex()
    resign_refused(tmp_path, r"^public\.jsonl:1: stub \d+: disclosed epoch 2, but position \d+ holds epoch 1",
                   fix_root, shift)


def test_another_deployments_results_with_every_digest_consistent(tmp_path: Path):
    """b-prod's samples presented as b-prev's, the claimed digest and subject both b-prev's agreed one."""
    def relabel(p: dict) -> None:
        from crosslab.protocol.rounds import agreed_deployment
        from crosslab.protocol.schema import Protocol
        protocol = Protocol.model_validate_json((FIXTURES / BUNDLES[0] / layout.PROTOCOL).read_bytes())
        p["evaluated"] = {"lab": "borealis", "deployment": "b-prev",
                          "target_digest": agreed_deployment(protocol, "borealis", "b-prev").digest}
    resign_refused(tmp_path, r"^public\.jsonl:1: stub \d+: the disclosed sample was not run against the "
                   r"evaluated deployment", relabel)


def test_a_reply_carrying_markup_and_escapes_prints_verbatim(tmp_path: Path):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from crosslab.bundle.countersign import countersign

    bundle = resigned(tmp_path, lambda p: None)
    key = load_pem_private_key((FIXTURES / "borealis.signing_key.pem").read_bytes(), None)
    countersign(bundle, "borealis", key, pinned(), "We object [/] [bold]strongly[/bold] \x1b[31mred")
    result = run_cli("verify", str(bundle), "--keys", str(TRUSTED))
    assert result.returncode == 0, result.stderr
    assert "reply: We object [/] [bold]strongly[/bold] \\x1b[31mred" in result.stdout
    assert "\x1b" not in result.stdout and "Traceback" not in result.stderr


def test_a_bad_countersignature_is_blamed_on_the_evaluated_lab(tmp_path: Path):
    import json as json_

    bundle = resigned(tmp_path, lambda p: None)
    envelope = json_.loads((bundle / layout.STATEMENT).read_text())
    borealis = pinned()["borealis"].signing_key.keyid
    envelope["signatures"].append({"keyid": borealis, "sig": envelope["signatures"][0]["sig"]})
    (bundle / layout.STATEMENT).write_text(json_.dumps(envelope))
    refused(bundle, r"^statement\.dsse\.json: signature by .* does not verify \(the evaluated lab's "
                    r"countersignature, borealis\)")


# What the buyer pins.

def test_buyer_pins_protocol_and_round(tmp_path: Path):
    import hashlib

    bundle = FIXTURES / BUNDLES[0]
    protocol_id = hashlib.sha256((bundle / layout.PROTOCOL).read_bytes()).hexdigest()
    ok = run_cli("verify", str(bundle), "--keys", str(TRUSTED), "--protocol-id", protocol_id, "--round", "1")
    assert ok.returncode == 0, ok.stderr
    wrong_id = run_cli("verify", str(bundle), "--keys", str(TRUSTED), "--protocol-id", "ab" * 32)
    assert wrong_id.returncode == 1 and f"protocol.json: protocol {protocol_id}, not the pinned" in wrong_id.stderr
    old_round = run_cli("verify", str(bundle), "--keys", str(TRUSTED), "--round", "2")
    assert old_round.returncode == 1
    assert "protocol.json: round 1 of 2026-12-03, not the expected round 2" in old_round.stderr


def test_a_stripped_countersignature_fails_when_one_is_required(tmp_path: Path):
    import json

    bundle = tmp_path / "stripped"
    shutil.copytree(FIXTURES / BUNDLES[0], bundle)
    envelope = json.loads((bundle / layout.STATEMENT).read_text())
    envelope["signatures"] = envelope["signatures"][:1]  # the evaluator's; Borealis's is gone
    (bundle / layout.STATEMENT).write_text(json.dumps(envelope))
    (bundle / layout.RESPONSE).unlink()
    assert not verify_bundle(bundle, pinned()).countersigned  # still the evaluator's valid bundle
    with pytest.raises(VerificationError, match=r"^statement\.dsse\.json: not countersigned by the evaluated lab "
                                                r"\(borealis\); a countersignature is required"):
        verify_bundle(bundle, pinned(), require_countersignature=True)
    assert verify_bundle(FIXTURES / BUNDLES[0], pinned(), require_countersignature=True).countersigned


def test_two_different_trusted_identities_for_one_lab(tmp_path: Path):
    keys = tmp_path / "keys"
    shutil.copytree(TRUSTED, keys)
    other = run_cli("keys", "new", "aurora", "--name", "Impostor", "--out", str(tmp_path / "other"),
                    env={"CROSSLAB_KEYSTORE": str(tmp_path / "ks")})
    assert other.returncode == 0, other.stderr
    shutil.copy(tmp_path / "other" / "aurora.identity.json", keys / "aurora-2.identity.json")
    result = run_cli("verify", str(FIXTURES / BUNDLES[0]), "--keys", str(keys))
    assert result.returncode == 2
    assert "aurora-2.identity.json" in result.stderr and "aurora.identity.json" in result.stderr
    assert "two different identities for aurora" in result.stderr


def test_unpadded_base64_in_a_valid_envelope_is_accepted(tmp_path: Path):
    """DSSE allows base64 with or without padding; both decode to the same signed payload."""
    import json

    for filler in ("", "x", "xy"):  # one of three payload lengths needs padding
        bundle = resigned(tmp_path / f"f{len(filler)}", lambda p, f=filler: p["runs"][0].update(note=f))
        envelope = json.loads((bundle / layout.STATEMENT).read_text())
        if not envelope["payload"].endswith("="):
            continue
        envelope["payload"] = envelope["payload"].rstrip("=")
        for sig in envelope["signatures"]:
            sig["sig"] = sig["sig"].rstrip("=")
        (bundle / layout.STATEMENT).write_text(json.dumps(envelope))
        assert verify_bundle(bundle, pinned()).evaluator == "aurora"
        return
    raise AssertionError("no payload length needed padding")


def test_duplicate_keys_in_the_statement_envelope_are_refused(bundle: Path):
    text = (bundle / layout.STATEMENT).read_text()
    (bundle / layout.STATEMENT).write_text('{"payloadType": "x",' + text[1:])
    refused(bundle, r"^statement\.dsse\.json: envelope is not valid JSON: duplicate key 'payloadType'")


def test_a_byte_order_mark_is_named(bundle: Path):
    (bundle / layout.STATEMENT).write_bytes(b"\xef\xbb\xbf" + (bundle / layout.STATEMENT).read_bytes())
    refused(bundle, r"^statement\.dsse\.json: envelope is not valid JSON: starts with a byte-order mark")


def test_countersign_refuses_a_reply_carrying_restricted_text_in_base64(tmp_path: Path):
    import base64

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from crosslab.bundle.countersign import countersign
    from crosslab.suites.registry import get_suite

    bundle = resigned(tmp_path, lambda p: None)
    before = (bundle / layout.STATEMENT).read_bytes()
    restricted = next(i for i in get_suite("jailbreak").items() if i.tier == "restricted")
    smuggled = base64.b64encode(restricted.messages[-1]["content"].encode()).decode()
    key = load_pem_private_key((FIXTURES / "borealis.signing_key.pem").read_bytes(), None)
    with pytest.raises(VerificationError, match=r"^leak scan: the reply would publish restricted text"):
        countersign(bundle, "borealis", key, pinned(), f"We disagree. Context: {smuggled}")
    assert (bundle / layout.STATEMENT).read_bytes() == before and not (bundle / layout.RESPONSE).exists()


# With the suites installed at the pinned digest, positions are pinned items: no reordering, no relabelling.

def _restub(bundle: Path, change) -> None:
    """Edit stubs (and public disclosure lines) in place; the caller re-signs with a fixed Merkle root."""
    import json

    from crosslab.core.jcs import jcs

    stubs = [json.loads(line) for line in (bundle / layout.ITEMS).read_bytes().splitlines()]
    public = [json.loads(line) for line in (bundle / layout.PUBLIC).read_bytes().splitlines()]
    change(stubs, public)
    (bundle / layout.ITEMS).write_bytes(b"".join(jcs(s) + b"\n" for s in stubs))
    (bundle / layout.PUBLIC).write_bytes(b"".join(jcs(e) + b"\n" for e in sorted(public, key=lambda e: e["i"])))


def _fix_root_and_counts(tmp_path: Path):
    def edit(p: dict) -> None:
        import json

        from crosslab.attest import merkle
        from crosslab.bundle.metrics import counts_from_stubs, pass_rate_rows
        lines = (tmp_path / "resigned" / layout.ITEMS).read_bytes().splitlines()
        stubs = [json.loads(line) for line in lines]
        p["stubs"]["merkle_root"] = merkle.root(lines).hex()
        p["counts"] = counts_from_stubs(stubs)
        p["metrics"]["rows"] = pass_rate_rows(stubs)
    return edit


def test_reordered_public_stubs_are_caught_against_the_pinned_items(tmp_path: Path):
    from crosslab.bundle.installed import installed_contents

    def swap(stubs: list, public: list) -> None:
        a, b = [e["i"] for e in public[:2]]
        assert stubs[a]["category"] == stubs[b]["category"]  # same suite: metrics stay equal
        stubs[a], stubs[b] = {**stubs[b], "i": a}, {**stubs[a], "i": b}
        for e in public[:2]:
            e["i"] = b if e["i"] == a else a
    bundle = resigned(tmp_path, _fix_root_and_counts(tmp_path), lambda b: _restub(b, swap))
    verify_bundle(bundle, pinned())  # one epoch and no suite content: the core verifier cannot tell
    with pytest.raises(VerificationError, match=r"^public\.jsonl:\d+: stub \d+ discloses item .*, but its "
                                                r"position holds .*\(the pinned item"):
        verify_bundle(bundle, pinned(), pinned_contents=installed_contents)


def test_a_restricted_item_relabelled_public_is_caught_against_the_pinned_items(tmp_path: Path):
    from crosslab.bundle.installed import installed_contents

    def relabel(stubs: list, public: list) -> None:
        target = next(s for s in stubs if s["tier"] == "restricted")
        target["tier"] = "public"
    bundle = resigned(tmp_path, _fix_root_and_counts(tmp_path), lambda b: _restub(b, relabel))
    with pytest.raises(VerificationError, match=r"^items\.jsonl:\d+: stub \d+ is public, but the pinned item at "
                                                r"this position is restricted"):
        verify_bundle(bundle, pinned(), pinned_contents=installed_contents)
    result = verify_bundle(FIXTURES / BUNDLES[0], pinned(), pinned_contents=installed_contents)
    assert result.content_checked == ["instruction_hierarchy", "jailbreak", "hallucination", "scheming"]
