"""Prompts carry the frames' timestamps in increasing order, and the signals as hints."""

import pytest

from curate.captioning import VLMCaptionStage
from curate.captioning.prompts import Hints, build_messages, frame_times_in_prompt, hint_lines, prompt_text
from curate.captioning.windows import Window
from schemas import CameraSegment


def _images_follow_their_times(messages):
    content = messages[0]["content"]
    for i, c in enumerate(content):
        if c["type"] == "image":
            assert content[i - 1]["type"] == "text" and content[i - 1]["text"].endswith(" s:")


def test_stage_prompts_carry_increasing_timestamps(make_clip, scripted):
    model_cls, with_model = scripted
    # frame sample stored out of order and with a repeated time: the prompt must still increase
    task = make_clip(duration_s=6.0, times=[3.5, 0.5, 1.5, 1.5, 5.5, 2.5, 4.5])
    model = model_cls(["A ball rolls to the left."])
    stage = with_model(VLMCaptionStage(model="scripted", window_s=4.0, stride_s=2.0, cache=False), model)
    stage.process(task)
    requests = [r for call, _ in model.calls for r in call]
    assert len(requests) == 2  # windows [0, 4) and [2, 6]
    seen = []
    for req in requests:
        times = frame_times_in_prompt(req.messages)
        assert times == sorted(times) and len(set(times)) == len(times), times
        assert len(times) == len(req.images)
        _images_follow_their_times(req.messages)
        seen.append(times)
    assert seen == [[0.5, 1.5, 2.5, 3.5], [2.5, 3.5, 4.5, 5.5]]


def test_build_messages_rejects_unordered_times():
    with pytest.raises(ValueError):
        build_messages([0.0, 2.0, 1.0], Hints(()), Window(0, 3), 3.0)
    with pytest.raises(ValueError):
        build_messages([0.0, 1.0, 1.0], Hints(()), Window(0, 3), 3.0)
    with pytest.raises(ValueError):
        build_messages([0.0], Hints(()), Window(0, 3), 3.0, version="v0")


def test_hints_are_clipped_to_the_window():
    segs = (CameraSegment(start_s=0.0, end_s=2.0, camera="static", intensity="low"),
            CameraSegment(start_s=2.0, end_s=6.0, camera="pan_left", intensity="strong"))
    hints = Hints(segs, motion=0.2, screen_text="text covers about 5% of the frame")
    lines = hint_lines(hints, Window(1.0, 4.0))
    assert lines[0] == "camera 1.0-2.0 s: static camera, low motion"
    assert lines[1] == "camera 2.0-4.0 s: camera pans left, strong motion"
    assert "overall: strong motion" in lines
    assert "on-screen text: text covers about 5% of the frame" in lines
    assert hint_lines(hints, Window(4.0, 6.0))[0] == "camera 4.0-6.0 s: camera pans left, strong motion"


def test_prompt_names_window_and_hints(make_clip):
    segs = (CameraSegment(start_s=0.0, end_s=8.0, camera="zoom_in", intensity="moderate"),)
    msgs = build_messages([4.5, 5.5], Hints(segs), Window(4.0, 8.0), 10.0)
    text = prompt_text(msgs)
    assert "the part from 4.0 s to 8.0 s" in text
    assert "4.0-8.0 s: camera zooms in, moderate motion" in text
    assert frame_times_in_prompt(msgs) == [4.5, 5.5]
