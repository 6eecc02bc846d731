"""The light of the thumbnails :mod:`curate.split.overlays` judges: a picture brought to
another's light, its deliberate toning behind a title, and where it has detail.

A camera's exposure moves while a graphic shows, and a title is often shown over the shot
dimmed (or brightened) behind it; both change pixels that no graphic covers. These
helpers take such light changes out before the overlay rule compares pictures: a gain and
offset per channel fitted on the pixels neither picture clips (:func:`relit`, least
squares; :func:`toned`, medians, so the graphic's own pixels do not pull the fit), and the
pixels with detail (:func:`detail`: an edge or a texture, not a flat bar or card).
Thumbnails are ``(h, w, 3) uint8`` (:func:`curate.split.transitions.thumbnail`).
"""

from __future__ import annotations

import cv2
import numpy as np

TONE_GAINS = (0.2, 5.0)  # the gains a picture dimmed or brightened behind an overlay may take
MIN_TONE = 1.3  # ...and at least (or its inverse at most), not an exposure drift
DETAIL_LEVEL = 4.0  # levels from the 3x3 mean: a pixel with detail


def toned(thumbs: np.ndarray, end: tuple[int, int], live: np.ndarray) -> np.ndarray | None:
    """The change from frame ``p`` to ``q`` (``end``) left after ``p`` is brought to the
    light of ``q`` by a gain (the median ratio of their levels, within :data:`TONE_GAINS`)
    and an offset (the
    median difference left) per channel, over the ``live`` pixels neither frame clips:
    medians, so that an overlay's pixels (a fifth or a quarter of the picture) do not pull
    the fit. ``(h, w) float32``, the largest over channels; None unless the picture was
    dimmed or brightened on purpose (the mean gain at least :data:`MIN_TONE` or at most its
    inverse), not a camera's exposure drifting across a jump cut."""
    x, y = thumbs[end[0]].astype(np.float32), thumbs[end[1]].astype(np.float32)
    out, gains = np.zeros(x.shape[:2], np.float32), []
    for ch in range(3):
        a, b = x[..., ch], y[..., ch]
        ok = live & (a > 8) & (a < 251) & (b > 4) & (b < 251)
        if ok.sum() < 8:  # a black or blown-out picture: nothing to fit
            return None
        gains.append(float(np.clip(np.median(b[ok] / a[ok]), *TONE_GAINS)))
        offset = float(np.median(b[ok] - gains[-1] * a[ok]))
        out = np.maximum(out, np.abs(b - np.clip(gains[-1] * a + offset, 0, 255)))
    gain = float(np.mean(gains))
    return out if gain >= MIN_TONE or gain <= 1 / MIN_TONE else None


def detail(thumb: np.ndarray) -> np.ndarray:
    """Pixels ``(h, w) bool`` of a thumbnail ``(h, w, 3) uint8`` that differ from the mean of
    their 3x3 neighbourhood by :data:`DETAIL_LEVEL` levels or more in some channel (an edge,
    a texture: no flat bar or card)."""
    x = thumb.astype(np.float32)
    return (np.abs(x - cv2.blur(x, (3, 3), borderType=cv2.BORDER_REFLECT)).max(axis=2)) >= DETAIL_LEVEL


def relit(before: np.ndarray, after: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """``before`` ``(h, w, 3) uint8`` under the light of ``after``: a gain and offset per
    channel fitted (least squares) on the ``seen`` pixels ``(h, w) bool`` that neither
    picture clips (levels 5-250), as a camera's exposure moves while an overlay shows, the
    gain kept within 0.5-2; ``(h, w, 3) float32``, clipped to 0-255."""
    x, y = before[seen].astype(np.float32), after[seen].astype(np.float32)
    out = before.astype(np.float32)
    for c in range(3):
        ok = (x[:, c] > 4) & (x[:, c] < 251) & (y[:, c] > 4) & (y[:, c] < 251)
        if ok.sum() < 8:
            continue
        xo, yo = x[ok, c], y[ok, c]
        sx = float(((xo - xo.mean()) ** 2).sum())
        gain = float(((xo - xo.mean()) * (yo - yo.mean())).sum()) / sx if sx > 1e-6 else 1.0
        gain = min(max(gain, 0.5), 2.0)
        out[..., c] = np.clip(gain * out[..., c] + float(yo.mean()) - gain * float(xo.mean()), 0, 255)
    return out
