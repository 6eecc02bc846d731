"""The caption a training clip is conditioned on: the part of the clip's caption that its frames show.

The trainer takes a window of ``data.frames`` frames (often under a second) from a clip
whose caption covers the whole clip: a signals caption is one timed description per
camera segment (``"0.0-1.7 s: camera pans left, strong motion; 1.7-2.9 s: static"``),
a vision-language caption a long description and timed ``events``. Conditioning every
window on the whole text pairs frames of the first segment with words of the last, and
the timestamps are tokens the text encoder has no use for. With ``data.caption:
window`` (the default) the text is the clip's one-sentence ``short`` caption when it has
one, followed by the ``events`` the window overlaps, in time order, joined by
``", then "`` (temporally aware, as in the captions of Cosmos-Curate and Panda-70M);
a record without events keeps its whole text. ``data.caption: clip`` keeps the whole
text always.
"""

from __future__ import annotations

from schemas import ClipRecord


def window_caption(record: ClipRecord, text: str, start_s: float, end_s: float) -> str:
    """The caption of seconds ``[start_s, end_s)`` of ``record``'s clip (module docstring);
    ``text``: the sample's whole caption (its ``.txt``), returned when ``record.caption``
    has no event overlapping the window."""
    caption = record.caption
    if caption is None or not caption.events:
        return text
    parts = [e.text.strip().rstrip(".") for e in sorted(caption.events, key=lambda e: e.start_s)
             if e.start_s < end_s and e.end_s > start_s and e.text.strip()]
    if not parts:
        return text
    said = ", then ".join(parts)
    short = (caption.short or "").strip()
    return f"{short} {said[0].upper()}{said[1:]}." if short else f"{said}."
