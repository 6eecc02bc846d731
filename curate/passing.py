"""Objects passing a fixed camera: the still part of the picture moves with the moving one.

One pair of frames cannot tell a large object sliding across a fixed camera's textured
view from a pan under a still graphic (a lower third, a side panel, a subject the camera
follows): in both, one model explains part of the cells and the fixed camera the rest
(:mod:`curate.camfit`). Over several steps they differ. A graphic, or a followed subject,
holds its place in the frame, so the border between the still cells and the moving ones
stays put while the scene slides under it. An object carries its border along: cells
that kept still turn to moving where its front arrives, and moving cells turn still
where its back has passed. This is the occlusion order of layered motion (Wang and
Adelson, "Representing Moving Images with Layers", IEEE TIP 1994) read on the fit's
grid of cells.

:func:`passing_steps` takes, for every step of a motion track, the cells where the
strongest sliding candidate clearly beats the fixed camera (``moves``) and where the
fixed camera clearly beats it (``held``), with that candidate's translation. Runs of
steps whose candidate slides the same way at a like speed (within a factor of
``speed_ratio``) are judged as a whole: the cells held at the run's start and moving at
its end (the majority over its first and last third), and the reverse, are counted per
line along the motion. One is *carried* when, along its line, moving cells lay only
behind it (upstream of the motion) at the start, for a cell taken over, or only ahead of
it at the end, for a cell let go: an object's front and back. Where at least
``min_carried`` cells are carried on at least ``min_lines`` lines, at most half as many
changed otherwise, and the border moved by more than one cell along some lines
(``per_line``: carried cells over the lines that carried any), the run's moving steps are
the fixed camera's, and the candidate moved an object. The last two conditions are for a
graphic's edge that cuts a line of cells in two: as the scene's texture slides under the
part of such a cell left open, the cut column goes from moving to still and back on every
line at once (one cell a line), and a band's cut rows (two lines) follow the texture's
own edges along them. Last, an object's edge moves with it: where a line carried two cells
or more of one edge, the steps between their changes give the border's pace against the
candidate's speed, which must lie within ``pace`` (0.5-2). A graphic cut or faded on or
off over the side the scene comes from or goes to changes the same cells, but all at one
step (pace 0), and one that wipes on or slides in keeps a pace of its own.

Measured on ``bench/camera_large.py``: docs/benchmarks.md, "Large objects passing a fixed camera".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StepCells:
    """One step's cells for :func:`passing_steps`: ``moves`` and ``held``, ``(cells * cells,)
    bool`` row by row (the strongest sliding candidate clearly beats the fixed camera;
    the fixed camera clearly beats it), the candidate's translation ``tx``, ``ty`` in
    pixels per step, whether a moving model was chosen for the step (``moving``), and the
    ``cell`` size, (width, height) in pixels."""

    moves: np.ndarray
    held: np.ndarray
    tx: float
    ty: float
    moving: bool
    cell: tuple[float, float]


def _key(step: StepCells | None, min_px: float) -> tuple[int, int, float] | None:
    """(axis, sign, speed) of a step's candidate: axis 1 for a pan (along rows), 0 for a tilt."""
    if step is None or not step.moves.any():
        return None
    axis = 1 if abs(step.tx) >= abs(step.ty) else 0
    v = step.tx if axis == 1 else step.ty
    if abs(v) < min_px:
        return None
    return axis, 1 if v > 0 else -1, abs(v)


def runs(steps: list[StepCells | None], min_px: float = 1.0, speed_ratio: float = 2.0,
         gap: int = 0) -> list[list[int]]:
    """Indices of maximal runs of steps whose candidate slides along one axis, one way, at a
    speed within ``speed_ratio`` of the run's step before (``min_px`` pixels a step at least).
    Up to ``gap`` steps in a row with no such candidate (None, a zoom, a still step) are
    passed over and left out of the run; a candidate moving otherwise ends it."""
    out: list[list[int]] = []
    cur: list[int] = []
    last, missed = None, 0
    for i, step in enumerate(steps):
        key = _key(step, min_px)
        if key is None and cur and missed < gap:
            missed += 1
            continue
        if (cur and key and key[:2] == last[:2]
                and 1 / speed_ratio <= key[2] / last[2] <= speed_ratio):
            cur.append(i)
        else:
            if cur:
                out.append(cur)
            cur = [i] if key else []
        last, missed = key, 0
    if cur:
        out.append(cur)
    return out


@dataclass(frozen=True)
class Carried:
    """What one run's cells did (:func:`carried`): ``cells`` carried by an object's front or
    back, ``other`` cells that changed between held and moving otherwise, the ``lines``
    along the motion with a carried cell, and ``pace``, the border's speed over the
    candidate's as the steps at which neighbouring carried cells changed give it (1 for an
    object's edge, which moves with it; 0 for a graphic cut or faded on or off at once,
    whose cells all change at one step; -1 for a border that went against the motion; None
    where no line carried two cells of one edge)."""

    cells: int
    other: int
    lines: int
    pace: float | None


def _switch(before: np.ndarray, after: np.ndarray) -> float:
    """The step at which a cell's sequence best turns from ``before`` to ``after`` (``(n,)
    bool`` each): the mean of the best split points 1..n-1."""
    score = np.cumsum(before)[:-1] + (after.sum() - np.cumsum(after)[:-1])
    return float(np.flatnonzero(score == score.max()).mean() + 1)


def carried(steps: list[StepCells], cells: int) -> Carried:
    """For one run (module docstring): the cells whose change between the run's first and
    last third an object's front or back explains, the rest, and the border's pace."""
    first = steps[0]
    axis = 1 if abs(first.tx) >= abs(first.ty) else 0
    forward = (first.tx if axis == 1 else first.ty) > 0
    moves = np.array([s.moves.reshape(cells, cells) for s in steps])
    held = np.array([s.held.reshape(cells, cells) for s in steps])
    if axis == 0:  # a tilt: lines along the motion are columns
        moves, held = moves.transpose(0, 2, 1), held.transpose(0, 2, 1)
    if not forward:  # the motion now runs towards higher indices along each line
        moves, held = moves[:, :, ::-1], held[:, :, ::-1]
    k = max(1, math.ceil(len(steps) / 3))
    h0, m0 = held[:k].mean(0) > 0.5, moves[:k].mean(0) > 0.5
    h1, m1 = held[-k:].mean(0) > 0.5, moves[-k:].mean(0) > 0.5
    good = other = 0
    edges: dict[tuple[int, bool], list[tuple[int, float]]] = {}
    for r, c in zip(*np.nonzero((h0 & m1) | (m0 & h1))):
        front = bool(h0[r, c])
        if front:  # taken over: the moving part came from behind
            ok = m0[r, :c].any() and not m0[r, c + 1:].any()
        else:  # let go: the moving part went on ahead
            ok = m1[r, c + 1:].any() and not m1[r, :c].any()
        good += int(ok)
        other += int(not ok)
        if ok:
            seq = (held[:, r, c], moves[:, r, c]) if front else (moves[:, r, c], held[:, r, c])
            edges.setdefault((int(r), front), []).append((int(c), _switch(*seq)))
    return Carried(good, other, len({r for r, _ in edges}), _pace(edges, steps, axis))


def _pace(edges: dict, steps: list[StepCells], axis: int) -> float | None:
    """Border speed over candidate speed: the steps between the changes of neighbouring
    carried cells along one line and edge, pooled over lines, against the cell length over
    the candidate's median speed (pixels a step)."""
    cov = var = 0.0
    for found in edges.values():
        if len(found) < 2:
            continue
        c, t = np.array(found, float).T
        cov += float(((c - c.mean()) * (t - t.mean())).sum())
        var += float(((c - c.mean()) ** 2).sum())
    if var == 0:
        return None
    cell = steps[0].cell[0] if axis == 1 else steps[0].cell[1]
    speed = float(np.median([abs(s.tx) if axis == 1 else abs(s.ty) for s in steps]))
    steps_per_cell = cov / var
    if steps_per_cell <= 0:
        return 0.0 if steps_per_cell == 0 else -1.0
    return cell / speed / steps_per_cell


def passing_steps(steps: list[StepCells | None], cells: int, min_carried: int = 5,
                  min_lines: int = 3, per_line: float = 1.2, other_share: float = 0.5,
                  gap: int = 0, pace: tuple[float, float] = (0.5, 2.0)) -> set[int]:
    """Indices of the steps whose chosen moving model is an object passing a fixed camera
    (module docstring). ``steps``: one per motion step, None where no sliding candidate
    was measured; ``other_share``: the most other changed cells per carried one; ``gap``:
    steps with no sliding candidate a run passes over (:func:`runs`); ``pace``: the
    border's speed over the candidate's must lie in this range where it is measured
    (:class:`Carried`). Returns an empty set when none."""
    out: set[int] = set()
    for run in runs(steps, gap=gap):
        moving = [i for i in run if steps[i].moving]
        if not moving or len(run) < 2:
            continue
        got = carried([steps[i] for i in run], cells)
        if (got.cells >= min_carried and got.lines >= min_lines and got.other <= other_share * got.cells
                and got.cells >= per_line * got.lines
                and (got.pace is None or pace[0] <= got.pace <= pace[1])):
            out.update(moving)
    return out
