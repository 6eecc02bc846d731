"""Time alignment of signatures (curate.dedup.align): the best map, and what moves measured
over the stretch a map pairs, not against each whole clip's mean frame."""

import cv2
import numpy as np
import pytest

from curate.dedup import align
from curate.dedup.signature import make
from curate.dedup.verify import distance, motion, similarities
from support.synth import render

STEP = 0.25
BACKGROUND = cv2.cvtColor(render(3, 0.0, 192, 144, drift=0.0), cv2.COLOR_RGB2GRAY).astype(np.float32)


def _clip(n: int = 12, hand_row: int = 60, leaving: bool = True) -> np.ndarray:
    """``(n, 144, 192) uint8`` luma at 4 fps: a small bright hand moving right 4 px a frame
    over a fixed textured view; with ``leaving``, a big dark object slides out of the
    right side over the first three frames."""
    out = []
    for k in range(n):
        f = BACKGROUND.copy()
        f[hand_row:hand_row + 12, 40 + 4 * k:52 + 4 * k] = 230
        if leaving and k < 3:
            f[10:130, 100 + 30 * k:190] = 20
        out.append(np.clip(f, 0, 255).astype(np.uint8))
    return np.stack(out)


def _times(frames):
    return [k * STEP for k in range(len(frames))]


def _placed(a, b):
    ua, ub = align.upsample(a), align.upsample(b)
    app, xa, xb = similarities(ua, ub)
    return ua, ub, app, xa, xb, (align.activity(ua.thumbs), align.activity(ub.thumbs))


def test_a_copy_that_starts_after_the_object_left_is_met_by_its_overlap_motion():
    """The copy lacks the first three frames (0.75 s), where a big object left the view.
    Against each whole clip's mean frame (which holds a faint ghost of the object in the
    source's), what moves correlates 0.73; over the stretch the best map pairs, 1."""
    src = _clip()
    a, b = make(src, _times(src)), make(src[3:], _times(src[3:]))
    ua, ub, app, xa, xb, act = _placed(a, b)
    value, (i, j) = align.best_map(app, ua.step_s, ub.step_s, act)
    assert value == pytest.approx(1.0, abs=1e-5)
    assert i.tolist() == list(range(6, 23)) and j.tolist() == list(range(17))  # 3 frames, upsampled: 6
    mot, _, _ = motion(xa, xb)
    assert align.best_alignment(mot, ua.step_s, ub.step_s, act) < 0.8
    assert align.overlap_motion(xa, xb, (i, j)) == pytest.approx(1.0, abs=1e-4)
    assert distance(a, b) < 1e-4  # was 0.040: the motion term's 0.15 x (1 - 0.73)


def test_a_hand_moving_elsewhere_stays_apart():
    """The same view with the hand moving along another row: the overlap changes nothing
    for a clip that is not a copy (appearance and both motion measures stay apart)."""
    src, other = _clip(), _clip(hand_row=100)[3:]
    a, b = make(src, _times(src)), make(other, _times(other))
    ua, ub, app, xa, xb, act = _placed(a, b)
    _, pairs = align.best_map(app, ua.step_s, ub.step_s, act)
    assert align.overlap_motion(xa, xb, pairs) < 0.3
    assert distance(a, b) > 0.06


def test_best_map_pairs_equal_times_of_equal_clips():
    value, (i, j) = align.best_map(np.eye(4), 0.25, 0.25)
    assert value == 1.0 and i.tolist() == j.tolist() == [0, 1, 2, 3]
    assert align.best_alignment(np.eye(4), 0.25, 0.25) == 1.0
    value, (i, j) = align.best_map(np.full((1, 1), 0.5), 0.25, 0.25)  # one frame each
    assert value == 0.5 and i.tolist() == j.tolist() == [0]
