"""Caption prompts: frames with their timestamps, plus the measured signals as hints.

A prompt is a chat message for any vision-language model whose processor has a chat
template that takes several images (Qwen2/2.5/3-VL, LLaVA-OneVision, SmolVLM2, ...):
each frame is an image preceded by its time in seconds from the clip start, in
increasing order, so the model can say when things happen (the frame-timestamp
prompting of Qwen2.5-VL's and LLaVA-Video's video captioning recipes, done in text so
it works for any multi-image model). The measured signals (camera motion per segment,
motion intensity, on-screen text when a scorer measured it) follow as hints.

Prompt versions are stable: changing a prompt's wording means adding a version, since
the version is part of the caption cache key and of every record it produced.
"""

from __future__ import annotations

from dataclasses import dataclass

from curate.caption import describe
from curate.camera import CameraThresholds
from curate.captioning.windows import Window
from schemas import CameraSegment, ClipRecord

PROMPT_VERSIONS = ("v1",)

_V1_TASK = (
    "Describe what happens in the video, in time order. Answer in exactly this format:\n"
    "SUMMARY: <one sentence about the whole {span}>\n"
    "EVENTS:\n"
    "<start>-<end> s: <one sentence about what happens then>\n"
    "Name what moves, where it goes and how the camera moves. Use the times above. "
    "Do not describe the frames one by one and do not begin with \"The video shows\"."
)


@dataclass(frozen=True)
class Hints:
    """Measured signals of a clip: camera segments, overall motion score, on-screen text.

    ``motion``: mean optical-flow magnitude in frame widths per second (None when not
    scored). ``screen_text``: a short note on text in the picture (None when unknown).
    """

    segments: tuple[CameraSegment, ...]
    motion: float | None = None
    screen_text: str | None = None


def hints_of(rec: ClipRecord) -> Hints:
    """The hints of a record after the signals caption stage filled ``camera_segments``.

    On-screen text is taken from ``scores.text_area`` (share of the frame covered by
    text, 0..1) when a scorer sets that field; until then it is unknown.
    """
    area = getattr(rec.scores, "text_area", None)
    note = None
    if area is not None:
        note = "none visible" if area < 0.005 else f"text covers about {100 * area:.0f}% of the frame"
    return Hints(segments=tuple(rec.camera_segments), motion=rec.scores.motion, screen_text=note)


def motion_label(motion: float, th: CameraThresholds = CameraThresholds()) -> str:
    """Words for a motion score (frame widths per second), on the camera module's intensity levels."""
    a, b, c = th.intensity_levels
    return ("almost no motion" if motion < a else "low motion" if motion < b
            else "moderate motion" if motion < c else "strong motion")


def hint_lines(hints: Hints, window: Window) -> list[str]:
    """Hint lines for one window: camera segments clipped to it, motion, on-screen text."""
    segs = [seg.model_copy(update={"start_s": max(seg.start_s, window.start_s),
                                   "end_s": min(seg.end_s, window.end_s)})
            for seg in hints.segments if seg.end_s > window.start_s and seg.start_s < window.end_s]
    lines = [f"camera {part}" for part in describe(segs).split("; ") if part]
    if hints.motion is not None:
        lines.append(f"overall: {motion_label(hints.motion)}")
    if hints.screen_text:
        lines.append(f"on-screen text: {hints.screen_text}")
    return lines


def build_messages(times: list[float], hints: Hints, window: Window, duration_s: float,
                   version: str = "v1") -> list[dict]:
    """One user message: ``"Frame k at t s:"`` + image for each frame, then hints and the task.

    ``times``: the window's frame times in seconds from the clip start, in the order the
    images will be passed (must be strictly increasing). Returns the chat ``messages``
    list for ``processor.apply_chat_template``. Raises ValueError on an unknown
    ``version``, no frames, or times out of order.
    """
    if version not in PROMPT_VERSIONS:
        raise ValueError(f"unknown prompt version {version!r}; known: {PROMPT_VERSIONS}")
    if not times or any(b <= a for a, b in zip(times[:-1], times[1:])):
        raise ValueError(f"frame times must be non-empty and strictly increasing, got {times}")
    whole = window.start_s <= 0 and window.end_s >= duration_s
    intro = (f"These {len(times)} frames come from a {duration_s:.1f} s video clip"
             + ("" if whole else f", the part from {window.start_s:.1f} s to {window.end_s:.1f} s")
             + "; each is labelled with its time in seconds from the clip start.")
    content: list[dict] = [{"type": "text", "text": intro}]
    for k, t in enumerate(times):
        content.append({"type": "text", "text": f"\nFrame {k + 1} at {t:.2f} s:"})
        content.append({"type": "image"})
    lines = hint_lines(hints, window)
    hint_text = ("\nMeasured signals (reliable for camera motion):\n" + "\n".join(f"- {x}" for x in lines)
                 if lines else "")
    task = _V1_TASK.format(span="clip" if whole else "part")
    content.append({"type": "text", "text": f"{hint_text}\n{task}"})
    return [{"role": "user", "content": content}]


def prompt_text(messages: list[dict]) -> str:
    """The text parts of ``messages`` joined (what prompt-echo detection compares against)."""
    parts = []
    for msg in messages:
        content = msg["content"]
        parts += [content] if isinstance(content, str) else [c["text"] for c in content if c["type"] == "text"]
    return " ".join(parts)


def frame_times_in_prompt(messages: list[dict]) -> list[float]:
    """The frame times as written in the prompt, in prompt order (for checks and tests)."""
    out = []
    for c in messages[0]["content"]:
        text = c.get("text", "")
        if c["type"] == "text" and text.startswith("\nFrame ") and text.endswith(" s:"):
            out.append(float(text.rsplit(" at ", 1)[1][:-3]))
    return out
