"""The answer reader on a corpus of answers written the way real VLMs answer.

Each answer is about the window 0-10 s of a clip; the expected events are (start_s, end_s,
text) exactly: times as written (point times last until the next event or the window end),
text without list markers, ``**`` or labels, ending with a period.
"""

import pytest

from curate.captioning.answers import read_answer, seconds
from curate.captioning.windows import Window

W = Window(0.0, 10.0)
DOG = [(0.0, 2.5, "A dog runs in from the left."), (2.5, 6.0, "It jumps over a log."),
       (6.0, 10.0, "The camera pans right to follow it.")]

CORPUS = {
    "md_bold_bullets": ("**Summary:** A dog crosses a field.\n\n**Events:**\n"
                        "- **0.00-2.50 s:** A dog runs in from the left.\n- **2.50-6.00 s:** It jumps over a log.\n"
                        "- **6.00-10.00 s:** The camera pans right to follow it.", DOG),
    "clock_ranges": ("0:00-0:02.5: A dog runs in from the left\n0:02.5-0:06: It jumps over a log\n"
                     "0:06-0:10: The camera pans right to follow it", DOG),
    "clock_mm_ss": ("0:00-0:03: A car waits at the light.\n0:03-0:10: It turns left.",
                    [(0.0, 3.0, "A car waits at the light."), (3.0, 10.0, "It turns left.")]),
    "spaced_units": ("0.0 s - 2.5 s: A dog runs in from the left.\n2.5 s - 6.0 s: It jumps over a log.\n"
                     "6.0 s - 10.0 s: The camera pans right to follow it.", DOG),
    "glued_units": ("0.0s - 2.5s: A dog runs in from the left.\n2.5s - 6.0s: It jumps over a log.\n"
                    "6.0s - 10.0s: The camera pans right to follow it.", DOG),
    "brackets": ("[0.0-2.5s] A dog runs in from the left.\n[2.5-6.0s] It jumps over a log.\n"
                 "[6.0-10.0s] The camera pans right to follow it.", DOG),
    "from_to": ("From 0s to 2.5s, a dog runs in from the left. From 2.5s to 6s, it jumps over a log. "
                "From 6s to 10s, the camera pans right to follow it.", DOG),
    "numbered": ("1. 0-2.5 s: A dog runs in from the left.\n2. 2.5-6 s: It jumps over a log.\n"
                 "3. 6-10 s: The camera pans right to follow it.", DOG),
    "numbered_ints": ("1. 0-3 s: A car waits.\n2. 3-10 s: It drives off.",
                      [(0.0, 3.0, "A car waits."), (3.0, 10.0, "It drives off.")]),
    "json_fenced": ('```json\n{"summary": "A dog crosses a field.", "events": [\n'
                    '  {"start_s": 0.0, "end_s": 2.5, "text": "A dog runs in from the left."},\n'
                    '  {"start_s": 2.5, "end_s": 6.0, "text": "It jumps over a log."},\n'
                    '  {"start_s": 6.0, "end_s": 10.0, "text": "The camera pans right to follow it."}]}\n```', DOG),
    "json_bare": ('{"summary": "A dog crosses a field", "events": [{"start_s": 0, "end_s": 2.5, "text": '
                  '"A dog runs in from the left"}, {"start_s": 2.5, "end_s": 6, "text": "It jumps over a log"}, '
                  '{"start_s": 6, "end_s": 10, "text": "The camera pans right to follow it"}]}', DOG),
    "json_other_keys": ('Here is the JSON:\n{"caption": "A dog crosses a field.", "timeline": ['
                        '{"start": "0:00", "end": "0:02.5", "description": "A dog runs in from the left."}, '
                        '{"start": "2.5s", "end": "6s", "description": "It jumps over a log."}, '
                        '{"start": 6, "end": 10, "description": "The camera pans right to follow it."}]}', DOG),
    "json_time_strings": ('{"summary": "x y z.", "events": [{"time": "0.0-2.5 s", "event": "A dog runs in from the '
                          'left."}, {"time": "2.5-6.0", "event": "It jumps over a log."}, {"time": "6-10 seconds", '
                          '"event": "The camera pans right to follow it."}]}', DOG),
    "json_list": ('[{"start_s": 0, "end_s": 2.5, "text": "A dog runs in from the left."}, '
                  '{"start_s": 2.5, "end_s": 6, "text": "It jumps over a log."}, '
                  '{"start_s": 6, "end_s": 10, "text": "The camera pans right to follow it."}]', DOG),
    "no_final_periods": ("SUMMARY: A dog crosses a field\nEVENTS:\n0.0-2.5 s: A dog runs in from the left\n"
                         "2.5-6.0 s: It jumps over a log\n6.0-10.0 s: The camera pans right to follow it", DOG),
    "v1_one_line": ("SUMMARY: A dog crosses a field. EVENTS: 0.0-2.5 s: A dog runs in from the left. "
                    "2.5-6.0 s: It jumps over a log. 6.0-10.0 s: The camera pans right to follow it.", DOG),
    "mm_ss_tenths": ("00:00.0 - 00:02.5: A dog runs in from the left.\n00:02.5 - 00:06.0: It jumps over a log.\n"
                     "00:06.0 - 00:10.0: The camera pans right to follow it.", DOG),
    "at_seconds": ("At 0 seconds, a dog runs in from the left. At 2.5 seconds, it jumps over a log. "
                   "At 6 seconds, the camera pans right to follow it.", DOG),
    "at_clock": ("- At 0:00, a dog runs in from the left.\n- At 0:02.5, it jumps over a log.\n"
                 "- At 0:06, the camera pans right to follow it.", DOG),
    "bold_seconds_word": ("**0.0 - 2.5 seconds**: A dog runs in from the left.\n**2.5 - 6.0 seconds**: It jumps "
                          "over a log.\n**6.0 - 10.0 seconds**: The camera pans right to follow it.", DOG),
    "parentheses": ("(0.0-2.5 s) A dog runs in from the left.\n(2.5-6.0 s) It jumps over a log.\n"
                    "(6.0-10.0 s) The camera pans right to follow it.", DOG),
    "en_dash_em_dash": ("0.0\u20132.5 s \u2014 A dog runs in from the left.\n2.5\u20136.0 s \u2014 It jumps over "
                        "a log.\n6.0\u201310.0 s \u2014 The camera pans right to follow it.", DOG),
    "between_and": ("Between 0 and 2.5 seconds, a dog runs in from the left. Between 2.5 and 6 seconds, it jumps "
                    "over a log. Between 6 and 10 seconds, the camera pans right to follow it.", DOG),
    "to_with_unit": ("0 to 2.5 s: A dog runs in from the left.\n2.5 to 6 s: It jumps over a log.\n"
                     "6 to 10 s: The camera pans right to follow it.", DOG),
    "star_bullets": ("* 0.0-2.5 s: A dog runs in from the left.\n* 2.5-6.0 s: It jumps over a log.\n"
                     "* 6.0-10.0 s: The camera pans right to follow it.", DOG),
    "unicode_bullets": ("\u2022 0.0-2.5 s: A dog runs in from the left.\n\u2022 2.5-6.0 s: It jumps over a log.\n"
                        "\u2022 6.0-10.0 s: The camera pans right to follow it.", DOG),
    "md_table": ("| Time | Event |\n|---|---|\n| 0.0-2.5 s | A dog runs in from the left. |\n"
                 "| 2.5-6.0 s | It jumps over a log. |\n| 6.0-10.0 s | The camera pans right to follow it. |", DOG),
    "headings": ("### Summary\nA dog crosses a field.\n\n### Events\n- 0.0-2.5 s: A dog runs in from the left.\n"
                 "- 2.5-6.0 s: It jumps over a log.\n- 6.0-10.0 s: The camera pans right to follow it.", DOG),
    "boilerplate_events": ("The video shows a dog crossing a field.\n0.0-2.5 s: The video shows a dog running in "
                           "from the left.\n2.5-10.0 s: It jumps over a log.",
                           [(0.0, 2.5, "A dog running in from the left."), (2.5, 10.0, "It jumps over a log.")]),
    "no_space_colon": ("0-2.5s:A dog runs in from the left.\n2.5-6s:It jumps over a log.\n"
                       "6-10s:The camera pans right to follow it.", DOG),
    "clamped_and_swapped": ("SUMMARY: A car passes.\nEVENTS:\n3.0-1.0 s: A car enters.\n8.0-14.0 s: It leaves.",
                            [(1.0, 3.0, "A car enters."), (8.0, 10.0, "It leaves.")]),
    "decimal_inside_text": ("- **0.00-2.50 s:** A man lifts a 2.5 kg weight.\n- **2.50-6.00 s:** He sets it down.",
                            [(0.0, 2.5, "A man lifts a 2.5 kg weight."), (2.5, 6.0, "He sets it down.")]),
    "range_inside_text_kept": ("0.0-4.0 s: Two dogs, 2-3 years old, play.\n4.0-10.0 s: They run from 2 to 4 "
                               "meters away.", [(0.0, 4.0, "Two dogs, 2-3 years old, play."),
                                                (4.0, 10.0, "They run from 2 to 4 meters away.")]),
    "prose_after_events": ("0.0-5.0 s: A cat sleeps.\n5.0-10.0 s: It wakes up.\n\nOverall the scene is calm.",
                           [(0.0, 5.0, "A cat sleeps."), (5.0, 10.0, "It wakes up.")]),
    "sec_word": ("0-5 sec: A cat sleeps.\n5-10 sec: It wakes up.",
                 [(0.0, 5.0, "A cat sleeps."), (5.0, 10.0, "It wakes up.")]),
}


def _events(cap):
    return [(e.start_s, e.end_s, e.text) for e in cap.events]


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_reader_corpus(name):
    answer, expected = CORPUS[name]
    cap = read_answer(answer, W)
    assert _events(cap) == expected, name
    assert cap.summary and "**" not in cap.summary and not cap.summary.startswith(("-", "#", "|"))


def test_summary_is_read_when_given():
    assert read_answer(CORPUS["md_bold_bullets"][0], W).summary == "A dog crosses a field."
    assert read_answer(CORPUS["json_bare"][0], W).summary == "A dog crosses a field."
    assert read_answer(CORPUS["headings"][0], W).summary == "A dog crosses a field."
    assert read_answer(CORPUS["json_other_keys"][0], W).summary == "A dog crosses a field."
    assert read_answer(CORPUS["from_to"][0], W).summary == "A dog runs in from the left."  # none: first event


def test_offset_moves_times_to_the_clip():
    cap = read_answer('{"summary": "A car.", "events": [{"start_s": 0, "end_s": 1.5, "text": "A car waits."}]}',
                      Window(8.0, 18.0), offset_s=8.25)
    assert _events(cap) == [(8.25, 9.75, "A car waits.")]


@pytest.mark.parametrize("answer", [
    "A dog crosses a field and jumps over a log.",
    "SUMMARY: A dog crosses a field.\nEVENTS:\n",
    '{"summary": "A dog crosses a field.", "events": [{"start_s": 0.0, "end_s": 2.5, "text": "A dog ru',
    '{"summary": "A dog crosses a field.", "events": []}',
    "The dog is 2-3 years old.",
])
def test_no_readable_events(answer):
    assert read_answer(answer, W).events == []


def test_seconds():
    assert [seconds(s) for s in ("12", "2.5", "0:03", "00:01.5", "1:02:03")] == [12.0, 2.5, 3.0, 1.5, 3723.0]


@pytest.mark.parametrize("answer", [
    '{"summary": "A man waves.", "events": ["0.0-2.0 s: a man waves his hand.", "2.0-3.0 s: he sits down."]}',
    '{"summary": "A man waves.", "events": "0.0-2.0 s: a man waves his hand. 2.0-3.0 s: he sits down."}',
])
def test_json_events_written_as_strings_are_read(answer):
    cap = read_answer(answer, W)
    assert cap.summary == "A man waves." and cap.structured
    assert _events(cap) == [(0.0, 2.0, "A man waves his hand."), (2.0, 3.0, "He sits down.")]


def test_json_without_readable_events_is_never_read_as_free_text():
    cap = read_answer('{"summary": "A man waves.", "events": [{"when": "0.0-2.0 s: he waves"}]}', W)
    assert cap.events == [] and cap.summary == "A man waves."


@pytest.mark.parametrize("answer,summary", [
    ("EVENTS:\n0.0-2.0 s: a man raises his hand.\n2.0-3.0 s: he sits down on a chair.\n"
     "SUMMARY: A man waves and then sits.", "A man waves and then sits."),
    ("SUMMARY: A man waves.\nEVENTS:\n0.0-2.0 s: a man raises his hand.\n2.0-3.0 s: he sits down on a chair.\n"
     "Note: the times are approximate.", "A man waves."),
    ("0.0-2.0 s: a man raises his hand.\n**Note:** blurry.\n2.0-3.0 s: he sits down on a chair.",
     "A man raises his hand."),
])
def test_text_after_the_events_stays_out_of_them(answer, summary):
    cap = read_answer(answer, W)
    assert cap.summary == summary
    assert _events(cap) == [(0.0, 2.0, "A man raises his hand."), (2.0, 3.0, "He sits down on a chair.")]


def test_time_labels_in_a_json_summary_are_taken_out():
    cap = read_answer('{"summary": "0.0-2.0 s: a man waves. 2.0-3.0 s: he sits.", "events": '
                      '[{"start_s": 0, "end_s": 2, "text": "A man waves."}]}', W)
    assert cap.summary == "A man waves."
