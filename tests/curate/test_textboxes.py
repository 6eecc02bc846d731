"""Text regions as turned rectangles (curate/quality/textboxes.py): maps and pictures with
known geometry, and tilted or vertical lines of text that count as such."""

import cv2
import numpy as np
import pytest

from curate.quality.stage import QualityStage
from curate.quality.textboxes import UNCLIP, db_regions, fill, upright_crop
from support.ocr import needs_ocr, smooth


def _bar_map(angle_deg, length=120, height=16, shape=(240, 320)):
    """A probability map of 0.9 inside a bar turned by ``angle_deg`` (clockwise on screen)."""
    prob = np.zeros(shape, np.float32)
    box = cv2.boxPoints(((160.0, 120.0), (float(length), float(height)), float(angle_deg)))
    cv2.fillPoly(prob, [np.round(box).astype(np.int32)], 0.9)
    return prob


@pytest.mark.parametrize("angle", [0, 20, -30, 60, 90])
def test_a_turned_bar_gives_one_region_along_it(angle):
    prob = _bar_map(angle)
    (region,) = db_regions(prob)
    t = np.deg2rad(angle)
    along = np.array([np.cos(t), np.sin(t)])
    along = -along if along[0] < -1e-9 or (abs(along[0]) <= 1e-9 and along[1] < 0) else along
    assert np.allclose(region.along, along, atol=0.03)
    grow = 2 * (prob > 0.3).sum() * UNCLIP / (2 * (121 + 17))  # DB's unclip, on each side
    assert region.long == pytest.approx(120 + grow, abs=3) and region.short == pytest.approx(16 + grow, abs=3)
    assert region.centre == pytest.approx((160, 120), abs=1)
    assert region.horizontal == (abs(angle) <= 45)
    assert fill((240, 320), [region]).sum() == pytest.approx(region.long * region.short, rel=0.05)


def test_the_upright_crop_follows_the_long_side():
    img = np.zeros((240, 320, 3), np.uint8)
    cv2.line(img, (100, 100), (220, 140), (255, 255, 255), 9)  # a bar tilted about 18 degrees
    cv2.circle(img, (104, 101), 3, (0, 0, 255), -1)  # a red dot at its left end
    prob = (img[..., 0] > 0).astype(np.float32) * 0.9
    (region,) = db_regions(prob)
    crop = upright_crop(img, region)
    assert crop.shape[1] > 4 * crop.shape[0]  # long and low
    red = np.argwhere((crop[..., 2] > 150) & (crop[..., 0] < 100))
    assert len(red) and red[:, 1].mean() < crop.shape[1] * 0.25  # the left end stays left
    white_rows = np.nonzero((crop[..., 0] > 200).mean(axis=1) > 0.5)[0]
    assert len(white_rows) >= 5  # the bar lies flat along the crop


def _turned_line(angle, seed=3):
    """A white line of text with a black outline (OpenCV's Hershey font: no font files),
    turned by ``angle`` degrees anticlockwise about the picture's centre."""
    canvas = np.zeros((224, 398, 3), np.uint8)
    mask = np.zeros((224, 398), np.uint8)
    for img, colour, thick in ((canvas, (0, 0, 0), 5), (canvas, (255, 255, 255), 2), (mask, 255, 5)):
        cv2.putText(img, "Subscribe for more", (80, 120), cv2.FONT_HERSHEY_SIMPLEX, 0.8, colour, thick, cv2.LINE_AA)
    m = cv2.getRotationMatrix2D((199, 112), angle, 1.0)
    canvas, mask = (cv2.warpAffine(x, m, (398, 224)) for x in (canvas, mask))
    base = smooth(seed)
    return np.where(mask[..., None] > 0, canvas, base)


@needs_ocr
@pytest.mark.parametrize("angle", [25, 40, 90, 270])
def test_tilted_and_vertical_lines_of_text_count(angle):
    """A break test: from 18 degrees of tilt, and turned 90 or 270, a line's straight box was
    no longer line-shaped and its straight crop could not be read (20 of 20 lines lost)."""
    frames = _turned_line(angle)[None]
    reading, every = QualityStage(text=True), QualityStage(text=True, text_read=False)
    reading.setup()
    every.setup()
    assert every._text.area(frames)[0] > 0.02
    assert reading._text.area(frames)[0] == pytest.approx(every._text.area(frames)[0])
