"""Overlay bands: the rows a re-broadcast covers with a news bar, a ticker or subtitles.

A copy with a caption bar over its lower fifth (or a channel strip along the top) differs
from its original there in every frame, by far more than anywhere else; the frame
correlation of :mod:`curate.dedup.verify` then falls to 0.8-0.95, as far apart as
distinct clips. :func:`overlay_rows` finds such a band in two clips already placed on each
other (same crop, scale and turn) so that verification can compare the rows outside it.

A band is taken only when it looks like something laid over one clip, not like what
happens in front of a fixed camera (two windows of one street camera, each with its own
passers-by along the bottom of the picture, agree everywhere else, and ignoring their
bottom rows would make them copies):

1. **strong and wide**: between the two clips' mean frames (each normalised to zero mean,
   unit spread) the band's squared difference per row is at least :data:`RATIO` times
   that of the other rows, and so is it in at least :data:`WIDE` of the band's columns (a
   bar spans the picture; a car entering along the top, heads over a table or a parked
   van along the bottom do not, and each had made windows of one fixed camera pairs);
2. **persistent**: in at least :data:`PERSIST` of the frames of each clip, the band of
   that frame differs from the other clip's median frame at least :data:`RATIO` times as
   much as the other rows do (an overlay is on every frame; a passer-by comes and goes,
   and a median frame holds the empty scene);
3. **not where both clips move**: at most one of the two clips has more than
   :data:`CONCENTRATED` of its motion (squared difference from its mean frame) inside the
   band (two crowds crossing the same bottom rows are the scene itself);
4. **the rest moves** (checked by :func:`curate.dedup.verify.similarities`): the rows
   outside the band of at least one clip differ from their mean frame by more than
   :data:`STILL` luma levels. Where nothing moves outside it, the rows left say only
   that both clips show one still background, and a full-width bus, tram or queue of
   cars along the bottom of a fixed street camera, different in each window, passed
   every other test (a helper's break test). Copies of still scenes under a bar are
   missed for it (one of the four news-bar copies of the tuning split).

Bands tried: the bottom 10-35 % of the rows and the top 10-20 %; of those that pass,
the one leaving the least disagreement in the other rows. Tuned on the ``tuning`` split
of ``bench/dedup_pairs.py`` (news bars with captions), checked against synthetic
passers-by at the bottom of a real fixed-camera frame (tests), the fixed-camera windows
of ``../shared/footage`` and a helper's attempts to break it (2-3 s windows of the street
and indoor cameras, real cut-outs pasted into them: the width test came from those).
Bars found have 83-100 % of their columns standing out; subtitles without a bar 52-100 %
(those at 0.8 or under are found without the band or not at all).
"""

from __future__ import annotations

import functools

import numpy as np

BOTTOM = (0.10, 0.35)  # shares of the rows a bottom band may cover
TOP = (0.10, 0.20)  # ... and a top band
RATIO = 4.0  # the band's disagreement over that of the other rows
PERSIST = 0.8  # share of each clip's frames where the band stands out so
CONCENTRATED = 0.5  # share of a clip's motion inside the band: that clip moves there
WIDE = 0.8  # share of the band's columns that must stand out (a bar spans the picture)
STILL = 0.5  # luma levels: the rows outside the band must move more than this (verify.similarities)


def _z(x: np.ndarray) -> np.ndarray:
    """Each ``(..., H, W)`` picture with zero mean and unit spread."""
    x = x - x.mean(axis=(-2, -1), keepdims=True)
    return x / (x.std(axis=(-2, -1), keepdims=True) + 1e-3)


def bands(rows: int) -> tuple[np.ndarray, ...]:
    """``(R,) bool`` masks of the rows kept outside each band tried (module docstring),
    read-only and cached per row count."""
    return _bands(rows)[0]


@functools.lru_cache(maxsize=64)
def _bands(rows: int) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """:func:`bands` and the same masks as one ``(B, R) float64`` matrix of 0/1."""
    out = []
    for (lo, hi), bottom in ((BOTTOM, True), (TOP, False)):
        for k in range(int(np.ceil(lo * rows)), int(hi * rows) + 1):
            keep = np.ones(rows, bool)
            if bottom:
                keep[rows - k:] = False
            else:
                keep[:k] = False
            keep.flags.writeable = False
            out.append(keep)
    matrix = np.array(out, np.float64).reshape(len(out), rows)
    matrix.flags.writeable = False
    return tuple(out), matrix


def _may_stand_out(err: np.ndarray) -> np.ndarray:
    """``(B,) bool`` for the bands of :func:`bands`: False where the band surely does not
    stand out (:func:`_stands_out` on the ``(R,)`` row disagreement ``err``). One matrix
    product in float64 for all bands, with a margin of 1e-4 of the value far above the
    rounding of NumPy's float32 means, so that every band it keeps is then tested exactly
    as before and the result is the same; most pairs have no band and stop here."""
    matrix = _bands(len(err))[1]
    e = err.astype(np.float64)
    n_keep, kept = matrix.sum(axis=1), matrix @ e
    rest = kept / n_keep
    band = (e.sum() - kept) / (len(e) - n_keep)
    return band >= RATIO * rest * (1.0 - 1e-4) - 1e-12


def _stands_out(per_row: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Whether each row of ``per_row`` (``(..., R)`` disagreement) has its band (``~keep``)
    at least :data:`RATIO` times the rest."""
    return per_row[..., ~keep].mean(axis=-1) >= RATIO * per_row[..., keep].mean(axis=-1)


def overlay_rows(xa: np.ndarray, xb: np.ndarray) -> np.ndarray | None:
    """``(R,) bool`` rows to compare outside an overlay band of two placed clips
    (``(Na, R, C)`` and ``(Nb, R, C)`` float32 thumbnails, one geometry), or None when no
    band passes the tests of the module docstring."""
    rows = xa.shape[1]
    diff = (_z(xa.mean(axis=0)) - _z(xb.mean(axis=0))) ** 2  # (R, C) between the mean frames
    err = diff.mean(axis=1)
    strong = [keep for keep, may in zip(bands(rows), _may_stand_out(err)) if may and _stands_out(err, keep)
              and (diff[~keep].mean(axis=0) >= RATIO * err[keep].mean()).mean() >= WIDE]
    if not strong:
        return None  # the usual case: the frames below are not computed
    per_frame = (((_z(xa) - _z(np.median(xb, axis=0))) ** 2).mean(axis=2),
                 ((_z(xb) - _z(np.median(xa, axis=0))) ** 2).mean(axis=2))  # (N, R) each
    motion = [((x - x.mean(axis=0)) ** 2).sum(axis=(0, 2)) for x in (xa, xb)]  # (R,) each
    best, best_err = None, np.inf
    for keep in strong:
        if min(_stands_out(f, keep).mean() for f in per_frame) < PERSIST:
            continue
        if all(m[~keep].sum() > CONCENTRATED * (m.sum() + 1e-6) for m in motion):
            continue
        if err[keep].mean() < best_err:
            best, best_err = keep, err[keep].mean()
    return best
