"""``vidcurate inspect SHARDS``: print the records and captions of shard samples, and
optionally write a contact sheet PNG of their frames.

Shards are read with the trainer's safe reader (:mod:`train.shards`): only the ``.mp4``,
``.json`` and ``.txt`` members are read as bytes, nothing in a shard is unpickled, and
truncated or scrambled tars are skipped with a warning. SHARDS is anything
:func:`train.shardlist.expand_shards` takes: a run's output folder, a tar, a glob, a brace
range or an fsspec URL.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import random
import sys
from typing import Iterator

from PIL import Image, ImageDraw

from curate import store
from pipelines.report_html import thumbs
from schemas import ClipRecord
from train.shardlist import expand_shards
from train.shards import SkipStats, iter_samples

DEFAULT_LIMIT = 10
SHEET_COLUMNS = 2


def shard_spec(spec: str) -> str:
    """A run's output URL (``s3://bucket/run``) means its ``shards/*.tar``, and a URL of a
    shards folder (``s3://bucket/run/shards``, no ``shards/`` inside) its ``*.tar``, as for a
    local folder; anything else (local folders included, :func:`train.shardlist.expand_shards`
    handles them, and so a URL with glob or brace characters: one that exists is taken
    as named there) is kept."""
    if store.is_url(spec) and not spec.endswith(".tar") and not glob.has_magic(spec) and "{" not in spec:
        inner = store.join(spec, "shards")
        try:
            return store.join(inner, "*.tar") if store.exists(inner) else store.join(spec, "*.tar")
        except ValueError:  # no such protocol (``s4://``): expand_shards says so (exit 2)
            return spec
    return spec


class DamagedSample(ValueError):
    """The sample asked for by key is in the shards, but its record does not read."""


def samples(spec: str, unread: list[str] | None = None, stats: SkipStats | None = None) -> Iterator[dict]:
    """Every complete sample ``{"__key__", "__url__", "mp4", "json", "txt"}`` (bytes, and
    ``record``: the :class:`ClipRecord` read) of the shards of ``spec``, in shard order,
    whose record reads as a :class:`ClipRecord`; one
    whose record does not is skipped with a warning on stderr, as a damaged shard is (it
    had ended the command with an internal error before the samples after it were shown);
    its key is appended to ``unread`` when given, and it counts in ``stats`` (a
    :class:`train.shards.SkipStats`, with the damaged shards and samples; a new one when
    None). Raises FileNotFoundError when nothing matches, or when a brace range names a
    shard that is not there (in a store too)."""
    stats = SkipStats() if stats is None else stats
    urls = expand_shards(shard_spec(spec))
    if "{" in spec and (missing := [u for u in urls if store.is_url(u) and not store.exists(u)]):
        # a store's brace range naming a shard that is not there: exit 2, as for local files (a break test)
        raise FileNotFoundError(f"shard files not found: {missing[:5]}")
    for url in urls:
        for s in iter_samples(url, stats):
            try:
                s["record"] = ClipRecord.model_validate_json(s["json"])  # read once: describe() uses it
            except ValueError as exc:  # pydantic's ValidationError, or bytes that are no JSON
                why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                print(f"warning: {url}: sample {s['__key__']!r} skipped: its record does not read ({why})",
                      file=sys.stderr)
                if unread is not None:
                    unread.append(s["__key__"])
                stats.counts["record"] += 1
                continue
            yield s


def select(spec: str, key: str | None = None, sample: int | None = None, seed: int = 0,
           limit: int = DEFAULT_LIMIT, stats: SkipStats | None = None) -> list[dict]:
    """The samples to show: the one named ``key`` (stops reading when found; [] when absent),
    ``sample`` drawn uniformly at random (reservoir sampling with ``seed``: reads every
    shard), or else the first ``limit`` in shard order. ``stats``: counts what was skipped
    (:func:`samples`). Raises :class:`DamagedSample` when the sample named ``key`` is there
    but its record does not read (skipped with a warning)."""
    if key is not None:
        unread: list[str] = []
        for s in samples(spec, unread, stats):
            if s["__key__"] == key:
                return [s]
            if key in unread:
                break
        if key in unread:
            raise DamagedSample(f"the sample with key {key!r} in {spec} is damaged: its record does not read")
        return []
    if sample is None:
        out = []
        for s in samples(spec, stats=stats):
            if len(out) >= limit:
                break
            out.append(s)
        return out
    rng, reservoir = random.Random(seed), []
    for i, s in enumerate(samples(spec, stats=stats)):
        if i < sample:
            reservoir.append(s)
        elif (j := rng.randint(0, i)) < sample:
            reservoir[j] = s
    return reservoir


def describe(s: dict) -> list[str]:
    """Lines for one sample: key, shard, source and span, clip format, scores, caption text
    (``<key>.txt``) and, for model captions, the short caption and timed events."""
    rec = s["record"] if "record" in s else ClipRecord.model_validate_json(s["json"])
    sc = rec.scores
    lines = [f"{s['__key__']}  ({s['__url__'].rsplit('/', 1)[-1]})",
             f"  source: {_visible(rec.source.path)} @ {rec.span.start_s:.2f}-{rec.span.end_s:.2f} s",
             f"  clip: {rec.clip.width}x{rec.clip.height} {rec.clip.fps:g} fps {rec.clip.num_frames} frames "
             f"{rec.clip.duration_s:.2f} s, {len(s['mp4'])} bytes",
             "  scores: " + ", ".join(f"{k} {v:.4g}" for k, v in sc.model_dump().items() if v is not None),
             f"  txt: {s['txt'].decode('utf-8', 'replace')}"]
    cap = rec.caption
    if cap is not None and cap.source == "model":
        lines.append(f"  caption ({cap.model_id}): {cap.short or ''}")
        lines += [f"    {e.start_s:.1f}-{e.end_s:.1f} s: {e.text}" for e in cap.events]
    return lines


def contact_sheet(chosen: list[dict], path: str) -> tuple[int, int]:
    """Write an image at ``path`` (local; its type by the extension, :func:`sheet_format`): one
    tile per sample, 3 frames of its mp4 (first, middle, last; decoded with PyAV,
    ``thumbs.THUMB_H`` px high) above its key and the start of its caption (cut at a
    word), ``SHEET_COLUMNS`` tiles per row; the file is replaced whole or not at all.
    Returns the sheet's (width, height) in pixels. Raises ValueError when ``chosen`` is
    empty, OSError when it cannot be written."""
    if not chosen:
        raise ValueError("no samples for a contact sheet")
    tiles = []
    for s in chosen:
        try:
            frames = thumbs.mp4_frames(s["mp4"])
        except Exception:  # noqa: BLE001 - an undecodable clip gets a grey tile, not a crash
            frames = []
        strip = (Image.open(io.BytesIO(thumbs.strip(frames))) if frames
                 else Image.new("RGB", (3 * thumbs.THUMB_W, thumbs.THUMB_H), (200, 200, 200)))
        tile = Image.new("RGB", (3 * thumbs.THUMB_W + 8, thumbs.THUMB_H + 40), "white")
        tile.paste(strip, (4, 4))
        draw = ImageDraw.Draw(tile)
        draw.text((4, thumbs.THUMB_H + 8), s["__key__"], fill="black")
        draw.text((4, thumbs.THUMB_H + 22), _shorten(s["txt"].decode("utf-8", "replace"), 70), fill=(60, 60, 60))
        tiles.append(tile)
    w, h = tiles[0].size
    cols = min(SHEET_COLUMNS, len(tiles))
    sheet = Image.new("RGB", (cols * w, -(-len(tiles) // cols) * h), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % cols) * w, (i // cols) * h))
    fmt = sheet_format(path)
    # written beside it, then renamed over it: a disk that fills mid-write had left a cut
    # image in place of an earlier sheet, or an empty file (a break test)
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as f:  # open's mode (0644 under umask 022), as the sheet itself had
            sheet.save(f, format=fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return sheet.size


def sheet_format(path: str) -> str:
    """The image format a contact sheet at ``path`` is written in, by its extension as
    Pillow knows them (``.png`` PNG, ``.jpg`` JPEG, ``.webp``, ``.gif``, ...); PNG when the
    name has none. Raises ValueError for an extension Pillow cannot write."""
    ext = os.path.splitext(path)[1].lower()
    if not ext:
        return "PNG"
    fmt = Image.registered_extensions().get(ext)
    if fmt is None or fmt not in Image.SAVE:
        raise ValueError(f"no image type Pillow writes ends in {ext!r}; use .png, .jpg or .webp")
    return fmt


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(32), 127]}


def _visible(text: str) -> str:
    """``text`` with control characters written as ``\\xNN`` (a newline in a file name
    had split a sample's lines)."""
    return text.translate(_CONTROL)


def _shorten(text: str, width: int) -> str:
    """``text`` on one line, cut at the last word boundary within ``width`` characters with
    an ellipsis when longer (a word longer than ``width`` is cut inside)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[:width - 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return head.rstrip(" ,;:") + "\u2026"


def record_json(s: dict) -> str:
    """One JSON line: the sample's key, shard URL, record and caption text."""
    return json.dumps({"key": s["__key__"], "shard": s["__url__"], "record": json.loads(s["json"]),
                       "txt": s["txt"].decode("utf-8", "replace")})

