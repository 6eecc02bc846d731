"""Text recognition of detected boxes (PP-OCRv4 recognition, the rapidocr wheel's model):
pictures with known truth, a rendered line and shapes the detector alone takes for text."""

import difflib

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from curate.quality.stage import QualityStage
from curate.quality.text import TextDetector, db_boxes
from curate.quality.textread import TextReader, reads_as_text
from support.ocr import needs_ocr
from support.ocr import smooth as _smooth

pytestmark = needs_ocr


def _sign(seed=1):
    f = _smooth(seed)
    cv2.putText(f, "OPEN 24 HOURS", (30, 190), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
    return f


def _fence(seed=2):
    """A row of 12 white posts: no text, but the detector's map marks it (13 % of the picture)."""
    f = _smooth(seed)
    for i in range(12):
        cv2.rectangle(f, (20 + i * 30, 150), (35 + i * 30, 185), (250, 250, 250), -1)
    return f


def _slashes(seed=4):
    """Eight slanted white strokes in a row: read as 'I1III11' at a low confidence."""
    f = _smooth(seed)
    for i in range(8):
        cv2.line(f, (40 + i * 40, 140), (60 + i * 40, 190), (255, 255, 255), 4)
    return f


@pytest.fixture(scope="module")
def reader():
    return TextReader()


def test_reader_reads_a_rendered_line_and_nothing_from_shapes(reader):
    det = TextDetector(side=480)
    crops = {}
    for name, picture in (("sign", _sign()), ("fence", _fence()), ("slashes", _slashes())):
        image = det._resized(picture[None])[0]
        prob = det.session.run(None, {det.input: ((image[None].astype(np.float32) / 255 - 0.5) / 0.5)
                                      .transpose(0, 3, 1, 2)})[0][0, 0]
        crops[name] = [image[y0:y1, x0:x1] for x0, y0, x1, y1 in db_boxes(prob)]
    assert len(crops["sign"]) == 1 and crops["fence"] and crops["slashes"]  # the detector marks all three
    (text, conf), = reader.read(crops["sign"])
    assert difflib.SequenceMatcher(None, text.replace(" ", "").upper().replace("0", "O"), "OPEN24HOURS").ratio() > 0.85
    assert conf > 0.8 and reads_as_text(text, conf)
    for name in ("fence", "slashes"):
        assert not any(reads_as_text(t, c) for t, c in reader.read(crops[name])), name


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


def test_text_area_counts_only_boxes_read_as_text():
    plain, reading = QualityStage(text=True, text_read=False), QualityStage(text=True)
    plain.setup()
    reading.setup()
    frames = np.stack([_fence(2), _fence(3)])
    assert plain._text.area(frames).min() > 0.05  # the detector alone: a fence is text
    assert reading._text.area(frames).max() == 0.0
    signs = np.stack([_sign(s) for s in range(3)])
    assert np.allclose(reading._text.area(signs), plain._text.area(signs))  # a line of text counts whole
    assert reading._text.area(signs).min() > 0.02


def test_a_missing_recognition_model_fails_when_the_stage_is_configured(tmp_path):
    with pytest.raises(ValidationError, match="absent.onnx not found"):
        QualityStage(text=True, text_rec_model=str(tmp_path / "absent.onnx"))
    assert QualityStage(text=True, text_read=False, text_rec_model=str(tmp_path / "absent.onnx")).text
