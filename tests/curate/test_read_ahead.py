"""The one-decode pass's decode thread (onepass.read_ahead) and the clip stages it runs (plan.fusable)."""

import threading

import av
import numpy as np
import pytest

from curate.codec import DecodedFrame
from curate.embed import EmbedStage
from curate.extract import ExtractStage
from curate.filter import FilterStage
from curate.spill import FrameSpill, read_ahead
from curate.quality.stage import QualityStage
from curate.score import ScoreStage
from curate.tasks import ClipTask
from schemas import Span
from pipelines.plan import _Apply, dumps, fusable, loads, rows_per_block


def _frames(n: int, fail_at: int | None = None):
    for i in range(n):
        if i == fail_at:
            raise RuntimeError(f"decoder died at frame {i}")
        planes = np.full((24, 16), i, np.uint8)
        yield DecodedFrame(i, i / 25, av.VideoFrame.from_ndarray(planes, format="yuv420p"))


def test_read_ahead_yields_in_order_and_fills_the_spill(tmp_path):
    spill = FrameSpill(str(tmp_path / "f.yuv"), 16, 16, memory_mb=0.0)  # every frame on disk
    got = [f.index for f in read_ahead(_frames(100), spill, depth=4)]
    assert got == list(range(100)) and spill.count == 100
    assert int(spill.frame(57).to_ndarray()[0, 0]) == 57
    assert spill._wfd is None  # closed for writing at the end


def test_read_ahead_re_raises_a_decode_failure_after_the_good_frames(tmp_path):
    spill = FrameSpill(str(tmp_path / "f.yuv"), 16, 16)
    seen = []
    with pytest.raises(RuntimeError, match="died at frame 30"):
        for f in read_ahead(_frames(100, fail_at=30), spill):
            seen.append(f.index)
    assert seen == list(range(30)) and spill.count == 30


def test_read_ahead_stops_its_thread_when_the_consumer_stops():
    before = threading.active_count()
    for f in read_ahead(_frames(10_000), depth=2):
        if f.index == 5:
            break
    assert threading.active_count() == before  # the decode thread has ended


def test_only_plain_cpu_stages_right_after_extract_are_fused():
    score, embed, flt = ScoreStage(), EmbedStage(), FilterStage()
    assert fusable([score, embed, flt]) == [score, embed, flt]
    assert fusable([score, QualityStage(nsfw=True), flt]) == [score]  # a model stage ends the chain
    limits = QualityStage(min_short_side=144)  # picture limits alone: no model
    assert fusable([score, limits, flt]) == [score, limits, flt]
    assert fusable([ScoreStage(resources={"gpus": 1})]) == []
    assert fusable([ScoreStage(limits={"timeout_s": 10})]) == []
    assert rows_per_block(ExtractStage()) == 16 and rows_per_block(ExtractStage(one_pass=False)) == 1


def test_a_stage_already_run_in_the_pass_passes_the_clip_on_untouched(monkeypatch):
    ran = []
    monkeypatch.setattr(ScoreStage, "process", lambda self, task: ran.append(task.clip_id) or task)
    span = Span(shot_index=0, window_index=0, start_frame=0, end_frame=10, start_s=0.0, end_s=0.4)
    row = {"task": dumps(ClipTask(source=None, span=span, clip_id="c", work_dir="/w", timings={"score": 0.5}))}
    assert _Apply(ScoreStage())(row) is row and ran == []
    fresh = loads(_Apply(ScoreStage())({"task": dumps(ClipTask(source=None, span=span, clip_id="d",
                                                                 work_dir="/w"))})["task"])
    assert ran == ["d"] and "score" in fresh.timings
