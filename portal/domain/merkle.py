"""RFC 6962 / RFC 9162 Merkle trees: hashing, compact ranges, inclusion and consistency proofs.

Pure functions without a database, so that anyone (the `audit verify-pack` command, a dispute team) can
check proofs offline. Hashes are 32-byte `bytes` here; callers store and print them as hex.

- leaf hash: SHA-256(0x00 || leaf), node hash: SHA-256(0x01 || left || right);
- the tree of n leaves splits at the largest power of two below n (RFC 6962, section 2.1);
- a perfect subtree is addressed as (level, index); it covers the leaves
  [index * 2**level, (index + 1) * 2**level).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256

NodeKey = tuple[int, int]  # (level, index) of a perfect subtree


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(begin: int, end: int) -> list[NodeKey]:
    """The perfect subtrees, largest first, whose hashes fold into MTH(D[begin:end]).

    Valid for the ranges RFC 6962's recursion produces: `begin` is a multiple of a power of two at least
    as large as the range (always true for begin = 0, and for every subtree the proofs below ask for).
    """
    keys: list[NodeKey] = []
    while begin < end:
        level = (end - begin).bit_length() - 1  # the whole range, or its largest power-of-two prefix
        keys.append((level, begin >> level))
        begin += 1 << level
    return keys


def fold(hashes: Sequence[bytes]) -> bytes:
    """The root over perfect subtrees listed largest first (the right edge is folded in first)."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make up PATH(index, D[0:size]), from the leaf upwards."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[tuple[int, int]] = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split(end - begin)
        if index - begin < k:
            path.append((begin + k, end))
            end = begin + k
        else:
            path.append((begin, begin + k))
            begin += k
    path.reverse()
    return path


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make up PROOF(old, D[0:new]) (RFC 6962, section 2.1.2)."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    if old == 0 or old == new:
        return []
    proof: list[tuple[int, int]] = []
    begin, end, m, complete = 0, new, old, True
    while m != end - begin:
        k = _split(end - begin)
        if m <= k:
            proof.append((begin + k, end))
            end = begin + k
        else:
            proof.append((begin, begin + k))
            m -= k
            begin += k
            complete = False
    if not complete:
        proof.append((begin, end))
    proof.reverse()
    return proof


class Prover:
    """Proofs over stored perfect subtrees: `fetch` returns the hashes of the keys it is given."""

    def __init__(self, fetch: Callable[[set[NodeKey]], dict[NodeKey, bytes]]) -> None:
        self._fetch = fetch
        self._known: dict[NodeKey, bytes] = {}

    def _range_hashes(self, ranges: Iterable[tuple[int, int]]) -> list[bytes]:
        ranges = list(ranges)
        needed = {key for begin, end in ranges for key in perfect_subtrees(begin, end)} - self._known.keys()
        if needed:
            found = self._fetch(needed)
            missing = needed - found.keys()
            if missing:
                raise LookupError(f"the stored tree lacks {len(missing)} node(s), e.g. {min(missing)}")
            self._known.update(found)
        return [fold([self._known[key] for key in perfect_subtrees(b, e)]) for b, e in ranges]

    def root(self, size: int) -> bytes:
        return self._range_hashes([(0, size)])[0] if size else EMPTY_ROOT

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return self._range_hashes(inclusion_ranges(index, size))

    def inclusions(self, indexes: Iterable[int], size: int) -> dict[int, list[bytes]]:
        """Several inclusion proofs at once, fetching every node they need in one go."""
        wanted = sorted(set(indexes))
        ranges = {index: inclusion_ranges(index, size) for index in wanted}
        self._range_hashes([r for rs in ranges.values() for r in rs])
        return {index: self._range_hashes(rs) for index, rs in ranges.items()}

    def consistency(self, old: int, new: int) -> list[bytes]:
        return self._range_hashes(consistency_ranges(old, new))


class CompactRange:
    """The right edge of a growing tree: the roots of its perfect subtrees, largest first.

    Appending a leaf merges equal-sized subtrees; `appended` reports each perfect subtree completed on
    the way, so a caller can store it and prove against it later.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        keys = perfect_subtrees(0, size)
        if len(keys) != len(hashes):
            raise ValueError(f"a tree of {size} leaves has {len(keys)} edge subtrees, got {len(hashes)}")
        self.size = size
        self._stack: list[tuple[int, bytes]] = [
            (level, h) for (level, _i), h in zip(keys, hashes, strict=True)
        ]

    def append(self, leaf_hash_: bytes) -> list[tuple[NodeKey, bytes]]:
        """Add one leaf hash; returns the perfect subtrees of level >= 1 that it completed."""
        completed: list[tuple[NodeKey, bytes]] = []
        stack = self._stack
        self.size = size = self.size + 1
        digest, level, rest = leaf_hash_, 0, size
        while not rest & 1:  # one merge per trailing zero bit of the new size
            digest = _sha256(b"\x01" + stack.pop()[1] + digest).digest()
            level += 1
            rest >>= 1
            completed.append(((level, (size >> level) - 1), digest))
        stack.append((level, digest))
        return completed

    def root(self) -> bytes:
        return fold([h for _level, h in self._stack])


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    tree = CompactRange()
    for h in leaf_hashes:
        tree.append(h)
    return tree.root()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162, section 2.1.3.2: is `leaf` (a leaf hash) at `index` in the tree of `size` with `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> bool:
    """RFC 9162, section 2.1.4.2: is the tree of `new` leaves an append-only extension of the `old` one?"""
    if not 0 <= old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof  # every tree extends the empty one
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is itself the first node of the path
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
