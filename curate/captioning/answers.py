"""Read a model's answer into a summary and timed events: JSON first, free text as the fallback.

The v2 prompt (:mod:`curate.captioning.prompts`) asks for JSON of :data:`ANSWER_SCHEMA`
(``{"summary": ..., "events": [{"start_s", "end_s", "text"}]}``) and, where the engine
can, decoding is constrained to it. Models still answer in other ways (an unconstrained
engine, the v1 free-text prompt, a cut-off JSON), so the reader accepts:

- JSON, bare or in a Markdown code fence, with the schema's keys or common variants
  (``start``/``end``/``description``, ``"time": "0.0-2.5 s"``, a bare list of events,
  events as strings with a time label or one string holding them all); an answer in JSON
  is never read as free text, so JSON syntax cannot end up in a caption;
- free text with one time label per event: ``0.0-2.5 s:``, ``0.0 s - 4.0 s:``,
  ``0.0s - 4.0s:``, ``[0.0-4.5s]``, ``0:00-0:03:``, ``00:01.5 - 00:03.0``, ``From 0s to 3s,``,
  ``Between 2 and 5 seconds,``, ``2.5 to 5.0 s:``, ``At 2 seconds,`` / ``At 0:05,`` (a point
  time: the event lasts until the next one starts, or the window ends), inside Markdown
  bullets, numbered lists, ``**bold**`` and table rows. An event's text ends at the next
  label, at a heading line (``Note:``, ``SUMMARY:``) or a blank line; a ``SUMMARY:``
  after the events is the summary.

A number only starts a label at a word boundary (never inside a decimal such as the
``.50`` of ``2.50``) and numbers never contain spaces. Times in the answer are seconds
from the start of what the model was shown; ``offset_s`` (the clip time of that start)
is added, then they are clamped to the window. An answer with no readable event gives
``events == []``: the stage treats that as a failed answer (retried, never cached as a
caption).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field

from curate.captioning.hygiene import strip_boilerplate, words
from curate.captioning.windows import Window
from schemas import CaptionEvent

ANSWER_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "events": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "properties": {"start_s": {"type": "number"}, "end_s": {"type": "number"}, "text": {"type": "string"}},
            "required": ["start_s", "end_s", "text"]}},
    },
    "required": ["summary", "events"],
}

_T = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:\.\d+)?|\d+(?:\.\d+)?"
_UNIT = r"\s*(?:s|secs?|seconds?)\b"
_RANGE = re.compile(
    rf"(?<![\w.:])(?P<pre>(?:from|between)\s+)?(?P<a>{_T})(?P<ua>{_UNIT})?\s*(?:[-\u2013\u2014~]|to|and|until)\s*"
    rf"(?P<b>{_T})(?![\w.:]\d)(?P<ub>{_UNIT})?", re.IGNORECASE)
_POINT = re.compile(rf"(?<![\w.:])(?:at|around)\s+(?:(?P<c>\d{{1,2}}:\d{{2}}(?:\.\d+)?)|(?P<n>\d+(?:\.\d+)?){_UNIT})",
                    re.IGNORECASE)
_AFTER = re.compile(r"^[\s*_\]\)>|]*(?:[:,\u2013\u2014-](?!\d)|\|)?[\s*_|]*")
_LINE_HEAD = re.compile(r"(?:^|\n)[ \t]*(?:[-*\u2022+>|]|\d+[.)])?[ \t]*(?:\*\*|__)?[ \t]*[\[(<]?[ \t]*$")
_SUMMARY = re.compile(r"(?:^|\n)[#>\s*_]*summary[\s*_]*[:\-\u2013]?[\s*_]*", re.IGNORECASE)
_EVENTS = re.compile(r"(?:^|\n)[#>\s*_]*(?:events|timeline)[\s*_]*:?[\s*_]*(?=\n|$|\d|\[|-)", re.IGNORECASE)
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]*-{3,}[\s:|-]*$|^\s*\|\s*(?:time|timestamp)s?\s*\|.*$",
                         re.IGNORECASE | re.MULTILINE)
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])")  # CSI, OSC, two-byte
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 controls: a space
_HEADING = re.compile(r"\n[ \t]*[#>*_]*[ \t]*[A-Za-z][A-Za-z ]{0,24}?[ \t*_]*:(?!\d)")  # "Note:", "SUMMARY:"
_TAIL = re.compile(r"\n\s*\n|" + _HEADING.pattern)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)(?:```|$)", re.DOTALL)
_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)", re.DOTALL)


@dataclass
class WindowCaption:
    """What the model said about one window: a summary sentence and events (seconds from clip start)."""

    window: Window
    summary: str
    events: list[CaptionEvent] = field(default_factory=list)
    structured: bool = False


def seconds(text: str) -> float:
    """Seconds of a time written as ``12``, ``2.5``, ``0:03``, ``00:01.5`` or ``1:02:03``.

    >>> seconds("01:02.5")
    62.5
    """
    parts = text.strip().split(":")
    out = 0.0
    for p in parts:
        out = out * 60 + float(p)
    return out if math.isfinite(out) else math.nan  # a 400-digit "time" overflows to inf


_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)


def without_reasoning(text: str) -> str:
    """``text`` without a reasoning model's thinking (Qwen3-VL "Thinking", DeepSeek-R1
    style): every ``<think>...</think>`` block, one left open to the end, and everything
    up to a ``</think>`` whose ``<think>`` the chat template wrote into the prompt. A
    break test: free text kept "Thinking about it.</think>" in the caption and read an
    event out of the reasoning."""
    low = text.lower()
    if "<think>" not in low and "</think>" in low:
        text = text[low.rindex("</think>") + len("</think>"):]
    elif "<think>" not in low:
        return text
    return _THINK.sub(" ", text).strip().lstrip(".:;,- \n").strip()  # "</think>. A man walks": its period


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (all of it when it has no sentence end)."""
    m = _SENTENCE.match(text.strip())
    return m.group(1).strip() if m else text.strip()


def visible(text: str) -> str:
    """``text`` without invisible characters: every format character (Unicode category
    ``Cf``: zero-width spaces and joiners, bidirectional marks and overrides, soft hyphens,
    tag characters that hide text), lone UTF-16 surrogates (half an emoji: no UTF-8 can hold
    it) and U+FFFD (what a broken byte sequence decodes to)."""
    return "".join(ch for ch in text if ch != "\ufffd" and unicodedata.category(ch) not in ("Cf", "Cs"))


def clean_sentence(text: str) -> str:
    """Event or summary text without Markdown, list markers, quotes or openings; ends with a
    period. Terminal escape sequences and control characters (a space each) and invisible
    characters (:func:`visible`) are taken out: a caption goes to ``<key>.txt``,
    report.html and terminals (``vidcurate inspect``), where an answer's ``ESC[2J`` had
    cleared the screen."""
    text = visible(_CONTROLS.sub(" ", _ESCAPES.sub(" ", text)))
    text = re.sub(r"\*\*|__|`", "", text)
    text = re.sub(r"\s*\|\s*", " ", text)
    text = " ".join(text.split()).strip(" ;,-\u2013\u2014:\"'")
    text = strip_boilerplate(text)
    return text if not text or text[-1] in ".!?" else text + "."


def _event(a: float, b: float, text: str, window: Window, offset_s: float) -> CaptionEvent | None:
    """The event of a time label or JSON item; None when its text has no words, a time is not
    a finite number (JSON's ``NaN``), or it lies wholly outside the window (a time the model
    made up: clamping it would give an empty event at the window's edge), or it is JSON
    itself (an object or list inside the item's string: a break test's caption read
    ``{"start_s": 0, "text": "A man walks"}.``)."""
    body = clean_sentence(text)
    if text.strip().startswith(("{", "[{", "[\"")) or not words(body) or not (math.isfinite(a) and math.isfinite(b)):
        return None
    a, b = sorted((a + offset_s, b + offset_s))
    if (min(b, window.end_s) <= max(a, window.start_s)) if a < b else not window.start_s <= a <= window.end_s:
        return None
    a, b = (min(max(x, window.start_s), window.end_s) for x in (a, b))
    return CaptionEvent(start_s=round(a, 3), end_s=round(max(a, b), 3), text=body)


def _at_start(text: str, pos: int) -> bool:
    """True when only list markers, Markdown or a sentence end separate ``pos`` from a line start."""
    before = text[:pos].rstrip(" \t*_-\u2022+>#|[(")
    return not before or before[-1] in "\n.!?:;"


def _labels(text: str) -> list[tuple[int, int, float, float | None]]:
    """Time labels in ``text``: ``(start, end, t0, t1)``; ``t1`` None for a point time.

    A range counts when it is boxed (followed by ``:``, ``]``, ``)`` or ``|``), or starts
    a line or sentence and has a unit, a clock time or ``from``/``between``. A point time
    (``At 2 s``) counts only at a line or sentence start.
    """
    found = []
    for m in _RANGE.finditer(text):
        after = text[m.end():m.end() + 4].lstrip(" *_")
        boxed = after[:1] in (":", "]", ")", "|")
        marked = m["ua"] or m["ub"] or ":" in m["a"] + m["b"] or m["pre"]
        if boxed or (marked and _at_start(text, m.start())):
            found.append((m.start(), m.end(), seconds(m["a"]), seconds(m["b"])))
    for m in _POINT.finditer(text):
        if _at_start(text, m.start()) and not any(s <= m.start() < e for s, e, _, _ in found):
            found.append((m.start(), m.end(), seconds(m["c"] or m["n"]), None))
    return sorted(found)


def read_free_text(text: str, window: Window, offset_s: float = 0.0) -> WindowCaption:
    """Free-text reader (module docstring); ``events`` is empty when no time label is found.

    An event's text ends at the next label, at a line that starts a heading such as
    ``Note:`` or ``SUMMARY:``, and (the last event's) at a blank line. The summary is what
    precedes the first label (after ``SUMMARY:``), else a ``SUMMARY:`` after the events,
    else the first event's text.
    """
    text = _TABLE_RULE.sub("", strip_boilerplate(text.replace("\r", "")))
    labels = _labels(text)
    head = text[:labels[0][0]] if labels else text
    m_sum = _SUMMARY.search(head)
    summary = head[m_sum.end():] if m_sum else head
    summary = _LINE_HEAD.sub("", _EVENTS.split(summary)[0])
    events, rest = [], ""
    for i, (start, end, t0, t1) in enumerate(labels):
        stop = labels[i + 1][0] if i + 1 < len(labels) else len(text)
        body = _AFTER.sub("", text[end:stop], count=1)
        cut = (_TAIL if i + 1 == len(labels) else _HEADING).search(body)  # a "Note:" line ends an event
        if cut:
            body, rest = body[:cut.start()], rest + body[cut.start():]
        body = _LINE_HEAD.sub("", body)
        if t1 is None:
            nxt = labels[i + 1][2] if i + 1 < len(labels) else window.end_s - offset_s
            t1 = max(t0, nxt)
        ev = _event(t0, t1, body, window, offset_s)
        if ev is not None:
            events.append(ev)
    m_tail = _SUMMARY.search(rest)
    if not words(summary) and m_tail:  # "SUMMARY: ..." written after the events
        summary = rest[m_tail.end():]
    summary = clean_sentence(first_sentence(summary)) if words(summary) else ""
    return WindowCaption(window=window, summary=summary or (events[0].text if events else ""), events=events)


def _json_value(text: str):
    """The first JSON object or array in ``text`` (fenced or bare), or None: whichever of
    ``{`` and ``[`` opens first is tried first (a bare list of one event is the list, not
    its object). Nesting deeper than the parser's recursion (``[[[[...``, a degenerate
    answer) counts as no JSON."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for cand in candidates:
        pairs = sorted((("{", "}"), ("[", "]")), key=lambda p: (cand.find(p[0]) < 0, cand.find(p[0])))
        for open_, close in pairs:
            i, j = cand.find(open_), cand.rfind(close)
            if 0 <= i < j:
                try:
                    return json.loads(cand[i:j + 1])
                except (ValueError, RecursionError):
                    continue
    return None


def _pick(d: dict, keys: tuple[str, ...]):
    return next((d[k] for k in keys if k in d and d[k] is not None), None)


def _json_time(v) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v) if math.isfinite(v) else None  # json.loads reads NaN and Infinity
    if isinstance(v, str):
        m = re.fullmatch(rf"\s*({_T})\s*(?:s|secs?|seconds?)?\s*", v, re.IGNORECASE)
        return seconds(m.group(1)) if m else None
    return None


def _json_event(item, window: Window, offset_s: float) -> CaptionEvent | None:
    if not isinstance(item, dict):
        return None
    text = _pick(item, ("text", "description", "event", "caption", "action"))
    a = _json_time(_pick(item, ("start_s", "start", "start_time", "begin", "from")))
    b = _json_time(_pick(item, ("end_s", "end", "end_time", "to")))
    span = _pick(item, ("time", "timestamp", "times", "span"))
    if (a is None or b is None) and isinstance(span, str):
        labels = _labels(span if re.search(r"[a-z:]", span, re.I) else span + " s")
        if labels:
            a, b = labels[0][2], labels[0][3] if labels[0][3] is not None else labels[0][2]
    if a is None or b is None or not isinstance(text, str):
        return None
    return _event(a, b, _without_labels(text), window, offset_s)  # its own time label repeated: on another clock


_EVENT_KEYS = ("events", "timeline", "segments")
_SUMMARY_KEYS = ("summary", "caption", "description")


def _without_labels(text: str) -> str:
    """``text`` with its time labels (and the ``:`` after each) taken out."""
    for start, end, _, _ in reversed(_labels(text)):
        start -= start > 0 and text[start - 1] in "[(<"  # its bracket too: "[1.5-3.0s]"
        text = text[:start] + _AFTER.sub("", text[end:], count=1)
    return text


def read_json(text: str, window: Window, offset_s: float = 0.0) -> WindowCaption | None:
    """JSON reader (module docstring); None when ``text`` holds no JSON list, nor an object
    with a summary or events key. Events may be objects, strings with a time label
    (``"0.0-2.0 s: ..."``) or one string holding them all; time labels in the summary are
    taken out."""
    value = _json_value(text)
    if isinstance(value, list):
        value = {"events": value}
    if not isinstance(value, dict) or not any(k in value for k in _EVENT_KEYS + _SUMMARY_KEYS):
        return None
    items = _pick(value, _EVENT_KEYS)
    events = []
    for item in ([items] if isinstance(items, str) else items if isinstance(items, list) else []):
        if isinstance(item, str):  # "0.0-2.0 s: a man waves." as a string, or all events in one
            events += read_free_text(item, window, offset_s).events
        elif (ev := _json_event(item, window, offset_s)) is not None:
            events.append(ev)
    summary = _pick(value, _SUMMARY_KEYS)
    summary = _without_labels(summary) if isinstance(summary, str) else ""
    summary = clean_sentence(first_sentence(summary)) if words(summary) else ""
    return WindowCaption(window=window, summary=summary or (events[0].text if events else ""),
                         events=events, structured=True)


def read_answer(answer: str, window: Window, offset_s: float = 0.0) -> WindowCaption:
    """Read ``answer`` about ``window``: JSON when it holds an answer in JSON (a list, or an
    object with a summary or events key; :func:`read_json`), even one without readable
    events, else free text (never free text over JSON: its syntax had become caption text).

    ``offset_s``: clip time (seconds) of time 0 in the answer. Event times are returned in
    seconds from the clip start, clamped to ``window``, in the answer's order.
    """
    parsed = read_json(answer, window, offset_s)
    return parsed if parsed is not None else read_free_text(answer, window, offset_s)
