"""Prompts carry the frames' timestamps in increasing order, and the signals as hints."""

import pytest

from curate.captioning import VLMCaptionStage
from curate.captioning.prompts import (Hints, build_messages, build_prompt, frame_times_in_prompt, hint_lines,
                                      prompt_text, video_times_in_prompt)
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
    model = model_cls(["0.0-4.0 s: A ball rolls to the left."])
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


def test_video_prompt_states_the_times_the_model_is_given(make_clip, scripted):
    model_cls, with_model = scripted
    task = make_clip(duration_s=12.0, times=[0.25 + 0.5 * k for k in range(24)])  # 2 fps sample
    model = model_cls(['{"summary": "A ball rolls.", "events": [{"start_s": 0, "end_s": 1, "text": "It rolls."}]}'],
                      takes_video=True)
    stage = with_model(VLMCaptionStage(model="scripted", window_s=8.0, stride_s=6.0, cache=False), model)
    stage.process(task)
    reqs = sorted((r for call, _ in model.calls for r in call), key=lambda r: r.offset_s)  # batches go by length
    assert [(r.video, r.fps, r.offset_s, len(r.images)) for r in reqs] == [(True, 2.0, 0.25, 16), (True, 2.0, 6.25, 12)]
    for r in reqs:
        assert [c["type"] for c in r.messages[0]["content"]] == ["video", "text"]
        stated = video_times_in_prompt(r.messages)
        meta = r.video_metadata()
        assert stated == [k / meta["fps"] for k in meta["frames_indices"]]  # what transformers computes
    assert model.schemas[0] is not None and "events" in model.schemas[0]["properties"]
    # answer times are from the start of the video: shifted by the first frame's clip time
    assert [(e.start_s, e.end_s) for e in task.record.caption.events] == [(0.25, 1.25), (6.25, 7.25)]


def test_video_prompt_hints_use_the_video_clock():
    segs = (CameraSegment(start_s=0.0, end_s=5.0, camera="static", intensity="low"),
            CameraSegment(start_s=5.0, end_s=10.0, camera="pan_left", intensity="strong"))
    p = build_prompt([4.5, 5.5, 6.5, 7.5], Hints(segs), Window(4.0, 8.0), 10.0, "v2", video=True)
    assert p.video and p.fps == 1.0 and p.offset_s == 4.5
    text = prompt_text(p.messages)
    assert "0.0-0.5 s: static camera, low motion" in text
    assert "0.5-3.5 s: camera pans left, strong motion" in text
    assert video_times_in_prompt(p.messages) == [0.0, 1.0, 2.0, 3.0]
    single = build_prompt([4.5], Hints(segs), Window(4.0, 8.0), 10.0, "v2", video=True)
    assert not single.video and frame_times_in_prompt(single.messages) == [4.5]  # one frame: an image
    images = build_prompt([4.5, 5.5], Hints(segs), Window(4.0, 8.0), 10.0, "v2", video=False)
    assert not images.video and images.offset_s == 0.0 and '"start_s"' in prompt_text(images.messages)
