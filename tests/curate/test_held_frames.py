"""Clip frames the one-decode pass holds are pictures of their own, never views into a
decoder's larger or bottom-up frames (curate.codec.decode.own_copy, curate.spill)."""

import av
import numpy as np
import pytest

from curate.codec import iter_frames
from curate.spill import FrameSpill
from support.views import bottom_up, header_cropped


@pytest.fixture(scope="module")
def cropped(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("v") / "cropped.mp4")
    header_cropped(path, frames=40, coded=(1920, 1080), shown=(96, 64))
    return path


@pytest.fixture(scope="module")
def flipped(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("v") / "bottom_up.mkv")
    bottom_up(path, frames=30, size=(96, 64))
    return path


def _decoded(path):
    with av.open(path) as container:
        return [f.to_ndarray() for f in container.decode(video=0)]


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_the_streams_give_the_decoder_views_they_are_made_for(cropped, flipped):
    with av.open(cropped) as c:
        frame = next(c.decode(video=0))
        assert (frame.width, frame.height) == (96, 64) and frame.planes[0].line_size >= 1920
    with av.open(flipped) as c:
        assert next(c.decode(video=0)).planes[0].line_size < 0


@pytest.mark.parametrize("which", ["cropped", "flipped"])
def test_clip_size_frames_are_copies_with_the_decoders_pixels(cropped, flipped, which):
    path = cropped if which == "cropped" else flipped
    frames = list(iter_frames(path, size=(96, 64), fmt="yuv420p"))  # no conversion: swscale returns the input
    want = _decoded(path)
    assert len(frames) == len(want) == (40 if which == "cropped" else 30)
    for got, planes in zip(frames, want):
        assert [p.line_size for p in got.image.planes][0] in range(96, 129)  # its own rows, not 1920 or -96
        assert int(got.image.color_range) == 1 and int(got.image.colorspace) == 1  # tags kept
        np.testing.assert_array_equal(got.image.to_ndarray(), planes)


def test_holding_a_cropped_streams_frames_holds_only_the_shown_picture(cropped, tmp_path):
    # 40 views into 1920x1088 pictures would keep about 125 MB alive; 40 own frames 0.4 MB
    spill = FrameSpill(str(tmp_path / "f.yuv"), 96, 64, memory_mb=128)
    before = _rss_mb()
    for frame in iter_frames(cropped, size=(96, 64), fmt="yuv420p"):
        spill.append(frame.image)
    assert spill.count == 40 and spill.in_memory >= 40
    assert _rss_mb() - before < 40
    np.testing.assert_array_equal(spill.frame(39).to_ndarray(), _decoded(cropped)[39])


def test_the_spill_holds_a_copy_of_a_bottom_up_frame(flipped, tmp_path):
    with av.open(flipped) as c:
        frames = [next(c.decode(video=0))]
    want = frames[0].to_ndarray()
    spill = FrameSpill(str(tmp_path / "f.yuv"), 96, 64, memory_mb=1.0)
    spill.append(frames[0])  # a negative line size: DLPack cannot share it
    del frames
    back = spill.frame(0)
    back.pts = 5
    np.testing.assert_array_equal(back.to_ndarray(), want)
