"""The pad search (curate.dedup.pads): bars of known size are cut, and judging lines from the
edges inwards gives the box that judging every line gives."""

import cv2
import numpy as np
import pytest

from curate.dedup.pads import MAX_BORDER, bars_box, bt601_luma, content_box, line_content, row_percentiles
from support.edited import clip as _clip
from support.edited import grey_pillarbox, letterbox


@pytest.mark.parametrize("kind", ["noise", "three_levels", "constant", "one_column"])
def test_row_percentiles_are_numpys_bit_for_bit(kind):
    rng = np.random.default_rng(5)
    for _ in range(60):
        rows, n = int(rng.integers(1, 30)), 1 if kind == "one_column" else int(rng.integers(2, 400))
        lines = {"noise": rng.integers(0, 256, (rows, n)), "three_levels": rng.integers(0, 3, (rows, n)) * 127,
                 "constant": np.full((rows, n), int(rng.integers(0, 256))),
                 "one_column": rng.integers(0, 256, (rows, n))}[kind].astype(np.uint8)
        for qs in [(90,), (2, 98), (0, 50, 100)]:
            want = np.percentile(lines, list(qs), axis=1)
            got = row_percentiles(lines, qs)
            assert got.dtype == np.float64 and got.shape == (len(qs), rows)
            assert np.array_equal(got.view(np.int64), want.view(np.int64)), (rows, n, qs)


def test_content_box_finds_letterbox_and_pillarbox_bars():
    frames = _clip(2.0)
    luma = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in letterbox(frames, 18)])
    assert content_box(luma) == (18, 18 + 144, 0, 256)
    side = np.pad(luma, ((0, 0), (0, 0), (30, 30)))
    assert content_box(side) == (18, 162, 30, 30 + 256)
    assert content_box(np.zeros((3, 40, 50), np.uint8)) == (0, 40, 0, 50)  # blank: whole frame


def test_content_box_cuts_a_flat_sky_alike_from_a_clip_and_its_pillarboxed_copy():
    luma = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in _clip(2.0)])
    luma[:, :50] = 200  # a clear sky over the top third of the picture
    copy = np.pad(luma, ((0, 0), (0, 0), (40, 40)))  # black pillarbox
    y0, y1, x0, x1 = content_box(luma)
    assert (y0, y1, x0, x1) == (50, 144, 0, 256)
    assert content_box(copy) == (y0, y1, x0 + 40, x1 + 40)


@pytest.mark.parametrize("level", [60, 128, 235])
def test_content_box_finds_flat_bars_of_any_grey(level):
    luma = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in grey_pillarbox(_clip(2.0), 40, level)])
    assert content_box(luma) == (0, 144, 40, 40 + 256)
    assert content_box(np.full((3, 40, 50), level, np.uint8)) == (0, 40, 0, 50)  # flat clip: whole frame


def _every_line_box(luma: np.ndarray) -> tuple[int, int, int, int]:
    """The box from judging every row and column each round (the search before lines were
    judged from the edges inwards)."""
    def span(mask):
        on, n = np.flatnonzero(mask), len(mask)
        if not len(on):
            return 0, n
        limit = int(n * MAX_BORDER)
        return min(int(on[0]), limit), max(int(on[-1]) + 1, n - limit)

    h, w = luma.shape[1:3]
    box = (0, h, 0, w)
    for _ in range(4):
        y0, y1, x0, x1 = box
        ys = span(line_content(luma[:, :, x0:x1], 1, np.arange(h)))
        xs = span(line_content(luma[:, ys[0]:ys[1]], 2, np.arange(w)))
        if (*ys, *xs) == box:
            break
        box = (*ys, *xs)
    return box


def test_edge_search_gives_the_box_of_judging_every_line():
    """Bars of every size up to past the 40 % limit, on one side or both, black or grey,
    stripes of picture inside them and blank frames: the same box as judging every line."""
    rng = np.random.default_rng(11)
    picture = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in _clip(1.0)])[:, :96, :128]
    seen = set()
    for _ in range(150):
        luma = picture.copy()
        h, w = luma.shape[1:]
        for axis, n in ((1, h), (2, w)):
            for side in (0, 1):
                k = int(rng.integers(0, n // 2 + 4))  # past MAX_BORDER at times
                bar = slice(0, k) if side == 0 else slice(n - k, n)
                index = (slice(None), bar) if axis == 1 else (slice(None), slice(None), bar)
                luma[index] = rng.choice([0, 16, 128, 235])
        if rng.random() < 0.3:  # a picture stripe inside a bar or a flat band across the picture
            y = int(rng.integers(0, h))
            luma[:, y:y + 2] = rng.integers(0, 256, luma[:, y:y + 2].shape)
        if rng.random() < 0.1:
            luma[:] = int(rng.integers(0, 256))
        want = _every_line_box(luma)
        assert bars_box(luma) == want
        seen.add(want)
    assert len(seen) > 60 and (0, h, 0, w) in seen  # many different boxes were tried


def test_rgb_frames_give_the_box_of_their_luma():
    rgb = letterbox(_clip(1.0), 22)
    rgb[:, :, :30] = (40, 90, 200)  # a blue pillar on the left only
    want = content_box(bt601_luma(rgb))
    assert want == (22, 22 + 144, 30, rgb.shape[2])  # letterbox pads the 144-row picture
    assert content_box(rgb) == want


def _night(dark_rows=24, seed=3):
    """A night street's luma: a lit picture under ``dark_rows`` rows of sky whose levels stay
    under the black level (a gradient across, 0-18, and a little noise over time)."""
    rng = np.random.default_rng(seed)
    luma = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in _clip(2.0)]).astype(np.int16)
    sky = np.linspace(0, 18, luma.shape[2])[None, None, :] + rng.integers(-2, 3, (len(luma), dark_rows, luma.shape[2]))
    luma[:, :dark_rows] = sky
    return np.clip(luma, 0, 255).astype(np.uint8)


def test_a_dark_sky_with_detail_at_the_frame_edge_is_picture_and_noisy_bars_are_pads(monkeypatch):
    """A night scene (or a copy darkened under the black level: a break test's copy lost
    its top 20 rows and right 17 columns to the cut, and was never paired with its
    original) keeps its dark sky in the signature's box (``detail``); noisy black bars
    (levels 0-6 changing every frame) are still cut to the row. Without ``detail`` (the
    pHash, picture share and scores) the sky is cut as before."""
    import curate.dedup.pads as pads

    night = _night()
    assert content_box(night, detail=True) == (0, 144, 0, 256)
    assert content_box(night) == (24, 144, 0, 256)
    monkeypatch.setattr(pads, "BLACK_DETAIL", 1e9)  # by level alone, as before
    assert content_box(night, detail=True) == (24, 144, 0, 256)
    monkeypatch.undo()
    bars = np.random.default_rng(4).integers(0, 7, (len(night), 18, 256)).astype(np.uint8)
    boxed = np.concatenate([bars, night, bars[:, ::-1]], axis=1)
    assert content_box(boxed, detail=True) == (18, 18 + 144, 0, 256)


def test_bars_of_coarse_grain_over_eight_frames_are_cut_for_the_picture_share():
    """A second break test: pillar bars at level 8 with grain in 8-pixel cells changing every
    frame keep a mean that varies by 6 levels over the 8 frames of a frame sample; judged
    for detail they were picture, the copy's picture share 1.0 (true 0.75), and the keep
    rule kept it over its original. The frame sample's box (embed) is judged by level alone."""
    from curate.embed import picture_share

    rng = np.random.default_rng(6)
    frames = _clip(2.0)[:8]  # (8, 144, 256, 3)
    cells = rng.integers(-8, 9, (8, 18, 8, 1)).repeat(8, axis=1).repeat(8, axis=2)[:, :144, :64]
    bar = np.clip(8 + cells, 0, 255).astype(np.uint8).repeat(3, axis=3)
    boxed = np.concatenate([bar, frames, bar[:, :, ::-1]], axis=2)  # 384 wide, 256 of picture
    box = content_box(boxed)
    assert box == (0, 144, 64, 64 + 256)
    assert picture_share(box, 144, 384) == pytest.approx(256 / 384, abs=0.01)
    assert content_box(boxed, detail=True) == box  # the noise its mean keeps is allowed for


def test_a_darkened_night_copy_keeps_its_originals_signature_box():
    from curate.dedup.signature import make
    from curate.dedup.verify import distance

    night = _night(dark_rows=30)
    night[:, 30:] = np.clip(night[:, 30:].astype(np.int16) + 30, 0, 255)  # the original: sky 30-48
    night[:, :30] += 30
    dark = (night.astype(np.int16) - 30).clip(0, 255).astype(np.uint8)  # the copy: sky 0-18
    times = [k / 4 for k in range(len(night))]
    a, b = make(night, times), make(dark, times)
    assert a.aspect == b.aspect == pytest.approx(256 / 144, abs=0.01)
    assert distance(a, b) < 0.01
