"""Blank holds against dim, plain shots (:mod:`curate.split.blanks`).

A street seen at a seventh of daylight is flat on the 32-px thumbnail (std about 1.5, under
the stage's ``blank_std`` 2.0) but shows the same picture in every frame; a fade's hold
shows none. Frames are rendered with known truth and fed to the split stage's own shot
detector, BGR at the detection size.
"""

import numpy as np

from curate.split import SplitStage
from curate.split.blanks import FlatFrames, find_blank, flat_cuts
from curate.split.transitions import thumb_luma, thumbnail
from support.synth import render

W, H, FPS = 256, 144, 25.0


def _dim_scene(n: int, seed: int, mean: float, std: float) -> list[np.ndarray]:
    """A moving scene squeezed to a thumbnail luma std of about ``std`` around ``mean``
    (0-255), with a level of sensor noise per frame: BGR ``(H, W, 3) uint8`` frames."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        img = render(seed, k / FPS, W, H, drift=0.3).astype(np.float32)
        t = thumb_luma(thumbnail(np.clip(img, 0, 255).astype(np.uint8)[..., ::-1].copy())[None])[0]
        img = (img - img.mean()) / t.std() * std + mean + rng.normal(0, 1.0, img.shape)
        out.append(np.clip(np.rint(img), 0, 255).astype(np.uint8)[..., ::-1].copy())
    return out


def _noise_card(n: int, seed: int, mean: float, grain: float) -> list[np.ndarray]:
    """A flat card at ``mean`` with blotchy grain (16-px cells, std ``grain``) drawn anew
    each frame: BGR ``(H, W, 3) uint8``."""
    rng = np.random.default_rng(seed)
    cells = [rng.normal(0.0, grain, (H // 16, W // 16)).repeat(16, 0).repeat(16, 1) for _ in range(n)]
    return [np.clip(np.rint(mean + c), 0, 255).astype(np.uint8)[..., None].repeat(3, 2) for c in cells]


def _thumbs(frames: list[np.ndarray]) -> np.ndarray:
    return np.stack([thumbnail(f) for f in frames])


def test_a_dim_plain_scene_is_flat_but_not_blank():
    """Thumbnail std 1.5 at mean 16: every frame flat, none blank (its pattern persists);
    the same frames under ``HARD_STD`` or ``BLACK_MEAN`` would be blank."""
    thumbs = _thumbs(_dim_scene(30, 3, 16.0, 1.5))
    std = thumb_luma(thumbs).std(axis=1)
    assert 1.2 < std.min() and std.max() < 2.0
    flats = FlatFrames(thumbs, 2.0)
    assert flats.flat.all() and flats.persists.all() and not flats.blank.any()
    assert find_blank(thumbs, 2.0, 7) == [] and flats.cuts() == []


def test_grainy_cards_are_blank_and_a_vignetted_card_is_a_still_picture():
    """A grey card whose grain changes every frame (std 1.5) does not persist: one hold; nor
    does one whose grain changes every second frame (a low-rate source doubled: each frame
    repeats one neighbour, so it is judged against the next frame that is no repeat), and
    no cut is found inside it. A card with a fixed vignette is a still picture, left to the
    filter stage."""
    grain = _thumbs(_noise_card(20, 4, 60.0, 1.5))
    std = thumb_luma(grain).std(axis=1)
    assert 1.0 < std.min() and std.max() < 2.0, std
    assert find_blank(grain, 2.0, 7) == [(0, 20)]
    doubled = np.repeat(grain, 2, axis=0)
    assert find_blank(doubled, 2.0, 7) == [(0, 40)] and flat_cuts(doubled, 2.0) == []
    yy, xx = np.mgrid[0:H, 0:W]
    vignette = 60.0 - 4.0 * (((xx - W / 2) / W) ** 2 + ((yy - H / 2) / H) ** 2) * 4
    card = np.clip(np.rint(vignette), 0, 255).astype(np.uint8)[..., None].repeat(3, 2)
    thumbs = _thumbs([card] * 20)
    assert 1.0 < float(thumb_luma(thumbs).std(axis=1)[0]) < 2.0
    flats = FlatFrames(thumbs, 2.0)
    assert flats.persists.all() and not flats.blank.any()
    assert find_blank(thumbs, 2.0, 7) == []
    assert find_blank(thumbs * 0, 2.0, 7) == [(0, 20)]  # the same run, black


def test_a_dim_street_is_one_shot_and_a_fade_through_black_between_two_is_still_a_gap():
    """Through the shot detector: 80 frames of a dim, plain scene (thumbnail std 1.5, mean
    16; before :mod:`curate.split.blanks` every frame was a blank hold and the shot had no
    clip) give no boundary. Two such scenes joined by a fade out over 8 frames, 10 frames
    of black and a fade in over 8 give one gap covering the black."""
    a = _dim_scene(80, 5, 16.0, 1.5)
    detector = SplitStage().shot_detector(FPS)
    for f in a:
        detector.feed(f)
    b = detector.boundaries()
    assert b.cuts == [] and b.gaps == [], b

    c = _dim_scene(60, 6, 16.0, 1.5)
    ramp = np.linspace(1.0, 0.0, 10)[1:-1]
    out = [np.rint(f * g).astype(np.uint8) for f, g in zip(a[52:60], ramp)]
    back = [np.rint(f * g).astype(np.uint8) for f, g in zip(c[:8], ramp[::-1])]
    video = a[:52] + out + [np.zeros_like(a[0])] * 10 + back + c[8:]
    detector = SplitStage().shot_detector(FPS)
    for f in video:
        detector.feed(f)
    b = detector.boundaries()
    assert len(b.gaps) == 1 and b.cuts == [], b
    start, end = b.gaps[0]
    assert start <= 60 and end >= 70 and start >= 44 and end <= 86, b


def test_cuts_between_fogged_shots_at_one_level_are_found():
    """Four cuts between five low-contrast scenes (thumbnail std 1.5, all at mean 120): the
    content detector sees none of them (its score stays under ``min_content_val``); the
    pattern breaks at each cut and persists on both sides (:func:`flat_cuts`), so each is a
    cut, within one frame; inside each scene there is none."""
    video = []
    for k in range(5):
        video += _dim_scene(40, 20 + k, 120.0, 1.5)
    thumbs = _thumbs(video)
    assert flat_cuts(thumbs, 2.0) == [40, 80, 120, 160]
    assert flat_cuts(thumbs[:40], 2.0) == []
    detector = SplitStage().shot_detector(FPS)
    for f in video:
        detector.feed(f)
    b = detector.boundaries()
    assert b.gaps == [] and len(b.cuts) == 4, b
    assert all(abs(c - t) <= 1 for c, t in zip(b.cuts, (40, 80, 120, 160))), b


def test_a_fade_from_a_grey_card_into_a_picture_mostly_of_its_shade_is_a_gap():
    """A still, vignetted grey card (a picture of its own since cards are judged by
    persistence) fades over 8 frames into a moving scene mostly within 10 levels of the
    card's grey: under half the pixels changed by more than 10 levels, the gradual test's
    spread for a change of picture, so the fade was missed and the card shared the scene's
    clip. From a card it needs 30 %: the fade is one gap."""
    yy, xx = np.mgrid[0:H, 0:W]
    card = np.clip(128.0 - 4.0 * (((xx - W / 2) / W) ** 2 + ((yy - H / 2) / H) ** 2) * 4, 0, 255)
    card = np.rint(card).astype(np.uint8)[..., None].repeat(3, 2)
    scene = []
    for k in range(60):
        img = render(30, k / FPS, W, H, drift=0.3).astype(np.float32)
        scene.append(np.clip(np.rint((img - img.mean()) / img.std() * 14.0 + 128.0), 0, 255).astype(np.uint8))
    fade = [np.rint(card * (1 - w) + s * w).astype(np.uint8) for w, s in zip(np.linspace(0, 1, 10)[1:-1], scene)]
    video = [card] * 50 + fade + scene[8:]
    ends = _thumbs([card, scene[8]]).astype(np.float32)
    changed = np.abs(ends[1] - ends[0]).mean(axis=2) > 10
    assert 0.3 < changed.mean() < 0.5  # what the change-of-picture spread (0.5) turned down
    detector = SplitStage().shot_detector(FPS)
    for f in video:
        detector.feed(np.ascontiguousarray(f[..., ::-1]))
    b = detector.boundaries()
    assert b.cuts == [] and len(b.gaps) == 1 and 46 <= b.gaps[0][0] <= 50 and 58 <= b.gaps[0][1] <= 62, b
