"""Perceptual hashes and near-duplicate grouping with a planted duplicate."""

import cv2
import numpy as np

from curate.dedup import DedupStage
from curate.phash import clip_phash, hamming_matrix, hashes_to_bits
from support.dedup import clip_record as _rec
from support.dedup import flip as _flip
from support.dedup import random_hashes
from support.synth import render


def _sample(seed, w, h, n=8):
    return np.stack([render(seed, i / 4, w, h) for i in range(n)])


def _dist(a, b):
    return int(hamming_matrix(hashes_to_bits([a]), hashes_to_bits([b]))[0, 0])


def test_phash_is_stable_across_resolution_and_recompression():
    a = clip_phash(_sample(1, 320, 240))
    small = clip_phash(_sample(1, 160, 120))
    jpeg = np.stack([cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 40])[1], 1)
                     for f in _sample(1, 320, 240)])
    assert len(a) == 256  # 4 frames x 256 bits, hex
    assert _dist(a, small) <= 0.03 * 1024
    assert _dist(a, clip_phash(jpeg)) <= 0.03 * 1024
    assert _dist(a, clip_phash(_sample(2, 320, 240))) >= 0.3 * 1024


def test_planted_duplicate_is_flagged_and_distinct_clips_are_not():
    recs = [
        _rec("c1", clip_phash(_sample(1, 320, 240)), path="a.mp4"),
        _rec("c2", clip_phash(_sample(2, 320, 240)), path="a.mp4", start=2),
        _rec("c3", clip_phash(_sample(1, 480, 360)), 480, 360, path="b.mp4"),  # the duplicate
        _rec("c4", clip_phash(_sample(3, 320, 240)), path="b.mp4", start=2),
    ]
    kept, dropped = DedupStage().run(recs)
    assert [r.clip_id for r in kept] == ["c2", "c3", "c4"]  # the higher resolution copy stays
    assert [(r.clip_id, k, d) for r, k, d in dropped] == [("c1", "c3", "near-duplicate of c3")]


def test_keep_rule_is_order_independent_and_chains_group():
    h = clip_phash(_sample(5, 160, 120))
    recs = [_rec("b", h, dur=2.0), _rec("a", h, dur=3.0), _rec("c", h, dur=3.0, path="z.mp4")]
    for order in (recs, recs[::-1], [recs[1], recs[2], recs[0]]):
        kept, dropped = DedupStage().run(order)
        assert [r.clip_id for r in kept] == ["a"]  # longest, then earliest path
        assert sorted((r.clip_id, k) for r, k, _ in dropped) == [("b", "a"), ("c", "a")]


def test_of_copies_alike_in_size_rate_and_length_the_sharpest_is_kept():
    """A break test: a blurred, grainy copy (focus 0.44) was kept over its clean original
    (focus 6.2) of the same size, frame rate and length because its file name came first."""
    from schemas import Scores

    h = clip_phash(_sample(5, 160, 120))
    soft, clean = _rec("soft", h, path="a_soft.mp4"), _rec("clean", h, path="b_original.mp4")
    soft.scores, clean.scores = Scores(focus=0.44), Scores(focus=6.2)
    for order in ([soft, clean], [clean, soft]):
        kept, dropped = DedupStage().run(order)
        assert [r.clip_id for r in kept] == ["clean"]
        assert [(r.clip_id, k) for r, k, _ in dropped] == [("soft", "clean")]
    # grain raises focus a little (a review: 31.2 -> 46.8 on the footage): no win by that
    grainy = _rec("grainy", h, path="a_grainy.mp4")
    grainy.scores = Scores(focus=6.2 * 1.5)
    kept, _ = DedupStage().run([clean, grainy])
    assert [r.clip_id for r in kept] == ["grainy"]  # (the earliest path, as without focus)
    clean.source = clean.source.model_copy(update={"path": "0_original.mp4"})
    kept, _ = DedupStage().run([grainy, clean])
    assert [r.clip_id for r in kept] == ["clean"]
    # a break test: a watermark's sharp text (focus 27.3) put the clean original (5.86) out;
    # a copy that is sharp by the filter's standard (3.5) stays in, and the path decides
    marked = _rec("marked", h, path="a_watermarked.mp4")
    marked.scores, clean.scores = Scores(focus=27.3), Scores(focus=5.86)
    kept, _ = DedupStage().run([marked, clean])
    assert [r.clip_id for r in kept] == ["clean"]  # 0_original.mp4 sorts first
    soft.scores = Scores(focus=2.8)  # under half of 5.86 and not sharp: still out
    kept, _ = DedupStage().run([soft, clean])
    assert [r.clip_id for r in kept] == ["clean"]


def test_threshold_zero_only_groups_identical_hashes():
    a = clip_phash(_sample(1, 320, 240))
    b = a[:-1] + format(int(a[-1], 16) ^ 1, "x")  # one bit away
    assert _dist(a, b) == 1
    kept, _ = DedupStage(max_distance=0).run([_rec("x", a), _rec("y", b), _rec("z", a)])
    assert [r.clip_id for r in kept] == ["x", "y"]


def test_stage_groups_at_known_distances_just_inside_and_outside():
    base = random_hashes(4, seed=7)
    limit = DedupStage().max_bits(256)  # 51 of 1024 bits
    assert limit == 51
    spread = np.arange(0, 1024, 9)  # distinct positions, spread over every band
    recs = [
        _rec("in0", base[0], width=640, height=480), _rec("in1", _flip(base[0], spread[:limit])),
        _rec("out0", base[1], width=640, height=480), _rec("out1", _flip(base[1], spread[:limit + 1])),
        # a chain: A~B and B~C are 40 bits apart, A and C 80 bits
        _rec("chainA", base[2], width=640, height=480), _rec("chainB", _flip(base[2], spread[:40])),
        _rec("chainC", _flip(base[2], spread[:80])),
        _rec("lone", base[3]),
    ]
    assert _dist(recs[4].phash, recs[6].phash) == 80
    kept, dropped = DedupStage().run(recs)
    assert [r.clip_id for r in kept] == ["in0", "out0", "out1", "chainA", "lone"]
    assert [(r.clip_id, k) for r, k, _ in dropped] == [("in1", "in0"), ("chainB", "chainA"),
                                                       ("chainC", "chainA")]


def test_every_pair_within_a_loose_threshold_is_one_group():
    recs = [_rec(f"c{i}", clip_phash(_sample(i, 64, 48)), width=64 + i) for i in range(4)]
    kept, dropped = DedupStage(max_distance=1.0).run(recs)
    assert [r.clip_id for r in kept] == ["c3"]  # all pairs match; the widest source stays
    assert len(dropped) == 3


def test_identical_hashes_join_their_near_duplicates():
    h = random_hashes(2, seed=3)
    recs = [_rec(f"s{k}", h[0], start=k) for k in range(5)]
    recs += [_rec("big", _flip(h[0], range(0, 300, 10)), width=640, height=480), _rec("other", h[1])]
    kept, dropped = DedupStage().run(recs)
    assert [r.clip_id for r in kept] == ["big", "other"]  # 30 bits from five identical copies
    assert [(r.clip_id, k) for r, k, _ in dropped] == [(f"s{k}", "big") for k in range(5)]


def test_the_verification_workers_module_does_not_import_scipy():
    """Ray tasks that verify candidate pairs import curate.dedup.edits; SciPy (0.33 s a
    worker) waits for curate.dedup.groups.components, which runs on the driver."""
    import subprocess
    import sys

    code = "import sys, curate.dedup.edits; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


def test_drop_duplicates_rows_identical_sources_then_near_duplicates():
    """The dedup phase's rows (curate.dedup.stage.drop_duplicates): a byte-identical copy of
    a source gives the same clip ids, the first path keeps them; a near-duplicate of another
    clip is dropped for the one the keep rule picks."""
    from curate.dedup.stage import drop_duplicates

    h = random_hashes(2, seed=5)
    recs = [_rec("c1", h[0], path="a.mp4"), _rec("c2", h[1], path="a.mp4"),
            _rec("c1", h[0], path="copy-of-a.mp4"), _rec("c2", h[1], path="copy-of-a.mp4"),
            _rec("c3", _flip(h[0], [0, 1]), path="b.mp4", width=160, height=120)]
    kept, rows = drop_duplicates(recs, None)
    assert [(r.clip_id, r.source.path) for r in kept] == [("c1", "a.mp4"), ("c2", "a.mp4"), ("c3", "b.mp4")]
    assert [(r.clip_id, r.source_path, r.reason, r.duplicate_of) for r in rows] == [
        ("c1", "copy-of-a.mp4", "duplicate", "c1"), ("c2", "copy-of-a.mp4", "duplicate", "c2")]
    assert "identical source: same clip as in a.mp4" in rows[0].detail
    kept, rows = drop_duplicates(recs, DedupStage(edit_distance=None))
    assert [r.clip_id for r in kept] == ["c1", "c2"]  # c3: 2 bits from c1, a smaller picture
    assert [(r.clip_id, r.stage, r.duplicate_of) for r in rows[2:]] == [("c3", "dedup", "c1")]


def test_a_pillarboxed_copy_with_about_the_same_picture_loses_to_the_clean_clip():
    """Found by a break tester: a 640x360 clip and the same with 106-pixel black side bars
    (852x360). Extract gives clips 456x256 and 606x256; the embed stage measured the
    padded copy's share as 0.7547 (true 0.751: a few columns of codec ringing at the bars'
    edges), so it showed 457.3 x 256 picture pixels to the clean clip's 456 x 256 and was
    kept. Picture pixels within 2 % are equal; then the copy with the least padding wins."""
    h = clip_phash(_sample(5, 160, 120))
    clean, padded = _rec("clean", h, 640, 360, path="b_clean.mp4"), _rec("padded", h, 852, 360, path="a_pad.mp4")
    clean.clip.width, padded.clip.width, clean.clip.height, padded.clip.height = 456, 606, 256, 256
    clean.picture_share, padded.picture_share = 1.0, 0.7547
    for order in ([clean, padded], [padded, clean]):
        kept, dropped = DedupStage().run(order)
        assert [r.clip_id for r in kept] == ["clean"]
        assert [(r.clip_id, k) for r, k, _ in dropped] == [("padded", "clean")]
    padded.picture_share = 0.6  # clearly less picture: the more-picture rule decides alone
    clean.clip.width = 342  # a 4:3 crop (342x256) of the padded copy's 455x256 of picture
    kept, _ = DedupStage().run([clean, padded])
    assert [r.clip_id for r in kept] == ["padded"]


def test_a_copy_at_half_the_frame_rate_loses_to_its_original():
    """Found by a break test: a 25 fps clip (capped at 24) and its copy at 12.5 fps; the
    copy's clip was 0.04 s longer (its last frame lasts longer), so the longest-clip rule
    kept it. Frame rates within 1 % are equal (29.97 against 30): then the clip length decides."""
    h = clip_phash(_sample(6, 160, 120))
    orig, half = _rec("orig", h, 640, 360, path="b.mp4", dur=3.96), _rec("half", h, 640, 360, path="a.mp4", dur=4.0)
    orig.clip.fps, half.clip.fps = 24.0, 12.5
    for order in ([orig, half], [half, orig]):
        kept, dropped = DedupStage().run(order)
        assert [r.clip_id for r in kept] == ["orig"] and [(r.clip_id, k) for r, k, _ in dropped] == [("half", "orig")]
    half.clip.fps = 23.976  # within 1 %: the longer clip wins, as before
    assert [r.clip_id for r in DedupStage().run([orig, half])[0]] == ["half"]
