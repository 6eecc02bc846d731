"""Picture fidelity of clips: full-range colour, non-square pixels, interlacing, HDR.

Each source is generated with exact known truth (tests/support/picture.py) and goes
through the real probe -> split -> extract (-> score) stages.
"""

import os
from fractions import Fraction

import av
import numpy as np
import pytest

from curate.extract import ExtractStage, clip_path
from curate.ids import clip_id
from curate.probe import ProbeStage
from curate.reasons import REASONS
from curate.score import ScoreStage, luma
from curate.split import SplitStage
from curate.tasks import ClipTask, SourceTask
from support.picture import CHART_COLOURS, chart, combing, field_frames, patch_centres, write


def _clip(path, tmp_path, **cfg):
    """Probe, split (one span) and extract ``path``; returns the finished ClipTask."""
    task = ProbeStage()(SourceTask(path=path, work_dir=""))
    assert task.rejects == [], task.rejects
    task = SplitStage(min_clip_s=0.5)(task)
    span = task.spans[0]
    stage = ExtractStage(**cfg)
    cid = clip_id(task.source.source_id, span.start_frame, span.end_frame, stage.clip_settings())
    done = stage(ClipTask(source=task.source, span=span, clip_id=cid, work_dir=str(tmp_path)))
    assert done.reject_row is None, done.reject_row
    return done


def _decode(path, fmt="rgb24"):
    with av.open(path) as c:
        return [f.to_ndarray(format=fmt) for f in c.decode(video=0)]


def _full_range_mjpeg(path):
    write(path, [chart()] * 25, codec="mjpeg", pix_fmt="yuvj420p", full_range=True)


def _full_range_h264(path):
    write(path, [chart()] * 25, full_range=True, options={"crf": "10"})


@pytest.mark.parametrize("name,make", [("chart.avi", _full_range_mjpeg), ("chart.mp4", _full_range_h264)])
def test_full_range_source_keeps_its_colours(tmp_path, name, make):
    src = str(tmp_path / name)
    make(src)
    t = _clip(src, tmp_path, short_side=240)
    assert t.source.color_range == "pc"
    clip = clip_path(str(tmp_path), t.clip_id)
    with av.open(clip) as c:
        ctx = c.streams.video[0].codec_context
        assert int(ctx.color_range) == 1  # limited range, tagged so
        assert (c.streams.video[0].sample_aspect_ratio or 1) == 1
    reference = _decode(src)[0].astype(np.int16)  # FFmpeg's decode of the full-range source
    out = _decode(clip)[0].astype(np.int16)
    assert out.shape == reference.shape
    assert np.abs(out - reference).mean() < 1.5  # was 9.5: the range stretched twice
    # Patch centres against the chart's exact colours (greys 52 and 243 came out 39 and 255).
    assert np.abs(patch_centres(out) - np.asarray(CHART_COLOURS)).max() < 4.0
    scored = ScoreStage()(t)
    true_luma = float(luma(chart()[None]).mean())
    assert scored.record.scores.luma_mean == pytest.approx(true_luma, abs=1.5)
    assert scored.record.scores.black_fraction == 0.0


def test_dark_full_range_source_is_not_black(tmp_path):
    """A checkerboard of greys 16 and 32: true luma 24, above the black level 20
    (stretched a second time, the clip read as 9)."""
    src = str(tmp_path / "dark.avi")
    dark = np.where((np.indices((120, 160)) // 8).sum(axis=0)[..., None] % 2, 32, 16).astype(np.uint8)
    write(src, [np.repeat(dark, 3, axis=2)] * 25, codec="mjpeg", pix_fmt="yuvj420p", full_range=True)
    t = ScoreStage()(_clip(src, tmp_path))
    assert t.record.scores.luma_mean == pytest.approx(24.0, abs=1.5)
    assert t.record.scores.black_fraction == 0.0
    out = _decode(clip_path(str(tmp_path), t.clip_id))[0]
    assert abs(float(out.mean()) - 24.0) < 1.5


def test_non_square_pixels_give_display_aspect(tmp_path):
    """480x360 coded at SAR 4:3 displays as 640x360 (16:9); a 120x160 coded box is a square."""
    img = np.full((360, 480, 3), 30, np.uint8)
    img[100:260, 180:300] = 230  # 120 coded px wide = 160 display px = its height
    src = str(tmp_path / "anamorphic.mp4")
    write(src, [img] * 25, context={"sample_aspect_ratio": Fraction(4, 3)})
    t = _clip(src, tmp_path)  # default short side 256
    assert t.source.sar == "4:3"
    assert (t.source.width, t.source.height) == (640, 360)
    assert (t.record.clip.width, t.record.clip.height) == (456, 256)
    clip = clip_path(str(tmp_path), t.clip_id)
    with av.open(clip) as c:
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height) == (456, 256)
        assert s.sample_aspect_ratio in (None, 1)
    frame = _decode(clip, "gray")[0]
    ys, xs = np.nonzero(frame > 130)
    width, height = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    assert width / height == pytest.approx(1.0, abs=0.03)  # squeezed, it was 0.75


@pytest.mark.parametrize("top_first,order", [(True, "tt"), (False, "bb")])
def test_interlaced_source_is_deinterlaced(tmp_path, top_first, order):
    src = str(tmp_path / f"{order}.mp4")
    opts = {"crf": "12"} if top_first else {"crf": "12", "x264-params": "mbtree=0:bff=1"}
    write(src, field_frames(30, top_first=top_first), interlaced=True, options=opts, top_field_first=top_first)
    t = _clip(src, tmp_path, short_side=240, max_fps=30)  # no scaling: the fields stay rows
    assert t.source.field_order == order
    assert t.record.clip.num_frames == 30
    combed = np.mean([combing(g) for g in _decode(src, "gray")])
    clean = np.mean([combing(g) for g in _decode(clip_path(str(tmp_path), t.clip_id), "gray")])
    assert combed > 2.0  # the source combs on the bar's edges
    assert clean < 0.2 * combed
    # The bar is where the first field put it: x = 20 + 8 i (left edge), within 4 px.
    frame = _decode(clip_path(str(tmp_path), t.clip_id), "gray")[10]
    left = int(np.nonzero(frame[120] > 130)[0].min())
    assert abs(left - (20 + 8 * 10)) <= 2  # where the first field put it (a field late: 4 px on)


@pytest.mark.parametrize("top_first,order", [(True, "tt"), (False, "bb")])
def test_interlaced_source_that_says_nothing_of_its_fields_is_deinterlaced(tmp_path, top_first, order):
    """A break test: woven fields in an MJPEG AVI (no field order in the stream, no flag on
    the frames, as capture cards write them) were taken for progressive and kept their combs.
    FFmpeg's idet now names the order."""
    src = str(tmp_path / f"{order}.avi")
    write(src, field_frames(30, top_first=top_first), codec="mjpeg", pix_fmt="yuvj420p", full_range=True)
    t = _clip(src, tmp_path, short_side=240, max_fps=30)
    assert t.source.field_order == order
    combed = np.mean([combing(g) for g in _decode(src, "gray")])
    clean = np.mean([combing(g) for g in _decode(clip_path(str(tmp_path), t.clip_id), "gray")])
    assert combed > 2.0 and clean < 0.2 * combed


def test_progressive_source_that_says_nothing_of_its_fields_is_left_alone(tmp_path):
    src = str(tmp_path / "p.avi")
    frames = []
    for i in range(30):  # the bar of field_frames moving as fast, both fields of one instant
        img = np.full((240, 320, 3), 40, np.uint8)
        img[:, 20 + 8 * i:80 + 8 * i] = 220
        frames.append(img)
    write(src, frames, codec="mjpeg", pix_fmt="yuvj420p", full_range=True)
    t = _clip(src, tmp_path, short_side=240, max_fps=30)
    assert t.source.field_order == "unknown"
    frame = _decode(clip_path(str(tmp_path), t.clip_id), "gray")[10]
    assert int(np.nonzero(frame[120] > 130)[0].min()) == 20 + 8 * 10  # not smoothed or moved


@pytest.mark.parametrize("top_first,declared", [(True, "tb"), (False, "bt")])
def test_flagged_frames_are_deinterlaced_by_their_own_field_order(tmp_path, top_first, declared):
    """The ``ffmpeg`` command tags a top-field-first H.264 encode ``tb`` (Matroska
    FieldOrder 9), which FFmpeg's own definition reads as bottom shown first: such files
    were deinterlaced one field late (the picture 3 px behind at 8 px a frame). The frames'
    flags, from the bitstream, decide; a stream tag that contradicts them changes nothing."""
    src = str(tmp_path / f"{declared}.mkv")
    opts = {"crf": "12"} if top_first else {"crf": "12", "x264-params": "mbtree=0:bff=1"}
    write(src, field_frames(30, top_first=top_first), interlaced=True, options=opts, top_field_first=top_first,
          context={"field_order": {"tb": 4, "bt": 5}[declared]})  # AVFieldOrder
    t = _clip(src, tmp_path, short_side=240, max_fps=30)
    assert t.source.field_order == declared
    frame = _decode(clip_path(str(tmp_path), t.clip_id), "gray")[10]
    left = int(np.nonzero(frame[120] > 130)[0].min())
    assert abs(left - (20 + 8 * 10)) <= 2  # where the first field put it


def test_source_that_turns_interlaced_part_way_is_deinterlaced_there(tmp_path):
    prog, inter, src = (str(tmp_path / n) for n in ("p.ts", "i.ts", "joined.ts"))
    bar = [np.full((240, 320, 3), 40, np.uint8) for _ in range(25)]
    for i, img in enumerate(bar):
        img[:, 300 - 8 * i:360 - 8 * i] = 220  # a bar moving left, both fields alike
    write(prog, bar, options={"crf": "12"})
    write(inter, field_frames(30), interlaced=True, options={"crf": "12"})
    with open(src, "wb") as out:  # a capture that starts progressive (a joined recording)
        out.write(open(prog, "rb").read() + open(inter, "rb").read())
    task = SplitStage(min_clip_s=0.5)(ProbeStage()(SourceTask(path=src, work_dir="")))
    assert task.source.field_order == "progressive"  # the first frame says so
    span = task.spans[-1]
    assert span.start_frame >= 25  # the interlaced part
    stage = ExtractStage(short_side=240, max_fps=30)
    cid = clip_id(task.source.source_id, span.start_frame, span.end_frame, stage.clip_settings())
    t = stage(ClipTask(source=task.source, span=span, clip_id=cid, work_dir=str(tmp_path)))
    combed = np.mean([combing(g) for g in _decode(inter, "gray")])
    clean = np.mean([combing(g) for g in _decode(clip_path(str(tmp_path), t.clip_id), "gray")])
    assert combed > 2.0 and clean < 0.2 * combed  # before: the part kept its combs (judged by frame 0)


def test_progressive_part_after_an_interlaced_start_is_left_alone(tmp_path):
    inter, prog, src = (str(tmp_path / n) for n in ("i.ts", "p.ts", "joined.ts"))
    write(inter, field_frames(30), interlaced=True, options={"crf": "12"})
    frames = []
    for i in range(30):  # a band of one-row stripes moving down: what a deinterlacer smooths away
        img = chart(320, 240)
        y = 40 + 5 * i
        img[y:y + 40:2], img[y + 1:y + 40:2] = 220, 40
        frames.append(img)
    write(prog, frames, options={"crf": "12"})
    with open(src, "wb") as out:
        out.write(open(inter, "rb").read() + open(prog, "rb").read())
    task = SplitStage(min_clip_s=0.5)(ProbeStage()(SourceTask(path=src, work_dir="")))
    assert task.rejects == [], task.rejects
    assert task.source.field_order == "tt" and task.spans[-1].start_frame >= 30
    span = task.spans[-1]
    stage = ExtractStage(short_side=240, max_fps=30)
    cid = clip_id(task.source.source_id, span.start_frame, span.end_frame, stage.clip_settings())
    t = stage(ClipTask(source=task.source, span=span, clip_id=cid, work_dir=str(tmp_path)))
    clip = _decode(clip_path(str(tmp_path), t.clip_id), "gray")
    kept = np.mean([combing(g) for g in clip])
    truth = np.mean([combing(g) for g in _decode(prog, "gray")[-len(clip):]])  # the span's frames
    assert kept > 0.9 * truth  # before: deinterlaced as a whole (bwdif deint=all), stripes smoothed


def test_progressive_source_is_left_alone(tmp_path):
    src = str(tmp_path / "p.mp4")
    write(src, [chart()] * 25)
    t = _clip(src, tmp_path, short_side=240)
    assert t.source.field_order in ("progressive", "unknown")
    assert t.source.sar == "1:1" and t.source.color_range in ("tv", "unknown")


@pytest.mark.parametrize("transfer,name", [(16, "smpte2084"), (18, "arib-std-b67")])
def test_hdr_source_is_rejected_with_a_reason(tmp_path, transfer, name):
    src = str(tmp_path / f"{name}.mkv")
    write(src, [chart(160, 120)] * 10, codec="libx265", pix_fmt="yuv420p10le",
          context={"color_primaries": 9, "color_trc": transfer, "colorspace": 9},
          options={"preset": "ultrafast", "x265-params": "log-level=error"})
    task = ProbeStage()(SourceTask(path=src, work_dir=""))
    assert [(r.stage, r.reason) for r in task.rejects] == [("probe", "hdr_unsupported")]
    assert "hdr_unsupported" in REASONS and name in task.rejects[0].detail
    assert "bt2020" in task.rejects[0].detail


@pytest.mark.parametrize("rotation", [0, 90])
def test_sdr_bt709_tags_are_recorded_and_kept(tmp_path, rotation):
    """Also from a phone video turned upright (a break test: its clip lost the primaries
    and transfer, tagged unspecified)."""
    src = str(tmp_path / "709.mp4")
    write(src, [chart()] * 25, context={"color_primaries": 1, "color_trc": 1, "colorspace": 1}, rotation=rotation)
    t = _clip(src, tmp_path, short_side=240)
    assert (t.source.color_primaries, t.source.color_transfer) == ("bt709", "bt709")
    assert t.source.rotation == rotation  # turned upright: its planes (curate.codec.reshape.turn_clip_frame)
    with av.open(clip_path(str(tmp_path), t.clip_id)) as c:
        ctx = c.streams.video[0].codec_context
        assert (int(ctx.colorspace), int(ctx.color_primaries), int(ctx.color_trc)) == (1, 1, 1)
    if rotation:
        return  # the pixels of a turned picture: tests/curate/test_codec.py
    ref, out = _decode(src)[0].astype(np.int16), _decode(clip_path(str(tmp_path), t.clip_id))[0]
    assert np.abs(out.astype(np.int16) - ref).mean() < 1.5
    assert os.path.getsize(clip_path(str(tmp_path), t.clip_id)) > 0


def test_a_pixel_aspect_no_encoder_takes_is_one_reject_row_with_the_size(tmp_path):
    """320x180 coded at a pixel aspect of 100:1 displays 32000 px wide: libx264 refuses a
    side over 16384 px, and the clip's encoder failed with "Generic error in an external
    library" (a fuzz test). Now the pass gives the source one ``bad_aspect_ratio`` row naming
    the clip size, before any decode; 1000x20 (50:1 displayed, 1000 px wide) is no problem."""
    from pipelines.rows import PassSteps, dumps, loads
    from support.pipelines import TEST_OVERRIDES, make_pipeline

    src = str(tmp_path / "wide_pixels.mp4")
    write(src, [chart()[:180]] * 25, context={"sample_aspect_ratio": Fraction(100, 1)})
    p = make_pipeline(TEST_OVERRIDES)
    steps = PassSteps(p.stages[0], p.stages[1], p.clip_stages(), p.stages[2].clip_settings())
    row = steps.probe_row({"task": dumps(SourceTask(path=src, work_dir=str(tmp_path)))})
    assert (loads(row["task"]).source.width, loads(row["task"]).source.height) == (32000, 180)
    (out,) = list(steps.one_pass(row))
    (reject,) = loads(out["task"]).source_rejects
    assert reject.reason == "bad_aspect_ratio" and reject.reason in REASONS
    assert "x128 px" in reject.detail and "16384" in reject.detail  # (short side 128 in the tests' pipeline)
    stage = ExtractStage()
    assert "32000x180 px" in stage.size_problem(loads(row["task"]).source)
    narrow = loads(row["task"]).source.model_copy(update={"width": 1000, "height": 20})
    assert stage.size_problem(narrow) is None


def test_a_turned_10_bit_source_keeps_the_colours_of_the_same_source_upright(tmp_path):
    """A break test: a 10-bit BT.709 source stored upside down with a 180-degree display
    matrix came out about 3 levels darker (white 252, grey 125) than the same picture
    stored upright; its planes are now turned after the conversion the upright path makes."""
    colours = {}
    for rotation in (0, 180):
        src = str(tmp_path / f"ten{rotation}.mp4")
        frame = chart() if rotation == 0 else np.ascontiguousarray(chart()[::-1, ::-1])
        write(src, [frame] * 25, pix_fmt="yuv420p10le", options={"crf": "4"},
              context={"color_primaries": 1, "color_trc": 1, "colorspace": 1}, rotation=rotation)
        t = _clip(src, tmp_path, short_side=240)
        assert t.source.rotation == rotation
        colours[rotation] = patch_centres(_decode(clip_path(str(tmp_path), t.clip_id))[10].astype(np.float64))
    assert np.abs(colours[180] - colours[0]).max() <= 1.0  # was 3.7


def test_a_source_switching_matrix_inside_a_shot_keeps_its_colours(tmp_path):
    """A break test: a broadcast whose frames switch from BT.601 to BT.709 (and back) inside
    one shot gave a clip tagged with the first frame's matrix and the later frames written
    as they were: shown 20-40 levels off in saturated colours. Later frames are converted
    to the stream's matrix (curate.codec.colour.to_clip_matrix)."""
    from curate.codec import ClipWriter
    from curate.codec.colour import rgb_to_clip_yuv

    picture = chart()
    for first, later in ((6, 1), (1, 6)):
        path = str(tmp_path / f"switch{first}.mp4")
        with ClipWriter(path, picture.shape[1], picture.shape[0], 25.0, crf=4) as w:
            for k in range(20):
                w.write(rgb_to_clip_yuv(picture, first if k < 10 else later))
        with av.open(path) as c:
            assert int(c.streams.video[0].codec_context.colorspace) == first
        frames = _decode(path)
        for k in (5, 15):
            assert np.abs(patch_centres(frames[k].astype(np.float64)) - np.asarray(CHART_COLOURS)).max() < 4.0, k


def test_bt470bg_and_smpte170m_are_one_matrix_and_no_conversion():
    """A review: frames switching between the two tags of BT.601 were converted frame by
    frame (40 ms a 720p frame) for byte-identical output."""
    from curate.codec.colour import same_matrix

    assert same_matrix(5, 6) and same_matrix(6, 6) and not same_matrix(1, 6) and not same_matrix(9, 1)
