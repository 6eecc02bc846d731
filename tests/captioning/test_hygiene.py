"""Boilerplate openings are stripped; each kind of degenerate output is detected."""

import pytest

from curate.captioning.hygiene import degenerate_kind, strip_boilerplate

PROMPT = ("These 4 frames come from a 3.0 s video clip; each is labelled with its time in seconds from "
          "the clip start. Describe what happens in the video, in time order. Name what moves, where it "
          "goes and how the camera moves.")
GOOD = ("SUMMARY: A cyclist crosses the street. EVENTS: 0.0-1.2 s: A cyclist enters from the left. "
        "1.2-3.0 s: She stops at the light, then turns right as the camera pans to follow.")


@pytest.mark.parametrize("text,expected", [
    ("The video shows a dog running on a beach.", "A dog running on a beach."),
    ("the clip depicts how a car parks.", "A car parks."),
    ("In this video, a man waves.", "A man waves."),
    ("These frames show a bird taking off.", "A bird taking off."),
    ("A dog runs. The video shows nothing else.", "A dog runs. The video shows nothing else."),
])
def test_strip_boilerplate(text, expected):
    assert strip_boilerplate(text) == expected


def test_good_caption_is_not_degenerate():
    assert degenerate_kind(GOOD, PROMPT) is None
    assert degenerate_kind("A red square slides right.", PROMPT) is None


@pytest.mark.parametrize("text", ["", "   ", "...", "Dog.", "<|im_end|>"])
def test_empty(text):
    assert degenerate_kind(text, PROMPT) == "empty"


@pytest.mark.parametrize("text", [
    "A car drives down the road and a car drives down the road and a car drives down the road.",
    "The the the the cat sits.",
    "A man walks. " + "!!!!!!!!!!!!!!!!!!!!",
    "the square moves right the square moves right the square moves right the square moves right",
])
def test_repeated_ngrams(text):
    assert degenerate_kind(text, PROMPT) == "repeated_ngram"


def test_time_ranges_do_not_count_as_repetition():
    text = "0.0-0.0 s: A car waits. 0.0-1.0 s: It starts. 1.0-1.0 s: It turns left."
    assert degenerate_kind(text, PROMPT) is None


@pytest.mark.parametrize("text", [
    "SUMMARY: <one sentence about the whole clip> EVENTS: <start>-<end> s: <one sentence>.",
    "Describe what happens in the video, in time order. Name what moves, where it goes and how the camera moves.",
])
def test_prompt_echo(text):
    assert degenerate_kind(text, PROMPT) == "prompt_echo"


@pytest.mark.parametrize("text", [
    "A cyclist enters from the left and then",
    "SUMMARY: A cyclist crosses the street. EVENTS: 0.0-1.2 s: A cyclist enters from the",
])
def test_cut_off_only_when_the_engine_hit_the_limit(text):
    assert degenerate_kind(text, PROMPT, hit_limit=True) == "cut_off"
    assert degenerate_kind(text, PROMPT) is None  # no final period alone is not a cut-off


def test_no_events_when_events_were_asked_for():
    assert degenerate_kind("A cyclist crosses the street.", PROMPT, events=0) == "no_events"
    assert degenerate_kind("A cyclist crosses the street.", PROMPT, events=1) is None


def test_a_subject_named_in_several_events_is_not_repetition():
    events = ["A man in a red shirt walks in.", "The man in a red shirt sits down.",
              "Later the man in a red shirt waves."]
    raw = " ".join(events)
    assert degenerate_kind(raw, PROMPT, pieces=["A man sits and waves."] + events, events=3) is None
    assert degenerate_kind(raw, PROMPT) == "repeated_ngram"  # read as one piece it would look like a loop
    loop = ["The car moves."] * 3
    assert degenerate_kind(" ".join(loop), PROMPT, pieces=["A car."] + loop, events=3) == "repeated_ngram"


def test_json_answer_is_not_degenerate():
    raw = ('{"summary": "A cyclist crosses the street", "events": [{"start_s": 0.0, "end_s": 1.2, "text": '
           '"A cyclist enters from the left"}, {"start_s": 1.2, "end_s": 3.0, "text": "She stops at the light"}]}')
    pieces = ["A cyclist crosses the street.", "A cyclist enters from the left.", "She stops at the light."]
    assert degenerate_kind(raw, PROMPT, pieces=pieces, events=2) is None


@pytest.mark.parametrize("summary", [
    "These 4 frames come from a 3.0 s video clip; each is labelled with its time in seconds from the clip start.",
    "Measured signals (reliable for camera motion): camera static, low motion.",
])
def test_a_copied_summary_is_an_echo_however_long_the_events(summary):
    event = ("A man in a blue shirt stands in a room, raises his right hand, waves at the camera twice "
             "and then lowers it again slowly.")
    prompt = PROMPT + "\nMeasured signals (reliable for camera motion):\n- camera 0.0-3.0 s: static camera"
    raw = f'{{"summary": "{summary}", "events": [{{"start_s": 0, "end_s": 2, "text": "{event}"}}]}}'
    assert degenerate_kind(raw, prompt, pieces=[summary, event], events=1) == "prompt_echo"
    assert degenerate_kind(raw, prompt, pieces=["A man waves.", event], events=1) is None


def test_an_instruction_appended_to_an_event_is_an_echo():
    event = ("A man in a blue shirt raises his right hand and waves it slowly. Describe what happens in the "
             "video, in time order.")
    assert degenerate_kind(event, PROMPT, pieces=["A man waves.", event], events=1) == "prompt_echo"


@pytest.mark.parametrize("raw", [
    "SUMMARY: A man waves at the camera.\n\n| Time | Event |\n|------------|------------------------------|\n"
    "| 0.0-1.5 s | A man raises his right hand. |\n| 1.5-3.0 s | He waves and lowers it. |",
    '{"summary": "A man waves.", "events": [{"start_s": 0.0, "end_s": 1.3333333333333333, "text": "A man raises '
    'his hand."}, {"start_s": 1.3333333333333333, "end_s": 3.0, "text": "He waves and lowers it."}]}',
])
def test_table_rules_and_long_decimals_are_no_repetition(raw):
    from curate.captioning.answers import read_answer
    from curate.captioning.windows import Window

    cap = read_answer(raw, Window(0.0, 3.0))
    first = "A man raises his right hand." if "right" in raw else "A man raises his hand."
    assert [e.text for e in cap.events] == [first, "He waves and lowers it."]
    pieces = [cap.summary] + [e.text for e in cap.events]
    assert degenerate_kind(raw, PROMPT, pieces=pieces, events=2) is None
    assert degenerate_kind(raw, PROMPT, pieces=pieces[:1] + ["He waves " + "!" * 12], events=1) == "repeated_ngram"


def test_words_of_every_script():
    from curate.captioning.hygiene import words

    assert words("Ein Mann grüßt, then it's 2.5 s") == ["ein", "mann", "grüßt", "then", "it's", "2", "5", "s"]
    assert words("一个男人挥手") == ["一", "个", "男", "人", "挥", "手"]


@pytest.mark.parametrize("summary,event", [
    ("A man waves.", "A man waves his hand, 然后他坐下来看着镜头。"),  # switches script mid-sentence
    ("一个男人在挥手。", "一个男人举起右手挥了挥。"),
    ("Ein Mann winkt.", "Ein Mann hebt die rechte Hand und winkt dann langsam."),  # Latin script, not English
    ("Ein Mann im Park.", "Ein Mann geht mit seinem Hund in den Park und setzt sich auf eine Bank."),  # one "in"
    ("Une rue.", "Une femme marche dans la rue avec son chien, puis elle s'arrête devant un café."),  # "un"
    ("Una calle.", "Un hombre camina por la calle con su perro y luego se sienta en un banco."),
    ("Een park.", "Een man loopt met zijn hond in het park en gaat dan op een bank zitten."),
])
def test_an_answer_not_in_english_is_wrong_language(summary, event):
    raw = f'{{"summary": "{summary}", "events": [{{"start_s": 0, "end_s": 2, "text": "{event}"}}]}}'
    assert degenerate_kind(raw, PROMPT, pieces=[summary, event], events=1) == "wrong_language"


def test_a_foreign_name_in_an_english_caption_stays():
    pieces = ["A tram passes.", "A tram with the sign 東京 passes a café on the left."]
    assert degenerate_kind(" ".join(pieces), PROMPT, pieces=pieces, events=1) is None


@pytest.mark.parametrize("pieces", [
    ["A street scene with people walking on the sidewalk.",
     "Camera slowly pans left revealing snowy mountains under grey clouds."],  # terse English, no common word
    ["A basketball game in a packed arena.", "Player 23 scores, crowd cheers loudly, scoreboard shows 45 42."],
    ["A woman holds up a handwritten sign reading I am sorry in front of a building."],  # what a sign says
    ["A protester carries a placard that says I cant breathe."],
    ["A sign reading Die Straße ist gesperrt hangs on the fence next to a red car."],  # quoted German
    ["A man walks across the Place de la Concorde and then stops near the fountain."],
    ["A café with the words Le Petit Bistro et Boulangerie on its awning, people sit outside."],
    # a review: names and titles keep their articles, and a terse caption may hold no common word
    ["Highway sign points to Los Angeles, Las Vegas and El Centro."],
    ["Drone shot over Los Angeles: Marina del Rey, El Segundo, Playa Vista."],
    ["Camera pans from Unter den Linden to the Haus der Kulturen der Welt."],
    ["Dancers perform at El Museo del Barrio, La Casa del Habano sign behind."],
    ["Camera pans across Plaza Mayor toward Puerta del Sol, Madrid."],
])
def test_terse_english_and_quoted_words_are_no_degenerate_answer(pieces):
    """A review: the per-piece English check and the refusal check had taken these."""
    assert degenerate_kind(" ".join(pieces), PROMPT, pieces=pieces, events=1) is None
