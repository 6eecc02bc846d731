"""Fades to black judged in dark footage: a fade cut must pass through black.

PySceneDetect's ``ThresholdDetector`` reports a cut in the middle of every run of frames
whose mean is under its level (12 of 255): a night scene or a dim room whose mean wavers
about that level gets a cut at each swing. The split stage keeps a fade cut only where the
run reaches black (:func:`curate.split.flashes.reaches_black`). Frames are rendered with
known truth and fed to the split stage's own shot detector, BGR at the detection size.
"""

import numpy as np

from curate.split import SplitStage
from curate.split.flashes import reaches_black
from curate.split.transitions import thumbnail
from support.synth import render

W, H, FPS = 256, 144, 25.0


def _dark_frames(n: int, seed: int, mean: float, wave: float = 0.0) -> list[np.ndarray]:
    """A moving scene at about a tenth of its brightness, BGR ``(H, W, 3) uint8``: its frame
    mean ``mean`` plus ``wave`` times a sine of period 16 frames (0-255 levels)."""
    out = []
    for k in range(n):
        img = render(seed, k / FPS, W, H, drift=0.3).astype(np.float32)
        img *= (mean + wave * np.sin(2 * np.pi * k / 16)) / img.mean()
        out.append(np.clip(np.rint(img), 0, 255).astype(np.uint8)[..., ::-1].copy())
    return out


def _detect(frames: list[np.ndarray]):
    detector = SplitStage().shot_detector(FPS)
    for f in frames:
        detector.feed(f)
    return detector


def test_a_dark_shot_whose_mean_wavers_about_the_fade_level_is_one_shot():
    """A night scene whose frame mean swings 10.5-13.5 about the fade level 12 crosses it
    eight times: PySceneDetect's ``ThresholdDetector`` takes each dark stretch for a fade
    to black (the cuts are in ``_found``), yet no frame of it gets near black, so the split
    stage keeps one shot (:func:`curate.split.flashes.reaches_black`)."""
    detector = _detect(_dark_frames(75, 11, 12.0, wave=1.5))
    b = detector.boundaries()
    assert len([c for c in detector._found if 0 < c < 75]) >= 3  # what PySceneDetect alone reports
    assert b.cuts == [] and b.gaps == []


def test_a_dip_through_black_is_still_a_boundary(monkeypatch):
    """A quick dip through black between two dark shots (three frames down, two black, three
    up: no blank run long enough for a gap, the content score's cuts merged away) is found
    by the fade cut alone, which passes through black and stays."""
    a, b = _dark_frames(40, 12, 30.0), _dark_frames(40, 13, 30.0)

    def scaled(frames, gains):
        return [np.clip(np.rint(f.astype(np.float32) * g), 0, 255).astype(np.uint8) for f, g in zip(frames, gains)]

    video = a[:-3] + scaled(a[-3:], (0.6, 0.3, 0.1)) + [np.zeros_like(a[0])] * 2 + scaled(b[:3], (0.1, 0.3, 0.6)) + b[3:]
    detector = _detect(video)
    assert [c for c in detector._found if 0 < c < len(video)] == [41]
    assert detector.boundaries().points() == [41]


def test_black_is_reached_by_a_title_card_but_not_by_a_dim_room():
    """:func:`curate.split.flashes.reaches_black` on thumbnails: a run of black frames that
    keep a small white title (frame mean about 7, over half the fade level, median 0) reaches black; a dim room of
    frame mean 9-11 with its picture all there does not; a cut beside no dark run is kept."""
    card = np.zeros((H, W, 3), np.uint8)
    card[66:72, 40:216] = 255
    dim = _dark_frames(12, 14, 10.0, wave=1.0)
    bright = _dark_frames(4, 15, 60.0)
    thumbs = np.stack([thumbnail(f) for f in bright + [card] * 3 + bright + dim + bright])
    assert 6.0 < float(thumbs[5].mean()) < 12.0 and float(np.median(thumbs[5])) == 0.0  # the median decides
    assert reaches_black(thumbs, 5, 12.0)  # the middle of the card's run
    assert not reaches_black(thumbs, 17, 12.0)  # the middle of the dim room
    assert reaches_black(thumbs, 2, 12.0)  # in the bright shot: nothing to judge
