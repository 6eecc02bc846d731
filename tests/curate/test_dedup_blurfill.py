"""Blurred fill: a clip placed whole in a frame of another aspect over a blurred copy of itself.

The copies are made here from rendered scenes (:mod:`support.synth`, a fixed camera with
blobs drifting), so the truth is exact: a 16:9 clip centred in a 9:16 frame (rows
``(456 - 144) / 2 = 156`` to ``300``) and a 4:3 clip centred in a 16:9 frame (columns
32 to 224), each over its own picture scaled to cover the frame, blurred and dimmed.
The negatives: a speaker (head and shoulders) in front of a smooth wall, and a shot whose
top and bottom fall out of focus gradually (a shallow depth of field).
"""

import cv2
import numpy as np
import pytest

from curate.dedup import DedupStage
from curate.dedup.blurfill import fill_box
from curate.dedup.pads import content_box, grey, picture_box
from curate.embed import picture_share
from support.edited import clip as _clip
from support.edited import record as _record


def blur_fill(frames: np.ndarray, fh: int, fw: int, sigma: float = 12.0, dim: float = 0.7,
              up: int = 0) -> np.ndarray:
    """``frames`` ``(T, h, w, 3)`` centred in ``fh x fw`` frames (``up`` pixels above the
    middle) over themselves scaled to cover the frame, blurred by ``sigma`` px and
    multiplied by ``dim``."""
    h, w = frames.shape[1:3]
    cover = max(fh / h, fw / w)
    sh, sw = max(fh, round(h * cover)), max(fw, round(w * cover))
    top, left, y, x = (sh - fh) // 2, (sw - fw) // 2, (fh - h) // 2 - up, (fw - w) // 2
    out = []
    for f in frames:
        back = cv2.GaussianBlur(cv2.resize(f, (sw, sh))[top:top + fh, left:left + fw], (0, 0), sigma)
        frame = (back * dim).astype(np.uint8)
        frame[y:y + h, x:x + w] = f
        out.append(frame)
    return np.stack(out)


def speaker(n: int = 12, w: int = 256, h: int = 144) -> np.ndarray:
    """A fixed camera on a person (textured head and shoulders, swaying) in front of a
    smooth wall: a gentle gradient with a little sensor noise, neither flat nor blurred copy."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:h, 0:w]
    wall = 150 + 30 * xx / w - 20 * yy / h
    body = _clip(0.0, dur=n / 4.0, w=w, h=h, seed=5)
    out = []
    for k in range(n):
        cx = w / 2 + 3 * np.sin(k)
        head = (xx - cx) ** 2 / 18 ** 2 + (yy - 0.3 * h) ** 2 / 24 ** 2 <= 1
        shoulders = (np.abs(xx - cx) <= 50) & (yy >= 0.5 * h)
        person = head | shoulders
        frame = np.repeat((wall + rng.normal(0, 1.0, wall.shape))[..., None], 3, axis=2)
        frame[person] = body[k][person]
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(out)


def torso_between_walls(n: int = 12, w: int = 256, h: int = 256) -> np.ndarray:
    """A tight crop of someone signing before a plain wall: a textured torso filling the
    height with straight sides (a 3:4 picture's aspect between them), smooth walls either
    side, and a door frame's sharp edge in the left one."""
    rng = np.random.default_rng(4)
    body = _clip(0.0, dur=n / 4.0, w=w, h=h, seed=6)
    yy, xx = np.mgrid[0:h, 0:w]
    wall = 120 + 25 * xx / w + 30 * yy / h  # no column is flat (a flat one is a pad anyway)
    out = []
    for k in range(n):
        frame = np.repeat((wall + rng.normal(0, 1.0, wall.shape))[..., None], 3, axis=2)
        frame[:, 20:26] = 60  # the door frame
        frame[:, 32:224] = body[k][:, 32:224]  # 192 x 256: 3:4
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(out)


def shallow_focus(n: int = 12, w: int = 256, h: int = 456) -> np.ndarray:
    """A portrait shot whose top and bottom thirds fall out of focus more and more with
    their distance from the sharp middle (no straight edge where the focus ends)."""
    frames = _clip(0.0, dur=n / 4.0, w=w, h=h, seed=9)
    out = []
    for f in frames:
        levels = [f] + [cv2.GaussianBlur(f, (0, 0), s) for s in np.linspace(0.5, 12, 23)]
        rows = np.abs(np.arange(h) - h / 2) / (h / 2)  # 0 in the middle, 1 at the edges
        which = np.clip(((rows - 0.3) / 0.7 * 24).astype(int), 0, 23)  # sigma grows by 0.5 px a step
        out.append(np.stack([levels[which[y]][y] for y in range(h)]))
    return np.stack(out)


def test_the_picture_inside_a_portrait_fill_is_found_in_rgb_and_in_luma():
    orig = _clip(0.0, w=256, h=144)
    filled = blur_fill(orig, 456, 256)
    for frames in (filled, grey(filled)):
        y0, y1, x0, x1 = content_box(frames)
        assert (x0, x1) == (0, 256)
        assert y0 == pytest.approx(156, abs=2) and y1 == pytest.approx(300, abs=2), (y0, y1)
    assert picture_share(content_box(filled), 456, 256) == pytest.approx(144 / 456, abs=0.01)


def test_the_picture_inside_a_pillar_fill_is_found():
    orig = _clip(0.0, w=192, h=144, seed=4)
    y0, y1, x0, x1 = content_box(blur_fill(orig, 144, 256, sigma=8.0, dim=0.85))
    assert (y0, y1) == (0, 144)
    assert x0 == pytest.approx(32, abs=2) and x1 == pytest.approx(224, abs=2), (x0, x1)


def test_a_speaker_before_a_smooth_wall_a_torso_between_walls_and_a_shallow_focus_keep_their_frame():
    for frames in (speaker(), shallow_focus(), torso_between_walls()):
        assert fill_box(grey(frames)) is None
        assert content_box(frames) == (0, frames.shape[1], 0, frames.shape[2])


def test_dedup_keeps_the_original_and_drops_its_filled_copy():
    orig, other = _clip(0.0, w=256, h=144), _clip(0.0, w=256, h=144, seed=8)
    recs = [_record("orig", orig, size=(1280, 720)),
            _record("filled", blur_fill(orig, 456, 256), path="b.mp4", size=(720, 1280)),
            _record("other", other, path="c.mp4", size=(1280, 720)),
            _record("other-filled", blur_fill(other, 456, 256, sigma=20.0, dim=0.5), path="d.mp4",
                    size=(720, 1280))]
    assert recs[1].picture_share == pytest.approx(144 / 456, abs=0.01)
    kept, dropped = DedupStage().run(recs)
    assert [r.clip_id for r in kept] == ["orig", "other"]
    assert sorted((r.clip_id, k) for r, k, _ in dropped) == [("filled", "orig"), ("other-filled", "other")]


def test_a_fill_off_the_middle_or_around_a_letterboxed_film_is_found():
    orig = _clip(0.0, w=256, h=144)
    up = blur_fill(orig, 456, 256, up=20)  # set above the middle, room for captions below
    (y0, y1, x0, x1), fill = picture_box(up)
    assert fill and (x0, x1) == (0, 256)
    assert y0 == pytest.approx(136, abs=2) and y1 == pytest.approx(280, abs=2), (y0, y1)
    assert picture_share((y0, y1, x0, x1), 456, 256, fill=True) == pytest.approx(144 / 456, abs=0.01)
    film = np.pad(_clip(0.0, w=256, h=108, seed=5), ((0, 0), (18, 18), (0, 0), (0, 0)))  # 2.37:1 in 16:9 bars
    y0, y1, x0, x1 = content_box(blur_fill(film, 456, 256))
    assert y0 == pytest.approx(156 + 18, abs=2) and y1 == pytest.approx(300 - 18, abs=2), (y0, y1)


def test_dedup_keeps_the_original_over_a_copy_filled_off_the_middle():
    orig = _clip(0.0, w=256, h=144)
    recs = [_record("filled", blur_fill(orig, 456, 256, up=20), path="b.mp4", size=(256, 456)),
            _record("orig", orig, size=(456, 256))]
    kept, dropped = DedupStage().run(recs)
    assert [r.clip_id for r in kept] == ["orig"] and [(r.clip_id, k) for r, k, _ in dropped] == [("filled", "orig")]
