"""Evidence packages end to end: a real round published to a real registry (PostgreSQL) on 127.0.0.1,
packed over HTTP for each lab, cosigned by two witnesses, verified offline through the CLI.

The round: lab-a evaluates lab-b (then lab-b countersigns), lab-b evaluates
lab-a, and lab-c declines a three-lab round. So lab-b's record is a bundle
and its countersignature, lab-a's is one bundle, lab-c's is one decline.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import run_cli

from crosslab.evidence import EvidenceError, Trust, decode_package, encode_package, verify_package
from crosslab.transparency import LogKey, WitnessKey
from crosslab.transparency.note import split_note
from tests.support.evidence_world import cosign, published_round, relogged, two_witnesses


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("evidence")
    with published_round(root) as (world, server):
        yield {**world, "server": server, "tmp": root, "witnesses": two_witnesses()}


def pack_cli(published: dict, vendor: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("evidence", "pack", "--registry", published["server"].url, "--vendor", vendor, "--out", str(out),
                   "--quiet", *extra)


def verify_cli(published: dict, package: Path, *witnesses: WitnessKey, extra: tuple[str, ...] = ()
               ) -> subprocess.CompletedProcess[str]:
    keys = [arg for w in witnesses for arg in ("--witness-key", w.verifier_key())]
    return run_cli("evidence", "verify", str(package), "--log-key", published["server"].log_key.verifier_key(),
                   *keys, *extra)


@pytest.fixture(scope="module")
def packages(published: dict) -> dict[str, Path]:
    """One cosigned package per lab, packed through the CLI."""
    out = {}
    for lab in ("lab-a", "lab-b", "lab-c"):
        path = published["tmp"] / f"{lab}.evidence"
        done = pack_cli(published, lab, path, "--log-key", published["server"].log_key.verifier_key())
        assert done.returncode == 0, done.stderr
        path.write_bytes(cosign(path.read_bytes(), *published["witnesses"]))
        out[lab] = path
    return out


# -- the tests -------------------------------------------------------------------------------------------------
def test_each_labs_package_verifies_offline_with_two_witnesses(published: dict, packages: dict[str, Path]):
    w1, w2 = published["witnesses"]
    done = verify_cli(published, packages["lab-b"], w1, w2)
    assert done.returncode == 0, done.stderr
    assert "lab-b's complete record" in done.stdout and "at size 5" in done.stdout
    assert "cosigned by 2 trusted witness(es): witness-1.example, witness-2.example" in done.stdout
    assert "bundle lab-a -> lab-b/b-prod" in done.stdout and "countersigned" in done.stdout
    assert "(log entries 1, 2)" in done.stdout

    trust = Trust.parse(published["server"].log_key.verifier_key(), [w1.verifier_key(), w2.verifier_key()])
    found = verify_package(packages["lab-b"].read_bytes(), trust)
    assert found.indices == (0, 1, 2)  # the protocol, the bundle, its countersignature
    [bundle] = found.bundles
    assert bundle.kinds == ("bundle", "countersignature") and bundle.result.countersigned
    assert bundle.result.response == "We accept the findings." and bundle.result.evaluator == "lab-a"
    assert "restricted.age" in bundle.files and bundle.files["restricted.age"].startswith(b"age-encryption.org/v1")
    assert found.checkpoint.size == 5 and len(found.cosignatures) == 2

    lab_a = verify_package(packages["lab-a"].read_bytes(), trust)  # another vendor: its own record, complete
    assert lab_a.indices == (0, 3) and [b.result.evaluated for b in lab_a.bundles] == ["lab-a"]
    assert not lab_a.declined
    lab_c = verify_cli(published, packages["lab-c"], w1, w2)
    assert lab_c.returncode == 0, lab_c.stderr
    assert "declined protocol" in lab_c.stdout and "'Not this round.'" in lab_c.stdout
    found_c = verify_package(packages["lab-c"].read_bytes(), trust)
    assert found_c.indices == (4,) and found_c.declined[0].lab == "lab-c" and not found_c.bundles


def test_a_dropped_bundle_is_detected(published: dict, packages: dict[str, Path], tmp_path: Path):
    decoded = decode_package(packages["lab-b"].read_bytes())
    for dropped in (1, 2):  # the bundle, or only its countersignature
        path = tmp_path / f"dropped-{dropped}.evidence"
        path.write_bytes(encode_package(replace(decoded, entries=tuple(
            e for e in decoded.entries if e.index != dropped))))
        done = verify_cli(published, path, *published["witnesses"])
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert f"incomplete: log entry {dropped} (" in done.stderr, done.stderr


def test_dropping_the_leaf_too_breaks_the_checkpoint(published: dict, packages: dict[str, Path]):
    decoded = decode_package(packages["lab-b"].read_bytes())
    entries = tuple(e for e in decoded.entries if e.index != 2)
    hidden = replace(decoded, leaves=decoded.leaves[:2] + decoded.leaves[3:], entries=entries)
    trust = Trust.parse(published["server"].log_key.verifier_key())
    with pytest.raises(EvidenceError, match="5 leaves|4 log leaves; the checkpoint's tree has 5"):
        verify_package(encode_package(hidden), trust)


def test_an_untrusted_witness_counts_for_nothing(published: dict, packages: dict[str, Path], tmp_path: Path):
    w1, _ = published["witnesses"]
    stranger = WitnessKey.generate("witness-1.example")  # same name, another key: not the one the buyer trusts
    log_only = _strip_cosignatures(packages["lab-b"].read_bytes())
    only_stranger = tmp_path / "stranger.evidence"
    only_stranger.write_bytes(cosign(log_only, stranger))
    done = verify_cli(published, only_stranger, w1, extra=("--min-witnesses", "1"))
    assert done.returncode == 1
    assert "carries 0 cosignature(s) from trusted witnesses; 1 required" in done.stderr, done.stderr
    mixed = tmp_path / "mixed.evidence"  # the trusted one plus the stranger: counts 1
    mixed.write_bytes(cosign(log_only, w1, WitnessKey.generate("witness-3.example")))
    ok = verify_cli(published, mixed, w1)
    assert ok.returncode == 0, ok.stderr
    assert "cosigned by 1 trusted witness(es): witness-1.example" in ok.stdout


def _strip_cosignatures(package: bytes) -> bytes:
    """The package with only the log's own signature line on its checkpoint."""
    decoded = decode_package(package)
    head, sep, _ = decoded.checkpoint.partition(b"\n\n")
    first = decoded.checkpoint[len(head) + 2:].split(b"\n")[0]
    return encode_package(replace(decoded, checkpoint=head + sep + first + b"\n"))


def test_fewer_than_k_cosignatures_fail(published: dict, packages: dict[str, Path], tmp_path: Path):
    w1, w2 = published["witnesses"]
    one = tmp_path / "one.evidence"
    one.write_bytes(cosign(_strip_cosignatures(packages["lab-b"].read_bytes()), w1))
    done = verify_cli(published, one, w1, w2)  # default K: every trusted witness
    assert done.returncode == 1 and "1 cosignature(s) from trusted witnesses; 2 required" in done.stderr
    assert verify_cli(published, one, w1, w2, extra=("--min-witnesses", "1")).returncode == 0
    usage = verify_cli(published, one, w1, extra=("--min-witnesses", "2"))
    assert usage.returncode == 2 and "can never be met" in usage.stderr
    forged = tmp_path / "forged.evidence"  # a line claiming witness-2's name and key id that does not verify
    note = decode_package(one.read_bytes()).checkpoint
    body, _ = split_note(note)
    bad = w2.cosign(body + b"x")
    forged.write_bytes(encode_package(replace(decode_package(one.read_bytes()), checkpoint=note + bad)))
    failed = verify_cli(published, forged, w1, w2, extra=("--min-witnesses", "1"))
    assert failed.returncode == 1 and "cosignature by witness witness-2.example does not verify" in failed.stderr


def test_a_log_that_signs_a_tampered_bundle_is_still_caught_by_the_bundle_verifier(
        published: dict, packages: dict[str, Path]):
    """Even with the log key: change a disclosure, fix the leaf, recompute root and proofs, re-sign and re-cosign."""
    decoded = decode_package(packages["lab-a"].read_bytes())
    bundle = next(e for e in decoded.entries if e.index == 3)
    lines = bundle.files["public.jsonl"].splitlines(keepends=True)
    files = {**bundle.files, "public.jsonl": b"".join(lines[1:] + lines[:1])}
    forged = relogged(decoded, 3, files, published)
    trust = Trust.parse(published["server"].log_key.verifier_key(), [w.verifier_key() for w in published["witnesses"]])
    with pytest.raises(EvidenceError) as caught:
        verify_package(forged, trust)
    assert str(caught.value).startswith("entry 3 (bundle): "), str(caught.value)
    assert "public.jsonl" in str(caught.value) or "statement.dsse.json" in str(caught.value)


def test_pack_at_an_earlier_checkpoint(published: dict, tmp_path: Path):
    """At size 2 the log held the protocol and the bundle, not yet lab-b's countersignature."""
    out = tmp_path / "at-2.evidence"
    done = pack_cli(published, "lab-b", out, "--size", "2")
    assert done.returncode == 0, done.stderr
    found = verify_package(out.read_bytes(), Trust.parse(published["server"].log_key.verifier_key()))
    assert found.checkpoint.size == 2 and found.indices == (0, 1)
    assert [b.kinds for b in found.bundles] == [("bundle",)] and not found.bundles[0].result.countersigned


def test_pack_at_a_size_the_registry_cannot_serve_fails_and_writes_nothing(published: dict, tmp_path: Path):
    out = tmp_path / "never.evidence"
    done = pack_cli(published, "lab-b", out, "--size", "99")
    assert done.returncode == 1 and "no checkpoint of size 99" in done.stderr and not out.exists()
    wrong_key = pack_cli(published, "lab-b", out, "--log-key", LogKey.generate("other.example/log").verifier_key())
    assert wrong_key.returncode == 1 and "not signed by" in wrong_key.stderr and not out.exists()
    unreachable = run_cli("evidence", "pack", "--registry", "http://127.0.0.1:9", "--vendor", "lab-b", "--out",
                          str(out), "--quiet")
    assert unreachable.returncode == 1 and "cannot be fetched" in unreachable.stderr and not out.exists()


def test_bad_input_is_one_line_and_the_right_exit_code(published: dict, packages: dict[str, Path], tmp_path: Path):
    log = published["server"].log_key.verifier_key()
    missing = run_cli("evidence", "verify", str(tmp_path / "nope"), "--log-key", log)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    bad_key = run_cli("evidence", "verify", str(packages["lab-b"]), "--log-key", "lab+zz+AAAA")
    assert bad_key.returncode == 2 and "--log-key" in bad_key.stderr
    garbage = tmp_path / "garbage.evidence"
    for content in (b"", b"\xff\xfe", b"[]", b'{"format":"crosslab-evidence/2"}', b"{" * 5000):
        garbage.write_bytes(content)
        done = run_cli("evidence", "verify", str(garbage), "--log-key", log)
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, content
    other = run_cli("evidence", "verify", str(packages["lab-a"]), "--log-key", log, "--vendor", "lab-b")
    assert other.returncode == 1 and "about lab-a, not lab-b" in other.stderr
    wrong_log = run_cli("evidence", "verify", str(packages["lab-b"]), "--log-key",
                        LogKey.generate("registry.example/log").verifier_key())
    assert wrong_log.returncode == 1 and "not signed by" in wrong_log.stderr
