"""The Merkle tree code against RFC 6962's own recursive definitions, and its proofs against tampering."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.domain import merkle
from portal.domain.audit_signing import Checkpoint, Signer, load_private_key, load_public_key, public_pem

LEAVES = [f"entry {i}".encode() for i in range(40)]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


# RFC 6962, section 2.1, written the way the RFC states it.
def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def stored_prover(size: int) -> merkle.Prover:
    """A prover over the perfect subtrees a sequencer would have stored for `size` leaves."""
    nodes: dict[merkle.NodeKey, bytes] = {}
    tree = merkle.CompactRange()
    for index, h in enumerate(HASHES[:size]):
        nodes[(0, index)] = h
        nodes.update(tree.append(h))
    return merkle.Prover(lambda keys: {key: nodes[key] for key in keys if key in nodes})


def test_roots_match_the_rfc_for_every_size() -> None:
    assert merkle.root_of([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    for n in range(1, len(LEAVES) + 1):
        assert merkle.root_of(HASHES[:n]) == mth(LEAVES[:n]), n
        assert stored_prover(n).root(n) == mth(LEAVES[:n])


def test_a_compact_range_resumes_from_stored_edges() -> None:
    for n in range(0, 20):
        prover = stored_prover(n)
        edges = merkle.perfect_subtrees(0, n)
        known = prover._range_hashes([(0, n)]) if n else []  # noqa: SLF001 (warms the cache)
        assert len(known) == (1 if n else 0)
        resumed = merkle.CompactRange(n, [prover._known[key] for key in edges])  # noqa: SLF001
        for h in HASHES[n:30]:
            resumed.append(h)
        assert resumed.root() == mth(LEAVES[:30])


def test_inclusion_proofs_match_the_rfc_and_verify() -> None:
    for n in range(1, 34):
        prover = stored_prover(n)
        root = mth(LEAVES[:n])
        for m in range(n):
            proof = prover.inclusion(m, n)
            assert proof == path(m, LEAVES[:n]), (m, n)
            assert merkle.verify_inclusion(HASHES[m], m, n, proof, root)
            assert not merkle.verify_inclusion(HASHES[(m + 1) % n], m, n, proof, root) or n == 1
            if proof:
                bent = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
                assert not merkle.verify_inclusion(HASHES[m], m, n, bent, root)
                assert not merkle.verify_inclusion(HASHES[m], m, n, proof[:-1], root)
    assert stored_prover(9).inclusions([0, 4, 8], 9) == {m: path(m, LEAVES[:9]) for m in (0, 4, 8)}


def test_consistency_proofs_match_the_rfc_and_verify() -> None:
    for n in range(1, 34):
        prover = stored_prover(n)
        new_root = mth(LEAVES[:n])
        for m in range(1, n + 1):
            proof = prover.consistency(m, n)
            assert proof == (subproof(m, LEAVES[:n], True) if m < n else []), (m, n)
            old_root = mth(LEAVES[:m])
            assert merkle.verify_consistency(m, n, proof, old_root, new_root), (m, n)
            if m < n:
                assert not merkle.verify_consistency(m, n, proof, mth(LEAVES[1 : m + 1]), new_root)
                assert not merkle.verify_consistency(m, n, proof[:-1], old_root, new_root)
                other = mth([*LEAVES[:m], b"forged", *LEAVES[m + 1 : n]])
                assert not merkle.verify_consistency(m, n, proof, old_root, other)


def test_a_prover_says_when_the_store_lacks_a_node() -> None:
    with pytest.raises(LookupError):
        merkle.Prover(lambda keys: {}).inclusion(3, 8)


def test_checkpoints_are_signed_and_any_change_breaks_them() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    when = datetime(2026, 11, 30, 8, 0, 0, 123456, tzinfo=UTC)
    checkpoint = signer.sign(12, mth(LEAVES[:12]), when)
    assert checkpoint.verify(signer.public_key) is None
    assert Checkpoint.from_json(checkpoint.to_json()) == checkpoint
    assert checkpoint.body().decode().splitlines()[:2] == ["aftersales-desk/audit-log", "12"]
    for changed in (
        Checkpoint(13, checkpoint.root_hash, when, checkpoint.key_id, checkpoint.signature),
        Checkpoint(12, mth(LEAVES[:11]), when, checkpoint.key_id, checkpoint.signature),
        Checkpoint(12, checkpoint.root_hash, when.replace(second=1), checkpoint.key_id, checkpoint.signature),
    ):
        assert "forged" in changed.verify(signer.public_key)[0]
    other = Signer(Ed25519PrivateKey.generate())
    assert "another key" in checkpoint.verify(other.public_key)[0]
    forged = other.sign(12, checkpoint.root_hash, when)
    forged = Checkpoint(12, forged.root_hash, when, signer.key_id, forged.signature)  # claims the real key
    assert "forged" in forged.verify(signer.public_key)[0]


def test_keys_load_from_pem_or_seed() -> None:
    key = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    import base64

    expected = Signer(key).key_id
    for text in (pem, seed.hex(), base64.b64encode(seed).decode(), base64.urlsafe_b64encode(seed).decode()):
        assert Signer(load_private_key(text)).key_id == expected
    assert (
        load_public_key(public_pem(key.public_key())).public_bytes_raw()
        == key.public_key().public_bytes_raw()
    )
    with pytest.raises(ValueError):
        load_private_key("not a key")
    with pytest.raises(ValueError):
        load_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_the_fast_leaf_encoding_is_the_canonical_json_of_the_entry() -> None:
    from portal.domain import audit

    when = datetime(2026, 11, 30, 8, 0, 0, 5, tzinfo=UTC)
    for details in ({}, {"b": 1, "a": [1.5, None, True], "z": {"y": '退款 "quoted" \\ \n'}}, {"n": 10**20}):
        for actor_id in (None, 7):
            args = (42, when, actor_id, "agent@example.test", "case.note_added", "case", "AS-1", details)
            assert audit.leaf_bytes(*args) == audit.canonical_json(audit.leaf_object(*args))
