"""age encryption interoperates with the reference `age` CLI, both ways, and fails closed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pyrage import x25519

from crosslab.disclosure.encryption import EncryptionError, decrypt_with, encrypt_to
from crosslab.identity.keystore import Keystore

PLAINTEXT = b"restricted appendix\n\x00\xff" + os.urandom(70_000)  # binary, and more than one 64 KiB chunk


@pytest.fixture(scope="module")
def age_cli() -> str:
    path = shutil.which("age")
    if path is None:
        pytest.fail("the `age` CLI is not installed; these interoperability tests need it: apt-get install -y age")
    return path


def key_file(tmp_path: Path, identity: x25519.Identity) -> Path:
    path = tmp_path / "key.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{identity}\n")
    return path


def test_round_trip_to_several_recipients() -> None:
    a, b = x25519.Identity.generate(), x25519.Identity.generate()
    ciphertext = encrypt_to([str(a.to_public()), str(b.to_public())], PLAINTEXT)
    assert ciphertext.startswith(b"age-encryption.org/v1\n")
    assert decrypt_with([a], ciphertext) == PLAINTEXT
    assert decrypt_with([str(b)], ciphertext) == PLAINTEXT  # secret-key strings work too


def test_age_cli_decrypts_ours(age_cli: str, tmp_path: Path) -> None:
    other, partner = x25519.Identity.generate(), x25519.Identity.generate()
    (tmp_path / "ct.age").write_bytes(encrypt_to([str(other.to_public()), str(partner.to_public())], PLAINTEXT))
    proc = subprocess.run([age_cli, "--decrypt", "-i", str(key_file(tmp_path, partner)), str(tmp_path / "ct.age")],
                          capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == PLAINTEXT


def test_age_cli_reads_the_keystore_identity_file(age_cli: str, tmp_path: Path) -> None:
    identity = Keystore(tmp_path / "ks").create("acme", "Acme AI")
    (tmp_path / "ct.age").write_bytes(encrypt_to([identity.age_recipient], b"for acme"))
    proc = subprocess.run([age_cli, "-d", "-i", str(tmp_path / "ks" / "acme" / "age_identity.txt"),
                           str(tmp_path / "ct.age")], capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b"for acme"


def test_we_decrypt_the_age_cli(age_cli: str, tmp_path: Path) -> None:
    me = x25519.Identity.generate()
    (tmp_path / "plain").write_bytes(PLAINTEXT)
    proc = subprocess.run([age_cli, "-r", str(me.to_public()), "-o", str(tmp_path / "ct.age"), str(tmp_path / "plain")],
                          capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr.decode()
    assert decrypt_with([x25519.Identity.generate(), me], (tmp_path / "ct.age").read_bytes()) == PLAINTEXT


def test_non_recipient_cannot_decrypt() -> None:
    ciphertext = encrypt_to([str(x25519.Identity.generate().to_public())], b"secret")
    with pytest.raises(EncryptionError, match="cannot decrypt: the identity given is not a recipient of this file"):
        decrypt_with([x25519.Identity.generate()], ciphertext)
    with pytest.raises(EncryptionError, match="none of the 2 identities given is a recipient"):
        decrypt_with([x25519.Identity.generate(), x25519.Identity.generate()], ciphertext)


def test_damaged_ciphertext_is_refused() -> None:
    me = x25519.Identity.generate()
    ciphertext = bytearray(encrypt_to([str(me.to_public())], b"secret"))
    ciphertext[-3] ^= 1
    with pytest.raises(EncryptionError, match="not a valid, intact age file"):
        decrypt_with([me], bytes(ciphertext))


def test_bad_recipients_are_named() -> None:
    good = str(x25519.Identity.generate().to_public())
    with pytest.raises(EncryptionError, match=r"'age1bogus' is not a valid age X25519 recipient"):
        encrypt_to([good, "age1bogus"], b"x")
    with pytest.raises(EncryptionError, match=r"'ssh-ed25519 AAAA' is not a valid age X25519 recipient"):
        encrypt_to(["ssh-ed25519 AAAA"], b"x")
    with pytest.raises(EncryptionError, match="no recipients"):
        encrypt_to([], b"x")
    with pytest.raises(EncryptionError, match="no identities"):
        decrypt_with([], b"x")
