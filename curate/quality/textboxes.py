"""Text regions of a DB probability map, as turned rectangles, and their upright crops.

DB's post-processing (Liao et al., "Real-time Scene Text Detection with Differentiable
Binarization", AAAI 2020; PaddleOCR's ``DBPostProcess``): the map over ``THRESH``,
connected regions whose mean probability is at least ``BOX_THRESH``, each region's
smallest turned rectangle (``cv2.minAreaRect``) grown on every side by ``area * UNCLIP /
perimeter`` (DB's unclip ratio; area and perimeter of the region). A turned rectangle
follows a tilted or vertical line of text, where a box straight around it would be as
tall as wide (a break test: lines tilted 18 degrees or more, or turned 90, had lost
their line shape and then could not be read). Crops are cut upright along the
rectangle's long side (PaddleOCR's ``get_rotate_crop_image`` does the same).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THRESH, BOX_THRESH, UNCLIP = 0.3, 0.5, 1.6
MIN_SIDE = 3  # px of the map: regions thinner than this are no text


@dataclass(frozen=True)
class TextRegion:
    """One region: ``centre`` (x, y) and ``along`` (unit vector of the long side, its x part
    not negative: pointing right, or up or down when vertical) in map pixels, ``long`` and
    ``short`` side lengths in pixels (``long >= short``)."""

    centre: tuple[float, float]
    along: tuple[float, float]
    long: float
    short: float

    @property
    def corners(self) -> np.ndarray:
        """``(4, 2) float32`` corners, in order around the rectangle."""
        c, d = np.array(self.centre), np.array(self.along)
        n = np.array([-d[1], d[0]])  # across the line: down for a line pointing right
        a, b = d * self.long / 2, n * self.short / 2
        return np.array([c - a - b, c + a - b, c + a + b, c - a + b], np.float32)

    @property
    def horizontal(self) -> bool:
        """Whether the long side is within 45 degrees of the horizontal."""
        return abs(self.along[0]) >= abs(self.along[1])

    @property
    def area(self) -> float:
        return self.long * self.short


def db_regions(prob: np.ndarray) -> list[TextRegion]:
    """The text regions of one ``(H, W) float`` probability map (module docstring)."""
    mask = (prob > THRESH).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for k in range(1, n):
        x, y, bw, bh, count = stats[k]
        inside = labels[y:y + bh, x:x + bw] == k
        if prob[y:y + bh, x:x + bw][inside].mean() < BOX_THRESH:
            continue
        ys, xs = np.nonzero(inside)
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(np.stack([xs + x, ys + y], axis=1).astype(np.float32))
        rw, rh = rw + 1.0, rh + 1.0  # pixel centres to pixel edges
        if min(rw, rh) < MIN_SIDE:  # a thin stroke, straight or slanted (PaddleOCR's min_size)
            continue
        d = count * UNCLIP / max(2 * (rw + rh), 1.0)
        theta = np.deg2rad(angle)
        along = np.array([np.cos(theta), np.sin(theta)])  # the direction of the side of length rw
        if rh > rw:
            along, rw, rh = np.array([-along[1], along[0]]), rh, rw
        if along[0] < -1e-9 or (abs(along[0]) <= 1e-9 and along[1] < 0):
            along = -along  # right, or down when vertical
        out.append(TextRegion((float(cx), float(cy)), (float(along[0]), float(along[1])),
                              float(rw + 2 * d), float(rh + 2 * d)))
    return out


def upright_crop(image: np.ndarray, region: TextRegion) -> np.ndarray:
    """``(short, long, 3)`` crop of ``image`` ``(h, w, 3) uint8`` along ``region``'s long side
    (edges replicated where the rectangle leaves the image): a line of text reads left to
    right in it when the line reads along ``region.along``."""
    long, short = max(1, int(round(region.long))), max(1, int(round(region.short)))
    c = region.corners
    src = np.float32([c[0], c[1], c[3]])
    dst = np.float32([[0, 0], [long, 0], [0, short]])
    return cv2.warpAffine(image, cv2.getAffineTransform(src, dst), (long, short), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def fill(shape: tuple[int, int], regions: list[TextRegion]) -> np.ndarray:
    """``(H, W) uint8`` mask, 1 inside any of ``regions`` (clipped to the map)."""
    out = np.zeros(shape, np.uint8)
    if regions:
        cv2.fillPoly(out, [np.round(r.corners).astype(np.int32) for r in regions], 1)
    return out
