"""Merge window captions into a clip's short caption, long caption and events, in time order.

Answers are read into :class:`~curate.captioning.answers.WindowCaption` by
:mod:`curate.captioning.answers`. Merging (long clips captioned window by window): all
events sorted by start then end; an event whose text repeats an overlapping earlier one
(overlapping windows describe the same moment twice) widens that event instead of adding
a new one. The long caption is the events' sentences in time order; the short caption is
the window summaries in order joined into one sentence with ", then".
"""

from __future__ import annotations

from curate.captioning.answers import WindowCaption
from curate.captioning.hygiene import words
from schemas import CaptionEvent

__all__ = ["WindowCaption", "merge_events", "merge_windows"]


def _same(a: str, b: str) -> bool:
    return words(a) == words(b)


def merge_events(captions: list[WindowCaption]) -> list[CaptionEvent]:
    """All windows' events in time order, repeats across overlapping windows merged."""
    events = sorted((e for c in captions for e in c.events), key=lambda e: (e.start_s, e.end_s))
    out: list[CaptionEvent] = []
    for ev in events:
        twin = next((o for o in reversed(out) if o.end_s >= ev.start_s and _same(o.text, ev.text)), None)
        if twin is not None:
            twin.end_s = max(twin.end_s, ev.end_s)
        else:
            out.append(ev.model_copy())
    return out


def merge_windows(captions: list[WindowCaption]) -> tuple[str, str, list[CaptionEvent]]:
    """``(short, long, events)`` of a clip from its window captions (module docstring).

    Raises ValueError when ``captions`` is empty.
    """
    if not captions:
        raise ValueError("no window captions to merge")
    captions = sorted(captions, key=lambda c: (c.window.start_s, c.window.end_s))
    events = merge_events(captions)
    long = " ".join(e.text for e in events)
    summaries: list[str] = []
    for c in captions:
        s = c.summary.rstrip(".!? ")
        if s and not (summaries and _same(summaries[-1], s)):
            summaries.append(s)
    if not summaries:
        return long, long, events
    tail = [s[:1].lower() + s[1:] for s in summaries[1:]]
    short = ", then ".join([summaries[0]] + tail) + "."
    return short, long, events
