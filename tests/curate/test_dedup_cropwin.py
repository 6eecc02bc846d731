"""Off-centre crops found through window gists (curate.dedup.cropwin)."""

import numpy as np

from curate.dedup import DedupStage
from curate.dedup.cropwin import WINDOWS, crop_candidates, window_gists
from curate.dedup.signature import decode, encode, gist, gist_of_mean
from support.edited import clip as _clip
from support.edited import record as _record
from support.edited import sig as _sig


def _corner(frames, c=0.25):
    """The bottom-right ``1 - c`` of each side: a corner crop, off centre."""
    h, w = frames.shape[1:3]
    ch, cw = round(h * (1 - c)), round(w * (1 - c))
    return np.ascontiguousarray(frames[:, h - ch:, w - cw:])


def _dropped_with_windows_only(frames, cut, name):
    """The dedup stage drops ``cut`` (clip ``name``) as a copy of ``frames`` (clip "orig"),
    and keeps both with ``crop_windows`` off."""
    recs = [_record("orig", frames, size=(1280, 720)), _record(name, cut, path="b.mp4")]
    _, dropped = DedupStage().run(recs)
    assert [(r.clip_id, k) for r, k, _ in dropped] == [(name, "orig")]
    kept, _ = DedupStage(crop_windows=False).run(recs)
    assert len(kept) == 2


def test_window_gists_are_the_gists_of_the_mean_thumbnails_windows():
    mean = np.random.default_rng(0).uniform(0, 255, (48, 48)).astype(np.float32)
    got = window_gists(mean)
    assert got.shape == (len(WINDOWS), 64) and got.dtype == np.float32
    k = WINDOWS.index((0.7, 1.0, 0.0))  # 34 pixels square, bottom-left
    assert np.allclose(got[k], gist_of_mean(mean[14:48, 0:34]), atol=1e-5)


def test_a_corner_crop_whose_gist_moved_away_is_found_through_a_window():
    """A 25 % corner crop's gist is under crop_gist_cos (0.5) from its original's: no gist
    candidate; its gist meets the original's bottom-right window, and it verifies as a crop."""
    frames = _clip(2.0, seed=11)
    cut = _corner(frames)
    orig_sig, cut_sig = _sig(frames), _sig(cut)
    assert float(gist(orig_sig) @ gist(cut_sig)) < 0.5
    found = crop_candidates([encode(orig_sig), encode(cut_sig)])
    assert [(copy, orig, view) for _, copy, orig, view in found] == [(1, 0, 0)]
    _dropped_with_windows_only(frames, cut, "crop")


def test_another_scene_and_another_time_of_the_camera_are_not_crops():
    """Candidates are verified as crops: another scene's crop, and a corner crop of the same
    fixed camera 6 s later (other blobs moving), stay in."""
    frames = _clip(2.0, seed=11)
    recs = [_record("orig", frames, size=(1280, 720)),
            _record("other", _corner(_clip(2.0, seed=5)), path="b.mp4"),
            _record("later", _corner(_clip(8.0, seed=11)), path="c.mp4")]
    kept, dropped = DedupStage().run(recs)
    assert [r.clip_id for r in kept] == ["orig", "other", "later"] and not dropped


def test_window_gists_of_new_clips_are_computed_once_for_every_batch():
    frames = _clip(2.0, seed=11)
    texts = [encode(_sig(frames)), encode(_sig(_corner(frames)))]  # new clip 0, an earlier crop of it
    known: dict = {}
    first = crop_candidates(texts, between=1, known=known)
    assert list(known) == [0] and [(c, o) for _, c, o, _ in first] == [(1, 0)]
    known[0] = np.zeros_like(known[0])  # a cached entry is what is used
    assert crop_candidates(texts, between=1, known=known) == []
    assert decode(texts[0]).thumbs.shape[1:] == (48, 48)


def test_a_corner_crop_of_an_earlier_runs_clip_is_dropped(tmp_path):
    from schemas import ClipRecord, write_parquet

    frames = _clip(2.0, seed=11)
    (tmp_path / "e1").mkdir()
    write_parquet(ClipRecord, [_record("orig", frames, size=(1280, 720))], str(tmp_path / "e1" / "index.parquet"))
    crop = _record("crop", _corner(frames), path="b.mp4")
    kept, dropped = DedupStage().run([crop], against=[str(tmp_path / "e1")])
    assert not kept and [(r.clip_id, k) for r, k, _ in dropped] == [("crop", "orig")]
    assert dropped[0][2] == f"near-duplicate of orig in earlier run {tmp_path / 'e1'}"
    kept, _ = DedupStage(crop_windows=False).run([crop], against=[str(tmp_path / "e1")])
    assert [r.clip_id for r in kept] == ["crop"]


def test_bucket_blocks_hold_every_query_base_pair_when_every_bucket_is_probed():
    from curate.dedup.clusters import bucket_blocks

    rng = np.random.default_rng(3)
    base = rng.normal(size=(600, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    q = base[:40] + 0.05 * rng.normal(size=(40, 16)).astype(np.float32)  # near copies of 40 base rows
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    truth = set(zip(*np.nonzero(q @ base.T >= 0.9)))
    got = set()
    for rows, cols, sim in bucket_blocks(q, base, bucket=100, probes=6):  # 6 centroids, all probed
        assert np.allclose(sim, q[rows] @ base[cols].T)
        a, b = np.nonzero(sim >= 0.9)
        got |= set(zip(rows[a].tolist(), cols[b].tolist()))
    assert got == {(int(a), int(b)) for a, b in truth} and {(k, k) for k in range(40)} <= got


def test_a_corner_crop_of_a_flipped_copy_is_found_through_a_mirrored_gist():
    """A break test's 25 % corner crop of a left-right flipped copy: no gist, mirrored gist
    or window met it (cosines 0.18 / 0.61); its mirrored gist meets the original's window."""
    frames = _clip(2.0, seed=11)
    cut = _corner(np.ascontiguousarray(frames[:, :, ::-1]))
    found = crop_candidates([encode(_sig(frames)), encode(_sig(cut))], mirror=True)
    assert [(copy, orig, view) for _, copy, orig, view in found] == [(1, 0, 1)]
    _dropped_with_windows_only(frames, cut, "flipped crop")
