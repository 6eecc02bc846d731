"""Output hygiene for model captions: strip boilerplate openings, detect degenerate text.

Degenerate kinds (the failure modes small and quantised VLMs show in bulk captioning;
cf. the repetition checks of cosmos-curate's caption filtering and the n-gram repetition
measures of Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration"):

- ``empty``: nothing but whitespace and punctuation, or fewer than ``min_words`` words,
  counted in the answer as read (the summary and the events' distinct texts: JSON keys and
  time labels are no words; a break test's ``{"summary": "Ok.", "events": [{... "text":
  "Ok."}]}`` had been a caption);
- ``refusal``: a sentence of the summary or an event begins by declining (``I'm sorry``,
  ``I can't``, ``I am unable to``, ``As an AI``); constrained decoding puts a refusal into
  the schema's JSON, where it had been kept as a caption (a break test). Inside a sentence
  such words are what a sign or a speaker says ("a sign reading I am sorry");
- ``cut_off``: generation stopped at ``max_new_tokens`` without an end-of-sequence token
  (what the engine reports; a missing final period is not a sign of it);
- ``no_events``: timed events were asked for and none could be read from the answer;
- ``wrong_language``: the prompts ask for English, but a piece of the answer (the summary
  or one event's text) is a quarter or more letters of another script than Latin (an
  answer in Chinese, or one that switches to it mid-sentence; a short name on a sign in a
  longer sentence stays), or the pieces together hold ``english_min_words`` words or more
  and not one common English word (``a``, ``the``, ``and``, ``is``, ``his``, ...: German or
  French), or one piece alone holds ``english_piece_words`` (30) or more and not one (a
  break test's 10,000 characters of gibberish in an event passed beside the summary "A
  street scene."; a terse English event, "Camera slowly pans left revealing snowy
  mountains under grey clouds.", has none in 10 words), or a piece of ``english_min_words``
  or more holds ``foreign_min_words`` (3) or more common words of German, French, Spanish,
  Italian, Portuguese or Dutch that are no English words (``der``, ``und``, ``ist``, ``le``,
  ``est``, ``el``, ``het``, ...) and more of them than common English words (German with
  one "in" had passed; a sign's "Die Straße ist gesperrt" in an English sentence stays),
  counting only those in lower case and not between two capitalised words (names keep
  theirs: "Los Angeles", "Marina del Rey", "Unter den Linden");
- ``repeated_ngram``: within one piece of the answer (the summary or one event's text,
  so a subject named in several events does not count), a word ``n``-gram occurring
  ``max_repeats`` times or more or one word repeated ``max_run`` times in a row; or
  ``max_repeats`` events with the same text; or, within one piece, a 1-3 character unit
  repeated 10+ times (numbers left out; never over the raw answer, whose Markdown table
  rules ``|------|`` and long decimals ``1.3333333333333333`` are no loop);
- ``prompt_echo``: the output copies the prompt: the format placeholders, a phrase of the
  prompt's own wording (``Measured signals``, ``labelled with its time``, ...), or half of the
  word ``echo_n``-grams of the answer as read, or of any one sentence of a piece (so one
  long event cannot dilute a copied summary), appear in the prompt.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

DEGENERATE_KINDS = ("empty", "refusal", "cut_off", "no_events", "wrong_language", "repeated_ngram", "prompt_echo",
                    "unreadable")
"""What can be wrong with an answer; ``unreadable``: the answer reader itself failed on it
(set by the stage, never by :func:`degenerate_kind`)."""

_OPENINGS = re.compile(
    r"^\s*(?:(?:in|throughout)\s+(?:this|the)\s+(?:video|clip|footage|sequence)\s*,?\s*"
    r"|(?:the|this)\s+(?:video|clip|footage|sequence|frames?|images?)\s+"
    r"(?:shows?|depicts?|features?|captures?|presents?|displays?|illustrates?)\s*(?:that\s+|how\s+)?"
    r"|(?:these|the)\s+frames\s+(?:show|depict)\s*(?:that\s+|how\s+)?)",
    re.IGNORECASE,
)
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"  # kana, Han, Hangul
_WORD = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W_]|')+")
_TIMES = re.compile(r"\d+(?:\.\d+)?\s*[-\u2013\u2014]\s*\d+(?:\.\d+)?\s*s\b\s*:?")
_ENGLISH = frozenset("a an the and or of in on at to into onto from with by for as is are was were be it its "
                     "he she his her they them their this that then while there up down out over "
                     "across toward towards near past through behind above below under beside along around "
                     "between against after before during without within about".split())
_FOREIGN = frozenset(  # common words of other Latin-script languages that are no English words
    "der das und ist ein eine einen einem einer den dem des mit auf im zu von sich nicht auch sind wird "
    "über unter zwischen nach vor bei aus durch seine seinem ihre ihr dann "
    "le la les et est une des du dans avec sur au aux ce cette qui que sont elle ils puis "
    "el los las y es del por para al su sus una está están luego "
    "il lo gli della delle di è nel nella sono poi "
    "os uma da dos das em são "
    "het een en op voor zijn niet ook bij naar".split())
_REFUSAL = re.compile(r"\b(?:i\s*(?:'|\u2019)?\s*m\s+sorry|i\s+am\s+sorry|i\s+apologi[sz]e|"
                      r"i\s+(?:can\s*not|can(?:'|\u2019)?t|am\s+(?:unable|not\s+able)|(?:'|\u2019)m\s+(?:unable|not\s+able))\b"
                      r"|as\s+an\s+ai\b|as\s+a\s+language\s+model)", re.IGNORECASE)
_UNIT_RUN = re.compile(r"(\S{1,3})\1{9,}")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")  # 1.3333333333333333 is a number, not a loop
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_PLACEHOLDERS = ("<one sentence", "<start>-<end>", "answer in exactly this format", "<start, seconds>")
_PROMPT_PHRASES = ("measured signals", "reliable for camera motion", "labelled with its time",
                   "frame times in seconds", "do not describe the frames", "answer with json only",
                   "one event per distinct action")  # the prompts' own wording: a caption never needs it


@dataclass(frozen=True)
class DegenerateChecks:
    """Thresholds of :func:`degenerate_kind` (see module docstring)."""

    min_words: int = 3
    n: int = 4
    max_repeats: int = 3
    max_run: int = 4
    echo_n: int = 6
    echo_share: float = 0.5
    foreign_share: float = 0.25
    english_min_words: int = 8
    english_piece_words: int = 30
    foreign_min_words: int = 3


def strip_boilerplate(text: str) -> str:
    """Remove openings like "The video shows" / "In this clip," and re-capitalise.

    >>> strip_boilerplate("The video shows a dog running.")
    'A dog running.'
    """
    out = _OPENINGS.sub("", text.strip(), count=1).strip()
    return out[:1].upper() + out[1:] if out else out


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text``: runs of letters (of any script), digits and
    apostrophes; each kana, Han or Hangul character is a word of its own (those scripts
    put no spaces between words)."""
    return _WORD.findall(text.lower())


def foreign_share(text: str) -> float:
    """Share of the letters of ``text`` that are of another script than Latin (0 when it has none)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(not unicodedata.name(ch, "").startswith("LATIN") for ch in letters) / len(letters)


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def is_repetitive(text: str, checks: DegenerateChecks = DegenerateChecks()) -> bool:
    """True when ``text`` (one piece) repeats an n-gram, a word or a short unit other than a
    digit (module docstring)."""
    text = _TIMES.sub(" ", text)
    toks = words(text)
    if _UNIT_RUN.search(_NUMBER.sub(" ", text).replace(" ", "")):
        return True
    run = 1
    for a, b in zip(toks[:-1], toks[1:]):
        run = run + 1 if a == b else 1
        if run >= checks.max_run:
            return True
    counts = Counter(_ngrams(toks, checks.n))
    return bool(counts) and max(counts.values()) >= checks.max_repeats


def echoes_prompt(text: str, prompt: str, checks: DegenerateChecks = DegenerateChecks()) -> bool:
    """True when ``text`` copies the prompt's format placeholders or much of its wording."""
    low = text.lower()
    if any(p in low for p in _PLACEHOLDERS):
        return True
    grams = _ngrams(words(text), checks.echo_n)
    if not grams:
        return False
    seen = set(_ngrams(words(prompt), checks.echo_n))
    return sum(g in seen for g in grams) / len(grams) >= checks.echo_share


def degenerate_kind(text: str, prompt: str = "", checks: DegenerateChecks = DegenerateChecks(),
                    hit_limit: bool = False, pieces: list[str] | None = None,
                    events: int | None = None) -> str | None:
    """The first degenerate kind the answer shows, in the order of :data:`DEGENERATE_KINDS`, or None.

    ``text``: the raw model answer (after :func:`strip_boilerplate`); ``prompt``: the
    prompt's text (:func:`curate.captioning.prompts.prompt_text`); ``hit_limit``: the
    engine stopped at ``max_new_tokens``; ``pieces``: the answer as read (summary, then
    each event's text; default ``[text]``); ``events``: how many timed events were read
    (None when none were asked for).
    """
    pieces = [p for p in (pieces if pieces is not None else [text]) if p]
    distinct = list(dict.fromkeys(pieces))  # the summary is the first event's text when none was given
    if len(words(text)) < checks.min_words or (
            pieces and len([w for p in distinct for w in words(p)]) < checks.min_words):
        return "empty"
    if any(_REFUSAL.match(x.lstrip(" \"'*_-(")) for p in pieces for x in _SENTENCE_END.split(p)):
        return "refusal"
    if hit_limit:
        return "cut_off"
    if events == 0:
        return "no_events"
    said = [w for p in pieces for w in words(p)]
    if any(foreign_share(p) >= checks.foreign_share for p in pieces) or (
            len(said) >= checks.english_min_words and not _ENGLISH.intersection(said)) or any(
            len(ws) >= checks.english_piece_words and not _ENGLISH.intersection(ws) for ws in map(words, pieces)) or any(
            _mostly_foreign(p, checks) for p in pieces):
        return "wrong_language"
    same = Counter(tuple(words(p)) for p in pieces[1:])
    if any(is_repetitive(p, checks) for p in pieces) or (same and max(same.values()) >= checks.max_repeats):
        return "repeated_ngram"
    if prompt and _echoes(text, pieces, prompt, checks):
        return "prompt_echo"
    return None


def _mostly_foreign(piece: str, checks: DegenerateChecks) -> bool:
    """One piece read as another Latin-script language (module docstring). A foreign word
    counts only in lower case and not between two capitalised words: names and titles keep
    theirs ("Los Angeles", "Marina del Rey", "Unter den Linden", "La Vie en Rose"; a review
    found such English captions taken for another language)."""
    tokens = _WORD.findall(piece)
    ws = [t.lower() for t in tokens]
    capital = [t[:1].isupper() for t in tokens] + [False]
    foreign = sum(t in _FOREIGN and not capital[i] and not (i > 0 and capital[i - 1] and capital[i + 1])
                  for i, t in enumerate(tokens))
    return (len(ws) >= checks.english_min_words and foreign >= checks.foreign_min_words
            and foreign > sum(w in _ENGLISH for w in ws))


def _echoes(text: str, pieces: list[str], prompt: str, checks: DegenerateChecks) -> bool:
    """The ``prompt_echo`` check of :func:`degenerate_kind` (module docstring)."""
    said, low = " ".join(pieces), prompt.lower()
    if any(p in text.lower() for p in _PLACEHOLDERS) or any(p in said.lower() and p in low for p in _PROMPT_PHRASES):
        return True
    sentences = [x for p in pieces for x in _SENTENCE_END.split(p)]
    return echoes_prompt(said, prompt, checks) or any(echoes_prompt(x, prompt, checks) for x in sentences)
