"""Multi-index hashing finds exactly the pairs of exhaustive search."""

import numpy as np
import pytest

from curate.dedup import near_pairs
from curate.dedup.codes import band_edges, band_keys, hex_codes
from curate.dedup.exhaustive import exhaustive_pairs
from curate.dedup.groups import components


def _planted(n, n_copies, max_flip, seed=0, nbytes=128):
    """Random codes where ``n_copies`` rows copy another row with 0..max_flip bits flipped."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
    dst = rng.choice(n, n_copies, replace=False)
    for d in dst:
        bits = np.unpackbits(codes[rng.integers(0, n)])
        bits[rng.choice(len(bits), rng.integers(0, max_flip + 1), replace=False)] ^= 1
        codes[d] = np.packbits(bits)
    return codes, np.sort(dst)


def _same(a, b):
    assert all(np.array_equal(x, y) for x, y in zip(a, b)), (len(a[0]), len(b[0]))


def test_band_keys_match_the_unpacked_bits():
    codes = np.random.default_rng(1).integers(0, 256, (50, 128), dtype=np.uint8)
    bits = np.unpackbits(codes, axis=1).astype(np.uint64)
    for max_dist in (0, 20, 51, 100):
        edges = band_edges(1024, max_dist)
        assert len(edges) > max_dist and edges[0][0] == 0 and edges[-1][1] == 1024
        assert all(a[1] == b[0] for a, b in zip(edges, edges[1:]))
        assert max(e - s for s, e in edges) <= 32
        for s, e in edges[:5] + edges[-3:]:
            weights = np.uint64(1) << np.arange(e - s - 1, -1, -1, dtype=np.uint64)
            assert np.array_equal(band_keys(codes, s, e), bits[:, s:e] @ weights)


def test_hex_codes_pad_to_whole_words():
    codes = hex_codes(["ff00", "0001"])
    assert codes.shape == (2, 8) and codes[0, :2].tolist() == [255, 0] and codes[:, 2:].sum() == 0
    with pytest.raises(ValueError, match="4 hex"):
        hex_codes(["ff00", "ff"])


@pytest.mark.parametrize("max_dist", [0, 3, 30, 51, 90])
def test_self_search_equals_exhaustive(max_dist):
    codes, _ = _planted(1500, 300, int(1.5 * max_dist) + 2, seed=max_dist)
    stats = {}
    found = near_pairs(codes, max_dist, stats=stats)
    truth = exhaustive_pairs(codes, max_dist)
    assert len(truth[0]) > 20  # the planted copies give pairs to find
    _same(found, truth)
    assert stats["bands"] > max_dist and stats["candidates"] < 1500 * 1499 // 2


def test_pairs_just_inside_and_outside_the_distance():
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (6, 128), dtype=np.uint8)
    rows = [base[0], base[1], base[2]]
    starts = [s for s, _ in band_edges(1024, 51)]
    for k, src in ((50, 0), (51, 1), (52, 2), (1, 3)):  # copies k bits away, one per band first:
        bits = np.unpackbits(base[src])                  # the 51-bit copy shares one band only
        bits[(starts + [s + 1 for s in starts])[:k]] ^= 1
        rows.append(np.packbits(bits))
    codes = np.stack(rows + [base[3]])
    i, j, d = near_pairs(codes, 51)
    assert list(zip(i.tolist(), j.tolist(), d.tolist())) == [(0, 3, 50), (1, 4, 51), (6, 7, 1)]


def test_search_against_a_base_equals_exhaustive():
    codes, _ = _planted(2000, 400, 70, seed=5)
    query, base = codes[:700], codes[700:]
    found = near_pairs(query, 51, base=base)
    _same(found, exhaustive_pairs(query, 51, base=base))
    assert len(found[0]) > 10 and found[0].max() < 700 and found[1].max() < 1300


def test_recall_at_twenty_thousand_codes():
    n = 20_000
    codes, copies = _planted(n, 1000, 61, seed=11)
    i, j, d = near_pairs(codes, 51)
    rows = np.unique(np.r_[copies, np.random.default_rng(2).choice(n, 500, replace=False)])
    ti, tj, _ = exhaustive_pairs(codes, 51, rows=rows)
    truth = set(zip(ti.tolist(), tj.tolist()))
    found = set(zip(i.tolist(), j.tolist()))
    rowset = set(rows.tolist())
    sampled = {p for p in found if p[0] in rowset or p[1] in rowset}
    assert len(truth) > 500
    assert len(truth & found) / len(truth) >= 0.99
    assert sampled == truth  # exact on every sampled row: no pair missed, none extra
    x = np.bitwise_count(codes[i] ^ codes[j]).sum(axis=1)
    assert np.array_equal(x, d) and x.max() <= 51


def test_components_join_chains_and_drop_singletons():
    groups = components(7, np.array([0, 1, 5]), np.array([1, 2, 6]))
    assert [g.tolist() for g in groups] == [[0, 1, 2], [5, 6]]
    assert components(3, np.array([], dtype=int), np.array([], dtype=int)) == []
    assert components(3, np.arange(3), np.arange(3)) == []  # self-loops only


def test_parallel_calls_over_bands_give_the_same_pairs(call_workers):
    codes, _ = _planted(3000, 500, 60, seed=9)
    _same(near_pairs(codes, 51, workers=2), near_pairs(codes, 51))
    query, base = codes[:1000], codes[1000:]
    _same(near_pairs(query, 51, base=base, workers=3), near_pairs(query, 51, base=base))
