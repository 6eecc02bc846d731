"""Repeated frames: the extract stage counts a clip's new pictures, and the keep rule does not
prefer a copy whose frame rate was raised by repeating frames (a break test of re-uploads:
24, 30 and 60 fps copies of 10 and 12.5 fps originals were kept in 5 of 8 groups)."""

import numpy as np
import pytest

from curate.dedup import DedupStage
from curate.dedup.stage import converted
from support.dedup import clip_record
from support.pipelines import make_pipeline, run_source
from support.synth import render, write_video


def _moving(n, fps):
    """``n`` frames (320x240) of scene 5 with hard-edged 8-px cells sliding 6 px a picture:
    every frame a new picture."""
    cells = np.random.default_rng(0).integers(-40, 41, (30, 80 + n, 1)).repeat(8, axis=0).repeat(8, axis=1)
    return [np.clip(render(5, k / fps, 320, 240, drift=0.1) + cells[:240, 6 * k:6 * k + 320], 0, 255).astype(np.uint8)
            for k in range(n)]


@pytest.mark.parametrize("rate", [12.0, 30.0])
def test_a_clip_raised_to_30_fps_by_repeats_counts_its_12_pictures_a_second(tmp_path, rate):
    frames = _moving(36, 12.0)  # 3 s of pictures at 12 fps
    if rate == 30.0:  # FFmpeg's fps filter: each output frame shows the latest picture
        frames = [frames[int(k * 12.0 / 30.0)] for k in range(90)]
    path = str(tmp_path / "v.mp4")
    write_video(path, frames, rate)
    _, (clip,) = run_source(make_pipeline(), path, str(tmp_path / "work"))
    video = clip.record.clip
    assert video.fps == pytest.approx(rate)
    assert video.distinct_frames == pytest.approx(36, abs=1)  # of 36 or 90 frames
    assert video.num_frames == pytest.approx(3 * rate, abs=1)


def _rec(cid, fps, frames, distinct, path):
    rec = clip_record(cid, "0" * 256, path=path, dur=frames / fps)
    rec.clip = rec.clip.model_copy(update={"fps": fps, "num_frames": frames, "distinct_frames": distinct})
    return rec


def test_the_original_is_kept_over_its_copies_raised_by_repeats():
    original = _rec("original", 12.5, 50, 48, "b_original.mp4")
    for rate, distinct in ((30.0, 50), (15.0, 48), (24.0, 49)):  # (the copies' paths sort first)
        copy = _rec("copy", rate, round(4 * rate), distinct, "a_copy.mp4")
        assert converted(copy, original) and not converted(original, copy)
        for order in ([copy, original], [original, copy]):
            kept, dropped = DedupStage().run(order)
            assert [r.clip_id for r in kept] == ["original"], rate
            assert [(r.clip_id, k) for r, k, _ in dropped] == [("copy", "original")]
        # records made before the count: the higher rate wins, as it did
        old = copy.model_copy(update={"clip": copy.clip.model_copy(update={"distinct_frames": None})})
        assert [r.clip_id for r in DedupStage().run([old, original])[0]] == ["copy"]


def test_a_truly_faster_clip_and_a_still_scene_keep_the_old_order():
    # a 30 fps clip over its 15 fps copy: it repeats fewer frames than a raise would make
    fast, slow = _rec("fast", 30.0, 120, 116, "b.mp4"), _rec("slow", 15.0, 60, 60, "a.mp4")
    assert not converted(fast, slow)
    assert [r.clip_id for r in DedupStage().run([slow, fast])[0]] == ["fast"]
    # a fixed camera's quiet scene at 30 fps repeats many frames (0.6), as its 15 fps copy
    # does (0.45): a raise from 15 would repeat 0.73, so the 30 fps clip stands
    quiet, copy = _rec("quiet", 30.0, 120, 48, "b.mp4"), _rec("copy", 15.0, 60, 33, "a.mp4")
    assert not converted(quiet, copy)
    assert [r.clip_id for r in DedupStage().run([copy, quiet])[0]] == ["quiet"]
    # a copy at the same rate with fresh noise in every frame (no repeats) against an
    # original whose still parts repeat: the rate rule has nothing to say, the path decides
    noisy, original = _rec("noisy", 12.5, 50, 50, "a_noisy.mp4"), _rec("original", 12.5, 50, 40, "b.mp4")
    assert [r.clip_id for r in DedupStage().run([original, noisy])[0]] == ["noisy"]
    # a 30 fps copy of a 25 fps original repeats one frame in six: raised too
    city, copy = _rec("city", 25.0, 95, 95, "b.mp4"), _rec("copy", 30.0, 114, 95, "a.mp4")
    assert converted(copy, city)
    assert [r.clip_id for r in DedupStage().run([copy, city])[0]] == ["city"]


def test_distinct_frames_of_one_frame_fed_twice_and_of_a_new_size():
    import av

    from curate.repeats import DistinctFrames

    a, b = (av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p") for f in _moving(2, 12.0))
    small = av.VideoFrame.from_ndarray(np.zeros((60, 80, 3), np.uint8), format="rgb24").reformat(format="yuv420p")
    count = DistinctFrames()
    assert count.count == 0
    for frame in (a, a, b, b, small):
        count.add(frame)
    assert count.count == 3 and count.changes[0] == count.changes[2] == 0.0
