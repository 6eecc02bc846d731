"""Distractors for the labelled sets of :mod:`labelled_edits`: edits inside one shot that
are no shot boundary, yet change the picture as much as one.

- :func:`flash`: two white frames (a photographer's flash);
- :func:`whip_pan`: a 1.5x crop window sweeping across the picture in 8 frames, motion-blurred;
- :func:`brightness`: a gain dipping to 0.45 or rising to 1.6 and back over 1 s (exposure,
  a cloud, lights switched);
- :func:`overlay`: a graphic shown over a shot for a second or two, as broadcast and web
  video put them: a lower third naming a speaker, a title, a news bar, a score box
  darkening part of the picture, a quote card, a side panel. The shot goes on under it,
  yet it changes part of the picture at once when it appears and again when it goes, as
  a cut does. Its style is drawn from an ``rng`` (:func:`style`); ``bench/split_accuracy.py
  --overlays`` adds one to each long segment (a boundary within 2 frames of its stretch
  is false);
- :func:`screen`: a TV in view (a bezelled quadrilateral, 6-30 % of the picture, seen at a
  slight angle) playing other footage that cuts 1-3 times while the camera's shot goes
  on (``bench/split_accuracy.py --screens``; a boundary within 2 frames of a screen's cut
  is false).

Frames are ``(H, W, 3) uint8`` RGB at :data:`labelled_edits.SIZE` or any size (an
overlay's positions are shares of the picture); each function changes its segment in place.
"""

from __future__ import annotations

import cv2
import numpy as np


def flash(seg: list[np.ndarray], at: int) -> int:
    """Turn frames ``at, at + 1`` of ``seg`` white; returns the length (2)."""
    seg[at] = seg[at + 1] = np.full_like(seg[at], 255)
    return 2


def whip_pan(seg: list[np.ndarray], at: int, length: int = 8) -> int:
    """Reframe ``seg`` as a 1.5x crop that sits left, sweeps right over frames
    ``[at, at + length)`` with motion blur (mean of 5 sub-positions), then sits right."""
    h, w = seg[0].shape[:2]
    cw, ch = int(w / 1.5), int(h / 1.5)
    y = (h - ch) // 2

    def view(img: np.ndarray, x: float) -> np.ndarray:
        x = int(round(min(max(x, 0), w - cw)))
        return cv2.resize(img[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)

    for i, img in enumerate(seg):
        u = min(max((i - at) / length, 0.0), 1.0)
        if 0.0 < u < 1.0 or i == at:
            subs = [view(img, (w - cw) * min(max(u + (k - 2) / (5 * length), 0), 1)) for k in range(5)]
            seg[i] = np.clip(np.mean(subs, axis=0), 0, 255).astype(np.uint8)
        else:
            seg[i] = view(img, (w - cw) * u).astype(np.uint8)
    return length


def brightness(seg: list[np.ndarray], at: int, length: int = 25, dark: bool = True) -> int:
    """Scale frames ``[at, at + length)`` by a gain that dips to 0.45 (or rises to 1.6) and
    comes back along a raised cosine (exposure change, a cloud, lights switched)."""
    peak = 0.45 if dark else 1.6
    for k in range(length):
        g = 1 + (peak - 1) * 0.5 * (1 - np.cos(2 * np.pi * (k + 1) / (length + 1)))
        seg[at + k] = np.clip(seg[at + k].astype(np.float32) * g, 0, 255).astype(np.uint8)
    return length

KINDS = ("lower_third", "translucent_band", "title", "outlined_title", "score_box", "news_bar", "quote_card",
         "side_panel")
WORDS = ("BREAKING NEWS", "JANE DOE - REPORTER", "LIVE", "Chapter 3", "SCORE 2 - 1", "Paris, 1998", "EXCLUSIVE",
         "Subscribe!", "The end of summer", "WEATHER 21C")
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX)
INKS = ((255, 255, 255), (255, 255, 0), (20, 20, 20), (0, 255, 255))


def style(rng: np.random.Generator) -> dict:
    """One overlay's look: kind, fill colour, ink, words, font, place (shares of the picture)
    and opacity, all drawn from ``rng``."""
    return dict(kind=str(rng.choice(KINDS)), fill=tuple(int(v) for v in rng.integers(0, 256, 3)),
                ink=INKS[int(rng.integers(len(INKS)))], words=str(rng.choice(WORDS)),
                font=FONTS[int(rng.integers(len(FONTS)))], x=float(rng.uniform(0.0, 0.2)),
                y=float(rng.uniform(0.0, 0.3)), scale=float(rng.uniform(0.8, 1.5)), alpha=float(rng.uniform(0.3, 0.7)))


def draw(frame: np.ndarray, s: dict) -> np.ndarray:
    """``frame`` with overlay ``s`` (:func:`style`) drawn on a copy."""
    o = frame.copy()
    h, w = o.shape[:2]
    k, unit = s["kind"], h / 180  # text sizes are set for 180 rows
    x0, thin = int(s["x"] * w), max(1, int(round(unit)))

    def text(words: str, org: tuple[int, int], size: float, ink, thick: int) -> None:
        cv2.putText(o, words, org, s["font"], size * unit, ink, thick, cv2.LINE_AA)

    if k in ("lower_third", "translucent_band"):
        top, rows = int((0.64 + s["y"] / 3) * h), int((0.18 if k == "lower_third" else 0.22) * h)
        right = w if k == "translucent_band" else min(w, x0 + int(0.75 * w))
        left = x0 if k == "lower_third" else 0
        box = o[top:top + rows, left:right].astype(np.float32)
        a = 1.0 if k == "lower_third" else s["alpha"]
        o[top:top + rows, left:right] = (box * (1 - a) + np.float32(s["fill"]) * a).astype(np.uint8)
        text(s["words"], (x0 + int(0.02 * w), top + int(0.68 * rows)), 0.6, s["ink"], 2 * thin if a < 1 else thin)
    elif k in ("title", "outlined_title"):
        org = (int(0.03 * w + x0 / 2), int((0.33 + s["y"]) * h))
        if k == "outlined_title":
            text(s["words"][:10], org, s["scale"], (0, 0, 0), 6 * thin)
        text(s["words"][:10], org, s["scale"], s["ink"] if k == "outlined_title" else (255, 255, 255), 3 * thin)
    elif k == "score_box":
        top, left = int((0.08 + s["y"] / 2) * h), int(0.05 * w + x0 / 2)
        rows, cols = int(0.6 * h), int(0.75 * w)
        o[top:top + rows, left:left + cols] = (o[top:top + rows, left:left + cols] * s["alpha"]).astype(np.uint8)
        text(s["words"][:12], (left + int(0.04 * w), top + rows // 2), 0.9, (255, 255, 255), 2 * thin)
    elif k == "news_bar":
        top = int(0.83 * h)
        o[top:] = s["fill"]
        o[top:top + 3 * thin] = (200, 0, 0)
        text(s["words"] + " | " + WORDS[0], (int(0.02 * w), h - int(0.04 * h)), 0.5, s["ink"], thin)
    elif k == "quote_card":
        top, left = int(0.22 * h), int(0.125 * w)
        o[top:h - top, left:w - left] = s["fill"]
        text(s["words"][:14], (left + int(0.03 * w), h // 2 + int(0.03 * h)), 0.7, s["ink"], 2 * thin)
    else:  # side_panel
        left = int(0.625 * w)
        o[:, left:] = s["fill"]
        for i, word in enumerate(s["words"].split()[:3]):
            text(word, (left + int(0.02 * w), int((0.28 + 0.17 * i) * h)), 0.5, s["ink"], thin)
    return o


def overlay(seg: list[np.ndarray], busy: list[tuple[int, int]], rng: np.random.Generator,
            head: int = 32, tail: int = 32, margin: int = 8) -> tuple[int, int, str] | None:
    """Show one overlay (:func:`style` from ``rng``) over 25-50 frames of ``seg`` (in place),
    at least ``head`` frames from its start and ``tail`` from its end (clear of the
    transitions into and out of it: :func:`labelled_edits.join` mixes up to 30 frames) and
    ``margin`` frames from every ``busy`` interval (jump cuts as ``(c, c)``, other
    distractors); returns ``(start, end, kind)`` (half-open frames of
    ``seg``), or None when no stretch is free."""
    n = int(rng.integers(25, 51))
    free = [a for a in range(head, len(seg) - tail - n)
            if all(e + margin <= a or a + n + margin <= s for s, e in busy)]
    if not free:
        return None
    a, s = free[int(rng.integers(len(free)))], style(rng)
    for i in range(a, a + n):
        seg[i] = draw(seg[i], s)
    return a, a + n, s["kind"]


def screen(seg: list[np.ndarray], busy: list[tuple[int, int]], rng: np.random.Generator,
           sources: list[list[np.ndarray]], head: int = 32, tail: int = 32, margin: int = 8) -> list[int]:
    """Put a TV into every frame of ``seg`` (in place): a quadrilateral of 6-30 % of the
    picture, 16:9 or 4:3, its corners moved by up to 6 % of its size (seen at an angle),
    in a dark bezel, at 70-110 % brightness, playing pieces of ``sources`` (frame lists of
    other footage, ``(h, w, 3) uint8`` RGB) that cut 1-3 times, at least ``head`` frames
    from the start, ``tail`` from the end, ``margin`` from every ``busy`` interval and 15
    frames from each other. Every frame of ``seg`` has one size; ``sources`` may differ.
    Returns the frames of ``seg`` where the screen cuts ([] when no frame is free: the TV
    then plays one piece; [] and no TV when ``sources`` is empty)."""
    sources = [p for p in sources if len(p)]
    if not sources:
        return []
    h, w = seg[0].shape[:2]
    aspect = 16 / 9 if rng.random() < 0.6 else 4 / 3
    area = rng.uniform(0.06, 0.30) * w * h
    sw, sh = min(np.sqrt(area * aspect), 0.8 * w), min(np.sqrt(area / aspect), 0.8 * h)
    x0, y0 = rng.uniform(0.04 * w, 0.96 * w - sw), rng.uniform(0.04 * h, 0.96 * h - sh)
    quad = np.float32([[x0, y0], [x0 + sw, y0], [x0 + sw, y0 + sh], [x0, y0 + sh]])
    quad += (rng.uniform(-0.06, 0.06, (4, 2)) * [sw, sh]).astype(np.float32)
    pw, ph = int(round(sw)), int(round(sh))
    warp = cv2.getPerspectiveTransform(np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]]), quad)
    mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), warp, (w, h))[..., None]
    bezel = int(rng.integers(2, 6))
    rim = np.clip(cv2.dilate(mask, np.ones((2 * bezel + 1, 2 * bezel + 1), np.uint8))[..., None] - mask, 0, 1)
    free = [a for a in range(head, len(seg) - tail) if all(a + margin <= s or e + margin <= a for s, e in busy)]
    cuts: list[int] = []
    for _ in range(int(rng.integers(1, 4))):
        left = [a for a in free if all(abs(a - c) >= 15 for c in cuts)]
        if left:
            cuts.append(int(left[int(rng.integers(len(left)))]))
    cuts.sort()
    pieces = [sources[int(i)] for i in rng.choice(len(sources), size=len(cuts) + 1, replace=len(sources) <= len(cuts))]
    starts = [int(rng.integers(0, max(1, len(p) // 2))) for p in pieces]
    gain = float(rng.uniform(0.7, 1.1))
    for i in range(len(seg)):
        k = sum(i >= c for c in cuts)
        begin = ([0] + cuts)[k]
        piece = pieces[k]
        shown = cv2.resize(piece[min(starts[k] + i - begin, len(piece) - 1)], (pw, ph), interpolation=cv2.INTER_AREA)
        tv = cv2.warpPerspective(shown.astype(np.float32) * gain, warp, (w, h))
        out = seg[i].astype(np.float32) * (1 - mask) * (1 - rim * 0.85) + tv * mask
        seg[i] = np.clip(out, 0, 255).astype(np.uint8)
    return cuts
