"""The local keystore: a lab's private keys, readable only by their owner.

Layout: ``<keystore>/<lab>/`` (mode 0700) holding ``signing_key.pem`` (Ed25519,
PKCS#8 PEM), ``age_identity.txt`` (an ``AGE-SECRET-KEY-1...`` line in
age-keygen's format, so ``age -d -i`` can use it directly) and
``identity.json`` (the public identity), each mode 0600. Files are created
with os.open(..., 0o600) and O_EXCL, so they never exist with wider
permissions and never replace anything. Like ssh, loading refuses a private
key file that group or others can access.

The PEM is NOT passphrase-encrypted yet: the directory permissions are the
only protection, so keep the keystore on an encrypted, single-user disk.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from pathlib import Path

import pyrage
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from crosslab.core.private_file import read_private, write_private
from crosslab.core.errors import CrosslabError
from crosslab.identity.keys import (
    IdentityError,
    PublicIdentity,
    build_identity,
    check_lab_id,
    load_identity,
)

SIGNING_KEY_FILE = "signing_key.pem"
AGE_IDENTITY_FILE = "age_identity.txt"
IDENTITY_FILE = "identity.json"


class KeystoreError(CrosslabError, ValueError):
    """A keystore problem the user can fix (missing lab, unsafe permissions, damaged file)."""


class LabExistsError(KeystoreError):
    """``create`` was asked for a lab that already has keys."""


def default_keystore_dir() -> Path:
    """``$CROSSLAB_KEYSTORE``, else ``~/.config/crosslab/keys``."""
    env = os.environ.get("CROSSLAB_KEYSTORE")
    return Path(env).expanduser() if env else Path.home() / ".config" / "crosslab" / "keys"


def _write_private(path: Path, data: bytes) -> None:
    write_private(path, data)


def _read_private(path: Path) -> bytes:
    """Read a private key file, refusing it (like ssh) if group or others have any access."""
    return read_private(path, KeystoreError, "private key file",
                        missing=f"keystore entry is incomplete: {path} is missing")


def _refuse_writable_by_others(directory: Path) -> None:
    """A key directory others can write to lets them swap a key in: refuse it, as ssh does."""
    mode = stat.S_IMODE(os.stat(directory).st_mode)
    if mode & 0o022:
        raise KeystoreError(f"keystore directory {directory} has permissions {mode:04o}: group or others can write "
                            f"to it, so its keys cannot be trusted (run: chmod 700 {directory})")


class Keystore:
    """Private keys for the labs this machine acts for, one directory per lab."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()

    def _lab_dir(self, lab: str) -> Path:
        path = self.root / check_lab_id(lab)
        if not path.is_dir():
            raise KeystoreError(f"no keys for lab {lab!r} in keystore {self.root} "
                                f"(create them with: crosslab keys new {lab} --name ...)")
        for directory in (self.root, path):
            _refuse_writable_by_others(directory)
        return path

    def ensure_absent(self, lab: str) -> None:
        """Raise LabExistsError if ``lab`` already has a directory here."""
        lab_dir = self.root / check_lab_id(lab)
        if os.path.lexists(lab_dir):
            raise LabExistsError(f"lab {lab!r} already exists in keystore {self.root}; refusing to overwrite its "
                                 f"keys (delete {lab_dir} yourself if you really mean to replace them)")

    def labs(self) -> list[str]:
        """Labs with keys here, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / IDENTITY_FILE).is_file())

    def create(self, lab: str, name: str) -> PublicIdentity:
        """Generate both keys for a new lab; never overwrites an existing lab."""
        self.ensure_absent(lab)
        signing = Ed25519PrivateKey.generate()
        age_id = pyrage.x25519.Identity.generate()
        recipient = str(age_id.to_public())
        identity = build_identity(lab, name, signing.public_key(), recipient)  # validates name before any write
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        lab_dir = self.root / lab
        try:
            os.mkdir(lab_dir, 0o700)  # atomic claim: two concurrent creates cannot both win
        except FileExistsError:
            self.ensure_absent(lab)
            raise
        try:
            os.chmod(lab_dir, 0o700)
            pem = signing.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            _write_private(lab_dir / SIGNING_KEY_FILE, pem)
            created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
            age_text = f"# created: {created}\n# public key: {recipient}\n{age_id}\n"
            _write_private(lab_dir / AGE_IDENTITY_FILE, age_text.encode())
            _write_private(lab_dir / IDENTITY_FILE, identity.canonical())
        except BaseException:
            shutil.rmtree(lab_dir, ignore_errors=True)
            raise
        return identity

    def signing_key(self, lab: str) -> Ed25519PrivateKey:
        path = self._lab_dir(lab) / SIGNING_KEY_FILE
        data = _read_private(path)
        try:
            key = load_pem_private_key(data, password=None)
        except TypeError:
            raise KeystoreError(f"{path} is passphrase-protected, which crosslab does not support yet") from None
        except ValueError as exc:
            raise KeystoreError(f"{path} is not a readable PEM private key ({exc})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeystoreError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
        return key

    def age_identity(self, lab: str) -> pyrage.x25519.Identity:
        path = self._lab_dir(lab) / AGE_IDENTITY_FILE
        lines = [ln.strip() for ln in _read_private(path).decode("utf-8", "replace").splitlines()]
        keys = [ln for ln in lines if ln and not ln.startswith("#")]
        if len(keys) != 1:
            raise KeystoreError(f"{path} must hold exactly one AGE-SECRET-KEY-1... line, found {len(keys)}")
        try:
            return pyrage.x25519.Identity.from_str(keys[0])
        except pyrage.IdentityError as exc:
            raise KeystoreError(f"{path} does not hold a valid age X25519 identity ({exc})") from None

    def public_identity(self, lab: str) -> PublicIdentity:
        """The stored public identity, checked against both private keys (fails closed on any mismatch)."""
        path = self._lab_dir(lab) / IDENTITY_FILE
        try:
            identity = load_identity(path)
        except FileNotFoundError:
            raise KeystoreError(f"keystore entry is incomplete: {path} is missing") from None
        except IdentityError as exc:
            raise KeystoreError(str(exc)) from None
        if identity.lab != lab:
            raise KeystoreError(f"{path} is the identity of {identity.lab!r}, not {lab!r}")
        if self.signing_key(lab).public_key() != identity.public_key():
            raise KeystoreError(f"{path} does not match the signing key in {path.parent}")
        if str(self.age_identity(lab).to_public()) != identity.age_recipient:
            raise KeystoreError(f"{path} does not match the age identity in {path.parent}")
        return identity
