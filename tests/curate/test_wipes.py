"""Wipes between shots (curate/split/wipes.py): found as gaps, so no clip holds two shots.

Inputs with known truth: rendered scenes (moving blobs and gratings, :mod:`support.synth`)
joined by hard-edged wipes of known frames, left to right and an iris; and the same
scenes cut by a large object that crosses a fixed view without covering it (no wipe).
"""

import numpy as np
import pytest

from curate.codec import probe
from curate.probe import ProbeStage
from curate.split import SplitStage
from curate.split.gradual import GradualScan
from curate.split.transitions import thumbnail
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
