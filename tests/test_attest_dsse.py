"""DSSE envelopes and in-toto statements: round trips, tampering, pinning, interop."""

from __future__ import annotations

import base64
import copy
import hashlib

import orjson
import pyrage
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crosslab.attest import VerificationError
from crosslab.attest.dsse import (
    add_signature,
    dump_envelope,
    keyid_for,
    load_envelope,
    pae,
    sign_envelope,
    verify_envelope,
)
from crosslab.attest.intoto import (
    PAYLOAD_TYPE,
    STATEMENT_TYPE,
    parse_statement,
    sign_statement,
    statement,
    statement_payload,
    verify_statement,
)

PAYLOAD = b'{"result": "pass", "score": 0.93, "note": "caf\xc3\xa9"}'
PTYPE = "application/vnd.crosslab.test+json"


def _key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


LAB_A, LAB_B, LAB_C = _key(1), _key(2), _key(3)
TRUSTED = {"lab-a": LAB_A.public_key(), "lab-b": LAB_B.public_key()}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _signed_by_a_and_b() -> dict:
    return add_signature(sign_envelope(PAYLOAD, PTYPE, LAB_A, "lab-a"), LAB_B, "lab-b")


# --- PAE and keyids ---------------------------------------------------------

def test_pae_known_answer():
    assert pae("http://example.com/HelloWorld", b"hello world") == \
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


def test_pae_counts_utf8_bytes_not_characters():
    assert pae("t\u00e9", b"") == b"DSSEv1 3 t\xc3\xa9 0 "


def test_keyid_is_sha256_of_raw_public_key():
    pub = LAB_A.public_key()
    raw = pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert len(raw) == 32
    assert keyid_for(pub) == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_one_keyid_for_keys_and_identity_files():
    """DSSE signatures and identity files name a key by the same function, so the ids always agree."""
    import crosslab.identity.keys as identity_keys
    from crosslab.identity.keys import build_identity

    pub = LAB_A.public_key()
    raw = pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert keyid_for(raw) == keyid_for(pub)
    assert identity_keys.keyid_for is keyid_for  # no second definition
    identity = build_identity("lab-a", "Lab A", pub, str(pyrage.x25519.Identity.generate().to_public()))
    assert identity.signing_key.keyid == keyid_for(pub)


# --- round trips --------------------------------------------------------------

def test_sign_verify_round_trip():
    env = sign_envelope(PAYLOAD, PTYPE, LAB_A, "lab-a")
    assert set(env) == {"payload", "payloadType", "signatures"}
    assert env["payload"] == _b64(PAYLOAD) and env["payloadType"] == PTYPE
    assert [s["keyid"] for s in env["signatures"]] == ["lab-a"]
    assert LAB_A.public_key().verify(base64.b64decode(env["signatures"][0]["sig"]), pae(PTYPE, PAYLOAD)) is None
    v = verify_envelope(env, TRUSTED)
    assert (v.payload, v.payload_type, v.keyids, v.unknown_keyids) == (PAYLOAD, PTYPE, {"lab-a"}, set())


def test_countersign_adds_a_second_signature_over_the_same_pae():
    one = sign_envelope(PAYLOAD, PTYPE, LAB_A, "lab-a")
    before = copy.deepcopy(one)
    two = add_signature(one, LAB_B, "lab-b")
    assert one == before  # input untouched
    assert [s["keyid"] for s in two["signatures"]] == ["lab-a", "lab-b"]
    assert verify_envelope(two, TRUSTED, required={"lab-a", "lab-b"}).keyids == {"lab-a", "lab-b"}
    # re-signing under the same keyid replaces rather than duplicates
    again = add_signature(two, LAB_B, "lab-b")
    assert again == two


def test_dump_and_load_round_trip():
    env = _signed_by_a_and_b()
    assert load_envelope(dump_envelope(env)) == env
    assert dump_envelope(env) == dump_envelope(load_envelope(dump_envelope(env)))
    with pytest.raises(VerificationError, match="envelope is not valid JSON"):
        load_envelope(b"{not json")
    with pytest.raises(VerificationError, match="envelope is not a JSON object"):
        load_envelope(b"[]")


# --- trust policy ---------------------------------------------------------------

def test_required_keys_must_all_have_valid_signatures():
    env = sign_envelope(PAYLOAD, PTYPE, LAB_A, "lab-a")
    assert verify_envelope(env, TRUSTED, required={"lab-a"}).keyids == {"lab-a"}
    with pytest.raises(VerificationError, match="^no valid signature from required key lab-b$"):
        verify_envelope(env, TRUSTED, required={"lab-a", "lab-b"})
    with pytest.raises(ValueError, match="required keyids are not trusted keys: lab-z"):
        verify_envelope(env, TRUSTED, required={"lab-z"})


def test_unknown_keyid_is_reported_not_trusted():
    env = add_signature(sign_envelope(PAYLOAD, PTYPE, LAB_A, "lab-a"), LAB_C, "lab-c")
    v = verify_envelope(env, TRUSTED)
    assert v.keyids == {"lab-a"} and v.unknown_keyids == {"lab-c"}
    with pytest.raises(VerificationError, match="no valid signature from required key lab-b"):
        verify_envelope(env, TRUSTED, required={"lab-b"})
    only_unknown = sign_envelope(PAYLOAD, PTYPE, LAB_C, "lab-c")
    with pytest.raises(VerificationError, match=r"no signature from a trusted key \(only from unknown keyids: lab-c\)"):
        verify_envelope(only_unknown, TRUSTED)
    # a correct signature by a real key is still worthless under a keyid we do not pin
    assert verify_envelope(only_unknown, {"lab-c": LAB_C.public_key()}).keyids == {"lab-c"}


def test_keyid_claiming_lab_a_but_signed_by_lab_b_fails():
    forged = sign_envelope(PAYLOAD, PTYPE, LAB_B, "lab-a")
    with pytest.raises(VerificationError, match="^signature by lab-a does not verify$"):
        verify_envelope(forged, TRUSTED)
    # and a forged signature is fatal even when another valid one is present
    mixed = add_signature(forged, LAB_B, "lab-b")
    with pytest.raises(VerificationError, match="^signature by lab-a does not verify$"):
        verify_envelope(mixed, TRUSTED)


def test_no_signatures_fails():
    env = {"payload": _b64(PAYLOAD), "payloadType": PTYPE, "signatures": []}
    with pytest.raises(VerificationError, match="envelope has no signatures"):
        verify_envelope(env, TRUSTED)


def test_duplicate_keyid_is_rejected():
    env = sign_envelope(PAYLOAD, PTYPE, LAB_A, "lab-a")
    env["signatures"].append(dict(env["signatures"][0]))
    with pytest.raises(VerificationError, match="more than one signature with keyid lab-a"):
        verify_envelope(env, TRUSTED)


# --- tampering: every single-byte change fails -------------------------------------

def _mutations(data: bytes):
    for i in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            yield data[:i] + bytes([data[i] ^ mask]) + data[i + 1:]


def test_every_payload_byte_change_fails():
    env = _signed_by_a_and_b()
    for changed in _mutations(PAYLOAD):
        bad = dict(env, payload=_b64(changed))
        with pytest.raises(VerificationError, match="^signature by lab-a does not verify$"):
            verify_envelope(bad, TRUSTED)


def test_every_payload_type_byte_change_fails():
    env = _signed_by_a_and_b()
    for changed in _mutations(PTYPE.encode()):
        try:
            text = changed.decode("utf-8")
        except UnicodeDecodeError:
            continue  # not representable as a JSON string at all
        bad = dict(env, payloadType=text)
        with pytest.raises(VerificationError, match="^signature by lab-a does not verify$"):
            verify_envelope(bad, TRUSTED)
    with pytest.raises(VerificationError, match="does not verify"):
        verify_envelope(dict(env, payloadType=PTYPE + " "), TRUSTED)


@pytest.mark.parametrize("which", [0, 1])
def test_every_signature_byte_change_fails(which):
    env = _signed_by_a_and_b()
    keyid = env["signatures"][which]["keyid"]
    sig = base64.b64decode(env["signatures"][which]["sig"])
    for changed in _mutations(sig):
        bad = copy.deepcopy(env)
        bad["signatures"][which]["sig"] = _b64(changed)
        with pytest.raises(VerificationError, match=f"^signature by {keyid} does not verify$"):
            verify_envelope(bad, TRUSTED)
    # truncated / extended signatures too
    for changed in (sig[:-1], sig + b"\0", b""):
        bad = copy.deepcopy(env)
        bad["signatures"][which]["sig"] = _b64(changed)
        with pytest.raises(VerificationError, match=f"^signature by {keyid} does not verify$"):
            verify_envelope(bad, TRUSTED)


# --- malformed envelopes -------------------------------------------------------------

GOOD = sign_envelope(PAYLOAD, PTYPE, LAB_A, "lab-a")
GOOD_SIG = GOOD["signatures"][0]


@pytest.mark.parametrize("envelope, message", [
    (None, "envelope is not a JSON object"),
    ([GOOD], "envelope is not a JSON object"),
    ("{}", "envelope is not a JSON object"),
    ({k: v for k, v in GOOD.items() if k != "payload"}, "envelope has no field 'payload'"),
    ({k: v for k, v in GOOD.items() if k != "payloadType"}, "envelope has no field 'payloadType'"),
    ({k: v for k, v in GOOD.items() if k != "signatures"}, "envelope has no field 'signatures'"),
    (dict(GOOD, payload="not base64!"), "envelope field 'payload' is not valid base64"),
    (dict(GOOD, payload=GOOD["payload"] + "\n"), "envelope field 'payload' is not valid base64"),
    (dict(GOOD, payload="QUJD="), "envelope field 'payload' is not valid base64"),
    (dict(GOOD, payload="QR=="), "envelope field 'payload' is not valid base64"),  # non-zero trailing bits
    (dict(GOOD, payload="ab+_"), "envelope field 'payload' is not valid base64"),  # mixed alphabets
    (dict(GOOD, payload=b"aGk="), "envelope field 'payload' is not valid base64"),
    (dict(GOOD, payload=None), "envelope field 'payload' is not valid base64"),
    (dict(GOOD, payloadType=7), "envelope field 'payloadType' is not a string"),
    (dict(GOOD, signatures={"lab-a": GOOD_SIG}), "envelope field 'signatures' is not a list"),
    (dict(GOOD, signatures=["sig"]), "envelope signature 0 is not a JSON object"),
    (dict(GOOD, signatures=[{"sig": GOOD_SIG["sig"]}]), "envelope signature 0 has no string 'keyid'"),
    (dict(GOOD, signatures=[{"keyid": 1, "sig": GOOD_SIG["sig"]}]), "envelope signature 0 has no string 'keyid'"),
    (dict(GOOD, signatures=[{"keyid": "lab-a"}]), r"envelope signature 0 \(lab-a\) has no field 'sig'"),
    (dict(GOOD, signatures=[{"keyid": "lab-a", "sig": "@@@@"}]),
     "signature by lab-a: field 'sig' is not valid base64"),
    (dict(GOOD, signatures=[{"keyid": "lab-a", "sig": None}]),
     "signature by lab-a: field 'sig' is not valid base64"),
])
def test_malformed_envelopes_raise(envelope, message):
    with pytest.raises(VerificationError, match=message):
        verify_envelope(envelope, TRUSTED)


def test_url_safe_and_unpadded_base64_are_accepted():
    """The DSSE spec allows either alphabet; both decode to the same signed bytes."""
    env = copy.deepcopy(GOOD)
    env["signatures"][0]["sig"] = base64.urlsafe_b64encode(base64.b64decode(GOOD_SIG["sig"])).decode().rstrip("=")
    env["payload"] = GOOD["payload"].rstrip("=")
    assert verify_envelope(env, TRUSTED).payload == PAYLOAD


def test_trusted_keys_must_be_ed25519_public_keys():
    with pytest.raises(TypeError, match="trusted key for lab-a"):
        verify_envelope(GOOD, {"lab-a": LAB_A})


# --- in-toto statements ---------------------------------------------------------------

SHA = hashlib.sha256(b"artifact").hexdigest()


def test_statement_shape_and_round_trip():
    stmt = statement([("results.jsonl", SHA)], "https://crosslab.dev/Result/v1", {"score": 1})
    assert stmt == {"_type": STATEMENT_TYPE, "subject": [{"name": "results.jsonl", "digest": {"sha256": SHA}}],
                    "predicateType": "https://crosslab.dev/Result/v1", "predicate": {"score": 1}}
    assert parse_statement(statement_payload(stmt)) == stmt
    env = sign_statement(stmt, LAB_A, "lab-a")
    assert env["payloadType"] == PAYLOAD_TYPE == "application/vnd.in-toto+json"
    verified, parsed = verify_statement(env, TRUSTED, required={"lab-a"})
    assert parsed == stmt and verified.keyids == {"lab-a"}
    with pytest.raises(VerificationError, match="envelope payloadType is 'x', not 'application/vnd.in-toto"):
        verify_statement(sign_envelope(statement_payload(stmt), "x", LAB_A, "lab-a"), TRUSTED)


def _stmt(**changes) -> bytes:
    base = {"_type": STATEMENT_TYPE, "subject": [{"name": "a", "digest": {"sha256": SHA}}],
            "predicateType": "p", "predicate": {}}
    base.update(changes)
    return orjson.dumps(base)


@pytest.mark.parametrize("payload, message", [
    (b"nope", "statement is not valid JSON"),
    (b"[]", "statement is not a JSON object"),
    (_stmt(_type="https://in-toto.io/Statement/v0.1"), "statement _type is 'https://in-toto.io/Statement/v0.1'"),
    (_stmt(subject=[]), "statement 'subject' is not a non-empty list"),
    (_stmt(subject={"name": "a"}), "statement 'subject' is not a non-empty list"),
    (_stmt(subject=["a"]), "statement subject 0 is not a JSON object"),
    (_stmt(subject=[{"name": "", "digest": {"sha256": SHA}}]), "statement subject 0 has no non-empty string 'name'"),
    (_stmt(subject=[{"digest": {"sha256": SHA}}]), "statement subject 0 has no non-empty string 'name'"),
    (_stmt(subject=[{"name": "a"}]), "statement subject 'a' has no 'digest' object"),
    (_stmt(subject=[{"name": "a", "digest": {"sha512": SHA}}]), "statement subject 'a' has no sha256 digest"),
    (_stmt(subject=[{"name": "a", "digest": {"sha256": SHA[:-1]}}]), "statement subject 'a' has no sha256 digest"),
    (_stmt(subject=[{"name": "a", "digest": {"sha256": SHA.upper()}}]), "statement subject 'a' has no sha256"),
    (_stmt(subject=[{"name": "a", "digest": {"sha256": "g" * 64}}]), "statement subject 'a' has no sha256"),
    (_stmt(predicateType=3), "statement 'predicateType' is not a non-empty string"),
    (_stmt(predicateType=""), "statement 'predicateType' is not a non-empty string"),
    (_stmt(predicate=[1]), "statement 'predicate' is not a JSON object"),
])
def test_parse_statement_rejects_with_precise_message(payload, message):
    with pytest.raises(VerificationError, match=message):
        parse_statement(payload)


def test_building_an_invalid_statement_raises():
    with pytest.raises(ValueError, match="has no sha256 digest"):
        statement([("a", "abc")], "p", {})
    with pytest.raises(ValueError, match="'subject' is not a non-empty list"):
        statement([], "p", {})


# --- interop with securesystemslib --------------------------------------------------

def _sslib():
    dsse = pytest.importorskip("securesystemslib.dsse")
    signer = pytest.importorskip("securesystemslib.signer")
    return dsse, signer


def test_our_envelope_verifies_with_securesystemslib():
    sdsse, ssigner = _sslib()
    from securesystemslib.exceptions import VerificationError as SslibVerificationError

    pub_a, pub_b = LAB_A.public_key(), LAB_B.public_key()
    ka, kb = keyid_for(pub_a), keyid_for(pub_b)
    ours = add_signature(sign_envelope(PAYLOAD, PTYPE, LAB_A, ka), LAB_B, kb)
    keys = [ssigner.SSlibKey.from_crypto(pub_a, keyid=ka), ssigner.SSlibKey.from_crypto(pub_b, keyid=kb)]
    # from_dict rewrites the signature dicts it is given in place, so hand it a copy
    theirs = sdsse.Envelope.from_dict(copy.deepcopy(ours))
    assert theirs.payload == PAYLOAD and theirs.payload_type == PTYPE
    assert theirs.pae() == pae(PTYPE, PAYLOAD)
    assert set(theirs.verify(keys, 2)) == {ka, kb}
    assert theirs.to_dict() == ours  # same JSON form, byte for byte
    tampered = dict(ours, payload=_b64(PAYLOAD + b" "))
    with pytest.raises(SslibVerificationError):
        sdsse.Envelope.from_dict(copy.deepcopy(tampered)).verify(keys, 1)


def test_securesystemslib_envelope_verifies_with_ours():
    sdsse, ssigner = _sslib()
    pub_a, pub_b = LAB_A.public_key(), LAB_B.public_key()
    env = sdsse.Envelope(PAYLOAD, PTYPE, {})
    env.sign(ssigner.CryptoSigner(LAB_A, ssigner.SSlibKey.from_crypto(pub_a, keyid="lab-a")))
    env.sign(ssigner.CryptoSigner(LAB_B, ssigner.SSlibKey.from_crypto(pub_b, keyid="lab-b")))
    theirs = orjson.loads(orjson.dumps(env.to_dict()))
    v = verify_envelope(theirs, TRUSTED, required={"lab-a", "lab-b"})
    assert v.payload == PAYLOAD and v.payload_type == PTYPE
    # a statement signed by securesystemslib parses as ours
    stmt = statement([("x", SHA)], "p", {"k": "v"})
    senv = sdsse.Envelope(statement_payload(stmt), PAYLOAD_TYPE, {})
    senv.sign(ssigner.CryptoSigner(LAB_A, ssigner.SSlibKey.from_crypto(pub_a, keyid="lab-a")))
    assert verify_statement(senv.to_dict(), TRUSTED)[1] == stmt
