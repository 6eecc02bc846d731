"""Graphic overlays shown over a shot are no shot boundaries (:mod:`curate.split.overlays`).

A lower third, a title or a darkened score box appearing over a shot makes PySceneDetect's
content score (or a jump-cut spike) fire when it appears and again when it goes. Frames
are rendered with known truth (cuts between scenes at known frames, overlays shown over
known frames) and fed to the split stage's own shot detector, BGR at the detection size.
Each test also checks what the detector gives without the overlay rule, so that it shows
the rule at work and not a case the other rules already settle.
"""

import cv2
import numpy as np
import pytest

import curate.split.shots as shots
from curate.split import SplitStage
from curate.split.overlays import drop_overlays, is_overlay, picture
from curate.split.transitions import thumbnail
from support.graphics import FPS, H, W, dimmed_title, lower_third, moving_shot, score_box, title
from support.synth import render

def _show(frames: list[np.ndarray], draw, on: int, off: int) -> list[np.ndarray]:
    return [draw(f) if on <= k < off else f for k, f in enumerate(frames)]


def _points(frames: list[np.ndarray]) -> list[int]:
    detector = SplitStage().shot_detector(FPS)
    for f in frames:
        detector.feed(f)
    return detector.boundaries().points()


def _without_rule(monkeypatch, frames: list[np.ndarray]) -> list[int]:
    with monkeypatch.context() as m:
        m.setattr(shots, "drop_overlays", lambda cuts, thumbs, live=None: list(cuts))
        return _points(frames)


@pytest.mark.parametrize("draw", [lower_third, title, score_box, dimmed_title],
                         ids=["lower_third", "title", "score_box", "dimmed_title"])
def test_an_overlay_shown_and_taken_away_inside_a_shot_is_one_shot(monkeypatch, draw):
    """Three shots cut at frames 50 and 130; over the middle one an overlay shows from
    frame 70 to 110. Without the rule the overlay's ends are cuts (70 and 110, or one of
    them); with it, the boundaries are the two cuts alone."""
    video = moving_shot(1, 50) + _show(moving_shot(2, 80), draw, 20, 60) + moving_shot(3, 50)
    assert set(_without_rule(monkeypatch, video)) - {50, 130}, "the detector alone sees no overlay"
    assert _points(video) == [50, 130]


def test_an_overlay_over_a_shot_whose_exposure_moves_is_one_shot(monkeypatch):
    """The shot under the lower third brightens by a fifth while it shows (a camera's
    exposure): the picture that comes back is judged under the new light."""
    base = moving_shot(4, 90)
    gains = np.concatenate([np.ones(30), np.linspace(1.0, 1.2, 40), np.full(20, 1.2)])
    lit = [np.clip(np.rint(f.astype(np.float32) * g), 0, 255).astype(np.uint8) for f, g in zip(base, gains)]
    video = _show(lit, lower_third, 25, 75)
    assert set(_without_rule(monkeypatch, video)) & {25, 75}
    assert _points(video) == []


def _with_object(frames: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """``frames`` with a textured square (scene ``seed``) at one place."""
    patch = render(seed, 0.0, 60, 60)[..., ::-1]
    out = []
    for f in frames:
        o = f.copy()
        o[40:100, 90:150] = patch
        out.append(o)
    return out


def test_jump_cuts_that_bring_in_other_things_at_one_place_are_kept():
    """One fixed view (a still scene) with a different object at one place in each of three
    stretches: each change is local and the objects hold still, but the third is not the
    first (the picture does not come back), so both cuts stay."""
    still = [render(5, 0.0, W, H)[..., ::-1].copy()] * 40
    video = _with_object(still, 11) + _with_object(still, 12) + _with_object(still, 13)
    assert _points(video) == [40, 80]


def test_what_does_not_hold_still_is_no_overlay():
    """On thumbnails (:func:`curate.split.overlays.is_overlay`): a moving shot (cut to another
    at frame 40) where a box at one place shows from frame 10 to 30. A box that holds still
    is an overlay; a screen there showing another flat colour every 5 frames (the first
    colour again over its last 4) is not: it does not hold still while it shows."""
    other = thumbnail(render(6, 0.0, W, H)[..., ::-1].copy())
    shot = np.stack([thumbnail(f) for f in moving_shot(5, 40)] + [other] * 10)
    boxed, screen = shot.copy(), shot.copy()
    colours = np.array([(200, 40, 40), (40, 200, 40), (40, 40, 200), (220, 220, 40)], np.uint8)
    for k in range(10, 30):
        boxed[k, 5:12, 10:22] = colours[0]
        screen[k, 5:12, 10:22] = colours[0 if k >= 26 else (k - 10) // 5 % 4]
    assert is_overlay(boxed, 10, 30, skip=frozenset({10, 30, 40}))
    assert not is_overlay(screen, 10, 30, skip=frozenset({10, 30, 40}))


def test_a_frame_closing_around_the_picture_is_no_overlay():
    """The picture framed by black on all four sides for 10 frames, then whole again (an
    iris or a shrinking picture, a transition's shape): local and restored, but not judged
    an overlay (:func:`curate.split.overlays.is_overlay`)."""
    frames = moving_shot(6, 40)
    for k in range(15, 25):
        o = frames[k].copy()
        o[:24], o[-24:], o[:, :40], o[:, -40:] = 0, 0, 0, 0
        frames[k] = o
    thumbs = np.stack([thumbnail(f) for f in frames])
    assert not is_overlay(thumbs, 15, 25)
    boxed = np.stack([thumbnail(f) for f in _show(moving_shot(6, 40), lower_third, 15, 25)])
    assert is_overlay(boxed, 15, 25)  # the same timing with a lower third


def test_a_lone_cut_stays_even_when_an_unmarked_frame_could_be_its_other_end():
    """Only the overlay's end at frame 60 is given as a cut (a detector missed its start at
    20): it stays (:func:`curate.split.overlays.drop_overlays`), as the one detected end of a
    cut away and back whose other end was missed must; with both ends given, both go."""
    frames = _show(moving_shot(7, 90), title, 20, 60) + moving_shot(8, 40)
    thumbs = np.stack([thumbnail(f) for f in frames])
    assert drop_overlays([60, 90], thumbs) == [60, 90]
    assert drop_overlays([20, 60, 90], thumbs) == [90]


def test_a_cut_away_and_back_inside_pillarbox_bars_is_kept():
    """A 4:3 picture between black bars cuts to another shot at frame 40 and back to the
    first shot's next moment at frame 70: against the whole frame the change is local (the
    bars never change), held and restored, like an overlay. The bars are no picture
    (:func:`curate.split.overlays.picture`), so both cuts stay. With a full-frame shot
    before, the bars count as picture, but nothing moves in them
    (:func:`curate.split.overlays._shot_moves_outside`): the cuts stay too."""
    def boxed(frames):
        out = []
        for f in frames:
            o = np.zeros_like(f)
            o[:, 64:192] = cv2.resize(f, (128, H), interpolation=cv2.INTER_AREA)
            out.append(o)
        return out

    first = moving_shot(9, 100)
    video = boxed(first[:40] + moving_shot(10, 30) + first[70:])
    thumbs = np.stack([thumbnail(f) for f in video])
    assert not picture(thumbs)[:, :6].any() and picture(thumbs)[:, 10:22].all()
    assert _points(video) == [40, 70]
    # a full-frame shot first: the bars change once, so they count as picture; the shot
    # moves inside the box only, all of it under the cut, so both cuts still stay
    opening = moving_shot(11, 30)
    video = opening + boxed(first[:40] + moving_shot(10, 30) + first[70:])
    assert picture(np.stack([thumbnail(f) for f in video]))[:, :6].all()
    assert _points(video) == [30, 70, 100]
