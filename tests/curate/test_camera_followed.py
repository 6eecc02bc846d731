"""A subject the camera follows: still in the frame, the background sliding past around it.

:func:`curate.camrules.held_subject` lets a sliding model win where the fixed camera
clearly wins more cells, when those cells are a subject its wins surround
(``FitParams.held_share``); the tracking shots below are checked against the fit without
the rule (``held_share=None``) too, which labels them ``static``. Where the subject holds
most of the tracked corners, :func:`curate.camcand.candidates` fits the background's
motion to the corners the still model leaves out.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import curate.camfit as camfit
from curate.camcand import candidates
from curate.camera import camera_segments
from curate.camrules import distinct, held_subject
from curate.flow import dense_flow
from curate.score import motion_track
from support.movers import with_band, with_object
from support.synth import render

FPS = 4.0
W, H = 224, 128


def _scene(seed: int, n: int, move=(0.0, 0.0)) -> np.ndarray:
    """Luma frames ``(n, H, W) uint8`` of a textured scene, the camera panning or tilting by
    ``move`` (scene widths, heights a second)."""
    return np.stack([cv2.cvtColor(render(seed, i / FPS, W, H, move, 0.0, drift=0.0), cv2.COLOR_RGB2GRAY)
                     for i in range(n)])


def _track(frames):
    return motion_track(frames, [i / FPS for i in range(len(frames))], "dis")[0]


def _cameras(track) -> list[str]:
    return [s.camera for s in camera_segments(track, len(track) / FPS + 1 / FPS)]


@pytest.fixture
def rule_off(monkeypatch):
    """Run the fit without the followed-subject rule."""
    defaults = list(camfit.fit_camera.__defaults__)
    defaults[0] = camfit.FitParams(held_share=None)
    monkeypatch.setattr(camfit.fit_camera, "__defaults__", tuple(defaults))


MOVES = [((0.12, 0.0), "pan_right"), ((-0.2, 0.0), "pan_left"), ((0.0, 0.1), "tilt_down")]


@pytest.mark.parametrize("move,label", MOVES)
def test_a_large_subject_the_camera_follows_leaves_the_move(move, label):
    """A subject 110 x 96 px (37 % of the 224 x 128 frame) stands still on the bottom edge
    while the scene pans or tilts behind it: the fixed camera clearly wins more cells (the
    subject's and those its edges cross), but they touch the bottom edge only and the
    background's wins reach the top and both sides."""
    frames = with_object(_scene(37, 9, move), 60, 32, 110, 96, 0, 0)
    track = _track(frames)
    assert set(_cameras(track)) == {label}
    got = np.median([s.pan_x for s in track]) if move[0] else np.median([s.pan_y for s in track])
    assert got == pytest.approx(-(move[0] or move[1] * H / W), rel=0.15)  # frame widths/s
    assert all(s.confidence >= 0.5 for s in track)  # the subject is explained, not a rival motion
    assert all(s.subject_share > 0.2 for s in track)  # ...and moves against the camera's model


@pytest.mark.parametrize("seed", [37, 38, 39])
def test_the_corners_a_followed_subject_leaves_out_give_the_background_pan(seed):
    """A subject 150 x 108 px (57 % of the frame) holds most of the tracked corners still, so
    the corners' RANSAC model is the fixed camera, and the flow's second motion is blurred
    across the subject's border; a RANSAC fit to the corners that model leaves out is the
    background's pan, 0.12 scene widths a second = 6.72 px between motion-sample frames."""
    frames = with_object(_scene(seed, 2, (0.12, 0.0)), 40, 20, 150, 108, 0, 0)
    models, _ = candidates(frames[0], frames[1], dense_flow(frames[0], frames[1]), camfit.FitParams())
    corners, second = models[-2], models[-1]
    assert not distinct(corners, np.eye(2, 3), frames[0].shape, 0.75)
    assert second[0, 2] == pytest.approx(-0.12 * W / FPS, abs=0.15)
    assert abs(second[1, 2]) < 0.15


@pytest.mark.usefixtures("rule_off")
@pytest.mark.parametrize("move", [m for m, _ in MOVES])
def test_without_the_rule_the_followed_subject_reads_as_a_fixed_camera(move):
    frames = with_object(_scene(37, 9, move), 60, 32, 110, 96, 0, 0)
    assert set(_cameras(_track(frames))) == {"static"}


def test_a_band_passing_behind_a_still_person_is_no_pan():
    """A fixed view: a textured band across the whole width (rows 30-98) moves left 8 px a
    frame behind a still person on the bottom edge. The still cells above the band reach
    both sides of the picture, so they are no followed subject."""
    frames = with_object(with_band(_scene(36, 9), 30, 68, 8), 80, 60, 60, 68, 0, 0)
    track = _track(frames)
    assert all(s.pan_x == 0 and s.pan_y == 0 for s in track)
    assert set(_cameras(track)) == {"static"}


def _grid(rows: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``still`` and ``moves`` cells from rows of ``S`` (the fixed camera wins), ``W`` (the
    model wins) and anything else (neither)."""
    cells = np.array([list(r) for r in rows])
    return (cells == "S").ravel(), (cells == "W").ravel()


BLOCK = ["WWW  WWW", "WW    WW", "WW    WW", "WWSSSSWW", "WWSSSSWW", "W SSSS W", "W SSSSWW", "WWSSSSWW"]
CORNER = ["  WWWWWW", "     WWW", "SSSS  WW", "SSSSSSWW", "SSSSSSWW", "SSSSSSWW", "SSSSSSWW", "SSSSSSWW"]
BAND = ["SSSSSSSS", "SSSSSSSS", "WWWWWWWW", "WWWWWWWW", "WWWWWWWW", "WWSSSWWW", "WWSSSWWW", "WWSSSWWW"]
SIDES = ["SWWWWWWS", "SWWWWWWS", "SWWWWWWS", "S      S", "S      S", "S      S", "S      S", "S      S"]
TWO_EDGES = ["        ", "        ", "    WWWW", "SS  WWWW", "SS  WWWW", "SS  WWWW", "SS  WWWW", "SS  WWWW"]
TRAIN = ["WWWWWWWW", "WWWWWWWW", "W WSSWWW", " SSSSSS ", " SSSSSS ", " SSSSSS ", " SSSSSS ", " SSSSSS "]
TALL = ["WW SS WW", "W  SS  W", "WW SSS W", "W  SSS W", "WW SSS W", "W  SSS W", "WW SSSWW", "WW SSSWW"]
TALL_AT_SIDE = ["SSS WWWW", "SSS  WWW", "SSSS WWW", "SSSS  WW", "SSSS WWW", "SSS  WWW", "SSS WWWW", "SSSSWWWW"]


@pytest.mark.parametrize("rows,expected", [(BLOCK, True), (CORNER, True), (BAND, False), (SIDES, False),
                                           (TWO_EDGES, False), (TRAIN, False), (TALL, True), (TALL_AT_SIDE, False),
                                           (["WWWWWWWW"] * 8, False)])
def test_held_subject_is_an_island_the_model_surrounds_on_three_edges(rows, expected):
    """A block on the bottom edge or in a corner, the model's wins on three edges and beside
    it on the bottom row, is a followed subject; still cells reaching both sides (a band of
    background above a river, two still posts), wins on two edges only (a large object in
    a corner), wins above the block but none beside it on the edge it stands on (a train
    passing over people on a featureless platform), or no still cell at all, are not. A
    subject from the top of the frame to the bottom is one where the background slides past
    on both sides of it, not where it stands at one side (a post before a passing train).
    A tilt judges the same grids turned."""
    still, moves = _grid(rows)
    assert held_subject(still, moves, 8) is expected
    turned = [cells.reshape(8, 8).T.ravel() for cells in _grid(rows)]
    assert held_subject(*turned, 8, axis=0) is expected
