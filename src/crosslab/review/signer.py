"""The reviewing lab's key: a keystore, one lab's directory in it, or that directory's ``signing_key.pem``.

Whatever is given, the key is read through ``Keystore`` so its checks apply
(owner-only permissions, the public identity matching both private keys).
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crosslab.identity.keys import PublicIdentity
from crosslab.identity.keystore import IDENTITY_FILE, SIGNING_KEY_FILE, Keystore
from crosslab.review.errors import ReviewError


def reviewing_key(key: Path, lab: str | None = None) -> tuple[Ed25519PrivateKey, PublicIdentity]:
    """(private key, public identity) of the lab that signs; ``lab`` picks one in a keystore of several."""
    if key.is_file() and key.name == SIGNING_KEY_FILE:
        store, found = Keystore(key.parent.parent), key.parent.name
    elif key.is_dir() and (key / IDENTITY_FILE).is_file():
        store, found = Keystore(key.parent), key.name
    elif key.is_dir():
        store = Keystore(key)
        labs = store.labs()
        if lab is None and len(labs) != 1:
            raise ReviewError(f"keystore {key} holds {len(labs)} labs ({', '.join(labs) or 'none'}); "
                              "say which signs with --as LAB")
        found = lab if lab is not None else labs[0]
    else:
        raise ReviewError(f"--key {key}: give a keystore directory, a lab's directory in it, "
                          f"or its {SIGNING_KEY_FILE}")
    if lab is not None and lab != found:
        raise ReviewError(f"--key {key} is {found}'s key, not {lab}'s")
    return store.signing_key(found), store.public_identity(found)
