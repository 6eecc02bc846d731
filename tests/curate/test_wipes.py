"""Wipes between shots (curate/split/wipes.py): found as gaps, so no clip holds two shots.

Inputs with known truth: rendered scenes (moving blobs and gratings, :mod:`support.synth`)
joined by hard-edged wipes of known frames, left to right and an iris; and the same
scenes cut by a large object that crosses a fixed view without covering it (no wipe).
"""

import cv2
import numpy as np
import pytest

from curate.codec import probe
from curate.probe import ProbeStage
from curate.split import SplitStage
from curate.split.gradual import GradualScan
from curate.split.transitions import thumbnail
from curate.split.wipes import _densest, slides
from curate.tasks import SourceTask
from support.synth import render, write_video

W, H, FPS = 256, 144, 25.0


def _mask(shape: str, p: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    if shape == "left":
        return xx < p * W
    return np.hypot(xx - W / 2, yy - H / 2) < p * np.hypot(W / 2, H / 2)  # iris


def _wiped(shape: str, length: int, seeds=(3, 8), shot: int = 50) -> tuple[list[np.ndarray], tuple[int, int]]:
    """Scene ``seeds[0]`` for ``shot`` frames, a wipe of ``length`` frames into scene
    ``seeds[1]``, then ``shot`` frames of it; the wipe's frames ``(start, end)``."""
    frames = []
    for i in range(2 * shot + length):
        a = render(seeds[0], i / FPS, W, H, pan=(0.02, 0.0))
        b = render(seeds[1], i / FPS, W, H, pan=(0.0, 0.015))
        p = (i - shot + 1) / (length + 1)
        frames.append(a if p <= 0 else b if p >= 1 else np.where(_mask(shape, p)[..., None], b, a))
    return frames, (shot, shot + length)


@pytest.mark.parametrize("shape,length", [("left", 8), ("left", 20), ("iris", 12)])
def test_a_wipe_is_a_gap_and_no_clip_holds_both_shots(tmp_path, shape, length):
    frames, (start, end) = _wiped(shape, length)
    path = str(tmp_path / "wipe.mp4")
    write_video(path, frames, FPS)
    task = SplitStage(min_clip_s=1.0, max_clip_s=10.0)(ProbeStage()(SourceTask(path=path, work_dir="")))
    assert len(task.spans) == 2  # before: one clip over both shots and the wipe
    first, second = sorted(task.spans, key=lambda s: s.start_frame)
    assert first.start_frame == 0 and first.end_frame <= start  # no frame of the wipe or the next shot
    assert second.start_frame >= end and second.end_frame == probe(path).num_frames
    assert start - first.end_frame <= 6 and second.start_frame - end <= 6  # little of either shot lost


def test_wipe_scan_of_thumbnails_finds_the_wipe_frames():
    frames, (start, end) = _wiped("left", 16)
    thumbs = np.stack([thumbnail(np.ascontiguousarray(f[..., ::-1])) for f in frames])
    scan = GradualScan([6, 12, 25, 50])
    gaps = scan.result(thumbs)
    assert len(gaps) == 1
    s, e = gaps[0]
    assert start - 2 <= s <= start + 1 and end - 1 <= e <= end + 3


def test_an_object_crossing_a_fixed_view_is_no_wipe():
    """A large flat card sliding across half the picture of one scene replaces pixels one
    by one too, but most of the picture never changes: no gap."""
    frames = []
    for i in range(120):
        img = render(5, i / FPS, W, H).copy()
        x0 = int((i - 30) * 4)
        if 0 <= i - 30 < 60:
            img[:, max(0, x0 - 80):max(0, x0)] = (200, 40, 40)
        frames.append(img)
    thumbs = np.stack([thumbnail(np.ascontiguousarray(f[..., ::-1])) for f in frames])
    scan = GradualScan([6, 12, 25, 50])
    assert scan.result(thumbs) == [] and scan.wipes == []


def _thumbs(frames):
    return np.stack([thumbnail(np.ascontiguousarray(f[..., ::-1])) for f in frames])


def test_a_panel_passing_in_front_of_a_fixed_camera_is_no_wipe():
    """A textured panel slides in over a fixed view from the left, covers it for 20 frames
    and slides out again: each pixel switches once on the way in, as in a wipe, but the
    view comes back (a break test: buses, people close to the lens, curtains, graphics
    panels were gaps)."""
    frames = []
    for i in range(140):
        img = render(5, i / FPS, W, H).copy()
        panel = render(9, i / FPS, W, H)
        edge = int(W * min(1.0, max(0.0, (i - 40) / 12))) if i < 72 else int(W * max(0.0, 1 - (i - 72) / 12))
        img[:, :edge] = panel[:, :edge]
        frames.append(img)
    scan = GradualScan([6, 12, 25, 50])
    assert scan.result(_thumbs(frames)) == [] and scan.wipes == []


def test_a_shadow_sweeping_across_one_view_is_no_wipe():
    """A shadow (gain 0.45) sweeps across a fixed view in 15 frames and stays: the pixels
    switch once at smoothly moving times, but the picture is the same view darker."""
    frames = []
    for i in range(100):
        img = render(5, i / FPS, W, H).astype(np.float32)
        edge = int(W * min(1.0, max(0.0, (i - 40) / 15)))
        img[:, :edge] *= 0.45
        frames.append(img.astype(np.uint8))
    scan = GradualScan([6, 12, 25, 50])
    assert scan.result(_thumbs(frames)) == [] and scan.wipes == []


def _soft_wiped(length: int, soft: float = 0.4, shot: int = 40) -> tuple[list[np.ndarray], tuple[int, int]]:
    """Two moving scenes joined by a wipe whose edge is a ramp ``soft`` of the width wide
    (FFmpeg's ``smoothleft``): each pixel mixes over several frames, so it is near neither
    end's picture for a while."""
    frames, xx = [], (np.arange(W)[None, :, None] + 0.5) / W
    for i in range(2 * shot + length):
        a = render(3, i / FPS, W, H, pan=(0.02, 0.0))
        b = render(8, i / FPS, W, H, pan=(0.0, 0.02))
        p = (i - shot + 1) / (length + 1)
        m = np.clip((p * (1 + soft) - xx) / soft, 0, 1)
        frames.append((b * m + a * (1 - m)).astype(np.uint8))
    return frames, (shot, shot + length)


@pytest.mark.parametrize("length", [10, 20])
def test_a_soft_edged_wipe_is_found_where_each_pixel_mixes_for_a_while(length):
    """A break test: FFmpeg's soft-edged wipes (smoothleft, 40 % ramps here) were missed
    whole by a rule that wanted each pixel at one end's picture or the other's; the pixel's
    own largest change, at times moving smoothly across the picture, finds them."""
    frames, (start, end) = _soft_wiped(length)
    scan = GradualScan([6, 12, 25, 50])
    gaps = scan.result(_thumbs(frames))
    assert len(gaps) == 1 and scan.wipes == gaps
    s, e = gaps[0]
    assert start - 2 <= s <= start + 3 and end - 4 <= e <= end + 2


def test_a_picture_sliding_by_is_no_wipe_but_a_still_one_wiped_is():
    """``slides``: a tilt from a wall to a table carries the surfaces' edge across the frame
    with the picture (every frame the last one shifted by 1.5 thumbnail pixels); a wipe's
    edge moves over two still pictures."""
    tall = np.concatenate([render(3, 0, 32, 18), render(8, 0, 32, 18)], axis=0)[..., ::-1]
    tilt = np.stack([cv2.warpAffine(np.ascontiguousarray(tall), np.float32([[1, 0, 0], [0, 1, -1.5 * i]]),
                                    (32, 18), borderMode=cv2.BORDER_REFLECT) for i in range(12)])
    a, b = tall[:18], tall[18:]
    wipe = np.stack([np.where((np.arange(32) < 3 * i)[None, :, None], b, a) for i in range(12)])
    assert slides(tilt, 1, 11)
    assert not slides(wipe, 1, 11)


def test_the_wipe_frames_leave_out_stragglers_of_moving_content():
    """``_densest``: the edge's crossings fill frames 10-20; a few pixels of a car moving in
    the long window cross at 2 and 40. The wipe is the shortest range holding 90 % of
    them, not the 5th-95th percentiles, which the stragglers pull out."""
    times = np.array([2, 40, 41] + list(range(10, 21)) * 3)
    assert _densest(times, 0.9) == (10, 20)


@pytest.mark.parametrize("seeds", [(1, 2), (5, 6)])
def test_a_slow_tilt_slides_though_its_shift_is_under_a_thumbnail_row(seeds):
    """A tilt of 0.7 thumbnail rows a frame: phase correlation under a Hann window, which
    over 18 rows keeps little but the middle, measured most steps under ``max_shift`` (0.3)
    and the tilt did not slide (so its edge could pass as a wipe); without one it does."""
    tall = np.concatenate([render(seeds[0], 0, 32, 18), render(seeds[1], 0, 32, 18)], axis=0)[..., ::-1]
    tilt = np.stack([cv2.warpAffine(np.ascontiguousarray(tall), np.float32([[1, 0, 0], [0, 1, -0.7 * i]]),
                                    (32, 18), borderMode=cv2.BORDER_REFLECT) for i in range(12)])
    assert slides(tilt, 1, 11)
