"""Caption prompts: frames with their timestamps, plus the measured signals as hints.

A prompt is a chat message for any vision-language model whose processor has a chat
template that takes several images (Qwen2/2.5/3-VL, LLaVA-OneVision, SmolVLM2, ...):
each frame is an image preceded by its time in seconds from the clip start, in
increasing order, so the model can say when things happen (the frame-timestamp
prompting of Qwen2.5-VL's and LLaVA-Video's video captioning recipes, done in text so
it works for any multi-image model). The measured signals (camera motion per segment,
motion intensity, on-screen text when a scorer measured it) follow as hints.

``v2`` (the default) asks for JSON of :data:`curate.captioning.answers.ANSWER_SCHEMA`.
For a model that takes video (:data:`curate.captioning.model.VIDEO_MODELS`) the window's
frames go in as one video whose frame ``k`` is at ``k / fps`` seconds (``fps`` the frame
sample's rate), and the prompt states exactly those times, in seconds from the start of
the video; the answer's times are then shifted by the clip time of the first frame
(``offset_s``). The hints are shifted the same way, so every time the model reads or
writes is on one clock. For other models, ``v2`` labels each image with its clip time,
as ``v1`` does. ``v1`` asks for ``SUMMARY:``/``EVENTS:`` free text and always uses images.

Prompt versions are stable: changing a prompt's wording means adding a version, since
the version is part of the caption cache key and of every record it produced.
"""

from __future__ import annotations

from dataclasses import dataclass

from curate.caption import describe
from curate.camera import CameraThresholds
from curate.captioning.windows import Window
from schemas import CameraSegment, ClipRecord

PROMPT_VERSIONS = ("v1", "v2")

_V1_TASK = (
    "Describe what happens in the video, in time order. Answer in exactly this format:\n"
    "SUMMARY: <one sentence about the whole {span}>\n"
    "EVENTS:\n"
    "<start>-<end> s: <one sentence about what happens then>\n"
    "Name what moves, where it goes and how the camera moves. Use the times above. "
    "Do not describe the frames one by one and do not begin with \"The video shows\"."
)

_V2_TASK = (
    "Describe what happens in the {span}, in time order. Answer with JSON only, in this form:\n"
    '{{"summary": "<one sentence about the whole {span}>", "events": [{{"start_s": <start, seconds>, '
    '"end_s": <end, seconds>, "text": "<one sentence about what happens then>"}}]}}\n'
    "Give one event per distinct action; times are seconds {clock}. Name what moves, where it goes and "
    "how the camera moves. Do not describe the frames one by one and do not begin with \"The video shows\"."
)


@dataclass(frozen=True)
class Prompt:
    """A window's prompt: chat ``messages``, whether the frames go in as one ``video``, the
    frame sample's rate ``fps`` (frames per second; frame ``k`` at ``k / fps`` s of the video)
    and ``offset_s``, the clip time of time 0 in the prompt and the answer (seconds)."""

    messages: list[dict]
    video: bool
    fps: float
    offset_s: float


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


def hint_lines(hints: Hints, window: Window, offset_s: float = 0.0) -> list[str]:
    """Hint lines for one window: camera segments clipped to it (times minus ``offset_s``,
    never below 0), motion, on-screen text."""
    segs = [seg.model_copy(update={"start_s": max(seg.start_s, window.start_s, offset_s) - offset_s,
                                   "end_s": min(seg.end_s, window.end_s) - offset_s})
            for seg in hints.segments
            if seg.end_s > max(window.start_s, offset_s) and seg.start_s < window.end_s]
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


def sample_rate(times: list[float]) -> float:
    """Frames per second of a frame sample with these times (1.0 for a single frame)."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 1.0


def build_prompt(times: list[float], hints: Hints, window: Window, duration_s: float,
                 version: str = "v2", video: bool = False) -> Prompt:
    """The :class:`Prompt` of one window (module docstring).

    ``times``: the window's frame times in seconds from the clip start (strictly
    increasing); ``video``: the model takes video (used by ``v2`` when there are at least
    two frames). Raises ValueError like :func:`build_messages`.
    """
    if version == "v1" or not video or len(times) < 2:
        if version not in PROMPT_VERSIONS:
            raise ValueError(f"unknown prompt version {version!r}; known: {PROMPT_VERSIONS}")
        msgs = build_messages(times, hints, window, duration_s, "v1")
        if version == "v2":
            msgs[0]["content"][-1]["text"] = msgs[0]["content"][-1]["text"].split("\nDescribe")[0] + "\n" + \
                _V2_TASK.format(span="video", clock="from the clip start, as the frames are labelled")
        return Prompt(msgs, False, sample_rate(times), 0.0)
    build_messages(times, hints, window, duration_s, "v1")  # the same checks
    fps, offset = sample_rate(times), times[0]
    whole = window.start_s <= 0 and window.end_s >= duration_s
    stamps = ", ".join(f"{k / fps:.2f}" for k in range(len(times)))
    intro = (f"The video has {len(times)} frames at {fps:.2f} frames per second"
             + ("" if whole else f"; it is part of a {duration_s:.1f} s clip")
             + f". Frame times in seconds from the start of the video: {stamps}.")
    lines = hint_lines(hints, window, offset)
    hint_text = ("\nMeasured signals (reliable for camera motion; times from the start of the video):\n"
                 + "\n".join(f"- {x}" for x in lines)) if lines else ""
    task = _V2_TASK.format(span="video", clock="from the start of the video")
    content = [{"type": "video"}, {"type": "text", "text": f"{intro}{hint_text}\n{task}"}]
    return Prompt([{"role": "user", "content": content}], True, fps, offset)


def video_times_in_prompt(messages: list[dict]) -> list[float]:
    """The frame times a video prompt states (seconds from the start of the video)."""
    text = prompt_text(messages)
    stamps = text.split("Frame times in seconds from the start of the video: ", 1)[1].split(".\n", 1)[0]
    return [float(x) for x in stamps.rstrip(".").split(", ")]


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
