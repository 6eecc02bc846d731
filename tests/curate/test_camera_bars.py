"""Camera labels of letterboxed and pillarboxed footage: the same known pan or zoom inside
black bars as without them (a break test: still bars at two edges read as a fixed camera
with something passing close, and letterboxed zooms and pillarboxed pans came out static).
"""

import cv2
import numpy as np
import pytest

from curate.camera import camera_segments
from curate.score import inside_bars, motion_track
from support.synth import render

FPS = 4.0


def _scene(n, w, h, pan=(0.0, 0.0), zoom=0.0):
    """``(n, h, w) uint8`` luma frames of a textured scene the camera pans (scene widths/s) or zooms (per s)."""
    return np.stack([cv2.cvtColor(render(36, i / FPS, w, h, pan, zoom, drift=0.0), cv2.COLOR_RGB2GRAY)
                     for i in range(n)])


def _padded(frames, top, left, level=4):
    """``frames`` inside bars of luma ``level``: ``top`` rows above and below, ``left`` columns either side."""
    n, h, w = frames.shape
    out = np.full((n, h + 2 * top, w + 2 * left), level, np.uint8)
    out[:, top:top + h, left:left + w] = frames
    return out


def _track(frames):
    return motion_track(frames, [i / FPS for i in range(len(frames))], "dis")[0]


def _cameras(track):
    return {s.camera for s in camera_segments(track, len(track) / FPS + 1 / FPS)}


@pytest.mark.parametrize("name,top,left,pan,zoom,label", [
    ("letterboxed zoom in", 40, 0, (0.0, 0.0), 0.25, "zoom_in"),
    ("pillarboxed zoom in", 0, 48, (0.0, 0.0), 0.25, "zoom_in"),
    ("pillarboxed pan right", 0, 48, (0.12, 0.0), 0.0, "pan_right"),
    ("pillarboxed pan left", 0, 48, (-0.12, 0.0), 0.0, "pan_left"),
])
def test_a_move_inside_bars_is_labelled_as_without_them(name, top, left, pan, zoom, label):
    picture = _scene(9, 168, 96, pan, zoom)
    bare, boxed = _track(picture), _track(_padded(picture, top, left))
    assert _cameras(bare) == _cameras(boxed) == {label}, name
    # speeds are in widths of the picture inside the bars: the same as the bare picture's
    for axis in ("pan_x", "zoom"):
        got = np.median([getattr(s, axis) for s in boxed])
        assert got == pytest.approx(np.median([getattr(s, axis) for s in bare]), abs=0.01), axis


def test_the_picture_inside_bars():
    picture = _scene(5, 168, 96)
    assert inside_bars(_padded(picture, 40, 0)) == (42, 134, 0, 168)  # (2 px off each bar's side)
    assert inside_bars(_padded(picture, 0, 48)) == (0, 96, 50, 214)
    assert inside_bars(picture) == (0, 96, 0, 168)
    # a dark band at one edge only is picture (a night sky), not a bar
    sky = picture.copy()
    sky[:, :30] = 4
    assert inside_bars(sky) == (0, 96, 0, 168)
    # white bands above and below are a blown-out sky and snow, picture, not bars
    assert inside_bars(_padded(picture, 40, 0, level=255)) == (0, 176, 0, 168)
    # bars leaving under 32 px of picture keep the whole frame
    assert inside_bars(_padded(picture[:, 40:60], 40, 0)) == (0, 100, 0, 168)


def _scored(frames_rgb, motion):
    """The score stage's record scores for a clip of these samples (4 fps)."""
    from curate.score import ScoreStage
    from curate.tasks import ClipTask
    from support.dedup import clip_record

    rec = clip_record("c", "")
    task = ClipTask(source=rec.source, span=rec.span, clip_id="c", work_dir="", record=rec,
                    frames=frames_rgb, motion=motion, motion_times=[i / FPS for i in range(len(motion))])
    return ScoreStage()(task).record.scores


def _rgb(luma):
    return np.repeat(luma[..., None], 3, axis=-1)


@pytest.mark.parametrize("top,left", [(96, 0), (0, 112)])
def test_scores_of_a_clip_between_bars_are_its_pictures(top, left):
    """A break test: a bar's hard edge gave a blurred clip the Laplacian variance of a sharp
    one (kept by the blur filter), and a letterboxed night shot's bars made its frames black.
    Frames of at least 224 px (``curate.score.SHARP_SIDE``) both ways, as the extract
    stage's samples of most sources are: a smaller frame is judged scaled up by its size."""
    scene = _scene(5, 392, 232)
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 6) for f in scene])
    night = (scene * 0.15).astype(np.uint8) + 10  # a dim picture: its mean luma over 20, with the bars' under
    scores = {}
    for name, picture in (("blurred", blurred), ("night", night)):
        inner = picture[:, 2:-2] if top else picture[:, :, 2:-2]  # (2 px beside a bar are left out)
        bare = _scored(_rgb(inner), inner)
        boxed = _scored(_rgb(_padded(picture, top, left, level=2)), _padded(picture, top, left, level=2))
        for score in ("sharpness", "focus", "luma_mean", "black_fraction", "clipped_fraction", "motion"):
            assert getattr(boxed, score) == pytest.approx(getattr(bare, score), rel=0.02, abs=1e-3), (name, score)
        scores[name] = boxed
    assert scores["blurred"].sharpness < 5  # (min_sharpness of pipelines/local.yaml)
    assert 20 < scores["night"].luma_mean < 30 and scores["night"].black_fraction == 0.0  # (black_luma 20)
    assert _padded(night, top, left, level=2).mean() < 20  # what the whole frame's mean had been
