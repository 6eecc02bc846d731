"""Overlay bands: a copy under a news bar is still a copy; passers-by along the bottom of a
fixed camera do not make two windows copies."""

import cv2
import numpy as np

import curate.dedup.verify as verify
from curate.dedup.overlay import overlay_rows
from curate.dedup.verify import distance
from support.edited import EDIT_LIMIT, clip
from support.edited import sig as _sig
from support.synth import render


def _scene(t0=2.0):
    """4 s of the rendered fixed-camera scene of :func:`support.edited.clip` from ``t0`` s."""
    return clip(t0, dur=4.0)


def news_bar(frames, top=0.78, bottom=0.95):
    """A dark bar over rows ``top``-``bottom`` of the height holding a caption that changes
    every 2 s, and a channel name in the top-left corner (a TV re-broadcast)."""
    out = frames.copy()
    h, w = out.shape[1:3]
    y0, y1 = int(h * top), int(h * bottom)
    for k, f in enumerate(out):
        f[y0:y1] = (f[y0:y1] * 0.15).astype(np.uint8)
        text = ("LIVE: council meeting", "WEATHER ALERT tonight")[k // 8 % 2]
        cv2.putText(f, text, (int(w * 0.04), int(h * 0.9)), cv2.FONT_HERSHEY_DUPLEX, h / 300, (255, 255, 255), 1,
                    cv2.LINE_AA)
        cv2.putText(f, "NEWS 24", (int(w * 0.03), int(h * 0.1)), cv2.FONT_HERSHEY_SIMPLEX, h / 330, (40, 220, 255), 1,
                    cv2.LINE_AA)
    return out


def _street(figures, n=16, w=256, h=144):
    """``n`` frames (4 fps) of the still wall of scene 3 with ``figures`` crossing it:
    ``(row share, px per frame, side px, luma)`` each."""
    wall = render(3, 0.0, w, h, drift=0.0)
    out = np.repeat(wall[None], n, axis=0)
    for k in range(n):
        for row, speed, side, luma in figures:
            x = int(k * speed) % (w - side)
            y = int(h * row)
            out[k, y:y + side, x:x + side // 2] = luma
    return out


def test_a_copy_under_a_news_bar_is_found_and_was_missed_without_the_band(monkeypatch):
    frames = _scene()
    orig, copy = _sig(frames), _sig(news_bar(frames))
    assert distance(orig, copy) <= EDIT_LIMIT
    assert distance(orig, _sig(news_bar(_scene(t0=9.0)))) > EDIT_LIMIT  # the bar alone makes no copy
    monkeypatch.setattr(verify, "overlay_rows", lambda xa, xb: None)
    assert distance(orig, copy) > 0.1


def test_the_band_found_covers_the_bar_rows():
    frames = _scene()
    xa, xb = (_sig(f).thumbs.astype(np.float32)[:, 3:45, 3:45] for f in (frames, news_bar(frames)))  # one geometry
    keep = overlay_rows(xa, xb)
    assert keep is not None and keep[:28].all()  # the picture above the bar is compared
    band = np.flatnonzero(~keep)
    assert band[-1] == 41 and 0.15 <= len(band) / 42 <= 0.35  # the bar: rows 0.78-0.95 of the frame
    assert overlay_rows(xa, xa + 3.0) is None  # no band between a clip and a brighter copy


def test_passers_by_along_the_bottom_of_a_fixed_camera_make_no_copies():
    """Windows of one still camera agree everywhere but the bottom rows, where people
    cross; leaving those rows out would make them copies (distance 0 in a test of the rule
    without its persistence and motion tests)."""
    h = 144
    empty = _sig(_street([]))
    one = _sig(_street([(0.78, 9, h // 6, 30)]))
    other = _sig(_street([(0.75, 7, h // 5, 200)]))
    crowd = _sig(_street([(0.8, 9, h // 6, 30), (0.72, 5, h // 6, 220), (0.85, 13, h // 8, 90)]))
    for a, b in ((empty, one), (one, other), (one, crowd), (other, crowd)):
        assert distance(a, b) > EDIT_LIMIT


def test_a_parked_object_along_the_bottom_is_no_overlay(monkeypatch):
    """Something standing in the bottom rows of one window of a fixed camera (a parked van)
    is there in every frame, as a bar would be, and it does not move; but it covers part of
    the width, where a bar spans the picture, so its rows are not left out."""
    import curate.dedup.overlay as overlay

    empty = _street([(0.25, 9, 24, 30)])  # someone crossing higher up, the same in both
    parked = empty.copy()
    parked[:, 104:140, 60:160] = (40, 40, 40)  # a quarter of the height, 40 % of the width
    a, b = _sig(empty), _sig(parked)
    assert distance(a, b) > EDIT_LIMIT
    monkeypatch.setattr(overlay, "WIDE", 0.0)  # without the width test the band is taken
    assert distance(a, b) <= EDIT_LIMIT


def test_different_full_width_traffic_in_front_of_a_still_street_is_no_overlay(monkeypatch):
    """A bus in one window and a queue of cars in another, each across the whole bottom of a
    still view: wide, strong and there in every frame, like a bar; but nothing moves in the
    rows outside them, which then only say that both windows show one still background."""
    import curate.dedup.overlay as overlay

    bus, queue = _street([]), _street([])
    bus[:, 110:140, :] = (235, 235, 230)
    bus[:, 118:126, ::16] = (30, 30, 40)  # windows
    for x in range(0, 256, 32):
        queue[:, 114:140, x:x + 26] = (200, 40, 40) if x % 64 else (220, 220, 220)
    a, b = _sig(bus), _sig(queue)
    assert distance(a, b) > EDIT_LIMIT
    monkeypatch.setattr(overlay, "STILL", -1.0)  # without the motion test outside the band
    assert distance(a, b) <= EDIT_LIMIT


def test_the_band_screen_keeps_every_band_that_stands_out_and_drops_the_rest():
    """overlay._may_stand_out (all bands in one product) never drops a band that the exact
    per-band test takes, also at the threshold itself; a flat row error leaves none."""
    from curate.dedup import overlay

    rng = np.random.default_rng(11)
    taken = 0
    for rows in (30, 46, 57):
        keeps = overlay.bands(rows)
        for trial in range(200):
            err = rng.gamma(1.0, 1.0, rows).astype(np.float32)
            if trial % 2:  # a bottom band at exactly RATIO times the rest (float32 means)
                k = int(rng.integers(int(np.ceil(overlay.BOTTOM[0] * rows)), int(overlay.BOTTOM[1] * rows) + 1))
                err[rows - k:] = overlay.RATIO * err[:rows - k].mean()
            may = overlay._may_stand_out(err)
            exact = np.array([overlay._stands_out(err, keep) for keep in keeps])
            assert not (exact & ~may).any()
            taken += int(exact.sum())
        assert not overlay._may_stand_out(np.ones(rows, np.float32)).any()
    assert taken > 100  # the threshold cases were met (289 bands here)


def test_a_news_bar_copy_whose_whole_gist_moved_is_a_candidate_by_its_clear_rows(monkeypatch):
    """A bar over the lower 28 % moves the whole gist (cosine 0.39 with the original: under
    ``crop_gist_cos``, never verified, though verification takes the pair at 0.002); the
    top rows' gists agree (0.99), so the pair is a band candidate, verified as a crop (the
    wider search settles 0.07 apart here) and found."""
    import curate.dedup.edits as edits
    from curate.dedup.signature import encode, read_gist

    frames = _scene(2.0)
    texts = [encode(_sig(frames)), encode(_sig(news_bar(frames, top=0.72, bottom=0.98)))]
    gists = np.stack([read_gist(t)[1] for t in texts])
    assert float(gists[0] @ gists[1]) < 0.5
    i, j, d = edits.edit_pairs(texts, EDIT_LIMIT, 0.7, crop_cos=0.5)
    assert (i.tolist(), j.tolist()) == ([0], [1]) and d[0] < 0.01
    monkeypatch.setattr(edits, "BAND_COS", 1.01)  # no band candidate: the pair is not found
    assert len(edits.edit_pairs(texts, EDIT_LIMIT, 0.7, crop_cos=0.5)[0]) == 0
