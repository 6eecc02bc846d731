"""Objects passing a fixed camera against pans under still graphics (curate.passing).

Two kinds of input with known truth: grids of cells written by hand (where the moving
model and the fixed camera win, step by step), and frames made here, a textured fixed
view with a large opaque object sliding across it at a known speed, or a textured scene
panned under a still panel. The object's border moves with it; the panel's stays.
"""

import functools

import cv2
import numpy as np
import pytest

import curate.passing as passing
import curate.score as score
from curate.camera import camera_segments
from curate.passing import Carried, StepCells, carried, passing_steps, runs
from curate.score import motion_track
from support.movers import with_object
from support.synth import render

FPS = 4.0
W, H = 228, 128
CELLS = 8
CELL = (12.0, 12.0)  # cell size in pixels: at 6 px a step a border crosses a cell in 2 steps


def _cells(moving_cols, held_cols, tx=6.0, ty=0.0, moving=True, rows=range(CELLS)):
    """A step whose candidate wins the given columns of ``rows`` and the fixed camera the others given."""
    m, h = np.zeros((CELLS, CELLS), bool), np.zeros((CELLS, CELLS), bool)
    for r in rows:
        m[r, list(moving_cols)] = True
        h[r, list(held_cols)] = True
    return StepCells(moves=m.ravel(), held=h.ravel(), tx=tx, ty=ty, moving=moving, cell=CELL)


def _object_steps(n=9, width=3, speed=0.5, tx=6.0):
    """An object ``width`` columns wide entering from the left at ``speed`` columns a step."""
    out = []
    for i in range(n):
        lo = int(i * speed) - width + 1
        cols = [c for c in range(lo, lo + width) if 0 <= c < CELLS]
        out.append(_cells(cols, [c for c in range(CELLS) if c not in cols], tx=tx))
    return out


def test_a_border_moving_with_the_model_is_an_object_and_a_fixed_one_a_graphic():
    obj = _object_steps()
    got = carried(obj, CELLS)
    assert got.other == 0 and got.lines == CELLS and got.cells >= 2 * CELLS  # taken over at the front, let go at the back
    assert got.pace == pytest.approx(1.0, abs=0.25)  # the border moves with the object
    assert passing_steps(obj, CELLS) == set(range(len(obj)))
    panel = [_cells(range(0, 6), range(6, 8)) for _ in range(9)]  # a pan under a still side panel
    assert carried(panel, CELLS) == Carried(0, 0, 0, None) and passing_steps(panel, CELLS) == set()


def test_a_graphic_edge_cutting_a_column_of_cells_is_no_object():
    """A panel's edge halfway across column 6: the scene sliding under the open half makes
    that column still for the first steps and moving for the last, on every row at once.
    The border moved by one cell only, so no object; two columns, one after the other at the
    model's pace, would be one."""
    cut = [_cells(range(0, 6 if i < 5 else 7), range(6 if i < 5 else 7, 8)) for i in range(9)]
    assert carried(cut, CELLS) == Carried(CELLS, 0, CELLS, None) and passing_steps(cut, CELLS) == set()
    edge = [5, 5, 5, 6, 6, 7, 7, 7, 7]  # the border's column at each step: 2 steps a cell
    two = [_cells(range(0, e), range(e, 8)) for e in edge]
    assert carried(two, CELLS).cells == 2 * CELLS and passing_steps(two, CELLS) == set(range(9))


def test_a_graphic_cut_or_faded_on_is_no_object():
    """A side panel two columns wide cut on at step 4 over the side the pan's content comes
    from: the same cells change as when an object's back passes, but all at one step (pace
    0), where an object's back crosses a cell in two steps at this speed. A panel wiping on
    at four times the pan's speed is no object either."""
    popin = [_cells(range(2 if i >= 4 else 0, 8), range(0, 2) if i >= 4 else []) for i in range(9)]
    got = carried(popin, CELLS)
    assert got.cells == 2 * CELLS and got.pace == 0 and passing_steps(popin, CELLS) == set()
    fast = [_cells(range(min(2 * i, 6), 8), range(0, min(2 * i, 6))) for i in range(9)]  # 2 columns a step: 4x
    got = carried(fast, CELLS)
    assert got.pace > 3 and passing_steps(fast, CELLS) == set()
    slow = [_cells(range(min(i // 2, 4), 8), range(0, min(i // 2, 4))) for i in range(9)]  # the pan's pace
    assert carried(slow, CELLS).pace == pytest.approx(1.0, abs=0.25) and passing_steps(slow, CELLS) == set(range(9))


def test_a_band_whose_cut_rows_follow_the_scene_is_no_object():
    """A still band over rows 2-5 whose top and bottom rows are cut by its edges: along those
    two rows the scene's textured part advances into the band's held cells as it slides.
    Seven cells carried on two lines only; on three lines it would be an object."""
    def band(i, rows):
        m, h = np.zeros((CELLS, CELLS), bool), np.zeros((CELLS, CELLS), bool)
        m[[0, 1, 6, 7]] = True
        h[3:5] = True
        for r in rows:
            m[r, :2 + i // 2] = True
            h[r, 2 + i // 2:] = True
        return StepCells(moves=m.ravel(), held=h.ravel(), tx=6.0, ty=0.0, moving=True, cell=CELL)
    cut = [band(i, (2, 5)) for i in range(9)]
    got = carried(cut, CELLS)
    assert got.lines == 2 and got.cells >= 5 and got.other == 0 and passing_steps(cut, CELLS) == set()
    assert passing_steps([band(i, (2, 3, 5)) for i in range(9)], CELLS) == set(range(9))


def test_a_border_moving_against_the_model_or_too_little_is_no_object():
    # the still part grows towards the motion's source: a subject the camera follows drifting back
    back = [_cells(range(0, 6 - i // 3), range(6 - i // 3, 8)) for i in range(9)]
    got = carried(back, CELLS)
    assert got.cells == 0 and got.other > 0 and passing_steps(back, CELLS) == set()
    # one row's border moving: fewer carried cells than the least
    one_row = [_cells(range(0, 6), range(6, 8), rows=range(1, 8)) for _ in range(9)]
    one_row = [StepCells(moves=np.concatenate([o.moves[:8] | (np.arange(8) < 2 + i // 2), o.moves[8:]]),
                         held=np.concatenate([o.held[:8] | (np.arange(8) >= 2 + i // 2), o.held[8:]]),
                         tx=o.tx, ty=o.ty, moving=True, cell=CELL) for i, o in enumerate(one_row)]
    assert 0 < carried(one_row, CELLS).cells < 5 and passing_steps(one_row, CELLS) == set()


def test_runs_follow_one_direction_at_a_like_speed_and_only_chosen_steps_are_held():
    # the same object moving left, seen from the right
    steps = [StepCells(moves=s.moves.reshape(8, 8)[:, ::-1].ravel(), held=s.held.reshape(8, 8)[:, ::-1].ravel(),
                       tx=s.tx, ty=s.ty, moving=i % 2 == 0, cell=CELL) for i, s in enumerate(_object_steps(tx=-6.0))]
    assert passing_steps(steps, CELLS) == {0, 2, 4, 6, 8}  # steps where the fixed camera already won stay
    mixed = _object_steps()[:4] + [None] + _object_steps()[4:]
    assert runs(mixed) == [[0, 1, 2, 3], [5, 6, 7, 8, 9]]
    assert runs(mixed, gap=1) == [[0, 1, 2, 3, 5, 6, 7, 8, 9]]  # a step with no candidate passed over
    assert runs(_object_steps()[:4] + [None, None] + _object_steps()[4:], gap=1) == [[0, 1, 2, 3], [6, 7, 8, 9, 10]]
    fast = _object_steps()
    fast[5] = StepCells(fast[5].moves, fast[5].held, tx=20.0, ty=0.0, moving=True, cell=CELL)
    assert runs(fast) == [[0, 1, 2, 3, 4], [5], [6, 7, 8]]
    tilt = [StepCells(s.moves.reshape(8, 8).T.ravel(), s.held.reshape(8, 8).T.ravel(), 0.0, 6.0, True, CELL)
            for s in _object_steps()]
    assert passing_steps(tilt, CELLS) == set(range(9))


def _view(seed, n, pan=0.0):
    """Luma frames ``(n, H, W) uint8`` of a textured scene, panned by ``pan`` scene widths a second."""
    return np.stack([cv2.cvtColor(render(seed, i / FPS, W, H, (pan, 0.0), 0.0, drift=0.0), cv2.COLOR_RGB2GRAY)
                     for i in range(n)])


def _labels(frames):
    track, _ = motion_track(frames, [i / FPS for i in range(len(frames))], "dis")
    return [s.camera for s in camera_segments(track, len(frames) / FPS)], track


@pytest.mark.parametrize("vx", [12, -12])
def test_a_large_object_crossing_a_fixed_view_is_no_pan(vx, monkeypatch):
    """An object 60 % of the width and 80 % of the height crosses a fixed textured view at 12
    px a frame (0.21 widths a second): the still cells move with it, so it is no pan. Without
    the rule the object wins more cells than the fixed camera and reads as one."""
    x0 = -60 if vx > 0 else W - 77
    frames = with_object(_view(41, 13), x0, 12, 137, 102, vx, 0)
    labels, track = _labels(frames)
    assert set(labels) == {"static"} and all(s.pan_x == 0 for s in track)
    # the held steps are fitted again with the fixed camera: the object is the subject motion
    segs = camera_segments(track, len(frames) / FPS)
    assert {s.subject for s in segs} == {"right" if vx > 0 else "left"}
    monkeypatch.setattr(score, "passing_steps", lambda steps, cells: set())
    assert set(_labels(frames)[0]) != {"static"}


def test_a_large_object_rising_or_falling_across_a_fixed_view_is_no_tilt(monkeypatch):
    """A lift or something falling: an object 83 % of the width and 70 % of the height moves
    down 8 px a frame across a fixed textured view. Its top and bottom edges carry the still
    cells' border along the columns, so it is no tilt; without the rule it reads as one."""
    frames = with_object(_view(46, 13), 20, -70, 190, 90, 0, 8)
    assert set(_labels(frames)[0]) == {"static"}
    monkeypatch.setattr(score, "passing_steps", lambda steps, cells: set())
    assert "tilt_up" in _labels(frames)[0]


def test_a_pan_under_a_still_panel_and_a_lower_bar_is_a_pan():
    """An L-shaped graphic (a side panel 30 % wide and a bar over the bottom 30 %) holds still
    while the scene pans under it: its border stays put, so the pan stays."""
    frames = _view(42, 13, pan=0.15)
    still = _view(43, 1)[0]
    frames[:, :, :68] = still[:, :68]
    frames[:, H - 38:] = still[H - 38:]
    assert _labels(frames)[0] == ["pan_right"]


@pytest.mark.parametrize("side", ["right", "left"])
def test_a_pan_keeps_its_label_when_a_side_panel_is_cut_on(side, monkeypatch):
    """A panel 35 % wide is cut on halfway through a pan. On the side the content comes from
    (the right, for a pan right) its cells change as an object's back would, but all at one
    step; the pace check keeps the pan, which without it reads static from there on."""
    frames = _view(44, 13, pan=0.15)
    still = _view(45, 1)[0]
    cols = slice(W - 80, W) if side == "right" else slice(0, 80)
    frames[6:, :, cols] = still[:, cols]
    assert set(_labels(frames)[0]) == {"pan_right"}
    if side == "right":
        loose = functools.partial(passing.passing_steps, pace=(-np.inf, np.inf))
        monkeypatch.setattr(score, "passing_steps", loose)
        assert "static" in _labels(frames)[0]
