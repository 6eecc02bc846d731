"""Graphic overlays that fade in and out over one shot are no transitions
(:mod:`curate.split.overlay_fades`).

Frames are rendered with known truth (cuts between scenes at known frames, an overlay
mixed in over known frames) and fed to the split stage's own shot detector, BGR at the
detection size. Each test also checks what the detector gives without the rule.
"""

import cv2
import numpy as np
import pytest

import curate.split.overlays as overlays
import curate.split.shots as shots
from curate.split import SplitStage
from curate.split.overlay_fades import drop_faded_overlays
from curate.split.transitions import thumbnail
from support.graphics import FPS, H, W, lower_third, moving_shot, score_box, title
from support.synth import render

def _faded(frames: list[np.ndarray], draw, on: int, off: int, length: int) -> list[np.ndarray]:
    """``frames`` with ``draw``'s overlay mixed in over ``length`` frames from ``on``, shown
    whole, and mixed out over ``length`` frames from ``off``."""
    out = []
    for k, f in enumerate(frames):
        a = min(1.0, (k - on + 1) / (length + 1), (off + length - k) / (length + 1))
        out.append(f if a <= 0 else np.rint(draw(f) * a + f * (1.0 - a)).astype(np.uint8))
    return out


def _boundaries(frames: list[np.ndarray]):
    detector = SplitStage().shot_detector(FPS)
    for f in frames:
        detector.feed(f)
    return detector.boundaries()


def _without_rule(monkeypatch, frames: list[np.ndarray]):
    """Boundaries without this rule, nor :func:`curate.split.lights.drop_swept` (a white
    title fading in over a still part of the shot is light added to one view, too)."""
    with monkeypatch.context() as m:
        m.setattr(shots, "drop_faded_overlays", lambda cuts, gaps, thumbs, live=None: (cuts, gaps))
        m.setattr(shots, "drop_swept", lambda gaps, thumbs, scanned: gaps)
        return _boundaries(frames)


@pytest.mark.parametrize("draw,length", [(lower_third, 10), (title, 8), (score_box, 12)],
                         ids=["lower_third", "title", "score_box"])
def test_an_overlay_fading_in_and_out_inside_a_shot_is_one_shot(monkeypatch, draw, length):
    """Three shots cut at frames 50 and 150; over the middle one an overlay fades in from
    frame 66 and out from frame 120. Without the rule the fades are gaps (their frames
    dropped, the shot split in three); with it, the two cuts alone."""
    video = moving_shot(1, 50) + _faded(moving_shot(2, 100), draw, 16, 70, length) + moving_shot(3, 50)
    before = _without_rule(monkeypatch, video)
    assert before.gaps and all(66 - 3 <= s and e <= 120 + length + 3 for s, e in before.gaps)
    after = _boundaries(video)
    assert after.cuts == [50, 150] and after.gaps == []


def test_dissolves_to_another_shot_and_back_stay_gaps():
    """A moving shot dissolves (12 frames) into another scene at frame 40 and back into
    the first shot's later moment at frame 100: every pixel changes at both, so both gaps
    stay (:func:`curate.split.overlay_fades.drop_faded_overlays`)."""
    a, b = moving_shot(4, 160), moving_shot(5, 160)
    share = [0.0 if k < 40 or k >= 112 else min(1.0, min(k - 39, 112 - k) / 13) for k in range(160)]
    video = [np.rint(f * (1 - t) + g * t).astype(np.uint8) for f, g, t in zip(a, b, share)]
    got = _boundaries(video)
    assert len(got.gaps) == 2 and got.gaps[0][0] <= 44 and got.gaps[1][1] >= 106


def test_a_lone_fade_of_a_graphic_stays_and_a_pair_goes():
    """On thumbnails: a title fades in over frames 20-29 and out over 60-69 of one moving
    shot, cut to another at frame 90. Given both fades as gaps, both go; given only the
    first (the scan missed the other), it stays: nothing shows the shot coming back."""
    frames = _faded(moving_shot(7, 90), title, 20, 60, 10) + moving_shot(8, 40)
    thumbs = np.stack([thumbnail(f) for f in frames])
    assert drop_faded_overlays([90], [(20, 30), (60, 70)], thumbs) == ([90], [])
    assert drop_faded_overlays([90], [(20, 30)], thumbs) == ([90], [(20, 30)])
    still = [render(9, 0.0, W, H)[..., ::-1].copy()] * 90 + moving_shot(8, 40)
    still_thumbs = np.stack([thumbnail(f) for f in _faded(still, title, 20, 60, 10)])
    # over a still shot nothing moves outside the title: not judged, both gaps stay
    assert drop_faded_overlays([90], [(20, 30), (60, 70)], still_thumbs) == ([90], [(20, 30), (60, 70)])


def _slide(words: str) -> np.ndarray:
    """A slide: a plain template with a title bar and three lines of ``words``, BGR."""
    o = np.full((H, W, 3), (235, 235, 235), np.uint8)
    o[:22] = (120, 60, 20)
    for i in range(3):
        cv2.putText(o, f"{words} {i + 1}", (12, 55 + 26 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (30, 30, 30), 2,
                    cv2.LINE_AA)
    return o


def test_a_deck_going_back_to_a_slide_beside_a_moving_speaker_keeps_its_cuts(monkeypatch):
    """Slide A, slide B from frame 40, slide A again from frame 90, a speaker's moving inset
    in the bottom right corner throughout (a break test's lecture recordings). The slide
    area changes locally, holds still and comes back with the speaker moving around it, as
    an overlay would, but nothing under it moved before or after
    (:data:`curate.split.overlays.MIN_UNDER`): both cuts stay. Without that test they go."""
    speaker = moving_shot(12, 140)
    slides = [_slide("Point A")] * 40 + [_slide("Second B")] * 50 + [_slide("Point A")] * 50
    frames = []
    for s, p in zip(slides, speaker):
        o = s.copy()
        o[H - 60:, W - 90:] = cv2.resize(p, (90, 60), interpolation=cv2.INTER_AREA)
        frames.append(o)
    assert _boundaries(frames).cuts == [40, 90]
    monkeypatch.setattr(overlays, "MIN_UNDER", 0.0)
    assert _boundaries(frames).cuts == []
