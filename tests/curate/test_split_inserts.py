"""A few frames of other footage inserted into a shot: two boundaries around frames that
belong to no clip, not a flash and not one merged cut (a break test: inserts of 2-6
frames at 25 fps lost both cuts, or one, and their frames were left inside a clip)."""

import numpy as np
import pytest

from curate.probe import ProbeStage
from curate.split import SplitStage
from curate.split.flashes import drop_flashes, is_flash, is_insert, replaced
from curate.split.transitions import thumbnail
from curate.tasks import SourceTask
from support.synth import render, write_video

W, H, FPS, AT = 160, 120, 25.0, 40


def _frames(k, dark=0.35):
    """One moving shot with ``k`` frames of another, darker scene at frame ``AT``."""
    shot = [render(41, i / FPS, W, H, pan=(0.04, 0.0)) for i in range(AT + 50)]
    other = [(render(47, i / FPS, W, H) * dark).astype(np.uint8) for i in range(k)]
    return shot[:AT] + other + shot[AT + k:]


def _thumbs(frames):
    return np.stack([thumbnail(f[..., ::-1]) for f in frames])


@pytest.mark.parametrize("k", [2, 3, 5])
def test_an_insert_of_other_footage_gets_a_boundary_at_each_end(tmp_path, k):
    path = str(tmp_path / "insert.mp4")
    write_video(path, _frames(k), FPS)
    task = SplitStage(min_clip_s=1.0, max_clip_s=10.0)(ProbeStage()(SourceTask(path=path, work_dir="")))
    spans = [(s.start_frame, s.end_frame) for s in task.spans]
    assert spans and all(z <= AT or a >= AT + k for a, z in spans), spans  # no clip holds an inserted frame
    assert spans[0][0] == 0 and spans[-1][1] == AT + 50  # the shot either side is kept


def test_a_darker_insert_is_another_picture_and_a_flash_is_the_same_one():
    thumbs = _thumbs(_frames(3))
    assert not is_flash(thumbs, AT, max_len=6) and not is_flash(thumbs, AT + 3, max_len=6)
    assert is_insert(thumbs, AT, AT + 3)
    assert replaced(thumbs[AT - 1], thumbs[AT]) > 0.85
    shot = [render(41, i / FPS, W, H, pan=(0.04, 0.0)) for i in range(12)]
    lit = [np.clip(f.astype(np.float32) * 1.8 + 40, 0, 255).astype(np.uint8) if i in (5, 6) else f
           for i, f in enumerate(shot)]
    flash = _thumbs(lit)
    assert is_flash(flash, 5, max_len=6) and not is_insert(flash, 5, 7)
    assert replaced(flash[4], flash[5]) < 0.5
    # two frames mixing the shots either side (a quick dissolve) are no insert
    a, b = _thumbs(shot[:6]), _thumbs([render(47, i / FPS, W, H) for i in range(6)])
    mixed = np.concatenate([a[:4], [(0.67 * a[4] + 0.33 * b[0]).astype(np.uint8),
                                    (0.33 * a[4] + 0.67 * b[0]).astype(np.uint8)], b[1:]])
    assert not is_insert(mixed, 4, 6)


def test_a_white_out_while_the_camera_swings_is_still_a_flash():
    """A break test: a flash that blew most of the view out for 2 frames while the camera
    swung 6 px a frame became a cut once a flash had to show the picture under other light
    (too little picture is left under a white-out to match); a brighter frame is not judged
    so, a darker one is (an insert)."""
    wide = render(48, 0.0, 640, 240)
    frames = [wide[:, 8 * i:8 * i + 320] for i in range(30)]  # 8 px a frame of 320: the camera swings
    frames = [np.clip(f.astype(np.float32) * 3 + 60, 0, 255).astype(np.uint8) if i in (15, 16) else f
              for i, f in enumerate(frames)]
    thumbs = _thumbs(frames)
    assert drop_flashes([15, 17], thumbs, max_len=6) == []
