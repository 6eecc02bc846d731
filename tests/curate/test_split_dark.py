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
from curate.split.transitions import BlendTest, spatial_var, thumbnail
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


def _plain_road(seed: int, mean: float, std: float) -> np.ndarray:
    """A dim, plain picture as float32 ``(H, W, 3)``: a scene squeezed to spatial ``std``
    about ``mean`` (0-255 levels), like an empty road at dusk seen from above."""
    img = render(seed, 0.0, W, H).astype(np.float32)
    return (img - img.mean()) / img.std() * std + mean


def test_a_dim_plain_picture_is_no_fade_card_but_a_dissolve_from_it_is_a_gap():
    """:meth:`curate.split.transitions.BlendTest.flat_end`: the end of a window that skips
    the gain test must be a card: flat (std at most 3) or black with grain left on the
    thumbnail (std up to 6, mean at most 24). A dim, plain road (thumbnail std about 4.5, mean 36) is neither: on
    the street camera at 0.4 brightness a car driving out while the exposure rose had
    passed as a fade from it and became a gap. A dissolve from that road to another
    picture is still one gap (it passes the gain test)."""
    test = BlendTest()
    road = _plain_road(21, 36.0, 4.5)
    car = road.copy()
    car[50:94, 100:140] = 150.0

    def thumb(img):
        return thumbnail(np.clip(np.rint(img), 0, 255).astype(np.uint8))

    def var(t):
        return float(spatial_var(t[None])[0])

    ends = [thumb(car), thumb(road)]
    assert 3.0 < var(ends[1]) ** 0.5 < 6.0 and ends[1].mean() > 24.0
    assert not test.flat_end(ends[0], ends[1], var(ends[0]), var(ends[1]))
    blotches = np.random.default_rng(5).normal(10.0, 5.0, (H // 16, W // 16, 3))  # black, blotchy grain
    grain = thumb(blotches.repeat(16, 0).repeat(16, 1))
    assert 3.0 < var(grain) ** 0.5 <= 6.0 and test.flat_end(ends[0], grain, var(ends[0]), var(grain))
    grey = thumb(np.full_like(road, 120.0))
    assert test.flat_end(grey, ends[0], var(grey), var(ends[0]))

    other = [render(22, k / FPS, W, H, drift=0.3).astype(np.float32) for k in range(60)]
    mix = [road * (1 - w) + o * w for w, o in zip(np.linspace(0, 1, 12)[1:-1], other)]
    video = [road] * 40 + mix + other[10:]
    b = _detect([np.clip(np.rint(f), 0, 255).astype(np.uint8)[..., ::-1].copy() for f in video]).boundaries()
    assert len(b.gaps) == 1 and b.cuts == [] and 38 <= b.gaps[0][0] <= 42 and 48 <= b.gaps[0][1] <= 52, b


def test_a_short_dip_that_never_reaches_black_between_dim_shots_is_a_boundary():
    """An editor's dip to black, two frames down and two up, sampled mid-fade (gains 0.75,
    0.25, 0.25, 0.75) between two dim shots (frame mean 28): its darkest frames have a mean
    of 7, over half the fade level, and the picture's median; only the fade cut finds it,
    and it stays as a short plunge from the pictures around (a break test's case)."""
    a, b = _dark_frames(40, 16, 28.0), _dark_frames(40, 17, 28.0)

    def scaled(frames, gains):
        return [np.clip(np.rint(f.astype(np.float32) * g), 0, 255).astype(np.uint8) for f, g in zip(frames, gains)]

    video = a[:-2] + scaled(a[-2:], (0.75, 0.25)) + scaled(b[:2], (0.25, 0.75)) + b[2:]
    detector = _detect(video)
    dark = [float(thumbnail(f).mean()) for f in video[38:42]]
    assert 6.0 < min(dark) < 8.0
    assert detector.boundaries().points() == [40], detector.boundaries()


def test_a_dim_change_of_picture_counts_at_the_pictures_own_level():
    """:meth:`curate.split.transitions.BlendTest.spread` (step 2): the share of pixels that
    change, at 10 levels times the brighter end's mean over 100 (4-10). Between dim
    pictures (a road of mean 36 and the road with things 7 levels brighter over 60 % of
    it and 35 over 15 %), three quarters change: a change of picture, as a dissolve
    between dim shots is (at the fixed 10 levels only 15 % counted, and such dissolves
    were missed, leaving both shots in one clip). The same change over a lit road (mean
    100), whether plain or textured, is small."""
    test = BlendTest()
    rng = np.random.default_rng(9)
    cells = rng.random((H // 16, W // 16))
    delta = np.where(cells < 0.15, 35.0, np.where(cells < 0.75, 7.0, 0.0)).repeat(16, 0).repeat(16, 1)[..., None]

    def spread(base: np.ndarray) -> float:
        ends = [thumbnail(np.clip(np.rint(x), 0, 255).astype(np.uint8)) for x in (base, base + delta)]
        var = [float(spatial_var(e[None])[0]) for e in ends]
        return test.spread(ends[0], ends[1], var[0], var[1])

    assert spread(_plain_road(21, 36.0, 4.5)) >= 0.7
    assert spread(_plain_road(21, 100.0, 25.0)) < 0.3
    assert spread(_plain_road(21, 100.0, 9.0)) < 0.3  # plain but lit: a street seen through a narrow window


def test_a_dissolve_between_two_dim_shots_is_a_gap():
    """A 10-frame dissolve from a dim, plain road (std 4.5, mean 36) to a dim scene (std
    15, the same mean), the scene moving: one gap over the mix, not a clip holding both
    shots."""
    road = _plain_road(21, 36.0, 4.5)
    scene = [render(23, k / FPS, W, H, drift=0.3).astype(np.float32) for k in range(70)]
    scene = [(f - f.mean()) / f.std() * 15.0 + 36.0 for f in scene]
    mix = [road * (1 - w) + o * w for w, o in zip(np.linspace(0, 1, 12)[1:-1], scene)]
    video = [road + 0.5 * np.sin(k) for k in range(40)] + mix + scene[10:]
    b = _detect([np.clip(np.rint(f), 0, 255).astype(np.uint8)[..., ::-1].copy() for f in video]).boundaries()
    assert b.cuts == [] and len(b.gaps) == 1 and 38 <= b.gaps[0][0] <= 42 and 48 <= b.gaps[0][1] <= 52, b


def test_a_cut_between_two_night_shots_is_found():
    """Two moving scenes at about a twentieth of daylight (frame mean 10-12), cut together:
    the content score marks the cut, but no thumbnail pixel changes by the 16 levels the
    split stage asked of a cut in a lit picture (13.7 and 14.3 here), so the night edit was
    one clip. The level now follows the pictures' own spread where it is small, and the
    two patterns do not correlate (:func:`curate.split.spikes.dim_change`)."""
    for (sa, sb), mean in (((35, 36), 10.0), ((41, 42), 12.0)):
        video = _dark_frames(40, sa, mean) + _dark_frames(40, sb, mean)
        detector = _detect(video)
        thumbs = detector._thumbs.view()
        assert np.abs(thumbs[40].astype(np.int16) - thumbs[39]).mean(axis=2).max() < 16
        assert detector.boundaries().points() == [40], (sa, sb, detector.boundaries())


def test_a_keyframes_quality_step_in_a_night_shot_is_no_cut():
    """A still night scene (mean 20, a smooth pattern of +-12 levels) re-quantised at each
    keyframe: a new block pattern of up to 7 levels every 25 frames changes thumbnail pixels
    by 13-14 levels, over a quarter of the picture's spread, and the thumbnail change
    spikes; but the scene's pattern stays where it was (its 2 x 2 means correlate over 0.8
    across the step), so no keyframe is a cut. Without that test every one is."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    scene = (20 + 12 * np.cos(2 * np.pi * x / 96) * np.cos(2 * np.pi * y / 72))[..., None].repeat(3, axis=2)
    noise = np.random.default_rng(3)
    video = []
    for i in range(150):
        gop = np.random.default_rng(100 + i // 25)  # the GOP's own quantisation error
        blocks = gop.uniform(-7, 7, (H // 8, W // 8, 1)).repeat(8, 0).repeat(8, 1)
        video.append(np.clip(scene + blocks + noise.normal(0, 0.5, scene.shape), 0, 255).astype(np.uint8)[..., ::-1].copy())
    detector = _detect(video)
    thumbs = detector._thumbs.view()
    steps = [float(np.abs(thumbs[c].astype(np.int16) - thumbs[c - 1]).mean(axis=2).max()) for c in (25, 50, 75)]
    assert all(12.0 <= s < 16.0 for s in steps), steps
    assert detector.boundaries().cuts == []
