"""Text recognition of detected boxes (PP-OCRv4 recognition, the rapidocr wheel's model):
pictures with known truth, a rendered line and shapes the detector alone takes for text."""

import difflib
import os

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from curate.quality.stage import QualityStage
from curate.quality.text import TextDetector
from curate.quality.textboxes import db_regions, upright_crop
from curate.quality.textread import TextReader, reads_as_text
from support.ocr import needs_ocr
from support.ocr import smooth as _smooth

pytestmark = needs_ocr


def _sign(seed=1):
    f = _smooth(seed)
    cv2.putText(f, "OPEN 24 HOURS", (30, 190), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
    return f


def _fence(seed=2):
    """A row of 12 white posts: no text, but one line-shaped box of the detector's (13 %)."""
    f = _smooth(seed)
    for i in range(12):
        cv2.rectangle(f, (20 + i * 30, 150), (35 + i * 30, 185), (250, 250, 250), -1)
    return f


def _blobs(seed):
    """Shapes the detector marks in regions about as tall as wide (10-15 % of the picture
    each), as it marks cars and table tops in real footage: a 3 x 3 grid of windows (read
    as one Chinese character at 0.11), four posts (nothing), a ring ('O' at 0.66), five
    slashes ('II' at 0.50: upright strokes only)."""
    f = _smooth(seed)
    if seed % 4 == 0:
        for i in range(9):
            cv2.rectangle(f, (150 + i % 3 * 30, 100 + i // 3 * 30), (165 + i % 3 * 30, 115 + i // 3 * 30),
                          (250, 250, 250), -1)
    elif seed % 4 == 1:
        for i in range(4):
            cv2.rectangle(f, (140 + i * 30, 110), (155 + i * 30, 170), (250, 250, 250), -1)
    elif seed % 4 == 2:
        cv2.circle(f, (200, 130), 40, (250, 250, 250), 6)
    else:
        for i in range(5):
            cv2.line(f, (150 + i * 20, 100), (170 + i * 20, 180), (255, 255, 255), 5)
    return f


@pytest.fixture(scope="module")
def reader():
    return TextReader()


def _crops(det, picture):
    images, prob = det.detect(picture[None])
    return [upright_crop(images[0], r) for r in db_regions(prob[0])]


def test_reader_reads_a_rendered_line_and_nothing_from_shapes(reader):
    det = TextDetector(side=480)
    sign = _crops(det, _sign())
    assert len(sign) == 1
    (text, conf), = reader.read(sign)
    assert difflib.SequenceMatcher(None, text.replace(" ", "").upper().replace("0", "O"), "OPEN24HOURS").ratio() > 0.85
    assert conf > 0.8 and reads_as_text(text, conf)
    for seed in range(4):
        crops = _crops(det, _blobs(seed))
        assert crops, seed  # the detector marks each shape
        assert not any(reads_as_text(t, c) for t, c in reader.read(crops)), seed


def test_reader_keeps_the_order_of_crops_of_many_widths(reader):
    sign = _sign()[160:200, 20:260]
    crops = [sign[:, :w] for w in (240, 80, 150)] + [np.zeros((30, 10, 3), np.uint8)]
    got = reader.read([c[..., ::-1].copy() for c in crops])
    alone = [reader.read([c[..., ::-1].copy()])[0] for c in crops]
    # padded to the widest crop of the batch, a reading may differ at its ends (PaddleOCR's as well)
    assert [t.strip()[:3] for t, _ in got[:3]] == [t.strip()[:3] for t, _ in alone[:3]] == ["OPE"] * 3
    assert len(got[0][0].strip()) > len(got[2][0].strip()) > len(got[1][0].strip()) and got[3] == ("", 0.0)


def test_reads_as_text_needs_two_letters_or_digits_at_the_score():
    assert reads_as_text("35", 0.63) and reads_as_text("Breaking news", 0.95)
    assert not reads_as_text("X", 0.9)  # a table top read as one letter
    assert not reads_as_text("I1III11", 0.34)  # strokes, read with little confidence
    assert not reads_as_text("*-+", 0.99) and not reads_as_text("35", 0.63, min_score=0.7)
    assert not reads_as_text("II", 0.53) and not reads_as_text("1l1I", 0.9)  # posts and bars
    assert reads_as_text("I1 Km", 0.9)


def test_text_area_counts_boxes_read_as_text_and_lines():
    plain, reading = QualityStage(text=True, text_read=False), QualityStage(text=True)
    plain.setup()
    reading.setup()
    blobs = np.stack([_blobs(s) for s in range(4)])
    assert plain._text.area(blobs).min() > 0.08  # the detector alone: each shape is text
    assert reading._text.area(blobs).max() == 0.0
    signs = np.stack([_sign(s) for s in range(3)])
    assert np.allclose(reading._text.area(signs), plain._text.area(signs))  # a line of text counts whole
    assert reading._text.area(signs).min() > 0.02
    fence = np.stack([_fence(2)])  # line-shaped: counts unread, as a line of a script the model cannot read
    assert reading._text.area(fence)[0] == pytest.approx(plain._text.area(fence)[0]) and plain._text.area(fence)[0] > 0.1
    reading._text.line_aspect = None
    assert reading._text.area(fence)[0] == 0.0


GEORGIAN = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.mark.skipif(not os.path.isfile(GEORGIAN), reason="DejaVu Sans not installed")
def test_a_subtitle_in_a_script_the_model_cannot_read_still_counts():
    from PIL import Image, ImageDraw, ImageFont

    img = Image.fromarray(_smooth(7))
    ImageDraw.Draw(img).text((199, 208), "გამარჯობა ყველას დღეს", font=ImageFont.truetype(GEORGIAN, 15),
                             fill=(255, 255, 255), anchor="md", stroke_width=1, stroke_fill=(0, 0, 0))
    frames = np.asarray(img)[None]
    stage = QualityStage(text=True)
    stage.setup()
    assert stage._text.area(frames)[0] > 0.02
    unread = QualityStage(text=True, text_line_aspect=None)  # read only: Georgian letters are not the
    unread.setup()                                           # model's (read as Latin letters at 0.36)
    assert unread._text.area(frames)[0] < 0.005


def test_a_missing_recognition_model_fails_when_the_stage_is_configured(tmp_path):
    with pytest.raises(ValidationError, match="absent.onnx not found"):
        QualityStage(text=True, text_rec_model=str(tmp_path / "absent.onnx"))
    assert QualityStage(text=True, text_read=False, text_rec_model=str(tmp_path / "absent.onnx")).text
    detection = TextDetector().path  # an ONNX model, but no recognition export: no character list
    with pytest.raises(ValidationError, match="no 'character' metadata"):
        QualityStage(text=True, text_rec_model=detection)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ValidationError, match="does not open as an ONNX model"):
        QualityStage(text=True, text_rec_model=str(tmp_path / "junk.onnx"))


def test_ctc_decoding_joins_repeats_and_drops_blanks(reader):
    k = {ch: reader.chars.index(ch) for ch in "ab"}
    steps = [0, k["a"], k["a"], 0, k["a"], k["b"], k["b"], 0]  # blank a a blank a b b blank
    probs = np.full((len(steps), len(reader.chars)), 0.001, np.float32)
    probs[np.arange(len(steps)), steps] = [0.9, 0.8, 0.6, 0.9, 0.7, 0.5, 0.9, 0.9]
    text, conf = reader._decode(probs)
    assert text == "aab"  # a repeat joins, a blank between two a's keeps both
    assert conf == pytest.approx((0.8 + 0.7 + 0.5) / 3, abs=1e-6)  # first step of each kept run
    assert reader._decode(probs[[0, 3, 7]]) == ("", 0.0)


def test_a_reading_does_not_depend_on_the_other_crops(reader):
    """Crops were padded to the widest of their batch: a ring read '0' at 0.82 alone and 'O'
    at 0.62 beside a wide crop (a review). Now each pads to its own width, at least 320."""
    det = TextDetector(side=480)
    ring, wide = _crops(det, _blobs(2))[0], _crops(det, _sign())[0]
    long_line = np.concatenate([wide] * 3, axis=1)  # about 30 heights: a wider input
    alone = reader.read([ring])[0]
    assert reader.read([long_line, ring, wide])[1] == alone


def test_a_vertical_region_needs_three_letters_or_digits():
    from curate.quality.textboxes import TextRegion

    stage = QualityStage(text=True)
    stage.setup()
    up = TextRegion((100.0, 100.0), (0.0, 1.0), 120.0, 40.0)
    level = TextRegion((100.0, 100.0), (1.0, 0.0), 60.0, 40.0)
    assert stage._text._chars(up) == 3 and stage._text._chars(level) == 2
    assert not reads_as_text("CD", 0.72, stage._text._chars(up))  # a car seen from above, turned over
