"""A light switched on or off in part of a fixed camera's view: no cut.

A lamp, a torch or a car's lights switched on over part of the picture brighten that part
at once (switched off, they darken it), and PySceneDetect's content score or a spike of
the thumbnail change fires there. :func:`curate.split.spikes.relit` does not explain it:
one gain and offset per channel cannot brighten a pool of light and leave the rest.

What tells it from a cut is that the view stays: the change goes one way (light added or
taken away: at least :data:`ONE_WAY` of it, summed over the pixels that change more than
the noise, has one sign), and where it changes most (the pixels changing by at least
:data:`REGION_SHARE` of the largest change) the picture's fine structure (its luma less a
Gaussian blur of sigma 1 thumbnail pixel: edges and texture) is the same before and after,
correlating by :data:`MIN_CORR` or more. A cut brings other edges into that region (true
cuts on the labelled sets correlate at most about 0.5 there, most under 0.15), and so does
a jump cut of one camera (a person or a car moved); a pool of light multiplies the texture
it falls on, and keeps it. The structure must be there to be judged: at least
:data:`MIN_DETAIL` levels in both pictures on average over the region (a lamp lighting a
black wall, or a cut between two flat night pictures, is not judged here).

Thumbnails are ``(h, w, 3) uint8`` BGR (:func:`curate.split.transitions.thumbnail`); luma
by :func:`curate.split.transitions.thumb_luma`. A cut between two times of one fixed
camera under other light, where the change goes one way, is judged the same view, as by
:func:`curate.split.spikes.relit`.
"""

from __future__ import annotations

import cv2
import numpy as np

from curate.split.transitions import thumb_luma

ONE_WAY = 0.9  # share of the change (levels summed over changing pixels) of one sign
NOISE_LEVEL = 4.0  # levels: a pixel changing by more (and twice the change around) changes
REGION_SHARE = 0.25  # the region judged: pixels changing by this share of the largest change
MIN_CORR = 0.7  # fine structure before and after, on the region, correlates at least this
MIN_DETAIL = 2.0  # levels: mean fine structure of each picture on the region, at least
MIN_PIXELS = 4  # changing pixels needed to judge at all


def _luma(x: np.ndarray) -> np.ndarray:
    return thumb_luma(x[None]).reshape(x.shape[:2]).astype(np.float32)


def fine(luma: np.ndarray) -> np.ndarray:
    """The fine structure of a luma thumbnail ``(h, w) float32``: itself less its Gaussian
    blur (sigma 1 pixel, edges reflected), ``(h, w) float32`` levels."""
    return luma - cv2.GaussianBlur(luma, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT)


def lit_in_place(a: np.ndarray, b: np.ndarray, around: float) -> bool:
    """Whether thumbnail ``b`` is thumbnail ``a`` (both ``(h, w, 3) uint8``) with light
    added to or taken from part of the view (module docstring). ``around``: the mean
    change (levels) of the frames around the pair, which sets the noise: a pixel changes
    when it moves by more than :data:`NOISE_LEVEL` and twice ``around``."""
    la, lb = _luma(a), _luma(b)
    d = lb - la
    changing = np.abs(d) > max(NOISE_LEVEL, 2.0 * around)
    if changing.sum() < MIN_PIXELS:
        return False
    up, down = float(d[changing].clip(0, None).sum()), float((-d[changing]).clip(0, None).sum())
    if max(up, down) < ONE_WAY * (up + down):
        return False
    region = np.abs(d) >= REGION_SHARE * float(np.abs(d).max())
    fa, fb = fine(la)[region], fine(lb)[region]
    if min(float(np.abs(fa).mean()), float(np.abs(fb).mean())) < MIN_DETAIL:
        return False
    fa, fb = fa - fa.mean(), fb - fb.mean()
    norm = float(np.sqrt((fa @ fa) * (fb @ fb)))
    return norm > 0 and float(fa @ fb) >= MIN_CORR * norm
