"""A low-rate camera's motion is no cut; a cut in its footage still is (curate.split.spikes.stepped).

A 10 fps camera stored at 25 fps shows each picture 2-3 times. Where something large and
dark walks close past the lens, every new picture changes the thumbnails by 15-25 levels
after repeats that change nothing, and PySceneDetect's adaptive score (a frame's change
against the rolling average of its neighbours) fires on each. The fixtures are generated
with exact truth and decoded through the split stage's PyAV path:

- a silhouette (a dark ellipse, 80 % of the frame's height) crossing a bright, fixed view
  at 10 fps in 25 (truth: no boundary);
- the same with a hard cut, on a picture change at frame 60, to another place (truth: one
  cut at 60);
- a 12.5 fps camera (each picture twice) with the silhouette in view from the first frame:
  its first new picture is frame 2, where the adaptive score's rolling average holds only
  repeats (truth: no boundary; the rule had judged no cut before frame 3).
"""

import numpy as np
import pytest

from curate.codec import iter_frames
from curate.split import SplitStage, shots
from support.synth import render, write_video

W, H, FPS, CAMERA_FPS = 256, 144, 25.0, 10.0
CUT_AT = 60  # a picture change: int(60 * 10 / 25) = 24 > int(59 * 10 / 25) = 23


def _walker(n: int = 110, cut: bool = False, camera_fps: float = CAMERA_FPS, x0: int = -40) -> list[np.ndarray]:
    here = render(91, 0.0, W, H, drift=0.0).astype(np.float32)
    here = np.clip(150 + (here - here.mean()) * 3.0, 0, 255)  # a room of strong contrast
    there = render(92, 0.0, W, H, drift=0.0).astype(np.float32)
    yy, xx = np.mgrid[0:H, 0:W]
    out = []
    for i in range(n):
        k = int(i * camera_fps / FPS)  # the camera's picture shown at frame i
        img = (there if cut and i >= CUT_AT else here).copy()
        cx = x0 + 24 * k  # 24 px a picture: 0.94 frame widths a second at 10 fps
        body = ((xx - cx) / 26.0) ** 2 + ((yy - 85) / 56.0) ** 2 <= 1.0
        img[body] = 20.0
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("low-rate")
    out = {}
    for name, frames in (("walker", _walker()), ("walker_cut", _walker(cut=True)),
                         ("walker_early", _walker(80, camera_fps=12.5, x0=40))):
        out[name] = str(root / f"{name}.mp4")
        write_video(out[name], frames, FPS)
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


def test_the_first_new_picture_of_a_low_rate_camera_is_no_cut(videos, monkeypatch):
    b = _boundaries(videos["walker_early"])
    assert b.cuts == [] and b.gaps == []
    real = shots.stepped  # judged from frame 3 only, as before: the content score's cut at 2 stays
    monkeypatch.setattr(shots, "stepped", lambda cuts, change, thumbs: real([c for c in cuts if c >= 3], change, thumbs))
    assert _boundaries(videos["walker_early"]).cuts == [2]
