"""Answers become summaries and timed events; merged events keep time order."""

from curate.captioning.answers import read_answer as parse_answer
from curate.captioning.merge import WindowCaption, merge_events, merge_windows
from curate.captioning.windows import Window, make_windows
from schemas import CaptionEvent


def test_parse_structured_answer():
    text = ("SUMMARY: The video shows a dog crossing a field.\nEVENTS:\n"
            "0.0-1.5 s: A dog enters from the left.\n1.5–9.0 s: It runs right as the camera pans")
    cap = parse_answer(text, Window(0.0, 4.0))
    assert cap.summary == "A dog crossing a field."
    assert [(e.start_s, e.end_s) for e in cap.events] == [(0.0, 1.5), (1.5, 4.0)]  # clamped to the window
    assert cap.events[1].text == "It runs right as the camera pans."


def test_parse_answer_without_line_breaks_or_format():
    cap = parse_answer("summary : a gray square moves. events : 0.5 - 1.0 s : the square slides right.",
                       Window(0.0, 2.0))
    assert cap.summary == "A gray square moves."
    assert [(e.start_s, e.end_s, e.text) for e in cap.events] == [(0.5, 1.0, "The square slides right.")]
    plain = parse_answer("A cat sits on a mat.", Window(2.0, 4.0))
    assert plain.summary == "A cat sits on a mat."
    assert plain.events == []  # no timed event: the stage treats it as a failed answer


def test_numbers_never_contain_spaces():
    cap = parse_answer("1. 0-3 s: A car waits.\n2. 3-6 s: It leaves.", Window(0.0, 6.0))
    assert [(e.start_s, e.end_s) for e in cap.events] == [(0.0, 3.0), (3.0, 6.0)]


def test_merged_events_are_in_time_order():
    wins = make_windows(12.0, 4.0, 3.0)
    answers = [f"SUMMARY: Part {i} happens. EVENTS: {w.end_s - 0.5:.1f}-{w.end_s:.1f} s: Late thing {i}. "
               f"{w.start_s:.1f}-{w.start_s + 1:.1f} s: Early thing {i}." for i, w in enumerate(wins)]
    caps = [parse_answer(a, w) for a, w in zip(answers, wins)]
    short, long, events = merge_windows(list(reversed(caps)))  # arrival order must not matter
    keys = [(e.start_s, e.end_s) for e in events]
    assert keys == sorted(keys)
    assert len(events) == 2 * len(wins)
    assert long == " ".join(e.text for e in events)
    assert long.startswith("Early thing 0. Early thing 1. Late thing 0.")  # 0-1 s, 3-4 s, 3.5-4 s
    assert short == "Part 0 happens, then part 1 happens, then part 2 happens, then part 3 happens."


def test_overlapping_windows_do_not_repeat_an_event():
    a = WindowCaption(Window(0, 4), "A car parks.", [CaptionEvent(start_s=2.0, end_s=4.0, text="A car parks.")])
    b = WindowCaption(Window(3, 7), "A car parks.", [CaptionEvent(start_s=3.0, end_s=5.0, text="a car parks")])
    events = merge_events([a, b])
    assert [(e.start_s, e.end_s) for e in events] == [(2.0, 5.0)]
    short, long, _ = merge_windows([a, b])
    assert short == "A car parks." and long == "A car parks."
