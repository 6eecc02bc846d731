"""Edit-robust near-duplicates: planted edited copies are found, the same camera at another time is not."""

import cv2
import numpy as np
import pytest

from curate.dedup import DedupStage
from curate.dedup.clusters import bucket_pairs
from curate.dedup.signature import decode, encode, gist, read_gist
from curate.dedup.verify import distance
from support.edited import EDIT_LIMIT, FPS, crop_bright, crop_quarter, gamma, grey_pillarbox, half, hflip, letterbox, turned
from support.edited import clip as _clip
from support.edited import wall as _wall
from support.edited import record as _record
from support.edited import sig as _sig
from support.synth import render


def test_signature_round_trips_through_its_record_string():
    sig = _sig(_clip(2.0))
    back = decode(encode(sig))
    assert np.array_equal(back.thumbs, sig.thumbs) and back.step_s == pytest.approx(0.25)
    assert back.thumbs.shape == (12, 48, 48)
    size, g = read_gist(encode(sig))  # read without the thumbnails
    assert size == 48 and np.allclose(g, gist(sig), atol=1e-3)
    with pytest.raises(ValueError, match="bad dedup signature"):
        decode("v1:250:32:not-base64!")


@pytest.mark.parametrize("edit", [crop_bright, letterbox, grey_pillarbox, gamma, half, crop_quarter, turned])
def test_edited_copy_is_within_the_edit_distance(edit):
    assert distance(_sig(_clip(2.0)), _sig(_clip(2.0, edit=edit))) <= EDIT_LIMIT


def test_time_shifted_and_sped_up_copies_align():
    orig = _sig(_clip(2.0))
    assert distance(orig, _sig(_clip(2.3))) <= EDIT_LIMIT  # starts 0.3 s later
    fast = np.stack([render(7, 2.0 + 1.2 * k / FPS, 256, 144, drift=0.15) for k in range(10)])
    assert distance(orig, _sig(fast)) <= EDIT_LIMIT  # played at 1.2x


def test_same_camera_at_another_time_is_not_a_copy():
    orig = _sig(_clip(2.0))
    later = _sig(_clip(12.0))  # same background, the moving blobs elsewhere
    assert distance(orig, later) > 2 * EDIT_LIMIT
    assert distance(orig, _sig(turned(_clip(12.0)))) > 2 * EDIT_LIMIT  # turning does not make it one
    assert distance(orig, _sig(_clip(2.0, seed=8))) > 0.3  # another scene


def test_same_wall_other_local_motion_is_not_a_copy_but_its_edit_is():
    right, left = _sig(_wall(1)), _sig(_wall(-1))
    assert distance(right, left, motion_weight=0.0) <= EDIT_LIMIT  # the wall alone: a false pair
    assert distance(right, left) > EDIT_LIMIT  # what moves tells them apart
    assert distance(right, _sig(crop_bright(_wall(1)))) <= EDIT_LIMIT  # 8 % crop, +30 levels


def _passer_by(first: bool, n=24, w=256, h=144, side=60):
    """6 s (4 fps) of the static wall of scene 3 with a dark figure (``side`` px) crossing it
    left to right in the first (``first``) or the last 9 frames; the rest is the empty wall
    (one fixed camera, two people taking the same path at other times)."""
    wall = render(3, 0.0, w, h, drift=0.0)
    out = np.repeat(wall[None], n, axis=0)
    for k in range(9):
        f = k if first else n - 9 + k
        x = round((w - side) * k / 8)
        out[f, h // 4:h // 4 + side, x:x + side] = 20 if first else 40
    return out


def test_two_windows_of_one_fixed_camera_sharing_an_empty_stretch_are_not_copies():
    """Their empty stretches (15 of 24 frames each) align, but each has its own passer-by
    outside them; a trimmed copy that keeps the passer-by is still a copy."""
    a, b = _sig(_passer_by(True)), _sig(_passer_by(False))
    assert distance(a, b) > EDIT_LIMIT
    assert distance(a, _sig(crop_bright(_passer_by(True)[:18]))) <= EDIT_LIMIT


@pytest.mark.parametrize("backend", ["faiss", "numpy"])
def test_bucket_pairs_equal_brute_force_when_every_bucket_is_probed(backend, monkeypatch):
    import curate.dedup.clusters as clusters

    if backend == "numpy":
        monkeypatch.setattr(clusters, "_faiss", lambda: None)
    elif clusters._faiss() is None:
        pytest.skip("faiss-cpu not installed")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 16)).astype(np.float32)
    x[100:150] = x[:50] + 0.05 * rng.normal(size=(50, 16))  # planted near copies
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sim = x @ x.T
    want = {(i, j) for i, j in zip(*np.nonzero(np.triu(sim >= 0.9, k=1)))}
    i, j, c = bucket_pairs(x, 0.9, bucket=30, probes=10)
    assert set(zip(i.tolist(), j.tolist())) == want
    assert {(k, k + 100) for k in range(50)} <= want
    i2, j2, _ = bucket_pairs(x, 0.9, bucket=30, probes=2)  # approximate: the planted pairs stay
    assert {(k, k + 100) for k in range(50)} <= set(zip(i2.tolist(), j2.tolist()))


def test_a_crop_whose_gist_moved_is_verified_as_a_crop_only():
    """A 30 % crop moves the gist under min_gist_cos (0.7); from crop_gist_cos (0.5) such a
    pair is verified with the crop scales only, which a turned copy does not pass."""
    frames = _clip(2.0, seed=11)
    cut = crop_bright(frames, c=0.3, x=60, y=30)
    assert 0.5 <= float(gist(_sig(frames)) @ gist(_sig(cut))) < 0.7
    recs = [_record("orig", frames, size=(1280, 720)), _record("crop", cut, path="b.mp4")]
    _, dropped = DedupStage().run(recs)
    assert [(r.clip_id, k) for r, k, _ in dropped] == [("crop", "orig")]
    kept, _ = DedupStage(crop_gist_cos=None).run(recs)
    assert len(kept) == 2
    orig, turn = _sig(_clip(2.0)), _sig(turned(_clip(2.0)))
    assert distance(orig, turn, crops_only=True) > EDIT_LIMIT >= distance(orig, turn)


def test_a_mirrored_copy_is_paired_only_when_mirror_is_on():
    import curate.dedup.edits as edits
    from curate.dedup.signature import encode as enc
    from curate.dedup.verify import mirrored

    orig, flipped = _sig(_clip(2.0)), _sig(_clip(2.0, edit=hflip))
    assert distance(orig, flipped) > 0.3  # as it is, a flip looks like another clip
    assert distance(orig, mirrored(flipped)) <= EDIT_LIMIT
    # 0: a scene; 1: it flipped and brightened; 2: the camera later, flipped; 3: another scene flipped
    sigs = [enc(_sig(c)) for c in (_clip(2.0), _clip(2.0, edit=lambda f: crop_bright(hflip(f))),
                                   _clip(12.0, edit=hflip), _clip(2.0, seed=8, edit=hflip))]
    on = edits.edit_pairs(sigs, EDIT_LIMIT, 0.5, mirror=True)
    assert set(zip(*(a.tolist() for a in on[:2]))) == {(0, 1)}
    off = edits.edit_pairs(sigs, EDIT_LIMIT, 0.5, mirror=False)
    assert off[0].size == 0


def test_a_clip_is_never_paired_with_its_own_mirror_image():
    import curate.dedup.edits as edits
    from curate.dedup.signature import encode as enc

    symmetric = _clip(2.0)
    symmetric = np.concatenate([symmetric[:, :, :128], symmetric[:, :, :128][:, :, ::-1]], axis=2)
    stats: dict = {}
    pairs = edits.edit_pairs([enc(_sig(symmetric))], EDIT_LIMIT, 0.5, mirror=True, stats=stats)
    assert pairs[0].size == 0 and stats["candidates"] == 0


def test_dedup_stage_drops_a_flipped_reupload():
    recs = [_record("orig", _clip(2.0), size=(1280, 720)), _record("flip", _clip(2.0, edit=hflip), path="b.mp4"),
            _record("later", _clip(12.0, edit=hflip), start=10.0, path="c.mp4")]
    kept, dropped = DedupStage().run(recs)
    assert [r.clip_id for r in kept] == ["orig", "later"]
    assert [(r.clip_id, k) for r, k, _ in dropped] == [("flip", "orig")]
    kept_off, _ = DedupStage(mirror=False).run(recs)
    assert [r.clip_id for r in kept_off] == ["orig", "flip", "later"]


def test_edited_and_flipped_copies_of_an_earlier_runs_clips_are_dropped(tmp_path):
    """``--dedup-against`` with the signature rule: a cropped and re-lit copy, a letterboxed
    one and a flipped one of a published clip are new duplicates of it; the same camera
    later is not. pHash alone (black bars are cut before hashing), or an index without
    signatures, finds only the letterboxed one."""
    from schemas import ClipRecord, write_parquet

    earlier = [_record("orig", _clip(2.0)), _record("other", _clip(2.0, seed=8), path="d.mp4")]
    run1 = tmp_path / "run1"
    run1.mkdir()
    write_parquet(ClipRecord, earlier, str(run1 / "index.parquet"))
    new = [_record("copy", _clip(2.0, edit=crop_bright), path="b.mp4", size=(1920, 1080)),
           _record("boxed", _clip(2.2, edit=letterbox), path="c.mp4"),
           _record("flipped", _clip(2.0, edit=lambda f: crop_bright(hflip(f))), path="e.mp4"),
           _record("later", _clip(12.0), path="f.mp4", start=10.0)]
    kept, dropped = DedupStage().run(new, against=[str(run1)])
    assert [r.clip_id for r in kept] == ["later"]
    assert [(r.clip_id, k) for r, k, _ in dropped] == [("copy", "orig"), ("boxed", "orig"), ("flipped", "orig")]
    assert dropped[0][2] == f"near-duplicate of orig in earlier run {run1}"
    kept, _ = DedupStage(mirror=False).run(new, against=[str(run1)])
    assert [r.clip_id for r in kept] == ["flipped", "later"]
    kept, _ = DedupStage(edit_distance=None).run(new, against=[str(run1)])
    assert [r.clip_id for r in kept] == ["copy", "flipped", "later"]
    bare = tmp_path / "bare"  # a run made with `signature: false`: its records carry none
    bare.mkdir()
    write_parquet(ClipRecord, [r.model_copy(update={"dedup_signature": ""}) for r in earlier],
                  str(bare / "index.parquet"))
    pair = [new[0], new[3]]  # (with boxed in the batch, pHash would join copy to orig through it)
    assert [r.clip_id for r in DedupStage().run(pair, against=[str(bare)])[0]] == ["copy", "later"]
    assert [r.clip_id for r in DedupStage().run(pair, against=[str(run1)])[0]] == ["later"]
