"""Views of a clip for edited-copy search: as is, mirrored left-right, turned a quarter.

A re-upload may be flipped left-right (a common edit) or turned by 90, 180 or 270 degrees
(a phone clip whose rotation flag was lost or set wrong, a video turned to fit a portrait
feed). Signature thumbnails are squares squeezed from the picture whatever its aspect
(:mod:`curate.dedup.signature`), so a copy turned a quarter has thumbnails that are the
original's turned a quarter, squeeze and all: turning them (and the 8 x 8 gist) back makes
the two comparable by the usual search (:func:`curate.dedup.verify.distance`, which
itself turns only up to +-10.5 degrees).

A view is a number: :data:`PLAIN`, :data:`MIRROR`, or :data:`TURNS` (a quarter, a half,
three quarters counter-clockwise, as ``numpy.rot90``). ``view(b)`` compared with ``a`` is
the same as ``b`` compared with ``inverse(view)(a)``.
"""

from __future__ import annotations

import numpy as np

from curate.dedup.signature import Signature

PLAIN, MIRROR = 0, 1
TURNS = (2, 3, 4)  # a quarter, a half, three quarters counter-clockwise


def inverse(view: int) -> int:
    """The view that undoes ``view`` (a quarter turn for three quarters; the others undo themselves)."""
    return {2: 4, 4: 2}.get(view, view)


def view_images(images: np.ndarray, view: int) -> np.ndarray:
    """``(..., S, S)`` square images seen in ``view`` (a new contiguous array; ``images``
    itself for :data:`PLAIN`)."""
    if view == PLAIN:
        return images
    if view == MIRROR:
        return np.ascontiguousarray(images[..., ::-1])
    return np.ascontiguousarray(np.rot90(images, view - 1, axes=(-2, -1)))


def view_gists(gists: np.ndarray, view: int) -> np.ndarray:
    """``(N, S*S)`` gists (each an S x S image, row by row) of the same clips seen in ``view``."""
    n, d = gists.shape
    side = int(round(d ** 0.5))
    return view_images(gists.reshape(n, side, side), view).reshape(n, d)


def view_sig(sig: Signature, view: int) -> Signature:
    """``sig`` of the clip seen in ``view``: thumbnails turned or mirrored, the aspect
    inverted by a quarter turn."""
    if view == PLAIN:
        return sig
    aspect = sig.aspect
    if aspect is not None and view in (2, 4):
        aspect = round(1.0 / aspect, 3)
    return Signature(view_images(sig.thumbs, view), sig.step_s, aspect)
