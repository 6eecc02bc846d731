"""Normalised cross-correlation of one template against many placed means, by FFT.

The geometry search of :mod:`curate.dedup.verify` slides the trimmed mean thumbnail of
one clip over the other's mean scaled by each of 13 factors and turned by a few angles,
and keeps the best normalised correlation (``cv2.TM_CCOEFF_NORMED``). One
``cv2.matchTemplate`` call per placement cost 40-60 microseconds for 48-pixel
thumbnails, more than half of a candidate pair's verification. Here the placements one
search step tries for a clip are transformed once (:class:`Batch`: each zero-padded to
the square of the largest, its FFT, and the sums under each window from integral
images) and kept for the clip's other candidates (:class:`MeanShapes`), so a candidate
pair costs one spectrum product and one inverse transform per placement, all of a step
at once (about 10 microseconds each). The correlation at each position is that of
OpenCV's ``TM_CCOEFF_NORMED``:

    R(x, y) = sum(T' * I_xy) / (|T'| * sqrt(sum(I_xy^2) - sum(I_xy)^2 / n))

with ``T'`` the template minus its mean, ``I_xy`` the window at ``(x, y)`` and ``n`` its
pixels, and OpenCV's rules where the window is flat (correlation 0; a ratio at least 1 is
clipped to +-1 up to 1.125, beyond that 0; a flat template gives 1 everywhere). Each
placed mean is centred on its own mean first, so single-precision products stay within
about 1e-6 of a float64 reference even for dim or low-contrast means (OpenCV's own were
3e-3 off on a mean of 4 levels of contrast), and exactly flat windows, which integral
sums leave a rounding residue in, are told apart (:data:`FLAT`).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict

import cv2
import numpy as np


def spectrum(image: np.ndarray) -> np.ndarray:
    """``(P, P // 2 + 1) complex64`` half spectrum of a ``(P, P) float32`` image (what
    ``numpy.fft.rfft2`` gives; OpenCV's DFT, 10x faster than NumPy's real forward transform
    in single precision here, and no SciPy import, 0.25 s, in the workers that verify)."""
    full = cv2.dft(image, flags=cv2.DFT_COMPLEX_OUTPUT)  # (P, P, 2) float32
    return np.ascontiguousarray(full[:, :image.shape[1] // 2 + 1]).view(np.complex64)[..., 0]


# a window whose centred sum of squares is at most this share of its sum of squares is
# flat: float64 integral sums leave ~1e-16 of it behind where the true spread is 0
FLAT = 1e-9
_local = threading.local()


def _scratch(n: int, side: int, most: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This thread's work arrays for a :class:`Batch` of ``n`` placements: ``(n, side, side)
    float32`` and twice ``(n, most + 1, most + 1) float64``, views of buffers kept between
    calls and grown as needed (fresh pages cost more than the sums)."""
    size = getattr(_local, "size", (0, 0, 0))
    if n > size[0] or side > size[1] or most + 1 > size[2]:
        size = _local.size = (max(n, size[0]), max(side, size[1]), max(most + 1, size[2]))
        _local.arrays = (np.empty(size[:2] + size[1:2], np.float32), np.empty(size[:1] + size[2:] * 2),
                         np.empty(size[:1] + size[2:] * 2))
    a, b, c = _local.arrays
    return a[:n, :side, :side], b[:n, :most + 1, :most + 1], c[:n, :most + 1, :most + 1]


class Batch:
    """Placed means (``(B_i, B_i) float32``, each at least ``k`` pixels) transformed together
    for ``k``-pixel templates: ``side`` (``P``, a fast FFT size of at least the largest
    ``B_i``); ``spectra`` ``(n, P, P // 2 + 1) complex64`` of the zero-padded images;
    ``scale`` ``(n, R, R) float32``, one over the root of each window's centred sum of
    squares (0 where the window is flat), and ``mask``, ``-inf`` where a window would leave
    its image (``R = max B_i - k + 1`` positions along each axis at most)."""

    __slots__ = ("mask", "nbytes", "scale", "side", "spectra")

    def __init__(self, images: list[np.ndarray], k: int):
        n, biggest = len(images), max(len(im) for im in images)
        side, r = cv2.getOptimalDFTSize(biggest), biggest - k + 1
        stack, s1, s2 = _scratch(n, side, biggest)
        stack[:] = 0
        self.side = side
        self.spectra = np.empty((n, side, side // 2 + 1), np.complex64)
        for i, im in enumerate(images):
            # centred on its own mean: the template's rounding residue then meets no large
            # DC term, and flat windows are told apart from rounding (below)
            stack[i, :len(im), :len(im)] = im - im.mean(dtype=np.float64)
            self.spectra[i] = spectrum(stack[i])
            # window sums from the integral images (float64; copied in: OpenCV writes only to whole arrays)
            s1[i], s2[i] = cv2.integral2(stack[i, :biggest, :biggest], sdepth=cv2.CV_64F)

        def windows(s):
            return s[:, k:, k:] - s[:, :-k, k:] - s[:, k:, :-k] + s[:, :-k, :-k]

        w1, squares = windows(s1), windows(s2)
        norms = squares - w1 * w1 / (k * k)
        norms[norms <= FLAT * squares] = 0.0  # a flat window (what is left is rounding): OpenCV's 0
        np.sqrt(norms, out=norms)
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
    """A ``(k, k) float32`` template minus its mean, zero-padded to ``side x side``: the
    conjugate of its spectrum, ``(side, side // 2 + 1) complex64``, and its norm ``|T'|``."""

    __slots__ = ("nbytes", "norm", "side", "spectrum")

    def __init__(self, template: np.ndarray, side: int):
        centred = template.astype(np.float64)
        centred -= centred.mean()
        self.norm = float(np.sqrt((centred * centred).sum()))
        padded = np.zeros((side, side), np.float32)
        padded[:len(centred), :len(centred)] = centred
        self.side = side
        self.spectrum = np.conj(spectrum(padded))
        self.nbytes = self.spectrum.nbytes


def best_matches(batch: Batch, template: Template) -> list[tuple[float, tuple[int, int]]]:
    """``(best correlation, (x, y))`` of ``template`` (of ``batch.side``) over each placed
    mean of ``batch``: what ``cv2.minMaxLoc`` gives for the maximum of
    ``cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)`` (the first position in
    row-major order on a tie; see the module docstring). Raises ValueError when the
    template was padded to another side."""
    if template.side != batch.side:
        raise ValueError(f"template padded to {template.side}, placements to {batch.side}")
    n, r = batch.scale.shape[:2]
    if template.norm < np.finfo(np.float64).eps:
        return [(1.0, (0, 0))] * n  # OpenCV: a flat template matches everywhere
    rows = np.fft.ifft(batch.spectra * template.spectrum, axis=1)[:, :r]  # only the rows of valid positions
    ratio = np.fft.irfft(rows, n=batch.side, axis=2)[:, :, :r] * batch.scale
    ratio *= np.float32(1.0 / template.norm)
    if ratio.max() >= 1 or ratio.min() <= -1:  # OpenCV's rule where rounding or a flat window leaves |ratio| >= 1
        big = np.abs(ratio)
        ratio = np.where(big < 1, ratio, np.where(big < 1.125, np.sign(ratio), 0.0)).astype(np.float32)
    ratio += batch.mask
    flat = ratio.reshape(n, -1)
    at = flat.argmax(axis=1)
    return [(float(flat[i, a]), (int(a % r), int(a // r))) for i, a in enumerate(at.tolist())]


class _Held:
    """A value kept by :class:`MeanShapes`, with its size in bytes."""

    __slots__ = ("nbytes", "value")

    def __init__(self, value):
        self.value = value
        arr = getattr(value, "thumbs", value)
        self.nbytes = int(getattr(arr, "nbytes", 64))


class MeanShapes:
    """Each clip's mean thumbnail placed (scaled and turned) as each search step of
    :func:`curate.dedup.verify.geometry` tries it, transformed (a :class:`Batch`), and its
    trimmed centre as a :class:`Template`, kept across the candidate pairs one task
    verifies: a clip meets many candidates, and the geometry search of each pair would
    otherwise place and transform both means anew. Keys name a clip as compared (its
    position, and whether mirrored); at most ``max_bytes`` held (about 27 KB a placement
    for 48-pixel thumbnails; the turn steps of a clip's candidates try other scales, so a
    clip that meets many candidates holds a few MB), the least recently used dropped
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
        return self._cached((key, placements, k), lambda: Batch([place(x, s, a) for s, a in placements], k))

    def per_clip(self, key, what: str, make):
        """``make()``, an array or a :class:`curate.dedup.signature.Signature` that depends on
        the clip ``key`` alone (``what`` names it), made once and kept like the placements."""
        return self._cached((key, what), lambda: _Held(make())).value

    def template(self, key, y: np.ndarray, m: int, side: int) -> Template:
        """The clip ``key``'s mean ``y`` (``(T, T) float32``) with a border of ``m`` pixels
        trimmed, padded to ``side`` (a :class:`Batch`'s)."""
        t = len(y)
        return self._cached((key, "template", m, side), lambda: Template(y[m:t - m, m:t - m], side))
