"""Copies turned a quarter or a half (curate.dedup.views): found by the signature rule."""

import numpy as np
import pytest

from curate.dedup import DedupStage
from curate.dedup.signature import encode
from curate.dedup.views import MIRROR, PLAIN, TURNS, inverse, view_images, view_sig
from support.edited import clip as _clip
from support.edited import record as _record
from support.edited import sig as _sig


@pytest.mark.parametrize("view", [PLAIN, MIRROR, *TURNS])
def test_a_view_and_its_inverse_give_the_images_back(view):
    x = np.arange(2 * 5 * 5).reshape(2, 5, 5)
    assert np.array_equal(view_images(view_images(x, view), inverse(view)), x)
    if view in TURNS:
        assert np.array_equal(view_images(x, view), np.rot90(x, view - 1, axes=(1, 2)))


def test_a_quarter_turn_turns_the_thumbnails_and_inverts_the_aspect():
    frames = _clip(2.0, seed=11)
    turned = np.ascontiguousarray(np.rot90(frames, 1, axes=(1, 2)))  # portrait, 144 x 256
    a, b = _sig(frames), _sig(turned)
    assert b.aspect == pytest.approx(1 / a.aspect, abs=0.01)
    back = view_sig(b, inverse(2))
    assert back.aspect == pytest.approx(a.aspect, abs=0.01)
    assert np.abs(back.thumbs.astype(int) - a.thumbs.astype(int)).mean() < 2.0


@pytest.mark.parametrize("quarters", [1, 2, 3])
def test_a_turned_copy_is_dropped_only_with_turns_on(quarters):
    frames = _clip(2.0, seed=11)
    turned = np.ascontiguousarray(np.rot90(frames, quarters, axes=(1, 2)))
    size = (720, 1280) if quarters % 2 else (1280, 720)
    recs = [_record("orig", frames, size=(1280, 720)), _record("turned", turned, path="b.mp4", size=size),
            _record("other", np.ascontiguousarray(np.rot90(_clip(2.0, seed=5), quarters, axes=(1, 2))), path="c.mp4")]
    kept, dropped = DedupStage().run(recs)
    assert [r.clip_id for r in kept] == ["orig", "other"]
    assert [(r.clip_id, k) for r, k, _ in dropped] == [("turned", "orig")]
    kept, _ = DedupStage(turns=False).run(recs)
    assert len(kept) == 3


def test_a_turned_copy_of_an_earlier_runs_clip_is_dropped(tmp_path):
    from schemas import ClipRecord, write_parquet

    frames = _clip(2.0, seed=11)
    (tmp_path / "e1").mkdir()
    write_parquet(ClipRecord, [_record("orig", frames, size=(1280, 720))], str(tmp_path / "e1" / "index.parquet"))
    turned = _record("turned", np.ascontiguousarray(np.rot90(frames, 3, axes=(1, 2))), path="b.mp4", size=(720, 1280))
    kept, dropped = DedupStage().run([turned], against=[str(tmp_path / "e1")])
    assert not kept and [(r.clip_id, k) for r, k, _ in dropped] == [("turned", "orig")]
    kept, _ = DedupStage(turns=False).run([turned], against=[str(tmp_path / "e1")])
    assert [r.clip_id for r in kept] == ["turned"]
    assert encode(_sig(frames))  # the signatures round-trip as records carry them
