"""How kept clips were captioned: counted for the summary, the manifest and stats, with a
warning when most model captions fell back (a model failing on every clip had looked like
success; found by a break test)."""

from pipelines.report import caption_lines, caption_outcomes


def test_signal_captions_only_count_nothing():
    assert caption_outcomes([("signals", None, None), None]) == {}
    assert caption_lines({}) == []


def test_model_captions_and_fallbacks_are_counted_by_reason():
    rows = [("model", None, "m")] * 2 + [("signals", "caption_degenerate", "m")] * 3 + [
        ("signals", "caption_failed", "m"), None]
    outcomes = caption_outcomes(rows)
    assert outcomes == {"model": 2, "caption_degenerate": 3, "caption_failed": 1}
    assert caption_lines(outcomes) == [
        "captions: 2 of 6 from the model (fell back to the signal caption: caption_degenerate 3, caption_failed 1)",
        "warning: 4 of 6 model captions fell back to the signal caption; check the caption model "
        "(vidcurate inspect --json shows each clip's degenerate_detail)"]


def test_a_few_fallbacks_give_no_warning():
    outcomes = caption_outcomes([("model", None, "m")] * 3 + [("signals", "caption_degenerate", "m")])
    assert caption_lines(outcomes) == ["captions: 3 of 4 from the model (fell back to the signal caption: "
                                       "caption_degenerate 1)"]
