"""A low-rate camera's motion is no cut; a cut in its footage still is (curate.split.spikes.stepped).

A 10 fps camera stored at 25 fps shows each picture 2-3 times. Where something large and
dark walks close past the lens, every new picture changes the thumbnails by 15-25 levels
after repeats that change nothing, and PySceneDetect's adaptive score (a frame's change
against the rolling average of its neighbours) fires on each. The fixtures are generated
with exact truth and decoded through the split stage's PyAV path:

- a silhouette (a dark ellipse, 80 % of the frame's height) crossing a bright, fixed view
  at 10 fps in 25 (truth: no boundary);
- the same with a hard cut, on a picture change at frame 60, to another place (truth: one
  cut at 60).
"""

import numpy as np
import pytest

from curate.codec import iter_frames
from curate.split import SplitStage, shots
from support.synth import render, write_video

W, H, FPS, CAMERA_FPS = 256, 144, 25.0, 10.0
CUT_AT = 60  # a picture change: int(60 * 10 / 25) = 24 > int(59 * 10 / 25) = 23


def _walker(n: int = 110, cut: bool = False) -> list[np.ndarray]:
    here = render(91, 0.0, W, H, drift=0.0).astype(np.float32)
    here = np.clip(150 + (here - here.mean()) * 3.0, 0, 255)  # a room of strong contrast
    there = render(92, 0.0, W, H, drift=0.0).astype(np.float32)
    yy, xx = np.mgrid[0:H, 0:W]
    out = []
    for i in range(n):
        k = int(i * CAMERA_FPS / FPS)  # the camera's picture shown at frame i
        img = (there if cut and i >= CUT_AT else here).copy()
        cx = -40 + 24 * k  # 24 px a picture: 0.94 frame widths a second
        body = ((xx - cx) / 26.0) ** 2 + ((yy - 85) / 56.0) ** 2 <= 1.0
        img[body] = 20.0
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("low-rate")
    out = {}
    for name, cut in (("walker", False), ("walker_cut", True)):
        out[name] = str(root / f"{name}.mp4")
        write_video(out[name], _walker(cut=cut), FPS)
    return out


def _boundaries(path: str):
    det = SplitStage(detector="adaptive").shot_detector(FPS)
    for frame in iter_frames(path, size=(W, H), fmt="bgr24"):
        det.feed(frame.image)
    return det.boundaries()


def test_a_low_rate_cameras_new_pictures_are_no_cuts(videos):
    b = _boundaries(videos["walker"])
    assert b.cuts == [] and b.gaps == []


def test_without_the_rule_the_walker_is_cut_up(videos, monkeypatch):
    """The fixture's property: the content score fires on the walker's pictures."""
    monkeypatch.setattr(shots, "stepped", lambda cuts, change, thumbs: set())
    assert len(_boundaries(videos["walker"]).cuts) >= 2


def test_a_cut_to_another_place_in_low_rate_footage_is_kept(videos):
    b = _boundaries(videos["walker_cut"])
    assert len(b.cuts) == 1 and abs(b.cuts[0] - CUT_AT) <= 1, b.cuts
    assert b.gaps == []
