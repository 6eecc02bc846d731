"""Which stream is the video, and sources that decode only part-way (issue 8, kinds 4 and 6)."""

import os

import av
import pytest

from curate.codec import CodecError, iter_frames, probe
from curate.codec.streams import pick_video_stream
from pipelines.report import summarise
from support.hostile import _frames
from support.pipelines import make_pipeline, run_source as support_run_source
from support.streams import corrupt_middle, cover_art_audio, still_then_video
from support.synth import encode

PIPELINE = make_pipeline({"split": {"min_clip_s": 0.5}})


def run_source(path: str, work: str):
    """Probe, split and the per-clip stages in this process: (source task, clip tasks)."""
    return support_run_source(PIPELINE, path, work)


def _count(path: str, **kw) -> int:
    return sum(1 for _ in iter_frames(path, fmt="gray", **kw))


@pytest.mark.parametrize("name,still_codec", [("still.mp4", "libx264"), ("still.mkv", "libx264"),
                                               ("still mjpeg.mkv", "mjpeg")])
def test_a_still_image_stored_first_loses_to_the_real_video(tmp_path, name, still_codec):
    path = str(tmp_path / name)
    still_then_video(path, frames=60, still_codec=still_codec)
    with av.open(path) as c:
        assert [s.type for s in c.streams] == ["video", "video"]
        assert pick_video_stream(c).index == 1
    p = probe(path)
    assert (p.stream_index, p.num_frames, p.width, p.height) == (1, 60, 160, 120)
    assert _count(path) == 60  # no stream_index: the same pick
    task, clips = run_source(path, str(tmp_path))
    assert task.rejects == [] and len(clips) == 1
    assert (task.source.stream_index, task.source.num_frames) == (1, 60)
    rec = clips[0].record
    assert clips[0].reject_row is None, clips[0].reject_row
    assert (rec.clip.num_frames, rec.clip.width, rec.clip.height) == (60, 160, 120)
    assert _count(os.path.join(tmp_path, "clips", f"{rec.clip_id}.mp4")) == 60


@pytest.mark.parametrize("name", ["song.mp3", "song.m4a", "song.mka"])
def test_cover_art_only_is_no_video_stream(tmp_path, name):
    path = str(tmp_path / name)
    cover_art_audio(path)
    with av.open(path) as c:  # the picture is there, as cover art
        assert [int(s.disposition) & int(av.stream.Disposition.attached_pic) > 0
                for s in c.streams.video] == [True]
    with pytest.raises(CodecError) as err:
        probe(path)
    assert err.value.reason == "no_video_stream" and "cover art" in err.value.detail
    task, clips = run_source(path, str(tmp_path))
    assert [(r.stage, r.reason) for r in task.rejects] == [("probe", "no_video_stream")]
    assert clips == []


@pytest.mark.parametrize("ext,codec", [(".jpg", "mjpeg"), (".png", "png")])
def test_a_photo_named_mp4_is_no_video_stream(tmp_path, ext, codec):
    """A break test: a JPEG or PNG photo saved under a .mp4 name was rejected as too_short
    ("0.040 s < 0.5 s"), as if it were a video of one frame."""
    import cv2
    import numpy as np

    path = str(tmp_path / "photo.mp4")
    ok, data = cv2.imencode(ext, np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8))
    assert ok
    with open(path, "wb") as f:
        f.write(data.tobytes())
    with pytest.raises(CodecError) as err:
        probe(path)
    assert err.value.reason == "no_video_stream" and f"a still {codec} image" in err.value.detail
    task, clips = run_source(path, str(tmp_path))
    assert [(r.stage, r.reason) for r in task.rejects] == [("probe", "no_video_stream")]
    assert clips == []


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory):
    """A 90-frame 30 fps H.264 MP4 (keyframe every 30 frames) with its middle overwritten."""
    root = tmp_path_factory.mktemp("corrupt")
    good, bad = str(root / "good.mp4"), str(root / "corrupt middle.mp4")
    encode(good, _frames(90), options={"g": "30"})
    corrupt_middle(good, bad, at=0.5, size=200)
    return good, bad


def test_decode_failure_part_way_is_reported_with_its_time(corrupt):
    good, bad = corrupt
    assert probe(bad).num_frames == 90  # every packet is there; some do not decode
    errors = []
    n = sum(1 for _ in iter_frames(bad, fmt="gray", on_error=lambda e, t: errors.append((e, t))))
    assert 0 < n < 80
    assert len(errors) == 1 and errors[0][1] == pytest.approx((n - 1) / 30, abs=1e-6)
    assert isinstance(errors[0][0], CodecError)
    seen = []
    assert _count(good, on_error=lambda e, t: seen.append(e)) == 90 and seen == []


def test_partly_decoded_source_keeps_its_good_part_marked_and_counted(corrupt, tmp_path):
    good, bad = corrupt
    n = _count(bad)
    task, clips = run_source(bad, str(tmp_path))
    src = task.source
    assert (src.partial, src.num_frames, src.probed_frames) == (True, n, 90)
    [row] = task.rejects
    assert (row.stage, row.reason) == ("split", "partially_decoded")
    assert f"decoded {n} of 90 frames ({90 - n} lost)" in row.detail
    assert (row.span.start_frame, row.span.end_frame) == (n, 90)
    assert row.span.start_s == pytest.approx(n / 30, abs=1e-3) and row.span.end_s == pytest.approx(3.0)
    assert row.duration_s == pytest.approx(3.0 - n / 30, abs=1e-3)
    [ct] = clips
    assert ct.reject_row is None and ct.record.source.partial
    assert ct.record.span.end_frame == n  # the clip is the good part, all of it
    summary = summarise("out", [bad], {bad: src.duration_s}, [ct.record], task.rejects, 1.0, {}, {}, [])
    assert summary.rejects_by_reason == {"split:partially_decoded": 1}
    assert summary.sources_rejected == 0  # clips were kept: the row is for the lost part only


def test_an_intact_source_is_not_partial(corrupt, tmp_path):
    task, clips = run_source(corrupt[0], str(tmp_path))
    assert task.rejects == [] and len(clips) == 1
    assert (task.source.partial, task.source.num_frames, task.source.probed_frames) == (False, 90, 90)


def test_an_animated_webp_this_ffmpeg_cannot_decode_is_unsupported_codec(tmp_path):
    """A break test: an animated WebP (an accepted extension) was a ``decode_error`` row
    ("Invalid data found ...: avcodec_send_packet()"), as if the file were damaged."""
    from PIL import Image

    path = str(tmp_path / "anim.webp")
    frames = [Image.fromarray(img) for img in _frames(12, 96, 64)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    try:
        with av.open(path) as c:
            decodes = next(c.decode(video=0), None) is not None
    except av.error.FFmpegError:
        decodes = False
    if decodes:  # a later FFmpeg with an animated WebP decoder: the file probes as a video
        assert probe(path).width == 96
        return
    with pytest.raises(CodecError) as exc:
        probe(path)
    assert exc.value.reason == "unsupported_codec" and "animated WebP" in str(exc.value)


def test_a_damaged_still_webp_is_not_called_animated(tmp_path):
    from PIL import Image

    path = str(tmp_path / "still.webp")
    Image.fromarray(next(_frames(1, 96, 64))).save(path, lossless=True)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:40] + bytes(len(data) - 40))  # its picture data zeroed
    with pytest.raises(CodecError) as exc:
        probe(path)
    assert "animated WebP" not in str(exc.value)
