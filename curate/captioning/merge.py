"""Read a model's answer into a summary and timed events; merge window captions in time order.

The v1 prompt (:mod:`curate.captioning.prompts`) asks for ``SUMMARY: ...`` then
``EVENTS:`` lines ``<start>-<end> s: ...``. Answers are read leniently: labels in any
case, with or without line breaks (some tokenizers drop them), en dashes, spaces inside
numbers (``"1. 5"`` from WordPiece decoding). An answer without timed events becomes one
event spanning its window. Event times are clamped to the window they were asked about.

Merging (long clips captioned window by window): all events sorted by start then end;
an event whose text repeats an overlapping earlier one (overlapping windows describe
the same moment twice) widens that event instead of adding a new one. The long caption
is the events' sentences in time order; the short caption is the window summaries in
order joined into one sentence with ", then".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from curate.captioning.hygiene import strip_boilerplate, words
from curate.captioning.windows import Window
from schemas import CaptionEvent

_NUM = r"\d+(?:\s*\.\s*\d+)?"
_EVENT = re.compile(rf"(?:^|(?<=\s)|(?<=[.:]))({_NUM})\s*[-\u2013\u2014]\s*({_NUM})\s*s(?:ec(?:onds?)?)?\s*:")
_SUMMARY = re.compile(r"summary\s*:", re.IGNORECASE)
_EVENTS = re.compile(r"events\s*:", re.IGNORECASE)
_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)")


@dataclass
class WindowCaption:
    """What the model said about one window: a summary sentence and events (seconds from clip start)."""

    window: Window
    summary: str
    events: list[CaptionEvent] = field(default_factory=list)


def _num(text: str) -> float:
    return float(re.sub(r"\s+", "", text))


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (all of it when it has no sentence end)."""
    m = _SENTENCE.match(text.strip())
    return m.group(1).strip() if m else text.strip()


def _sentence(text: str) -> str:
    text = strip_boilerplate(text.strip(" \n;,-"))
    return text if not text or text[-1] in ".!?" else text + "."


def parse_answer(answer: str, window: Window) -> WindowCaption:
    """Split an answer (module docstring) into a :class:`WindowCaption` for ``window``."""
    text = strip_boilerplate(answer)
    m_events = _EVENTS.search(text)
    head, tail = (text[:m_events.start()], text[m_events.end():]) if m_events else (text, text)
    m_sum = _SUMMARY.search(head)
    summary = head[m_sum.end():] if m_sum else head
    matches = list(_EVENT.finditer(tail))
    if not m_events and matches:
        summary = tail[:matches[0].start()]
    summary = _sentence(_SUMMARY.sub("", first_sentence(summary)) if summary.strip() else "")
    events = []
    for i, m in enumerate(matches):
        end_pos = matches[i + 1].start() if i + 1 < len(matches) else len(tail)
        body = _sentence(tail[m.end():end_pos])
        a, b = sorted((_num(m.group(1)), _num(m.group(2))))
        a, b = min(max(a, window.start_s), window.end_s), min(max(b, window.start_s), window.end_s)
        if body and words(body):
            events.append(CaptionEvent(start_s=round(a, 3), end_s=round(max(a, b), 3), text=body))
    if not events:
        body = _sentence(_SUMMARY.sub("", text)) if not summary else summary
        events = [CaptionEvent(start_s=window.start_s, end_s=window.end_s, text=body)]
    return WindowCaption(window=window, summary=summary or events[0].text, events=events)


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
