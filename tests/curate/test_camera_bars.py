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
    ("letterboxed zoom out", 40, 0, (0.0, 0.0), -0.25, "zoom_out"),
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
    assert inside_bars(_padded(picture, 40, 0)) == (40, 136, 0, 168)
    assert inside_bars(_padded(picture, 0, 48)) == (0, 96, 48, 216)
    assert inside_bars(picture) == (0, 96, 0, 168)
    # a dark band at one edge only is picture (a night sky), not a bar
    sky = picture.copy()
    sky[:, :30] = 4
    assert inside_bars(sky) == (0, 96, 0, 168)
    # bars leaving under 32 px of picture keep the whole frame
    assert inside_bars(_padded(picture[:, 40:60], 40, 0)) == (0, 100, 0, 168)
