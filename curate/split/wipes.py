"""Wipes: one shot replacing another behind a moving edge (left to right, top down, a
diagonal, an iris; FFmpeg's ``xfade`` wipes, a broadcast's).

A dissolve mixes every pixel at once (:mod:`curate.split.transitions`); a wipe mixes at
most along its edge (a soft-edged one, FFmpeg's ``smoothleft``): each pixel shows the
outgoing shot's picture, then, once the edge has passed it, the incoming one's, and the
edge passes neighbouring pixels at neighbouring times. No frame
differs much from the one before (only the band the edge crosses changes), so neither the
content score nor the dissolve test sees it, and a clip would hold both shots (a break
test: every wipe of 0.3-1 s between shots of the footage was missed).

Test of a window ``(a, a + L)`` of 32-pixel thumbnails (``(n, h, w, 3) uint8`` BGR), with
ends ``A = x[a]`` and ``B = x[a + L]``. Both shots go on moving while the edge crosses them
(xfade plays them both; a hand-held camera shakes, people walk), so no pixel need sit at
``A``'s or ``B``'s picture for long; what a wipe gives each pixel is one change, larger
than the shots' own, at a time the edge sets:

1. the whole picture changes: ``rms(B - A)`` at least ``min_change`` and at least
   ``min_spread`` of the pixels changed beyond what a gain and offset of one end explains
   (the dissolve test's spread, so an exposure step is no wipe);
2. at least 70 % of the pixels change by over 20 levels (unrelated shots differ almost
   everywhere; a hand leaving a fixed view of a table changed 30 %, and the exposure with
   it; a flat card crossing a third of a fixed view, 62 % between far-apart frames); a
   cheap screen of it on luma (:func:`screen`) comes first;
3. each changed pixel (colour distance ``T`` over 20 levels between the ends) has its
   largest change over ``k = L / stretch`` frames (a stretch: an edge that is a soft ramp
   takes a few frames to pass); it *switched* when that change is at least ``min_jump``
   of ``T`` and what it changed before the stretch (from ``A``) and after it (to ``B``)
   together at most ``max_rest`` of ``T``; at least ``min_switched`` of the pixels did
   (a pan or moving content changes a pixel all along);
4. its crossing frame is the largest one-frame step inside its stretch: no frame holds
   more than ``max_at_once`` of them (a cut holds all), at least 3 frames hold some, and
   at most ``max_edge`` of the switched pixels cross in the window's first or last ``k``
   frames (a window starting or ending inside the change: a longer one holds it whole);
5. the crossings are smooth in space: at least ``min_smooth`` of the neighbouring pairs
   of changed pixels cross within ``max(1, 0.15 L)`` frames of each other (the edge moves
   steadily; the pixels of fast motion or a whip pan cross at scattered times);

6. judged on each run of overlapping hits, with the frames just outside it as its ends
   (in :class:`curate.split.gradual.GradualScan`, once twice the longest window of
   frames after the run is in, or at the source's end): the picture it leaves does not
   come back, at its end or within that many frames, nor the one it brings stand there
   before it (:func:`comes_back`: a bus, a person close to the lens, a curtain or a
   panel passing in front of a fixed camera covers the view and uncovers it), its ends
   are not one view under other light (:func:`same_view`, and the relight rule of
   :func:`curate.split.spikes.relit`: a light or a shadow sweeping across), and the
   picture does not move as a whole (:func:`slides`: a camera tilting from a wall to a
   table carries the surfaces' edge across the frame).

The wipe's frames are the densest range of the switched pixels' crossings
(:func:`_densest`: 90 % of them, widened over neighbouring frames as dense; the crossings
that moving content in a long window adds before or after it are left out), widened by a
frame each way. They go to no clip, like a dissolve's.

Measured (2026-12-05; FFmpeg xfade transitions between moving shots of the footage, and
break tests of single shots with wipe-like events; ``README.md``, "Wipes between moving
shots"). An earlier rule wanted each pixel within 0.25 of ``A`` or ``B`` (by its projection
on ``B - A``) in 80 % of the frames: it found wipes between still views and missed most
between moving ones, and all soft-edged ones. Thresholds were set on one set of xfade
videos (``car``, ``person``, ``bottle``, ``city``, ``bikes``, ``bigbuckbunny`` shots,
seed 1, and a helper's 154 xfades between still views) against the fixed-view break test
below; reported on others. Step 6's first rules came from a break test of fixed views
with things passing or light sweeping across (50 of 105 clips had a false gap without
them); :func:`slides` from a second one of hand-held shots (tilts from one surface to
another, a bus side sliding in close to the lens and staying). Same-camera wipes (two
times of one fixed view) are left to the cut rules, like jump cuts.
"""

from __future__ import annotations

import cv2
import numpy as np

from curate.split.transitions import thumb_luma

LEVEL = 20.0  # colour distance (0-255 levels) of a changed pixel


def screen(luma: np.ndarray, length: int, starts: np.ndarray, min_share: float = 0.6) -> np.ndarray:
    """Step 2 cheaply, on luma, for windows ``(a, a + length)``, ``a`` in ``starts``
    (``(k,) int``): whether at least ``min_share`` of the pixels change by over 10 grey
    levels between the ends (a colour change of 20 levels moves luma by about 11).
    ``luma``: ``(n, p) float32`` (:func:`curate.split.transitions.thumb_luma`). Returns
    ``(k,) bool``; only windows passing it reach :class:`WipeTest`."""
    out = np.zeros(len(starts), bool)
    for s in range(0, len(starts), 512):
        idx = starts[s:s + 512]
        out[s:s + 512] = (np.abs(luma[idx + length] - luma[idx]) > 10.0).mean(axis=1) >= min_share
    return out


class FrameChanges:
    """Colour distances between the thumbnails of one source 1 and ``k`` frames apart,
    measured once as frames arrive: the wipe scan's windows overlap, and each would measure
    them again. Row ``t`` of ``k`` is ``(P,) float32``, each pixel's distance between
    frames ``t`` and ``t + k``. Rows before ``offset`` are never measured, and
    :meth:`drop` forgets those no window will read, so a long source keeps only the
    scan's trailing frames."""

    def __init__(self, offset: int = 0):
        self._first: dict[int, int] = {}  # k -> frame of its first kept row
        self._rows: dict[int, np.ndarray] = {}
        self.offset = offset

    def update(self, thumbs: np.ndarray, ks) -> None:
        """Measure the rows the new frames of ``thumbs`` (``(n, h, w, 3) uint8``, the same
        frames as before and more) complete, for each ``k`` in ``ks``."""
        n = len(thumbs)
        for k in ks:
            first = self._first.setdefault(k, self.offset)
            old = self._rows.get(k)
            start = first + (0 if old is None else len(old))
            if n - k <= start:
                continue
            x = thumbs[start:n].reshape(n - start, -1, 3).astype(np.float32)
            new = np.sqrt(((x[k:] - x[:-k]) ** 2).sum(axis=-1))
            self._rows[k] = new if old is None else np.concatenate([old, new])

    def rows(self, k: int, start: int, end: int) -> np.ndarray:
        """Rows ``start .. end - 1`` of ``k``: ``(end - start, P) float32``."""
        first = self._first[k]
        return self._rows[k][start - first:end - first]

    def drop(self, before: int) -> None:
        """Forget the rows of frames before ``before``."""
        for k, first in self._first.items():
            if before > first and k in self._rows:
                self._rows[k] = self._rows[k][before - first:]
                self._first[k] = before


class WipeTest:
    """Decides whether a window is a wipe (module docstring, steps 1 and 3-5).

    Args: the thresholds of the module docstring (``min_jump``, ``max_rest``: shares of a
    pixel's change ``T``; ``min_switched``, ``max_at_once``, ``max_edge``, ``min_smooth``,
    ``cover``: shares of pixels or pixel pairs; ``stretch``: window length over the
    frames of one pixel's change); call with ``spread``, step 1's tone-curve spread, a
    callable ``(end_a, end_b) -> float`` (the dissolve test's, in
    :mod:`curate.split.gradual`).
    """

    def __init__(self, min_jump: float = 0.6, max_rest: float = 0.6, min_switched: float = 0.8,
                 max_at_once: float = 0.35, min_smooth: float = 0.93, min_spread: float = 0.5,
                 stretch: float = 8.0, max_edge: float = 0.1, cover: float = 0.9):
        self.max_edge, self.cover = max_edge, cover
        self.min_jump, self.max_rest, self.min_switched = min_jump, max_rest, min_switched
        self.max_at_once, self.min_smooth, self.min_spread, self.stretch = max_at_once, min_smooth, min_spread, stretch

    def stretch_of(self, length: int) -> int:
        """Frames ``k`` of one pixel's stretch in a window of ``length`` frames (step 3)."""
        return max(1, int(round(length / self.stretch)))

    def __call__(self, thumbs: np.ndarray, a: int, b: int, spread,
                 changes: FrameChanges | None = None) -> tuple[int, int] | None:
        """The wipe's frames ``(start, end)`` (half-open, frame indices) inside window
        ``(a, b)`` of ``thumbs`` (``(n, h, w, 3) uint8``), or None. ``changes``: the
        distances between frames 1 and ``k`` apart kept over a scan, which measures each
        once for all the windows that overlap there (:class:`FrameChanges`); measured for
        this window alone when None."""
        length = b - a
        x = thumbs[a:b + 1].reshape(length + 1, -1, 3).astype(np.float32)
        total = np.sqrt(((x[-1] - x[0]) ** 2).sum(axis=-1))
        changed = total > LEVEL
        if changed.mean() < 0.7:
            return None
        xc, total = x[:, changed], total[changed]
        k = self.stretch_of(length)
        if changes is None:
            changes = FrameChanges(offset=a)
            changes.update(thumbs[:b + 1], (1, k))
        jumps = changes.rows(k, a, b + 1 - k)[:, changed]  # (L + 1 - k, P): change over k frames from each
        at = jumps.argmax(axis=0)
        cols = np.arange(xc.shape[1])
        before = np.sqrt(((xc[at, cols] - xc[0]) ** 2).sum(axis=-1))
        after = np.sqrt(((xc[-1] - xc[at + k, cols]) ** 2).sum(axis=-1))
        switched = (jumps[at, cols] >= self.min_jump * total) & (before + after <= self.max_rest * total)
        if switched.mean() < self.min_switched:
            return None
        steps = changes.rows(1, a, b)[:, changed]  # (L, P) change from each frame to the next
        inside = at[None, :] + np.arange(k)[:, None]  # the k steps of each pixel's stretch
        cross = inside[steps[inside, cols].argmax(axis=0), cols]  # its largest step: first frame showing B, from a + 1
        counts = np.bincount(cross, minlength=length)
        edge = (cross[switched] < k) | (cross[switched] >= length - k)
        if edge.mean() > self.max_edge:
            return None  # the window starts or ends inside the change: a longer one holds it
        if counts.max() > self.max_at_once * len(cross) or (counts > 0).sum() < 3:
            return None
        grid = changed.reshape(thumbs.shape[1:3])
        if _smooth(cross, grid, length) < self.min_smooth or spread(thumbs[a], thumbs[b]) < self.min_spread:
            return None
        lo, hi = _densest(cross[switched], self.cover)
        return a + lo, min(b, a + hi + 2)


def _densest(times: np.ndarray, cover: float) -> tuple[int, int]:
    """The edge's crossing frames ``(lo, hi)`` (inclusive) among ``times`` (``(n,) int``,
    n >= 1): the shortest range that holds ``cover`` of them, widened over neighbouring
    frames that hold at least half as many a frame as the range does, so the stragglers
    that moving content in a long window adds before or after it are left out, and the
    edge's first and last frames are not."""
    t = np.sort(times)
    m = max(1, int(np.ceil(cover * len(t))))
    i = int(np.argmin(t[m - 1:] - t[:len(t) - m + 1]))
    lo, hi = int(t[i]), int(t[i + m - 1])
    counts = np.bincount(t)
    dense = 0.5 * m / (hi - lo + 1)
    while lo > 0 and counts[lo - 1] >= dense:
        lo -= 1
    while hi + 1 < len(counts) and counts[hi + 1] >= dense:
        hi += 1
    return lo, hi


def _smooth(cross: np.ndarray, changed: np.ndarray, length: int) -> float:
    """Share of 4-neighbour pairs of changed pixels whose crossing frames are within
    ``max(1, 0.15 length)`` of each other (0 when there are none)."""
    t = np.full(changed.shape, -1.0)
    t[changed] = cross
    tol = max(1.0, 0.15 * length)
    near = []
    for first, second in ((t[:-1], t[1:]), (t[:, :-1], t[:, 1:])):
        both = (first >= 0) & (second >= 0)
        near.append(np.abs(first - second)[both] <= tol)
    pairs = np.concatenate(near)
    return float(pairs.mean()) if len(pairs) else 0.0


def comes_back(thumbs: np.ndarray, a: int, b: int, horizon: int, ratio: float = 0.5) -> bool:
    """Whether the picture a wipe-like window ``(a, b)`` left comes back: frame ``b`` itself
    (its difference from ``a`` under ``ratio`` of the largest inside), a frame within
    ``horizon`` frames after ``b`` close to frame ``a`` (mean absolute difference under
    ``ratio`` of ``a``'s to ``b``'s), or one within ``horizon`` before ``a`` close to frame
    ``b``. Something passing in front of a fixed camera (a bus, a person near the lens, a
    panel sliding in and out, a curtain closed and opened) covers the view and uncovers it
    again, as a wipe never does (a break test: each was a false gap of 5-51 frames)."""
    ends = thumbs[[a, b]].astype(np.float32)
    jump = float(np.abs(ends[1] - ends[0]).mean())
    inside = thumbs[a + 1:b].astype(np.float32)
    if len(inside) and jump < ratio * float(np.abs(inside - ends[0]).mean(axis=(1, 2, 3)).max()):
        return True  # back already at the window's end: something passed across the whole run
    after = thumbs[b + 1:b + 1 + horizon].astype(np.float32)
    before = thumbs[max(0, a - horizon):a].astype(np.float32)
    near_a = np.abs(after - ends[0]).mean(axis=(1, 2, 3)) < ratio * jump if len(after) else np.zeros(0, bool)
    near_b = np.abs(before - ends[1]).mean(axis=(1, 2, 3)) < ratio * jump if len(before) else np.zeros(0, bool)
    return bool(near_a.any() or near_b.any())


def same_view(end_a: np.ndarray, end_b: np.ndarray, level: float = 0.6) -> bool:
    """Whether two ``(h, w, 3) uint8`` thumbnails show one view under other light: the
    correlation of their luma, each made zero-mean and unit-variance, is at least
    ``level`` (a gain, an offset or a tint leaves it near 1; two shots of other places
    give 0-0.3). A light, a shadow or a tint sweeping across one view switches each pixel
    once at smoothly moving times, as a wipe does (a break test: 20 of 24 were gaps)."""
    la, lb = (thumb_luma(x[None])[0] for x in (end_a, end_b))
    la, lb = la - la.mean(), lb - lb.mean()
    denom = float(np.sqrt((la * la).sum() * (lb * lb).sum()))
    return denom > 0 and float((la * lb).sum()) / denom >= level


def slides(thumbs: np.ndarray, s: int, e: int, max_shift: float = 0.3, explained: float = 0.95) -> bool:
    """Whether the picture moves as a whole over frames ``s .. e`` of ``(n, h, w, 3) uint8``
    thumbnails: in at least half of the steps from a frame to the next, the shift that
    phase correlation finds (Kuglin and Hines 1975; ``cv2.phaseCorrelate`` of their luma,
    no window: over 32 x 18 thumbnails a Hann window measured a tilt's shift at a tenth of
    it, :func:`curate.split.slides.shifts_around`) is ``max_shift`` thumbnail pixels or
    more and explains the step: the last frame moved by it differs from this one by at
    most ``explained`` of what the unmoved one does (inside a 2-pixel border). A camera
    tilting from a wall to the floor, or a bus side sliding in close to the lens, carries
    its edge across the frame with the picture; a wipe's edge moves over pictures that
    stay where they are (and the band it crosses can pull a phase correlation's peak off
    zero: no shift explains that band)."""
    if e - s < 2:
        return False
    h, w = thumbs.shape[1:3]
    luma = [cv2.cvtColor(t, cv2.COLOR_BGR2GRAY).astype(np.float32) for t in thumbs[max(s - 1, 0):e + 1]]
    moved = []
    for p, q in zip(luma, luma[1:]):
        (dx, dy), _ = cv2.phaseCorrelate(p, q)
        if np.hypot(dx, dy) < max_shift:
            moved.append(False)
            continue
        shifted = cv2.warpAffine(p, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), borderMode=cv2.BORDER_REPLICATE)
        still = float(np.abs(q - p)[2:-2, 2:-2].mean())
        moved.append(float(np.abs(q - shifted)[2:-2, 2:-2].mean()) <= explained * still)
    return float(np.mean(moved)) >= 0.5
