"""A stream whose picture changes shape partway (a 16:9 capture switching to 4:3, by
size or by pixel aspect) keeps each part's own shape, with black bars, and is cut at the
change. Before, the 4:3 part came out stretched to 16:9 (a break test)."""

from fractions import Fraction

import av
import numpy as np
import pytest

from curate.codec.decode import iter_frames
from curate.codec.reshape import fitted_size, pad_clip_frame, pad_image
from support.synth import render

W, H = 160, 90  # 16:9 at the start


def _ts(path, parts, options: dict | None = None) -> None:
    """One MPEG-TS of ``parts`` joined byte for byte: ``(codec, width, height, sar, seed)``,
    60 frames at 25 fps each (each part's clock starts again at its start); ``options``:
    the encoder's."""
    data = b""
    for k, (codec, w, h, sar, seed) in enumerate(parts):
        part = f"{path}.{k}"
        with av.open(part, "w", format="mpegts") as out:
            stream = out.add_stream(codec, rate=25, options=options or {})
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.codec_context.sample_aspect_ratio = sar
            for j in range(60):
                frame = av.VideoFrame.from_ndarray(render(seed, j / 25, w, h), format="rgb24")
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        with open(part, "rb") as f:
            data += f.read()
    with open(path, "wb") as f:
        f.write(data)


def _picture_columns(image: np.ndarray) -> tuple[int, int]:
    lit = np.flatnonzero(image.reshape(image.shape[0], image.shape[1], -1).mean(axis=(0, 2)) > 8)
    return int(lit.min()), int(lit.max()) + 1


def test_fitted_sizes_and_padding():
    assert fitted_size((456, 256), 0.75) == (342, 256)  # 4:3 inside 16:9: pillarbox
    assert fitted_size((256, 456), 4 / 3) == (256, 342)  # the same, turned: letterbox
    assert fitted_size((456, 256), 1.004) is None  # rounding, not another shape
    rgb = np.random.default_rng(0).integers(0, 255, (60, 80, 3), np.uint8)
    small = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    padded = pad_clip_frame(small, (120, 60))
    planes = padded.to_ndarray()
    assert (planes[:60, 20:100] == small.to_ndarray()[:60]).all()  # luma moved, not changed
    assert (planes[:60, :20] == 16).all() and (planes[:60, 100:] == 16).all()  # limited-range black
    assert padded.color_range == small.color_range and padded.colorspace == small.colorspace
    with pytest.raises(ValueError):
        pad_clip_frame(small, (60, 60))
    boxed = pad_image(rgb, (80, 100))
    assert boxed.shape == (100, 80, 3) and (boxed[20:80] == rgb).all() and not boxed[:20].any()


@pytest.mark.parametrize("second", [
    ("libx264", 120, 90, Fraction(1), 5),  # a new picture size: 4:3
    ("mpeg2video", 160, 90, Fraction(3, 4), 5),  # the same size, narrower pixels: 4:3
])
def test_a_part_of_another_shape_keeps_it_with_bars_and_is_cut_at_the_change(tmp_path, second):
    path = str(tmp_path / "switch.ts")
    _ts(path, [(second[0], W, H, Fraction(1), 3), second])
    frames = list(iter_frames(path, size=(W, H), fmt="rgb24"))
    assert len(frames) == 120 and all(f.image.shape == (H, W, 3) for f in frames)
    changes = [f.index for f in frames if f.discontinuity]  # 60: the joined part's clock restarts too
    assert changes[-1] == 60 and len(changes) <= 2 and 56 <= changes[0], changes  # pixel aspect: within a few frames
    assert _picture_columns(frames[10].image) == (0, W)  # the 16:9 part fills the clip
    left, right = _picture_columns(frames[100].image)  # the 4:3 part: 120 of 160 columns, centred
    assert abs((right - left) - 120) <= 2 and abs(left - 20) <= 2, (left, right)


def test_an_interlaced_stream_that_changes_size_is_deinterlaced_at_each_size(tmp_path):
    """The deinterlacer's filter graph is configured for one picture size: a broadcast
    capture switching size had failed the whole source (decode_error, a break test)."""
    path = str(tmp_path / "interlaced.ts")
    _ts(path, [("mpeg2video", W, H, Fraction(1), 3), ("mpeg2video", 120, 90, Fraction(1), 5)],
        options={"flags": "+ilme+ildct", "top": "1"})
    failed = []
    frames = list(iter_frames(path, size=(W, H), fmt="rgb24", field_order="tt",
                              on_error=lambda e, t: failed.append(e)))
    assert failed == [] and len(frames) >= 119  # (FFmpeg's MPEG-2 decoder drops one frame at the join)
    assert _picture_columns(frames[10].image) == (0, W)
    left, right = _picture_columns(frames[100].image)
    assert abs((right - left) - 120) <= 2 and abs(left - 20) <= 2, (left, right)


def test_a_new_size_that_keeps_the_shape_is_no_change(tmp_path):
    """1920x1080 square pixels, then 1440x1080 with pixels 4:3 wide (HDV): still 16:9."""
    path = str(tmp_path / "hdv.ts")
    _ts(path, [("libx264", W, H, Fraction(1), 3), ("libx264", 120, 90, Fraction(4, 3), 3)])
    frames = list(iter_frames(path, size=(W, H), fmt="gray"))
    assert [f.index for f in frames if f.discontinuity] == [60]  # the joined part's clock restart only
    assert _picture_columns(frames[100].image) == (0, W)


def test_the_one_decode_pass_cuts_and_boxes_the_switch(tmp_path):
    """Probe, then split and extract from one decode as a run does: two clips, the
    second pillarboxed to its 4:3."""
    from curate.extract import ExtractStage, clip_path
    from curate.probe import ProbeStage
    from curate.split import SplitStage
    from curate.tasks import SourceTask
    from pipelines.plan import SplitExtract, dumps, loads

    path = str(tmp_path / "switch.ts")
    _ts(path, [("libx264", W, H, Fraction(1), 3), ("libx264", 120, 90, Fraction(1), 5)])
    split = SplitStage(min_clip_s=1.0, max_clip_s=10.0, min_shot_s=0.2, limits=None)
    extract = ExtractStage(short_side=90, limits=None)
    task = ProbeStage(limits=None)(SourceTask(path=path, work_dir=str(tmp_path)))
    rows = SplitExtract(split, extract, extract.clip_settings())({"task": dumps(task)})
    clips = sorted((extract(loads(r["task"])) for r in rows), key=lambda c: c.span.start_frame)
    spans = [(c.span.start_frame, c.span.end_frame) for c in clips]
    assert len(spans) == 2 and spans[0][1] <= 60 <= spans[1][0], spans
    assert all(c.reject_row is None for c in clips)
    firsts = [next(iter_frames(clip_path(str(tmp_path), c.clip_id), fmt="gray")).image for c in clips]
    assert [f.shape for f in firsts] == [(H, W)] * 2
    assert _picture_columns(firsts[0]) == (0, W)
    left, right = _picture_columns(firsts[1])
    assert abs((right - left) - 120) <= 2 and abs(left - 20) <= 2, (left, right)
