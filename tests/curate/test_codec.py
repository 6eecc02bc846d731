"""Probing, decoding and encoding against videos made with known truth."""

import av
import numpy as np
import pytest

from curate.codec import ClipWriter, CodecError, iter_frames, probe, scaled_size
from support.synth import write_video


def _halves(h=240, w=320):
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, :, 0] = 255  # top red
    img[h // 2:, :, 2] = 255   # bottom blue
    return img


def test_probe_reads_stream_facts(tmp_path):
    path = str(tmp_path / "a.mp4")
    write_video(path, [_halves()] * 30, fps=15)
    p = probe(path)
    assert (p.width, p.height, p.num_frames, p.codec) == (320, 240, 30, "h264")
    assert p.fps == pytest.approx(15.0)
    assert p.duration_s == pytest.approx(2.0)
    assert not p.vfr and not p.has_audio and p.rotation == 0


def test_a_one_frame_video_lasts_one_frame_at_its_declared_rate(tmp_path):
    """A break test: a one-frame video probed as 0 fps and 0.000 s (the stream's declared
    rate was read after its file was closed), so its row said "0.000 s < 0.5 s"."""
    path = str(tmp_path / "one.mp4")
    write_video(path, [_halves()], fps=25)
    p = probe(path)
    assert (p.num_frames, p.fps) == (1, pytest.approx(25.0))
    assert p.duration_s == pytest.approx(0.04)


@pytest.mark.parametrize("rotation,top,left", [(90, None, "red"), (-90, None, "blue"), (180, "blue", None)])
def test_rotation_gives_upright_frames(tmp_path, rotation, top, left):
    path = str(tmp_path / "r.mp4")
    write_video(path, [_halves()] * 5, rotation=rotation)
    p = probe(path)
    assert p.rotation == rotation % 360
    assert (p.width, p.height) == ((240, 320) if rotation % 180 else (320, 240))
    img = next(iter_frames(path, rotation=p.rotation)).image
    assert img.shape[:2] == (p.height, p.width)
    red = lambda px: px[0] > 200 and px[2] < 60  # noqa: E731
    if top:  # 180: the top row is now the blue half
        assert red(img[-5, p.width // 2]) and not red(img[5, p.width // 2])
    else:  # 90 ccw puts the old top (red) on the left; -90 puts it on the right
        assert red(img[p.height // 2, 5]) == (left == "red")
        assert red(img[p.height // 2, -5]) == (left == "blue")


@pytest.mark.parametrize("angle,hflip,vflip", [(0, True, False), (0, False, True), (90, True, False),
                                               (90, False, True), (180, True, False), (270, True, False)])
def test_mirrored_display_matrix_is_applied(tmp_path, angle, hflip, vflip):
    """A display matrix maps coded (x, y) to displayed (a x + c y, b x + d y) (entries 0, 1,
    3, 4): the decoded block must land where the file's own matrix puts it. Before, only
    the matrix's angle was applied, so a left-right mirror came out upside down."""
    h, w = 120, 160
    img = np.zeros((h, w, 3), np.uint8)
    img[10:40, 10:50, 0] = 255  # a red block near the top-left corner
    path = str(tmp_path / "m.mp4")
    with av.open(path, "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.set_display_rotation(angle, hflip=hflip, vflip=vflip)
        for _ in range(3):
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
    with av.open(path) as c:
        frame = next(c.decode(video=0))
        raw = frame.side_data.get("DISPLAYMATRIX")  # by key: PyAV 18.1.1 iterates the types
    a, b, _, cc, d = np.frombuffer(bytes(raw)[:20], np.int32) / 65536.0
    x, y = 29.5 - (w - 1) / 2, 24.5 - (h - 1) / 2  # the block's centre, from the frame's centre
    want = (a * x + cc * y, b * x + d * y)
    p = probe(path)
    for fmt in ("rgb24", "yuv420p"):  # the clip path converts to yuv420p
        out = next(iter_frames(path, rotation=p.rotation, hflip=p.hflip, fmt=fmt)).image
        out = out.to_ndarray(format="rgb24") if fmt == "yuv420p" else out
        assert out.shape[:2] == (p.height, p.width)
        ys, xs = np.nonzero(out[..., 0] > 128)
        got = (xs.mean() - (out.shape[1] - 1) / 2, ys.mean() - (out.shape[0] - 1) / 2)
        assert got == pytest.approx(want, abs=2.0), (fmt, p.rotation, p.hflip)


def test_audio_only_file_is_no_video_stream(tmp_path):
    path = str(tmp_path / "audio.mp4")
    with av.open(path, "w") as c:
        s = c.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for i in range(10):
            frame.pts = i * 1024
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
    with pytest.raises(CodecError) as err:
        probe(path)
    assert err.value.reason == "no_video_stream"


def test_garbage_file_is_decode_error(tmp_path):
    path = tmp_path / "junk.mp4"
    path.write_bytes(b"not a video at all" * 100)
    with pytest.raises(CodecError) as err:
        probe(str(path))
    assert err.value.reason in {"decode_error", "truncated"}


def test_decode_range_by_timestamps(tmp_path):
    path = str(tmp_path / "c.mp4")
    write_video(path, [np.full((64, 64, 3), i * 4, np.uint8) for i in range(50)], fps=25)
    frames = list(iter_frames(path, start_s=1.0, end_s=1.4))
    assert [round(f.t_s, 3) for f in frames] == [1.0, 1.04, 1.08, 1.12, 1.16, 1.2, 1.24, 1.28, 1.32, 1.36]


def test_writer_frame_count_and_even_size(tmp_path):
    assert scaled_size(641, 361, 128) == (228, 128)
    assert scaled_size(255, 481, 256) == (254, 480)  # never upscaled: was 256x480
    assert scaled_size(1, 3, 256) == (2, 2) and scaled_size(1921, 1081, 256) == (454, 256)
    path = str(tmp_path / "o.mp4")
    with ClipWriter(path, 228, 128, 24.0) as w:
        for _ in range(17):
            w.write(np.zeros((128, 228, 3), np.uint8))
    p = probe(path)
    assert (p.num_frames, p.width, p.height) == (17, 228, 128)
    assert sum(1 for _ in iter_frames(path)) == 17


def test_writer_leaves_nothing_on_error(tmp_path):
    path = tmp_path / "bad.mp4"
    with pytest.raises(CodecError):
        with ClipWriter(str(path), 64, 64, 24.0) as w:
            w.write(np.zeros((32, 32, 3), np.uint8))
    assert not path.exists() and not (tmp_path / "bad.mp4.part").exists()


def test_encoding_is_reproducible_across_processes(tmp_path):
    """The first encode in a fresh process must equal later ones (sample keys and shards
    are content-addressed, so clip bytes may not depend on process history)."""
    import subprocess
    import sys

    from support.synth import Shot, shots_video

    src = str(tmp_path / "src.mp4")
    shots_video(src, [Shot(5, 250, pan=(0.15, 0.0))])
    script = (
        "import hashlib, sys, numpy as np\n"
        "from curate.codec import ClipWriter, iter_frames\n"
        "from curate.timegrid import resample\n"
        "dec = iter_frames(sys.argv[1], size=(170, 128), start_s=3.32, end_s=6.68)\n"
        "frames = [np.ascontiguousarray(f).copy() for _, f in resample(dec, 3.32, 6.68, 25.0)]\n"
        "out = []\n"
        "for i in range(4):\n"
        "    p = f'{sys.argv[1]}.{i}.mp4'\n"
        "    w = ClipWriter(p, 170, 128, 25.0)\n"
        "    w.options.update(eval(sys.argv[2]))\n"
        "    with w:\n"
        "        [w.write(f) for f in frames]\n"
        "    out.append(hashlib.sha256(open(p, 'rb').read()).hexdigest())\n"
        "print(' '.join(out))\n"
    )
    runs = [subprocess.run([sys.executable, "-c", script, src, "{}"], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(2)]
    assert len(set(runs[0] + runs[1])) == 1


@pytest.mark.parametrize("size", [(768, 432), (1920, 1080)])
def test_clip_conversion_is_the_same_with_and_without_slice_threads(size):
    from av.video.reformatter import VideoReformatter

    from curate.codec.colour import sws_threads, to_clip_yuv

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    assert sws_threads(frame) == (0 if size == (1920, 1080) else 1)
    ours = to_clip_yuv(frame, 456, 256).to_ndarray()  # threads chosen by sws_threads
    for threads in (0, 1, 2):
        other = VideoReformatter().reformat(frame, width=456, height=256, format="yuv420p", interpolation="AREA",
                                            dst_color_range=av.video.reformatter.ColorRange.MPEG, threads=threads)
        assert np.array_equal(other.to_ndarray(), ours)


def test_a_one_frame_video_splits_into_no_cut(tmp_path):
    """A break test: with ``min_duration_s`` lowered, a one-frame source reached the shot
    detector, whose spike search took the change between consecutive frames of one frame
    (a reshape of size 0: stage_error, exit 5)."""
    from curate.split.shots import ShotDetector

    path = str(tmp_path / "one.mp4")
    write_video(path, [_halves()], fps=25)
    det = ShotDetector(25.0)
    for frame in iter_frames(path, fmt="bgr24"):
        det.feed(frame.image)
    assert det.num_frames == 1 and det.cuts() == []
