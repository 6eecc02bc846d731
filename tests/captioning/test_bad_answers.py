"""Answers a real model gives on a bad day: each fails its own window only, and nothing
unprintable or impossible reaches a record."""

import json

import pytest

from curate.captioning import VLMCaptionStage
from curate.captioning.answers import clean_sentence, read_answer
from curate.captioning.windows import Window

GOOD = '{"summary": "A dog runs.", "events": [{"start_s": 0.0, "end_s": 2.0, "text": "A dog runs left."}]}'


@pytest.mark.parametrize("answer", ["[" * 1200 + "]" * 1200, '{"a":' * 1500 + "1" + "}" * 1500])
def test_deeply_nested_json_is_no_answer_not_an_error(answer):
    cap = read_answer(answer, Window(0.0, 3.0))  # read as free text (no timed event in it)
    assert cap.events == [] and not cap.structured


@pytest.mark.parametrize("times", ['"start_s": NaN, "end_s": NaN', '"start_s": 0, "end_s": Infinity',
                                   '"start_s": -Infinity, "end_s": 1'])
def test_times_that_are_no_numbers_give_no_event(times):
    answer = '{"summary": "A dog runs.", "events": [{%s, "text": "A dog runs left."}]}' % times
    assert read_answer(answer, Window(0.0, 3.0)).events == []


def test_a_400_digit_time_gives_no_event():
    assert read_answer("1" + "0" * 400 + "-2" + "0" * 400 + " s: a dog runs.", Window(0.0, 3.0)).events == []


def test_a_bare_list_of_one_event_is_read():
    events = read_answer('[{"start_s": 0, "end_s": 2.5, "text": "A dog runs in."}]', Window(0.0, 3.0)).events
    assert [(e.start_s, e.end_s, e.text) for e in events] == [(0.0, 2.5, "A dog runs in.")]


def test_events_wholly_outside_the_window_are_dropped_not_squeezed_to_its_edge():
    answer = "0.0-1.0 s: a dog runs in. 1000000-2000000 s: it flies away. 2.5-9.0 s: it sits down."
    events = read_answer(answer, Window(2.0, 4.0)).events
    assert [(e.start_s, e.end_s, e.text) for e in events] == [(2.5, 4.0, "It sits down.")]
    point = read_answer('{"events": [{"start_s": 4, "end_s": 4, "text": "It stops."}]}', Window(2.0, 4.0)).events
    assert [(e.start_s, e.end_s) for e in point] == [(4.0, 4.0)]  # a moment at the window's end stays


def test_terminal_escapes_and_control_characters_are_taken_out():
    text = "A dog\x1b[2J\x1b]0;owned\x07 runs\x00 \u202eleft\x1b]2;t\x1b\\ fast"
    assert clean_sentence(text) == "A dog runs left fast."
    answer = '{"summary": "A dog\\u001b[31m runs.", "events": [{"start_s": 0, "end_s": 1, "text": "It\\u0007 runs."}]}'
    cap = read_answer(answer, Window(0.0, 3.0))
    assert cap.summary == "A dog runs." and cap.events[0].text == "It runs."


class _OneBadClip:
    """Answers every request with GOOD, except that a batch holding a request of the clip
    with 5 frames raises (as an engine does on an input it cannot take)."""

    takes_video = False

    def __init__(self):
        self.sizes = []

    def count_tokens(self, request):
        return 100

    def generate(self, requests, settings, schema=None):
        from curate.captioning.generation import Generation

        self.sizes.append(len(requests))
        if any(len(r.images) == 5 for r in requests):
            raise ValueError("cannot take this input")
        return [Generation(text=GOOD, new_tokens=9, hit_limit=False) for _ in requests]


def test_a_clip_that_breaks_its_batch_costs_only_itself(make_clip, scripted):
    _, with_model = scripted
    model = _OneBadClip()
    stage = with_model(VLMCaptionStage(model="m", window_s=10.0, stride_s=8.0, resources={"batch_size": 8}), model)
    tasks = [make_clip(clip_id=f"c{i}") for i in range(3)] + [make_clip(clip_id="bad", n_frames=5)]
    stage.process_batch(tasks)
    assert [t.reject_row is None for t in tasks] == [True, True, True, False]
    assert all(t.record.caption.source == "model" for t in tasks[:3])
    assert tasks[3].reject_row.reason == "stage_error" and "cannot take this input" in tasks[3].reject_row.detail
    assert model.sizes[0] == 4 and sorted(model.sizes[1:]) == [1, 1, 1, 1]  # the batch, then each clip alone


def test_an_answer_the_reader_fails_on_fails_its_window_only(make_clip, scripted, monkeypatch):
    model_cls, with_model = scripted
    import curate.captioning.jobs as jobs_mod

    real = jobs_mod.read_answer

    def reader(text, window, offset_s=0.0):
        if "boom" in text.lower():
            raise RecursionError("maximum recursion depth exceeded")
        return real(text, window, offset_s)

    monkeypatch.setattr(jobs_mod, "read_answer", reader)
    stage = with_model(VLMCaptionStage(model="m", window_s=10.0, stride_s=8.0, resources={"batch_size": 4}),
                       model_cls(["boom", GOOD, "boom", "boom"]))  # clip a: boom, then its retry: boom
    a, b = make_clip(clip_id="a"), make_clip(clip_id="b")
    stage.process_batch([a, b])
    assert a.reject_row is None and b.reject_row is None
    assert b.record.caption.source == "model"
    assert a.record.caption.source == "signals" and a.record.caption.degenerate_detail == "unreadable"
    assert json.loads(a.record.caption.generation)  # the retry's settings are recorded


def test_a_cache_entry_that_is_no_utf8_is_a_miss_not_a_reject(make_clip, scripted):
    from curate.captioning.cache import CaptionCache

    model_cls, with_model = scripted
    model = model_cls([GOOD])
    stage = with_model(VLMCaptionStage(model="m", window_s=10.0, stride_s=8.0), model)
    task = make_clip(clip_id="c")
    cache = CaptionCache(task.work_dir, stage.cache_settings())
    import os

    os.makedirs(os.path.dirname(cache.path("c")), exist_ok=True)
    with open(cache.path("c"), "wb") as f:
        f.write(b"\xff\xfe not utf-8")
    stage.process_batch([task])
    assert task.reject_row is None and task.record.caption.source == "model" and len(model.calls) == 1


def test_half_an_emoji_and_invisible_marks_are_taken_out():
    answer = json.loads('"A dog \\ud83d runs\\u200b \\u061cleft\\ufeff."')  # a lone surrogate, as json.loads gives it
    assert clean_sentence(answer) == "A dog runs left."
    assert clean_sentence("A dog \U0001F415 runs.") == "A dog \U0001F415 runs."  # a whole emoji stays
    assert clean_sentence(answer).encode("utf-8")


def test_every_invisible_character_is_taken_out():
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "IGNORE")  # tag characters: invisible "ASCII smuggling"
    text = "A man waves" + hidden + " his\u2060 hand\u200d\u200c \u00adfast\u180e \ufffd\ufffd"
    assert clean_sentence(text) == "A man waves his hand fast."


_RNG = __import__("random").Random(3)
GIBBERISH = " ".join("".join(_RNG.choice("bdfgkmnprstvz") + _RNG.choice("aeiou") for _ in range(3))
                     for _ in range(1500))  # 1500 made-up words, no phrase repeated (no repeated_ngram)


@pytest.mark.parametrize(("answer", "kind"), [
    ('{"summary": "I am unable to help with that request.", "events": [{"start_s": 0, "end_s": 2, '
     '"text": "I am unable to help with that request."}]}', "refusal"),
    ("0.0-2.0 s: As an AI language model, I cannot describe people in videos.", "refusal"),
    ('{"summary": "A street scene.", "events": [{"start_s": 0, "end_s": 2, "text": "' + GIBBERISH + '"}]}',
     "wrong_language"),
    ('{"summary": "Ok.", "events": [{"start_s": 0, "end_s": 2, "text": "Ok."}]}', "empty"),
    ("0-3 s: Ok.", "empty"),
])
def test_answers_a_break_test_saw_kept_as_captions_fall_back(make_clip, scripted, answer, kind):
    """Each had been kept as a model caption: a refusal in the schema's JSON, 10,000
    characters of gibberish in an event beside an English summary, and an answer of one
    word whose JSON keys and time labels had been counted as its words."""
    model_cls, with_model = scripted
    stage = with_model(VLMCaptionStage(model="m", window_s=10.0, stride_s=8.0), model_cls([answer, answer]))
    task = make_clip(clip_id="a")
    stage.process_batch([task])
    cap = task.record.caption
    assert (cap.source, cap.degenerate_reason, cap.degenerate_detail) == ("signals", "caption_degenerate", kind)


def test_a_reasoning_block_is_no_part_of_the_caption(make_clip, scripted):
    """A break test: a thinking model's free text kept "Thinking about it.</think>" in the
    caption and took an event out of its reasoning."""
    model_cls, with_model = scripted
    answer = ("<think>I should describe. 0.0-1.0 s: thinking about it.</think>\n"
              "0.0-2.0 s: A man walks to the left.\n2.0-3.0 s: He stops at the door.")
    stage = with_model(VLMCaptionStage(model="m", window_s=10.0, stride_s=8.0), model_cls([answer]))
    task = make_clip(clip_id="a")
    stage.process_batch([task])
    cap = task.record.caption
    assert cap.source == "model" and "think" not in cap.text.lower() and "describe" not in cap.text
    assert [e.text for e in cap.events] == ["A man walks to the left.", "He stops at the door."]


def test_json_events_lose_their_repeated_time_labels_and_json_in_a_string_is_no_event():
    """A break test: event texts kept "0.0-1.5 s:" and "[1.5-3.0s]" (times on the video's
    clock, not the clip's) in the long caption, and an event whose text was itself a JSON
    object became the caption '{"start_s": 0, "text": "A man walks"}.'."""
    w = Window(0.0, 3.0)
    cap = read_answer('{"summary": "A man.", "events": [{"start_s": 0, "end_s": 1.5, "text": "0.0-1.5 s: A man '
                      'walks."}, {"start_s": 1.5, "end_s": 3, "text": "[1.5-3.0s] He stops."}]}', w)
    assert [(e.start_s, e.end_s, e.text) for e in cap.events] == [(0.0, 1.5, "A man walks."), (1.5, 3.0, "He stops.")]
    nested = json.dumps({"summary": "x", "events": [{"start_s": 0, "end_s": 2,
                                                     "text": json.dumps({"start_s": 0, "text": "A man walks"})}]})
    assert read_answer(nested, w).events == []
