"""What a lab reads out to a partner to confirm a received identity file is really theirs.

An identity file arrives by email or chat; before pinning it, the receiving
lab compares its fingerprint with the sender over a second channel (a call, a
signed message). The fingerprint commits to the lab id, the name and both
keys, so matching it is enough; the key ids are shown for those who pin keys
elsewhere (DSSE signatures name the signing key id).
"""

from __future__ import annotations

from crosslab.identity.keys import PublicIdentity


def grouped(hex_digest: str, size: int = 4) -> str:
    """``1a2b 3c4d …``: groups a person can read aloud and another can follow."""
    return " ".join(hex_digest[i:i + size] for i in range(0, len(hex_digest), size))


def identity_card(identity: PublicIdentity) -> str:
    """Plain lines, one fact each, for the terminal or a copy into a message."""
    return "\n".join([
        f"lab:            {identity.lab}",
        f"name:           {identity.name}",
        f"fingerprint:    {identity.fingerprint}",
        f"  read aloud:   {grouped(identity.fingerprint)}",
        f"signing key id: {identity.signing_key.keyid}",
        f"age recipient:  {identity.age_recipient}",
        "compare the fingerprint with the lab over another channel (a call, a signed message) before you trust it",
    ])
