"""RFC 6962 / 9162 Merkle trees, checked against the RFC's recursive definitions.

The reference functions below are written straight from RFC 6962 §2.1 (MTH,
PATH, PROOF/SUBPROOF) and share nothing with ``crosslab.attest.merkle``.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from crosslab.attest.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --- independent reference (RFC 6962 §2.1, recursive) ----------------------------------

def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + d[0])
    k = _k(n)
    return _h(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


def leaves(n: int) -> list[bytes]:
    return [b"leaf-%d" % i for i in range(n)]


def flip(h: bytes, i: int = 0) -> bytes:
    return h[:i] + bytes([h[i] ^ 1]) + h[i + 1:]


# --- hashes and roots ----------------------------------------------------------------

def test_empty_tree_known_answer():
    assert root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert EMPTY_ROOT == root([])


def test_leaf_and_node_hash_prefixes():
    assert leaf_hash(b"x") == _h(b"\x00x")
    assert node_hash(b"a" * 32, b"b" * 32) == _h(b"\x01" + b"a" * 32 + b"b" * 32)
    assert root([b"x"]) == leaf_hash(b"x")


def test_certificate_transparency_test_vectors():
    """Roots of the 8-leaf test tree used by the RFC 6962 reference implementation."""
    d = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
         bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
    expected = {
        1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    }
    for n, hexroot in expected.items():
        assert root(d[:n]).hex() == hexroot
        assert ref_mth(d[:n]).hex() == hexroot


@pytest.mark.parametrize("n", range(131))
def test_root_matches_rfc_definition(n):
    assert root(leaves(n)) == ref_mth(leaves(n))


@pytest.mark.parametrize("n", [255, 256, 257, 1000, 1023, 1024, 1025, 4097, 20_001])
def test_root_matches_rfc_definition_large(n):
    d = leaves(n)
    assert root(d) == ref_mth(d)


def test_root_of_100k_leaves_is_fast():
    d = leaves(100_000)
    start = time.perf_counter()
    root(d)
    assert time.perf_counter() - start < 1.0


# --- inclusion proofs ------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 129])
def test_inclusion_proofs_for_every_index(n):
    d = leaves(n)
    r = root(d)
    for i in range(n):
        proof = inclusion_proof(d, i)
        assert proof == ref_path(i, d)
        assert verify_inclusion(d[i], i, n, proof, r)
        # wrong leaf, wrong root, altered / shortened / lengthened proof
        assert not verify_inclusion(d[i] + b"!", i, n, proof, r)
        assert not verify_inclusion(d[i], i, n, proof, flip(r))
        for j in range(len(proof)):
            assert not verify_inclusion(d[i], i, n, proof[:j] + [flip(proof[j], j)] + proof[j + 1:], r)
        if proof:
            assert not verify_inclusion(d[i], i, n, proof[:-1], r)
        assert not verify_inclusion(d[i], i, n, proof + [r], r)
        # wrong index: every other index for small trees, neighbours for larger ones
        others = range(n) if n <= 17 else {(i - 1) % n, (i + 1) % n}
        for j in others:
            if j != i:
                assert not verify_inclusion(d[i], j, n, proof, r)


def test_tree_size_is_not_authenticated_by_the_proof_alone():
    """A proof for leaf 0 of 3 also "verifies" for size 4: the root hashes the same.

    The size must come from the same signed tree head as the root, never from
    whoever hands over the proof.
    """
    d = leaves(3)
    assert verify_inclusion(d[0], 0, 4, inclusion_proof(d, 0), root(d))


def test_inclusion_rejects_bad_arguments():
    d = leaves(4)
    r, proof = root(d), inclusion_proof(d, 1)
    assert not verify_inclusion(d[1], -1, 4, proof, r)
    assert not verify_inclusion(d[1], 4, 4, proof, r)
    assert not verify_inclusion(d[1], 1, 4, proof, r[:31])
    assert not verify_inclusion(d[1], 1, 4, [p[:31] for p in proof], r)
    assert not verify_inclusion(d[0], 0, 0, [], EMPTY_ROOT)
    with pytest.raises(ValueError, match="outside a tree of 4 leaves"):
        inclusion_proof(d, 4)


# --- consistency proofs ----------------------------------------------------------------

def test_consistency_proofs_for_all_sizes_up_to_40():
    d = leaves(40)
    roots = [root(d[:n]) for n in range(41)]
    for n in range(1, 41):
        for m in range(1, n + 1):
            proof = consistency_proof(m, d[:n])
            assert proof == ref_proof(m, d[:n]), (m, n)
            assert verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
            # tampered roots, proof elements, sizes and lengths all fail
            assert not verify_consistency(m, n, flip(roots[m]), roots[n], proof)
            assert not verify_consistency(m, n, roots[m], flip(roots[n]), proof)
            for j in range(len(proof)):
                assert not verify_consistency(m, n, roots[m], roots[n],
                                              proof[:j] + [flip(proof[j], j)] + proof[j + 1:]), (m, n, j)
            if proof:
                assert not verify_consistency(m, n, roots[m], roots[n], proof[:-1])
            assert not verify_consistency(m, n, roots[m], roots[n], proof + [roots[n]])
            if m < n:
                assert not verify_consistency(m, n, roots[m], roots[n], [])
                assert not verify_consistency(m, n, roots[m + 1], roots[n], proof)
                assert not verify_consistency(m, n, roots[m], roots[n - 1], proof)
            if m > 1:
                assert not verify_consistency(m, n, roots[m - 1], roots[n], proof)


def test_consistency_edge_cases():
    d = leaves(10)
    r10 = root(d)
    assert consistency_proof(10, d) == [] and verify_consistency(10, 10, r10, r10, [])
    assert not verify_consistency(10, 10, r10, r10, [r10])
    assert not verify_consistency(10, 10, r10, root(d[:9]), [])
    # the empty tree is a prefix of every tree, with an empty proof
    assert consistency_proof(0, d) == [] and verify_consistency(0, 10, EMPTY_ROOT, r10, [])
    assert not verify_consistency(0, 10, r10, r10, [])
    assert not verify_consistency(0, 10, EMPTY_ROOT, r10, [r10])
    assert not verify_consistency(5, 4, root(d[:5]), root(d[:4]), [])
    assert not verify_consistency(-1, 4, EMPTY_ROOT, root(d[:4]), [])
    with pytest.raises(ValueError, match="outside 0..10"):
        consistency_proof(11, d)
    # a different history with the same old size is not consistent
    other = d[:3] + [b"rewritten"] + d[4:]
    proof = consistency_proof(5, other)
    assert verify_consistency(5, 10, root(other[:5]), root(other), proof)
    assert not verify_consistency(5, 10, root(d[:5]), root(other), proof)
