"""Dedup stage over edited copies: which pairs are verified, where (parallel calls: Ray
tasks or a local run's sandbox children; or the driver), and that the groups do not depend on it."""

import numpy as np
import pytest

from curate.dedup import DedupStage
from curate.dedup.verify import distance
from support.edited import EDIT_LIMIT, crop_bright, gamma, letterbox
from support.edited import clip as _clip
from support.edited import record as _record
from support.edited import sig as _sig
from support.edited import wall as _wall


def test_dedup_stage_drops_the_planted_edited_copy_only():
    recs = [_record("orig", _clip(2.0), size=(1280, 720)), _record("later", _clip(12.0), start=10.0),
            _record("copy", _clip(2.0, edit=crop_bright), path="b.mp4"),
            _record("boxed", _clip(2.2, edit=letterbox), path="c.mp4"),
            _record("other", _clip(2.0, seed=8), path="d.mp4")]
    kept, dropped = DedupStage().run(recs)
    assert [r.clip_id for r in kept] == ["orig", "later", "other"]  # orig: the largest source
    assert sorted((r.clip_id, k) for r, k, _ in dropped) == [("boxed", "orig"), ("copy", "orig")]
    kept_old, _ = DedupStage(edit_distance=None).run(recs)  # the pHash rule alone
    assert "copy" in [r.clip_id for r in kept_old]


def test_parallel_verification_finds_the_same_pairs(call_workers, monkeypatch):
    import curate.dedup.edits as edits
    from curate.dedup.signature import encode as enc

    sigs = [enc(_sig(c)) for c in (_clip(2.0), _clip(2.0, edit=crop_bright), _clip(12.0), _clip(2.2, edit=gamma))]
    here = edits.edit_pairs(sigs, EDIT_LIMIT, 0.5)
    monkeypatch.setattr(edits, "CHUNK", 1)  # one candidate per call
    there = edits.edit_pairs(sigs, EDIT_LIMIT, 0.5, workers=2)
    assert [a.tolist() for a in here[:2]] == [a.tolist() for a in there[:2]]
    assert set(zip(*(a.tolist() for a in here[:2]))) == {(0, 1), (0, 3), (1, 3)}


def test_candidates_are_cut_into_parts_by_blocks_of_clips_each_in_their_order(monkeypatch):
    """Each part holds the candidates between two groups of clips (so a call prepares
    fewer clips), keeps the most-alike-first order, and is no larger than a round-robin
    part would be; every candidate is in exactly one part."""
    import curate.dedup.edits as edits

    rng = np.random.default_rng(0)
    pairs = sorted({tuple(sorted(p)) for p in rng.integers(0, 60, (400, 2)).tolist() if p[0] != p[1]})
    cand = [(a, b, False, False) for a, b in rng.permutation(pairs).tolist()]  # "most alike first"
    order = {c: k for k, c in enumerate(cand)}
    parts = edits.parts_of(cand, 8)  # 8 parts at least: the clips in 4 groups of 15
    assert sorted(c for p in parts for c in p) == sorted(cand)
    assert len(parts) >= 8 and max(map(len, parts)) <= -(-len(cand) // 8)
    for p in parts:
        assert [order[c] for c in p] == sorted(order[c] for c in p)
        assert len({k for c in p for k in c[:2]}) <= 30  # one or two groups of 15 clips, not all 60
    assert min(len({k for c in cand[s::8] for k in c[:2]}) for s in range(8)) > 40  # round-robin parts: most clips
    assert [len(p) for p in parts] == sorted((len(p) for p in parts), reverse=True)  # largest first
    assert edits.parts_of(cand[:40], 4) == [cand[:40]]  # too few to spread
    monkeypatch.setattr(edits, "CHUNK", 10)
    cut = edits.parts_of(cand, 1)
    assert max(map(len, cut)) <= 10 and sum(map(len, cut)) == len(cand)  # at most CHUNK per part, whatever the workers


def test_verification_part_by_part_finds_the_same_groups(monkeypatch):
    """Parts of a few candidates each (one after another here, sharing one union-find; or
    each with its own, as parallel calls are) join the clips into the same groups."""
    import curate.dedup.edits as edits
    from curate.dedup.groups import components
    from curate.dedup.signature import encode as enc

    clips = [_clip(2.0), _clip(2.0, edit=crop_bright), _clip(12.0), _clip(2.2, edit=gamma),
             _clip(2.0, seed=8), _clip(2.0, seed=8, edit=letterbox), _clip(2.2, edit=letterbox)]
    sigs = [enc(_sig(c)) for c in clips]

    def groups(i, j):
        return sorted(sorted(map(int, g)) for g in components(len(sigs), i, j) if len(g) > 1)

    whole = groups(*edits.edit_pairs(sigs, EDIT_LIMIT, 0.5)[:2])
    assert whole == [[0, 1, 3, 6], [4, 5]]
    monkeypatch.setattr(edits, "CHUNK", 2)
    monkeypatch.setattr(edits, "MIN_PART", 1)
    assert groups(*edits.edit_pairs(sigs, EDIT_LIMIT, 0.5)[:2]) == whole
    cand_parts = []
    deal = edits.parts_of
    monkeypatch.setattr(edits, "parts_of", lambda c, w: cand_parts.append(deal(c, w)) or cand_parts[-1])
    assert groups(*edits.edit_pairs(sigs, EDIT_LIMIT, 0.5, workers=3)[:2]) == whole
    assert len(cand_parts[-1]) > 2


def test_stage_with_workers_null_verifies_on_the_runs_cpus_and_keeps_the_same_clips(call_workers, monkeypatch):
    import curate.dedup.edits as edits

    recs = [_record("orig", _clip(2.0), size=(1280, 720)), _record("later", _clip(12.0), start=10.0),
            _record("copy", _clip(2.0, edit=crop_bright), path="b.mp4"),
            _record("boxed", _clip(2.2, edit=letterbox), path="c.mp4"),
            _record("other", _clip(2.0, seed=8), path="d.mp4")]
    stage = DedupStage(workers=None)
    assert stage.n_workers() == 2  # the installed calls have 2 CPUs
    parts, here = [], []
    deal, verify = edits.parts_of, edits._verify
    monkeypatch.setattr(edits, "MIN_PART", 1)  # a handful of candidates still spread
    monkeypatch.setattr(edits, "parts_of", lambda c, w: parts.extend(deal(c, w)) or deal(c, w))
    monkeypatch.setattr(edits, "_verify", lambda *a: here.append(1) or verify(*a))  # the driver's own calls
    kept, dropped = stage.run(recs)
    assert [r.clip_id for r in kept] == ["orig", "later", "other"]
    assert sorted((r.clip_id, k) for r, k, _ in dropped) == [("boxed", "orig"), ("copy", "orig")]
    assert len(parts) >= 2 and not here  # calls (other processes) verified every candidate, the driver none


def test_a_limit_gives_the_same_verdict_and_the_exact_distance_under_it():
    orig = _sig(_clip(2.0))
    for other in (_sig(_clip(2.0, edit=crop_bright)), _sig(_clip(12.0)), _sig(_clip(2.0, seed=8)),
                  _sig(_wall(1))):
        full = distance(orig, other)
        bounded = distance(orig, other, limit=EDIT_LIMIT)
        assert (bounded <= EDIT_LIMIT) == (full <= EDIT_LIMIT)
        assert bounded == full if full <= EDIT_LIMIT else EDIT_LIMIT < bounded <= full


def test_shared_scaled_means_give_the_same_distances_and_stay_bounded():
    """verify.MeanShapes, shared by the pairs of one task (as edits._verify shares it):
    every distance equal to the one without it, a mirrored clip under its own key, and no
    more arrays kept than its bound."""
    from curate.dedup.verify import MeanShapes, mirrored

    clips = {"orig": _sig(_clip(2.0)), "copy": _sig(_clip(2.0, edit=crop_bright)),
             "later": _sig(_clip(12.0)), "wall": _sig(_wall(1)), "boxed": _sig(_clip(2.2, edit=letterbox))}
    shapes, whole = MeanShapes(max_bytes=1 << 20), MeanShapes()
    names = list(clips)
    for a in names:
        for b in names:
            if a < b:
                for flip in (False, True):
                    other = mirrored(clips[b]) if flip else clips[b]
                    alone = distance(clips[a], other)
                    assert distance(clips[a], other, shapes=(shapes, a, (b, flip))) == alone
                    assert distance(clips[a], other, shapes=(whole, a, (b, flip))) == alone
    assert distance(clips["orig"], clips["copy"], shapes=(shapes, "orig", ("copy", False))) <= EDIT_LIMIT
    assert 0 < shapes.nbytes <= 1 << 20 < whole.nbytes  # the bound held: the least recently used went
    assert len(shapes._items) < len(whole._items)


def test_pairs_already_in_one_group_are_not_verified():
    import curate.dedup.edits as edits
    from curate.dedup.groups import Joined
    from curate.dedup.signature import encode as enc

    # 0, 1, 3: one scene and two edited copies; 2: the camera later; 4: a shifted copy of 2
    sigs = [enc(_sig(c)) for c in (_clip(2.0), _clip(2.0, edit=crop_bright), _clip(12.0),
                                   _clip(2.2, edit=gamma), _clip(12.3))]
    full_stats, some_stats = {}, {}
    full = edits.edit_pairs(sigs, EDIT_LIMIT, 0.5, stats=full_stats)
    assert set(zip(*(a.tolist() for a in full[:2]))) == {(0, 1), (0, 3), (1, 3), (2, 4)}
    some = edits.edit_pairs(sigs, EDIT_LIMIT, 0.5, stats=some_stats, joined=(np.array([0]), np.array([1])))
    assert some_stats["verified"] < full_stats["verified"] == full_stats["candidates"]
    found = set(zip(*(a.tolist() for a in some[:2])))
    assert (0, 1) not in found and (2, 4) in found  # 0~1 was given; the groups are the same
    union = Joined(5, [0], [1])
    for a, b in found:
        union.join(a, b)
    assert union.together(1, 3) and union.together(2, 4) and not union.together(0, 2)


def test_a_crop_of_an_earlier_runs_clip_whose_gist_moved_is_dropped(tmp_path):
    """``--dedup-against``: the crop-only candidates (gist cosine 0.5-0.7) are searched in
    earlier indexes too."""
    from curate.dedup.signature import gist
    from schemas import ClipRecord, write_parquet

    frames = _clip(2.0, seed=11)
    cut = crop_bright(frames, c=0.3, x=60, y=30)
    assert 0.5 <= float(gist(_sig(frames)) @ gist(_sig(cut))) < 0.7
    write_parquet(ClipRecord, [_record("orig", frames)], str(tmp_path / "index.parquet"))
    new = [_record("crop", cut, path="b.mp4"), _record("other", _clip(2.0, seed=8), path="d.mp4")]
    kept, dropped = DedupStage().run(new, against=[str(tmp_path)])
    assert [r.clip_id for r in kept] == ["other"] and [(r.clip_id, k) for r, k, _ in dropped] == [("crop", "orig")]
    kept, _ = DedupStage(crop_gist_cos=None).run(new, against=[str(tmp_path)])
    assert [r.clip_id for r in kept] == ["crop", "other"]


def test_without_parallel_calls_the_stage_verifies_here():
    """No executor installed (a script calling the stage): ``workers: null`` is one
    worker, and every candidate is verified in this process."""
    from curate import parallel

    assert not parallel.available() and DedupStage(workers=None).n_workers() == 1


def test_the_clean_original_is_kept_over_its_letterboxed_and_pillarboxed_copies():
    """Found by a new-user walk-through: the keep rule counted the bars, so a 640x480
    letterboxed copy (picture 640x360 inside) won over its 640x360 original, and the
    dataset kept a clip with bars. The embed stage now records the share of the frame
    inside them and the rule ranks the picture pixels the clip shows."""
    from support.edited import grey_pillarbox

    boxed = _record("boxed", _clip(2.0, edit=lambda f: letterbox(f, bar=48)), path="a_boxed.mp4", size=(640, 480))
    pillar = _record("pillar", _clip(2.0, edit=lambda f: grey_pillarbox(f, bar=85)), path="a_pillar.mp4",
                     size=(1920, 1080))
    orig = _record("orig", _clip(2.0), path="b.mp4", size=(640, 360))
    assert orig.picture_share == 1.0
    assert boxed.picture_share == pytest.approx(144 / 240, abs=0.02)  # 48-pixel bars over and under 144 rows
    assert pillar.picture_share == pytest.approx(256 / 426, abs=0.02)
    for rec, (w, h) in ((boxed, (342, 256)), (pillar, (456, 256)), (orig, (456, 256))):
        rec.clip.width, rec.clip.height = w, h  # the clip sizes extract gives these sources
    kept, dropped = DedupStage().run([boxed, pillar, orig])
    assert [r.clip_id for r in kept] == ["orig"]
    assert sorted((r.clip_id, k) for r, k, _ in dropped) == [("boxed", "orig"), ("pillar", "orig")]
    orig.picture_share = None  # records without the embed stage's share count as all picture
    kept, _ = DedupStage().run([boxed, orig])
    assert [r.clip_id for r in kept] == ["orig"]


def test_picture_share_counts_bars_alike_on_both_sides_only():
    """A flat sky cut from the top only is picture: a crop copy that cut less of it would
    otherwise show 'more picture' than its original and be kept over it."""
    from curate.embed import picture_share

    assert picture_share((30, 210, 0, 320), 240, 320) == 0.75  # letterbox, 30 rows over and under
    assert picture_share((0, 240, 40, 280), 240, 320) == 0.75  # pillarbox
    assert picture_share((31, 210, 0, 320), 240, 320) == pytest.approx(179 / 240, abs=1e-4)  # one row off
    assert picture_share((70, 240, 0, 320), 240, 320) == 1.0  # a flat sky, cut from the top only
    assert picture_share((0, 240, 0, 320), 240, 320) == 1.0
