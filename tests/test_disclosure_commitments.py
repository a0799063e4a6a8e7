"""Salted commitments (SD-JWT array-element disclosures): round trips, tampering, known answers."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from crosslab.attest import VerificationError
from crosslab.disclosure import (
    Disclosure,
    check_disclosure,
    commitment_of,
    make_disclosure,
    open_disclosure,
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode(salt_text: str, value, *, raw: bytes | None = None) -> str:
    """Build a disclosure string by hand, independently of the module."""
    array = raw if raw is not None else json.dumps([salt_text, value], separators=(",", ":"),
                                                   ensure_ascii=False, sort_keys=True).encode()
    return b64url(array)


def sha_hex(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


SALT16 = bytes(range(16))


def test_known_answer_with_fixed_salt():
    value = {"score": 0.93, "model": "café"}
    d = make_disclosure(value, SALT16)
    salt_text = b64url(SALT16)
    assert salt_text == "AAECAwQFBgcICQoLDA0ODw"
    expected = encode(salt_text, value)  # '["AAECAwQFBgcICQoLDA0ODw",{"model":"café","score":0.93}]'
    assert d == Disclosure(salt_text, value, expected, sha_hex(expected))
    # pinned literally, so a change in the JSON encoder cannot slip through
    assert d.encoded == "WyJBQUVDQXdRRkJnY0lDUW9MREEwT0R3Iix7Im1vZGVsIjoiY2Fmw6kiLCJzY29yZSI6MC45M31d"
    assert d.commitment == "2bc17bc7e057549b59277a8f79a90384ea926d78a7fd02c3e196a1cdcc83ecae"
    assert "=" not in d.encoded


def test_rfc_9901_array_element_example_opens():
    """The spec's own disclosure (note its non-canonical ', ' spacing): hashed as received."""
    encoded = "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0"
    assert open_disclosure(encoded) == ("lklxF5jMYlGTPUovMNIvCA", "FR")
    # the RFC gives the digest as base64url; ours is the same SHA-256 in hex
    digest = base64.urlsafe_b64decode("w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs=")
    assert check_disclosure(encoded, digest.hex()) == "FR"


@pytest.mark.parametrize("value", [0, -1, 2**53, 0.5, "", "text ✓", None, True, [], [1, "a", None],
                                   {"nested": {"list": [1, 2.5, {"x": "y"}]}, "a": False}])
def test_round_trip(value):
    d = make_disclosure(value)
    assert open_disclosure(d.encoded) == (d.salt, value)
    assert check_disclosure(d.encoded, d.commitment) == value
    assert commitment_of(d.encoded) == d.commitment == sha_hex(d.encoded)
    assert len(base64.urlsafe_b64decode(d.salt + "==")) == 16


def test_fresh_salts_give_different_disclosures_and_commitments():
    a, b = make_disclosure(42), make_disclosure(42)
    assert a.salt != b.salt and a.encoded != b.encoded and a.commitment != b.commitment
    with pytest.raises(VerificationError, match="^disclosure does not match its commitment$"):
        check_disclosure(a.encoded, b.commitment)


def test_changed_value_is_rejected():
    d = make_disclosure({"score": 0.93}, SALT16)
    forged = encode(d.salt, {"score": 0.99})
    assert open_disclosure(forged) == (d.salt, {"score": 0.99})  # well formed...
    with pytest.raises(VerificationError, match="^disclosure does not match its commitment$"):
        check_disclosure(forged, d.commitment)  # ...but not what was committed


def test_changed_salt_is_rejected():
    d = make_disclosure("secret", SALT16)
    forged = encode(b64url(bytes(range(1, 17))), "secret")
    with pytest.raises(VerificationError, match="^disclosure does not match its commitment$"):
        check_disclosure(forged, d.commitment)


def test_changed_encoding_of_same_content_is_rejected():
    """The commitment binds the exact string, not a re-encoding of its content."""
    d = make_disclosure({"a": 1}, SALT16)
    spaced = encode("", None, raw=f'["{d.salt}", {{"a": 1}}]'.encode())
    assert open_disclosure(spaced) == (d.salt, {"a": 1})
    with pytest.raises(VerificationError, match="does not match its commitment"):
        check_disclosure(spaced, d.commitment)


def test_short_salt_is_rejected():
    short = encode(b64url(bytes(15)), "v")
    with pytest.raises(VerificationError, match="^disclosure salt is 15 bytes, fewer than 16$"):
        open_disclosure(short)
    with pytest.raises(VerificationError, match="salt is 15 bytes"):
        check_disclosure(short, sha_hex(short))  # even when the commitment matches
    with pytest.raises(ValueError, match="salt must be at least 16 bytes"):
        make_disclosure("v", bytes(15))
    assert make_disclosure("v", bytes(32)).salt == b64url(bytes(32))


@pytest.mark.parametrize("encoded", [
    "not base64url!",
    "WyJh+",                                   # standard-alphabet character
    b64url(b'["AAECAwQFBgcICQoLDA0ODw",1]') + "=",  # padded
    "A",                                       # impossible length
    "WR",                                      # non-zero trailing bits
    " " + b64url(b"[]"),
    b"WyJhIl0",
    None,
])
def test_non_base64url_input_is_rejected(encoded):
    with pytest.raises(VerificationError, match=r"^disclosure is not valid base64url \(unpadded\)$"):
        open_disclosure(encoded)


@pytest.mark.parametrize("array, message", [
    (b"not json", "disclosure is not valid JSON"),
    (b"", "disclosure is not valid JSON"),
    (b"\xff\xfe", "disclosure is not valid JSON"),
    (b'{"salt": "AAECAwQFBgcICQoLDA0ODw", "value": 1}', r"disclosure is not a JSON array \[salt, value\]"),
    (b'"AAECAwQFBgcICQoLDA0ODw"', r"disclosure is not a JSON array \[salt, value\]"),
    (b'["AAECAwQFBgcICQoLDA0ODw"]', r"disclosure is not a JSON array \[salt, value\]"),
    (b'["AAECAwQFBgcICQoLDA0ODw","name",1]', r"disclosure is not a JSON array \[salt, value\]"),
    (b"[1, 2]", r"disclosure salt is not valid base64url \(unpadded\)"),
    (b'["AAECAwQFBgcICQoLDA0ODw==", 2]', r"disclosure salt is not valid base64url \(unpadded\)"),
    (b'["AAECAwQFBgcICQoLDA0OD+", 2]', r"disclosure salt is not valid base64url \(unpadded\)"),
])
def test_malformed_content_is_rejected(array, message):
    with pytest.raises(VerificationError, match=f"^{message}$"):
        open_disclosure(b64url(array))


@pytest.mark.parametrize("commitment", [None, "", "ab", "A" * 64, "g" * 64, "0" * 63, b"0" * 64])
def test_bad_commitment_is_rejected(commitment):
    d = make_disclosure(1)
    with pytest.raises(VerificationError, match="^commitment is not a lowercase hex SHA-256 digest$"):
        check_disclosure(d.encoded, commitment)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), (1, 2), {1: "a"}, b"bytes", object()])
def test_values_that_do_not_survive_json_are_refused(value):
    with pytest.raises(ValueError):
        make_disclosure(value)
