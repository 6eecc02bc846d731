"""Fixtures for the captioning tests: tiny offline VLMs, clip tasks with saved frame samples,
and a scripted stand-in model that counts its calls."""

from __future__ import annotations

import copy
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from curate.captioning.model import Generation  # noqa: E402
from curate.captioning.tiny import build_tiny_vlm, wire_answer  # noqa: E402
from curate.extract import frames_path  # noqa: E402
from curate.frames_io import save_frames  # noqa: E402
from curate.tasks import ClipTask  # noqa: E402
from pipelines.config import Pipeline, parse_pipeline  # noqa: E402
from schemas import ClipRecord, ClipVideo, MotionStep, Scores, SourceInfo, Span  # noqa: E402
from support.pipelines import TEST_OVERRIDES, local_dict  # noqa: E402

ANSWER = "0 - 3 s : a red square slides right."  # every token distinct (wire_answer)


@pytest.fixture(scope="session")
def random_vlm(tmp_path_factory) -> str:
    """Folder of a tiny random Qwen2.5-VL (writes gibberish)."""
    return build_tiny_vlm(str(tmp_path_factory.mktemp("vlm") / "random"))


@pytest.fixture(scope="session")
def answer_vlm(tmp_path_factory) -> str:
    """Folder of a tiny Qwen2.5-VL wired to answer every prompt with :data:`ANSWER` (one timed event)."""
    return wire_answer(build_tiny_vlm(str(tmp_path_factory.mktemp("vlm") / "answer")), ANSWER)


def make_task(work_dir: str, clip_id: str = "clip0", duration_s: float = 3.0, n_frames: int = 6,
              times: list[float] | None = None, pan_x: float = 0.0) -> ClipTask:
    """A clip task whose record and frame sample (saved under ``work_dir``) look like extract's."""
    src = SourceInfo(path="/v/a.mp4", source_id="s" * 24, size_bytes=1, duration_s=duration_s, fps=25.0,
                     num_frames=int(25 * duration_s), width=80, height=64, codec="h264")
    span = Span(shot_index=0, start_frame=0, end_frame=int(25 * duration_s), start_s=0.0, end_s=duration_s)
    track = [MotionStep(t_s=t, pan_x=pan_x, pan_y=0.0, zoom=0.0, residual=0.01, magnitude=abs(pan_x) + 0.01,
                        luma=100.0) for t in np.arange(0.125, duration_s, 0.25)]
    rec = ClipRecord(clip_id=clip_id, source=src, span=span, motion_track=track, scores=Scores(motion=0.05),
                     clip=ClipVideo(num_frames=span.end_frame, fps=25.0, width=80, height=64, duration_s=duration_s))
    if times is None:
        times = list(np.linspace(0.0, duration_s, n_frames, endpoint=False) + duration_s / n_frames / 2)
    rng = np.random.default_rng(abs(hash(clip_id)) % 2**32)
    frames = rng.integers(0, 256, (len(times), 64, 80, 3), dtype=np.uint8)
    os.makedirs(os.path.join(work_dir, "clips"), exist_ok=True)
    save_frames(frames_path(work_dir, clip_id), frames, times)
    return ClipTask(source=src, span=span, clip_id=clip_id, work_dir=work_dir, record=rec, source_path=src.path)


class ScriptedModel:
    """Stands in for :class:`curate.captioning.model.VisionLanguageModel`.

    ``answers``: texts returned in turn (the last one repeats); records every call's
    requests, settings and schema. ``takes_video``: whether prompts should send video.
    ``count_tokens``: 100 + 10 per frame.
    """

    def __init__(self, answers: list[str], takes_video: bool = False):
        self.answers = list(answers)
        self.calls: list[tuple[list, object]] = []
        self.schemas: list = []
        self.served = 0
        self.takes_video = takes_video

    def count_tokens(self, request) -> int:
        return 100 + 10 * len(request.images)

    def generate(self, requests, settings, schema=None) -> list[Generation]:
        self.calls.append((list(requests), settings))
        self.schemas.append(schema)
        out = []
        for _ in requests:
            text = self.answers[min(self.served, len(self.answers) - 1)]
            self.served += 1
            out.append(Generation(text=text, new_tokens=len(text.split()), hit_limit=False))
        return out


def with_model(stage, model):
    """``stage`` with ``model`` installed as its loaded model (no weights loaded)."""
    stage._vlm = model
    stage._fit = None
    return stage


def vlm_pipeline(model: str, **vlm) -> Pipeline:
    """``pipelines/local.yaml`` with the test overrides and a ``vlm_caption`` stage after ``caption``."""
    data = copy.deepcopy(local_dict())
    for stage in data["stages"]:
        stage.update(TEST_OVERRIDES.get(stage["stage"], {}))
    at = [s["stage"] for s in data["stages"]].index("caption") + 1
    data["stages"].insert(at, {"stage": "vlm_caption", "model": model, **vlm})
    return parse_pipeline(data, "test-vlm")


@pytest.fixture
def make_clip(tmp_path):
    """``make_clip(clip_id=..., duration_s=..., ...)``: :func:`make_task` in this test's work folder."""
    work = str(tmp_path / "work")

    def make(**kw) -> ClipTask:
        return make_task(work, **kw)
    return make


@pytest.fixture
def scripted():
    """The :class:`ScriptedModel` class and :func:`with_model`, as ``(ScriptedModel, with_model)``."""
    return ScriptedModel, with_model


@pytest.fixture(scope="session")
def pipeline_with_vlm():
    """:func:`vlm_pipeline`."""
    return vlm_pipeline
