"""Reframed copies: a 9:16 or 1:1 window of a 16:9 clip, kept at its own aspect.

The scenes are rendered (:mod:`support.synth`: a fixed camera, blobs drifting) at 16:9;
the copies are full-height windows of the same frames, so the truth is exact: each is a
reframe of the original, and the 9:16 one lies inside the 1:1 one; a window of another
scene is no reframe, nor is either window of the same camera 10 s later. Signatures and
records are made as the embed stage makes them.
"""

import numpy as np
import pytest

from curate.dedup import DedupStage
from curate.dedup.edits import edit_pairs
from curate.dedup.reframe import candidates, reframe_pairs
from curate.dedup.signature import aspect_of, check, decode, encode
from support.edited import EDIT_LIMIT
from support.edited import clip as _clip
from support.edited import record as _record
from support.edited import sig as _sig

W, H = 320, 180


def _window(frames: np.ndarray, width: int, x: int) -> np.ndarray:
    return np.ascontiguousarray(frames[:, :, x:x + width])


def _set() -> list[np.ndarray]:
    orig = _clip(2.0, w=W, h=H)
    return [orig,
            _window(orig, 100, 60),  # 9:16 (100 x 180), left of centre
            _window(orig, 180, 20),  # 1:1 near the left edge (holding the 9:16 window)
            _window(_clip(2.0, w=W, h=H, seed=8), 100, 110),  # another scene
            _clip(12.0, w=W, h=H)]  # the same camera, 10 s later


def test_the_aspect_is_kept_in_the_signature_and_read_back():
    texts = [encode(_sig(f)) for f in _set()]
    assert [aspect_of(t) for t in texts[:3]] == [pytest.approx(W / H, abs=0.01), pytest.approx(100 / H, abs=0.01),
                                                   pytest.approx(1.0, abs=0.01)]
    assert decode(texts[1]).aspect == pytest.approx(100 / H, abs=0.01)
    old = texts[1].replace(f",{aspect_of(texts[1]):.3f}", "")  # vidcurate before the aspect was kept
    check(old)
    assert aspect_of(old) is None and decode(old).aspect is None
    with pytest.raises(ValueError, match="bad dedup signature"):
        check(texts[1].replace(f",{aspect_of(texts[1]):.3f}", ",wide"))


def test_reframes_are_found_and_other_scenes_and_times_are_not():
    texts = [encode(_sig(f)) for f in _set()]
    plain = edit_pairs(texts, EDIT_LIMIT, 0.5, crop_cos=0.3)
    assert not {(0, 1), (0, 2)} & set(zip(plain[0].tolist(), plain[1].tolist()))  # the crop search cannot
    stats: dict = {}
    i, j, d = reframe_pairs(texts, EDIT_LIMIT, 0.5, stats=stats)
    assert set(zip(i.tolist(), j.tolist())) == {(0, 1), (0, 2), (1, 2)}, (i, j, d)
    assert (d <= EDIT_LIMIT).all() and stats["verified"] >= 3
    best = {(n, w): (frac, pos) for _, n, w, frac, pos, _ in candidates(texts, 0.5)}
    frac, pos = best[(1, 0)]
    assert frac == pytest.approx(100 / W, abs=0.02)
    assert pos * (W - 100) == pytest.approx(60, abs=(W - 100) / 8)  # the window found where it was cut


def test_signatures_without_an_aspect_are_never_reframe_candidates():
    texts = [encode(_sig(f)) for f in _set()]
    old = [t.replace(f",{aspect_of(t):.3f}", "") for t in texts]
    assert candidates(old, 0.5) == []
    assert reframe_pairs(old, EDIT_LIMIT)[0].size == 0


def test_dedup_stage_keeps_the_original_and_drops_its_reframes():
    frames = _set()
    recs = [_record("orig", frames[0], size=(1280, 720)),
            _record("portrait", frames[1], path="b.mp4", size=(400, 720)),
            _record("square", frames[2], path="c.mp4", size=(720, 720)),
            _record("other", frames[3], path="d.mp4", size=(400, 720)),
            _record("later", frames[4], start=10.0, path="e.mp4", size=(1280, 720))]
    kept, dropped = DedupStage().run(recs)
    assert [r.clip_id for r in kept] == ["orig", "other", "later"]
    assert sorted((r.clip_id, k) for r, k, _ in dropped) == [("portrait", "orig"), ("square", "orig")]
    kept_off, _ = DedupStage(reframe=False).run(recs)
    assert len(kept_off) == 5


def test_reframes_of_an_earlier_runs_clips_and_the_other_way_round_are_dropped(tmp_path):
    """``--dedup-against``: a new 9:16 window of a published 16:9 clip is its duplicate, and a
    new 16:9 clip whose 9:16 window was published is that window's; another scene's window
    and the same camera 10 s later are not. Without ``reframe`` none is found."""
    from schemas import ClipRecord, write_parquet

    frames = _set()
    orig = _record("orig", frames[0], size=(1280, 720))
    published_window = _record("pub9x16", frames[1], path="p.mp4", size=(400, 720))
    for earlier, new, copy, of in (([orig], [_record("portrait", frames[1], path="b.mp4", size=(400, 720))],
                                    "portrait", "orig"),
                                   ([published_window], [_record("full", frames[0], path="f.mp4", size=(1280, 720))],
                                    "full", "pub9x16")):
        run1 = tmp_path / of
        run1.mkdir()
        write_parquet(ClipRecord, earlier, str(run1 / "index.parquet"))
        others = [_record("other", frames[3], path="d.mp4", size=(400, 720)),
                  _record("later", frames[4], start=10.0, path="e.mp4", size=(1280, 720))]
        kept, dropped = DedupStage().run(new + others, against=[str(run1)])
        assert [r.clip_id for r in kept] == ["other", "later"]
        assert [(r.clip_id, k) for r, k, _ in dropped] == [(copy, of)]
        assert dropped[0][2] == f"near-duplicate of {of} in earlier run {run1}"
        assert len(DedupStage(reframe=False).run(new + others, against=[str(run1)])[0]) == 3


def test_a_widescreen_crop_of_a_4_3_clip_is_found_the_other_way_round():
    """16:9 cut from 4:3 keeps the whole width and three quarters of the height: the copy
    is a full-width window of its source (found on the transposed thumbnails). Another
    scene's crop, and the same camera 10 s later, are none."""
    w, h = 240, 180
    orig = _clip(2.0, w=w, h=h)
    wide = np.ascontiguousarray(orig[:, 30:165])  # 240 x 135, 16:9
    other = np.ascontiguousarray(_clip(2.0, w=w, h=h, seed=8)[:, 20:155])
    later = _clip(12.0, w=w, h=h)
    texts = [encode(_sig(f)) for f in (orig, wide, other, later)]
    i, j, d = reframe_pairs(texts, EDIT_LIMIT, 0.5)
    assert set(zip(i.tolist(), j.tolist())) == {(0, 1)}, (i, j, d)
    (_, copy, source, frac, pos, across), = [c for c in candidates(texts, 0.5) if c[1:3] == (1, 0)]
    assert across and frac == pytest.approx(135 / 180, abs=0.02)
    assert pos * (h - 135) == pytest.approx(30, abs=(h - 135) / 8 + 1)


def test_a_window_of_the_same_wall_with_another_motion_is_no_reframe():
    """One fixed camera on one textured wall, a dark square crossing it rightwards in one
    clip and leftwards in the other (the hard negative of the edit rule: two signs of one
    signer). A 9:16 window of each is a reframe of its own clip only."""
    from support.edited import wall

    right, left = wall(1, side=24), wall(-1, side=24)
    texts = [encode(_sig(f)) for f in (right, left, _window(right, 82, 88), _window(left, 82, 88))]
    i, j, _ = reframe_pairs(texts, EDIT_LIMIT)
    assert set(zip(i.tolist(), j.tolist())) == {(0, 2), (1, 3)}


@pytest.mark.parametrize("w,h,aspect", [(640, 6, 100.0), (4, 640, 0.01)])
def test_a_strip_beyond_100_to_1_keeps_a_readable_signature_and_dedup_runs(w, h, aspect):
    """A 640x6 strip (H.264 takes it) had a signature whose aspect its own reader refused:
    the run stopped at its dedup phase with every source's clips lost. Its aspect is kept
    as the nearest end of ``ASPECTS``; a copy of it is still found."""
    strip = _clip(2.0, w=w, h=h)
    text = encode(_sig(strip))
    check(text)
    assert aspect_of(text) == aspect
    recs = [_record("a", strip, path="a.mp4", size=(w, h)), _record("b", strip.copy(), path="b.mp4", size=(w, h)),
            _record("c", _clip(2.0, w=W, h=H), path="c.mp4")]
    kept, dropped = DedupStage().run(recs)
    assert sorted(r.clip_id for r in kept) == ["a", "c"] and [(d[0].clip_id, d[1]) for d in dropped] == [("b", "a")]
    # as vidcurate before the clamp wrote it, in a resumed run's commits (a review): read within the ends
    old = text.replace(f",{aspect:.3f}", ",106.667" if aspect > 1 else ",0.003")
    assert aspect_of(old) == aspect
    for rec in recs[:2]:
        rec.dedup_signature = old
    kept, dropped = DedupStage().run(recs)
    assert sorted(r.clip_id for r in kept) == ["a", "c"]
    for damaged in (",-1.0", ",nan", ",inf", ",0"):
        with pytest.raises(ValueError, match="bad dedup signature"):
            check(text.replace(f",{aspect:.3f}", damaged))


@pytest.mark.parametrize("cut", [0.09, 0.14])
def test_a_copy_cut_along_one_side_is_a_reframe(cut, monkeypatch):
    """A copy with 9-14 % of its width cut from one side (a shifted copy with its black
    strip cut off: aspect 0.86-0.91 of its original's) escapes the crop search, whose crops
    keep the aspect; from RATIO 0.93 it is a reframe. The same camera 10 s later, cut the
    same way, is not."""
    import curate.dedup.reframe as reframe

    orig = _clip(2.0, w=W, h=H)
    k = round(W * cut)
    texts = [encode(_sig(f)) for f in (orig, _window(orig, W - k, k), _window(_clip(12.0, w=W, h=H), W - k, k))]
    plain = edit_pairs(texts, EDIT_LIMIT, 0.7, crop_cos=0.5)
    assert (0, 1) not in set(zip(plain[0].tolist(), plain[1].tolist()))
    i, j, d = reframe_pairs(texts, EDIT_LIMIT, 0.5)
    assert set(zip(i.tolist(), j.tolist())) == {(0, 1)}, (i, j, d)
    monkeypatch.setattr(reframe, "RATIO", 0.8)  # before: only a fifth or more of a side cut
    assert len(reframe_pairs(texts, EDIT_LIMIT, 0.5)[0]) == 0
