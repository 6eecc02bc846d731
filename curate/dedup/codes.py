"""Clip hashes as packed bit codes, and the disjoint bands that multi-index hashing uses.

A clip's perceptual hash (:mod:`curate.phash`, hex) becomes a row of a ``(N, B) uint8``
code matrix (big-endian bit order, as ``np.packbits``), zero-padded to whole 64-bit
words so distances can be taken with ``np.bitwise_count`` on ``uint64`` views.

Bands follow Norouzi, Punjani and Fleet, "Fast Search in Hamming Space with Multi-Index
Hashing" (CVPR 2012) at search radius 0 in each band: the code's bits are split into
``m > d`` disjoint bands, so two codes within Hamming distance ``d`` agree exactly on at
least one band (pigeonhole). Band keys are integers of at most 32 bits.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

MAX_BAND_BITS = 32


def hex_codes(hashes: Iterable[str], nbytes: int | None = None) -> np.ndarray:
    """Hex hashes of equal length as a ``(N, B) uint8`` code matrix, B a multiple of 8.

    ``nbytes`` is the hash length in bytes (taken from the first hash when None); an
    empty input gives a ``(0, B)`` matrix. Raises ValueError when a hash is not hex
    or not ``nbytes`` long.
    """
    hashes = list(hashes)
    if nbytes is None:
        nbytes = len(hashes[0]) // 2 if hashes else 0
    if any(len(h) != 2 * nbytes for h in hashes):
        raise ValueError(f"hashes must all be {2 * nbytes} hex characters")
    raw = np.frombuffer(bytes.fromhex("".join(hashes)), dtype=np.uint8).reshape(len(hashes), nbytes)
    width = -(-nbytes // 8) * 8
    if width == nbytes:
        return raw.copy()
    out = np.zeros((len(hashes), width), dtype=np.uint8)
    out[:, :nbytes] = raw
    return out


def words_t(codes: np.ndarray) -> np.ndarray:
    """``(N, B) uint8`` codes as ``(B/8, N) uint64`` words, one contiguous row per word
    (so that one word of many codes is gathered with a 1-D index)."""
    return np.ascontiguousarray(codes.view(np.uint64).T)


def band_edges(nbits: int, max_dist: int) -> list[tuple[int, int]]:
    """Disjoint ``(start, end)`` bit ranges covering ``nbits`` bits, more bands than
    ``max_dist`` and none wider than 32 bits; widths differ by at most one bit.

    Raises ValueError when ``max_dist >= nbits`` (no banding can be exact: every pair is
    within the distance).
    """
    if max_dist >= nbits:
        raise ValueError(f"max distance {max_dist} >= {nbits} bits: every pair matches")
    m = max(max_dist + 1, -(-nbits // MAX_BAND_BITS))
    return [(i * nbits // m, (i + 1) * nbits // m) for i in range(m)]


def band_keys(codes: np.ndarray, start: int, end: int) -> np.ndarray:
    """Bits ``start:end`` (at most 32) of every ``(N, B) uint8`` code as ``(N,) uint64`` keys."""
    width = end - start
    b0, lead = divmod(start, 8)
    need = (lead + width + 7) // 8
    val = np.zeros(len(codes), dtype=np.uint64)
    for k in range(need):
        val = (val << np.uint64(8)) | codes[:, b0 + k].astype(np.uint64)
    val >>= np.uint64(need * 8 - lead - width)
    return val & np.uint64((1 << width) - 1)
