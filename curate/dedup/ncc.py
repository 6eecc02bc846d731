"""Normalised cross-correlation of one template against many placed means, by FFT.

The geometry search of :mod:`curate.dedup.verify` slides the trimmed mean thumbnail of
one clip over the other's mean scaled by each of 13 factors and turned by a few angles,
and keeps the best normalised correlation (``cv2.TM_CCOEFF_NORMED``). One
``cv2.matchTemplate`` call per placement cost 40-60 microseconds for 48-pixel
thumbnails, more than half of a candidate pair's verification. Here every placement of a
clip is transformed once (its real FFT, zero-padded to a common square, and the sum of
squares under each window from an integral image), cached per clip in
:class:`MeanShapes`, so a candidate pair costs one spectrum product and one inverse
transform per placement, all placements of a side in one batch (about 10 microseconds
each). The correlation at each position is that of OpenCV's ``TM_CCOEFF_NORMED``:

    R(x, y) = sum(T' * I_xy) / (|T'| * sqrt(sum(I_xy^2) - sum(I_xy)^2 / n))

with ``T'`` the template minus its mean, ``I_xy`` the window at ``(x, y)`` and ``n`` its
pixels, and OpenCV's rules where the window is flat (a ratio at least 1 is clipped to +-1
up to 1.125, beyond that 0; a flat template gives 1 everywhere). Values agree with
OpenCV's to about 1e-5 (both compute the products in single precision).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict

import cv2
import numpy as np

# 1.43: the largest scale of verify.SCALES, so every placed mean fits one square
MAX_SCALE = 1.43


def fft_side(t: int) -> int:
    """Side of the zero-padded square transform for ``t``-pixel thumbnails: at least the
    largest placed mean (``round(t * MAX_SCALE)``), a size the FFT does fast."""
    return cv2.getOptimalDFTSize(round(t * MAX_SCALE))


def spectrum(image: np.ndarray) -> np.ndarray:
    """``(P, P // 2 + 1) complex64`` half spectrum of a ``(P, P) float32`` image (what
    ``numpy.fft.rfft2`` gives; OpenCV's DFT, 10x faster than NumPy's real forward transform
    in single precision here, and no SciPy import, 0.25 s, in the workers that verify)."""
    full = cv2.dft(image, flags=cv2.DFT_COMPLEX_OUTPUT)  # (P, P, 2) float32
    return np.ascontiguousarray(full[:, :image.shape[1] // 2 + 1]).view(np.complex64)[..., 0]


_local = threading.local()


def _scratch(n: int, side: int, most: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This thread's work arrays for a :class:`Batch` of ``n`` placements: ``(n, side, side)
    float32`` and twice ``(n, most + 1, most + 1) float64`` (views of buffers kept between calls)."""
    have = getattr(_local, "arrays", None)
    if have is None or len(have[0]) < n or have[0].shape[1] != side or have[1].shape[1] != most + 1:
        have = _local.arrays = (np.empty((n, side, side), np.float32), np.empty((n, most + 1, most + 1)),
                                np.empty((n, most + 1, most + 1)))
    return have[0][:n], have[1][:n], have[2][:n]


class Batch:
    """The placed means one search step tries for one clip, transformed together:
    ``spectra`` ``(n, P, P // 2 + 1) complex64`` (each ``(B, B) float32`` image
    zero-padded to ``P x P``, :func:`fft_side`); ``scale`` ``(n, R, R) float32``, one over
    the root of each ``k x k`` window's centred sum of squares (0 where the window is flat),
    and ``mask``, ``-inf`` where a window would leave its image (``B - k + 1`` valid
    positions along each axis, ``R = reach(t, k)`` at most)."""

    __slots__ = ("mask", "nbytes", "scale", "spectra")

    def __init__(self, images: list[np.ndarray], k: int, side: int, r: int):
        n, most = len(images), r + k - 1
        stack, s1, s2 = _scratch(n, side, most)  # reused: fresh pages cost more than the sums
        stack[:] = 0
        self.spectra = np.empty((n, side, side // 2 + 1), np.complex64)
        for i, im in enumerate(images):
            stack[i, :len(im), :len(im)] = im
            self.spectra[i] = spectrum(stack[i])
            # window sums from the zero-padded integral images (float64)
            cv2.integral2(stack[i, :most, :most], s1[i], s2[i], sdepth=cv2.CV_64F)

        def windows(s):
            return s[:, k:, k:] - s[:, :-k, k:] - s[:, k:, :-k] + s[:, :-k, :-k]

        w1 = windows(s1)
        norms = windows(s2)
        norms -= w1 * w1 / (k * k)
        np.sqrt(np.maximum(norms, 0.0, out=norms), out=norms)
        valid, self.mask = _valid(tuple(len(im) for im in images), k, r)
        inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        self.scale = (inv * valid).astype(np.float32)
        self.nbytes = self.spectra.nbytes + self.scale.nbytes + self.mask.nbytes


@functools.lru_cache(maxsize=256)
def _valid(sizes: tuple[int, ...], k: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    """``(valid, mask)``, ``(n, r, r)``: 1.0 and 0.0 where a ``k``-pixel window lies inside an
    image of side ``sizes[i]``, 0.0 and ``-inf`` where it would leave it (read-only)."""
    pos = np.arange(r)
    inside = np.array(sizes)[:, None] - k + 1 > pos
    inside = inside[:, :, None] & inside[:, None, :]
    valid, mask = inside.astype(np.float64), np.where(inside, 0.0, -np.inf).astype(np.float32)
    valid.flags.writeable = mask.flags.writeable = False
    return valid, mask


class Template:
    """A template ``(k, k) float32`` minus its mean: the conjugate of its spectrum,
    ``(P, P // 2 + 1) complex64``, and its norm ``|T'|`` (float)."""

    __slots__ = ("nbytes", "norm", "spectrum")

    def __init__(self, template: np.ndarray, side: int):
        centred = template.astype(np.float64) - float(template.mean())
        self.norm = float(np.sqrt((centred * centred).sum()))
        padded = np.zeros((side, side), np.float32)
        padded[:len(centred), :len(centred)] = centred
        self.spectrum = np.conj(spectrum(padded))
        self.nbytes = self.spectrum.nbytes


def reach(t: int, k: int) -> int:
    """Most positions along each axis of a ``k``-pixel template over a placed ``t``-pixel mean."""
    return round(t * MAX_SCALE) - k + 1


def best_matches(batch: Batch, template: Template, side: int) -> list[tuple[float, tuple[int, int]]]:
    """``(best correlation, (x, y))`` of ``template`` over each placed mean of ``batch``
    (each at least as large as the template): what ``cv2.minMaxLoc`` gives for the maximum
    of ``cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)`` (the first position in
    row-major order on a tie; see the module docstring). ``side``: :func:`fft_side`."""
    n, r = batch.scale.shape[:2]
    if template.norm < np.finfo(np.float32).eps:
        return [(1.0, (0, 0))] * n  # OpenCV: a flat template matches everywhere
    rows = np.fft.ifft(batch.spectra * template.spectrum, axis=1)[:, :r]  # only the rows of valid positions
    ratio = np.fft.irfft(rows, n=side, axis=2)[:, :, :r] * batch.scale
    ratio *= np.float32(1.0 / template.norm)
    big = np.abs(ratio)
    if big.max() >= 1:  # OpenCV's rule where rounding or a flat window leaves |ratio| >= 1
        ratio = np.where(big < 1, ratio, np.where(big < 1.125, np.sign(ratio), 0.0)).astype(np.float32)
    ratio += batch.mask
    flat = ratio.reshape(n, -1)
    at = flat.argmax(axis=1)
    return [(float(flat[k, a]), (int(a % r), int(a // r))) for k, a in enumerate(at.tolist())]


class MeanShapes:
    """Each clip's mean thumbnail placed (scaled and turned) as each search step of
    :func:`curate.dedup.verify.geometry` tries it, transformed (a :class:`Batch`), and its
    trimmed centre as a :class:`Template`, kept across the candidate pairs one task
    verifies: a clip meets many candidates, and the geometry search of each pair would
    otherwise place and transform both means anew. Keys name a clip as compared (its
    position, and whether mirrored); at most ``max_bytes`` held (about 27 KB a placement
    for 48-pixel thumbnails, some 50 placements a clip), the least recently used dropped
    first. The same values as without it, so the same distances."""

    def __init__(self, max_bytes: int = 128 << 20):
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict = OrderedDict()

    def _cached(self, k, make):
        out = self._items.get(k)
        if out is not None:
            self._items.move_to_end(k)
            return out
        out = self._items[k] = make()
        self.nbytes += out.nbytes
        while self.nbytes > self.max_bytes and len(self._items) > 1:
            self.nbytes -= self._items.popitem(last=False)[1].nbytes
        return out

    def batch(self, key, x: np.ndarray, placements: tuple[tuple[float, float], ...], place, k: int) -> Batch:
        """The :class:`Batch` of the clip ``key``'s mean ``x`` (``(T, T) float32``) placed by
        ``place(x, scale, angle)`` at each of ``placements`` ((scale, angle) pairs), for
        ``k``-pixel templates."""
        t = len(x)
        return self._cached((key, placements, k), lambda: Batch([place(x, s, a) for s, a in placements], k,
                                                                fft_side(t), reach(t, k)))

    def template(self, key, y: np.ndarray, m: int) -> Template:
        """The clip ``key``'s mean ``y`` (``(T, T) float32``) with a border of ``m`` pixels trimmed."""
        t = len(y)
        return self._cached((key, "template", m), lambda: Template(y[m:t - m, m:t - m], fft_side(t)))
