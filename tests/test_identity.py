"""Lab identities: keystore permissions, identity files that fail closed, and the `keys` CLI."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from conftest import run_cli

from crosslab.attest.dsse import keyid_for
from crosslab.identity.keys import IdentityError, fingerprint_of, load_identity, write_identity
from crosslab.identity.keystore import Keystore, KeystoreError
from crosslab.core.canonical import canonical_json


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """One lab made through the CLI: (keystore, out dir, stdout of `keys new`)."""
    base = tmp_path_factory.mktemp("cli")
    ks, out = base / "ks", base / "out"
    proc = run_cli("keys", "new", "acme-ai", "--name", "Acme AI", "--keystore", str(ks), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return ks, out, proc.stdout


def test_keys_new_makes_private_files_and_a_valid_identity(cli_store: tuple[Path, Path, str]) -> None:
    ks, out, stdout = cli_store
    ident_path = out / "acme-ai.identity.json"
    assert stdout.strip() == str(ident_path)
    assert mode(ks) == 0o700 and mode(ks / "acme-ai") == 0o700
    files = sorted(p.name for p in (ks / "acme-ai").iterdir())
    assert files == ["age_identity.txt", "identity.json", "signing_key.pem"]
    for name in files:
        assert mode(ks / "acme-ai" / name) == 0o600, name
    assert (ks / "acme-ai" / "signing_key.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert "\nAGE-SECRET-KEY-1" in (ks / "acme-ai" / "age_identity.txt").read_text()

    identity = load_identity(ident_path)
    assert (identity.lab, identity.name, identity.signing_key.type) == ("acme-ai", "Acme AI", "ed25519")
    assert identity.age_recipient.startswith("age1")
    raw = ident_path.read_bytes()
    assert raw == canonical_json(json.loads(raw))  # the file is exactly canonical JSON
    unsigned = {k: v for k, v in json.loads(raw).items() if k != "fingerprint"}
    assert identity.fingerprint == fingerprint_of(unsigned)


def test_keys_new_twice_is_refused_with_one_line(cli_store: tuple[Path, Path, str], tmp_path: Path) -> None:
    ks, _, _ = cli_store
    before = (ks / "acme-ai" / "signing_key.pem").read_bytes()
    proc = run_cli("keys", "new", "acme-ai", "--name", "Other", "--keystore", str(ks), "--out", str(tmp_path))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "already exists" in proc.stderr
    assert (ks / "acme-ai" / "signing_key.pem").read_bytes() == before
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("lab", ["Acme", "a", "-acme", "acme_ai", "../evil"])
def test_bad_lab_ids_are_refused(lab: str, tmp_path: Path) -> None:
    proc = run_cli("keys", "new", "--name", "X", "--keystore", str(tmp_path / "ks"), "--out", str(tmp_path), "--", lab)
    assert proc.returncode == 2
    assert "invalid lab id" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "ks").exists() and not list(tmp_path.glob("*.json"))


def test_keys_show_list_export(cli_store: tuple[Path, Path, str], tmp_path: Path) -> None:
    ks, out, _ = cli_store
    published = (out / "acme-ai.identity.json").read_bytes()

    show = run_cli("keys", "show", "acme-ai", "--keystore", str(ks))
    assert show.returncode == 0, show.stderr
    assert show.stdout.strip().encode() == published

    listed = run_cli("keys", "list", "--keystore", str(ks))
    assert listed.returncode == 0, listed.stderr
    lab, fingerprint, name = listed.stdout.strip().split("\t")
    assert (lab, fingerprint, name) == ("acme-ai", load_identity(out / "acme-ai.identity.json").fingerprint, "Acme AI")

    export = run_cli("keys", "export", "acme-ai", "--out", str(tmp_path / "share"), "--keystore", str(ks))
    assert export.returncode == 0, export.stderr
    assert export.stdout.strip() == str(tmp_path / "share" / "acme-ai.identity.json")
    assert (tmp_path / "share" / "acme-ai.identity.json").read_bytes() == published

    missing = run_cli("keys", "show", "nobody", "--keystore", str(ks))
    assert missing.returncode == 2 and "no keys for lab 'nobody'" in missing.stderr


# --- load_identity fails closed, one message per check ------------------------------------------------------

@pytest.fixture
def good(tmp_path: Path) -> dict:
    identity = Keystore(tmp_path / "ks").create("acme", "Acme AI")
    return identity.model_dump(mode="json")


def write(tmp_path: Path, data: dict, refingerprint: bool = True) -> Path:
    """Write identity data, by default with a freshly computed fingerprint so only the intended check can fail."""
    if refingerprint:
        data = {**data, "fingerprint": fingerprint_of({k: v for k, v in data.items() if k != "fingerprint"})}
    path = tmp_path / "acme.identity.json"
    path.write_bytes(canonical_json(data))
    return path


def test_load_identity_accepts_the_original(tmp_path: Path, good: dict) -> None:
    assert load_identity(write(tmp_path, good, refingerprint=False)).model_dump(mode="json") == good


def test_tampered_name_breaks_the_fingerprint(tmp_path: Path, good: dict) -> None:
    with pytest.raises(IdentityError, match=r"fingerprint mismatch.*changed after it was made"):
        load_identity(write(tmp_path, {**good, "name": "Evil Corp"}, refingerprint=False))


def test_keyid_must_match_the_key(tmp_path: Path, good: dict) -> None:
    bad = {**good, "signing_key": {**good["signing_key"], "keyid": keyid_for(b"\x01" * 32)}}
    with pytest.raises(IdentityError, match=r"signing_key: keyid 'sha256:[0-9a-f]+' does not match the public key"):
        load_identity(write(tmp_path, bad))


def test_wrong_length_key_is_refused(tmp_path: Path, good: dict) -> None:
    short = b"\x02" * 31
    bad = {**good, "signing_key": {"type": "ed25519", "public": base64.b64encode(short).decode(),
                                   "keyid": keyid_for(short)}}
    with pytest.raises(IdentityError, match=r"signing_key\.public: an Ed25519 public key is 32 bytes, this one is 31"):
        load_identity(write(tmp_path, bad))


def test_bad_age_recipient_is_refused(tmp_path: Path, good: dict) -> None:
    recipient = good["age_recipient"]
    bad = {**good, "age_recipient": recipient[:-1] + ("q" if recipient[-1] != "q" else "p")}
    with pytest.raises(IdentityError, match=r"age_recipient: 'age1\w+' is not an age X25519 recipient"):
        load_identity(write(tmp_path, bad))


def test_bad_lab_and_extra_fields_are_refused(tmp_path: Path, good: dict) -> None:
    with pytest.raises(IdentityError, match=r"lab: invalid lab id 'ACME'"):
        load_identity(write(tmp_path, {**good, "lab": "ACME"}))
    with pytest.raises(IdentityError, match=r"comment: Extra inputs are not permitted"):
        load_identity(write(tmp_path, {**good, "comment": "hi"}))


# --- the keystore --------------------------------------------------------------------------------------------

def test_private_key_files_with_wide_permissions_are_refused(tmp_path: Path) -> None:
    store = Keystore(tmp_path / "ks")
    store.create("acme", "Acme AI")
    key_file = tmp_path / "ks" / "acme" / "signing_key.pem"
    os.chmod(key_file, 0o644)
    with pytest.raises(KeystoreError, match=r"permissions 0644 for private key file .* are too open.*chmod 600"):
        store.signing_key("acme")
    os.chmod(key_file, 0o600)
    store.signing_key("acme")
    os.chmod(tmp_path / "ks" / "acme" / "age_identity.txt", 0o640)
    with pytest.raises(KeystoreError, match="too open"):
        store.age_identity("acme")


@pytest.mark.parametrize("which", ["root", "lab"])
@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_keystore_directories_writable_by_others_are_refused(tmp_path: Path, which: str, mode: int) -> None:
    store = Keystore(tmp_path / "ks")
    store.create("acme", "Acme AI")
    directory = tmp_path / "ks" if which == "root" else tmp_path / "ks" / "acme"
    os.chmod(directory, mode)
    with pytest.raises(KeystoreError, match=rf"keystore directory {directory} has permissions {mode:04o}: "
                                            r"group or others can write to it.*chmod 700"):
        store.signing_key("acme")
    os.chmod(directory, 0o755)  # readable by others is the user's choice; writable is not
    store.signing_key("acme")


def test_permissions_do_not_depend_on_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        Keystore(tmp_path / "ks").create("acme", "Acme AI")
    finally:
        os.umask(old)
    assert mode(tmp_path / "ks" / "acme") == 0o700
    assert {mode(p) for p in (tmp_path / "ks" / "acme").iterdir()} == {0o600}


def test_signature_verifies_with_the_published_key(tmp_path: Path) -> None:
    store = Keystore(tmp_path / "ks")
    identity = store.create("acme", "Acme AI")
    published = load_identity(write_identity(identity, tmp_path / "share"))
    signature = store.signing_key("acme").sign(b"results bundle")
    published.public_key().verify(signature, b"results bundle")  # raises InvalidSignature if wrong
    assert str(store.age_identity("acme").to_public()) == published.age_recipient
    assert store.public_identity("acme") == published


def test_a_different_identity_file_is_not_overwritten(tmp_path: Path) -> None:
    a = Keystore(tmp_path / "ks1").create("acme", "Acme AI")
    b = Keystore(tmp_path / "ks2").create("acme", "Acme AI")
    write_identity(a, tmp_path)
    write_identity(a, tmp_path)  # the same identity again is fine
    with pytest.raises(IdentityError, match="holds a different identity"):
        write_identity(b, tmp_path)
