"""Hostile inputs that are damaged or lie about themselves: every one becomes a reject row
with the right reason, or the prefix that decodes and a ``partially_decoded`` row for the
rest; a claimed frame count is not trusted (inputs that decode: test_hostile_decode.py)."""

import os
import time

import pytest

from curate.codec import probe
from curate.tasks import SourceTask
from support.hostile import make_all, run_source


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return make_all(str(tmp_path_factory.mktemp("hostile")))


@pytest.mark.parametrize("case,reason", [
    ("audio only", "no_video_stream"),
    ("cut back moov", "truncated"),
    ("cut inside back moov", "truncated"),  # had been no_video_stream (break test)
    ("cut inside front moov", "truncated"),
    ("noise", "decode_error"),
    ("single", "too_short"),
    ("cut mkv tiny", "truncated"),  # 4 s in its header, a few frames decode: not too_short
    ("cut mkv header", "truncated"),  # cut inside its header: was decode_error (break test)
    ("cut avi header", "truncated"),
    ("damaged front moov", "decode_error"),  # whole-sized, garbage over its index: had read as cut short
])
def test_rejected_once_with_reason(hostile, tmp_path, case, reason):
    task, clips = run_source(hostile[case], str(tmp_path))
    assert [(r.stage, r.reason) for r in task.rejects] == [("probe", reason)]
    assert clips == []


def test_a_source_the_store_refuses_is_a_stage_error_a_missing_one_not_found(tmp_path, monkeypatch):
    """Access denied (s3fs raises PermissionError for a 403) was ``not_found`` and stayed
    so after the permission was fixed (break test); it is the worker's environment, a
    ``stage_error`` as docs/cluster.md says. A missing file or a folder stays ``not_found``."""
    import curate.probe as probe_mod
    from curate.probe import ProbeStage

    def refused(path):
        raise PermissionError("Forbidden")

    (tmp_path / "dir.mp4").mkdir()
    for path, reason in ((str(tmp_path / "gone.mp4"), "not_found"), (str(tmp_path / "dir.mp4"), "not_found")):
        task = ProbeStage(limits=None)(SourceTask(path=path, work_dir=""))
        assert [r.reason for r in task.rejects] == [reason], path
    (tmp_path / "empty.mp4").write_bytes(b"")
    task = ProbeStage(limits=None)(SourceTask(path=str(tmp_path / "empty.mp4"), work_dir=""))
    # written just now: maybe a copy still under way (a break test's probe fell between its writes)
    assert [(r.reason, r.detail) for r in task.rejects] == [(
        "truncated", "the file is empty (0 bytes) (the file was written 0 s ago: if it is still being "
        "copied, run again once it is complete)")]
    os.utime(tmp_path / "empty.mp4", (time.time() - 60, time.time() - 60))
    task = ProbeStage(limits=None)(SourceTask(path=str(tmp_path / "empty.mp4"), work_dir=""))
    assert [(r.reason, r.detail) for r in task.rejects] == [("truncated", "the file is empty (0 bytes)")]
    monkeypatch.setattr(probe_mod, "source_fingerprint", refused)
    (tmp_path / "deny.mkv").write_bytes(b"x")
    task = ProbeStage(limits=None)(SourceTask(path=str(tmp_path / "deny.mkv"), work_dir=""))  # in this process
    assert [(r.reason, r.detail) for r in task.rejects] == [("stage_error", "PermissionError: Forbidden")]


def test_a_cut_mp4_read_from_a_store_url_is_truncated_too(hostile, tmp_path):
    """The moov check read local paths only: the same cut file from s3:// was a
    decode_error (found by a break test). A memory:// URL goes through the same fsspec path."""
    import fsspec

    from curate.codec import CodecError
    from curate.codec.isobmff import is_truncated_mp4

    fs = fsspec.filesystem("memory")
    with open(hostile["cut back moov"], "rb") as f:
        fs.pipe(f"/{tmp_path.name}/cut.mp4", f.read())
    with open(hostile["single"], "rb") as f:  # a whole mp4: not cut
        fs.pipe(f"/{tmp_path.name}/whole.mp4", f.read())
    url = f"memory://{tmp_path.name}/cut.mp4"
    assert is_truncated_mp4(url) and is_truncated_mp4(hostile["cut back moov"])
    assert not is_truncated_mp4(f"memory://{tmp_path.name}/whole.mp4")
    assert not is_truncated_mp4(f"memory://{tmp_path.name}/gone.mp4")
    with pytest.raises(CodecError) as err:
        probe(url)
    assert err.value.reason == "truncated"


def test_a_cut_mkv_without_a_duration_gets_its_row_from_the_bytes(hostile, tmp_path):
    """A Matroska file whose header gives the Segment's size but no Duration (4 s, 120
    frames), cut at 60 % of its bytes: its 65 frames are kept as before, and the lost part
    is now a ``partially_decoded`` row, its length estimated from the bytes the header
    declares beyond the file's end (it had kept the prefix with no row). The same file
    whole gives no row."""
    task, clips = run_source(hostile["cut mkv no duration"], str(tmp_path / "cut"))
    assert len(clips) == 1 and task.source.partial and task.source.num_frames == 65
    [row] = task.rejects
    assert (row.stage, row.reason) == ("split", "partially_decoded")
    assert "cut short" in row.detail and "no duration in its header" in row.detail
    assert row.span.start_frame == 65 and 100 <= row.span.end_frame <= 140  # 120 in truth: an estimate
    assert row.span.end_s == pytest.approx(4.0, rel=0.2)
    whole, clips = run_source(hostile["whole no duration"], str(tmp_path / "whole"))
    assert len(clips) == 1 and whole.rejects == [] and not whole.source.partial
    assert whole.source.num_frames == 120


def test_a_cut_avi_gets_a_row_for_what_its_header_counts(hostile, tmp_path):
    """An AVI (4 s, 120 frames) cut at 60 % of its bytes decodes its prefix without an
    error: it had been curated as a whole, shorter file, with no row (a break test). Its
    RIFF chunk runs past the file's end, so the frames its header counts past the cut are
    a ``partially_decoded`` row. The same file whole gives no row, nor one muxed to a pipe,
    whose header's sizes and count FFmpeg never wrote."""
    from curate.codec.riff import riff_extent

    declared, size = riff_extent(hostile["cut avi"])
    assert declared > size and riff_extent(hostile["whole avi"])[0] == riff_extent(hostile["whole avi"])[1]
    assert riff_extent(hostile["cut mkv"]) is None and riff_extent(hostile["back"]) is None
    task, clips = run_source(hostile["cut avi"], str(tmp_path / "cut"))
    assert clips and task.source.partial and 40 < task.source.num_frames < 80
    [row] = [r for r in task.rejects if r.reason == "partially_decoded"]
    assert row.stage == "split" and "cut short" in row.detail and "its header lists 120 frames" in row.detail
    assert row.span.start_frame == task.source.num_frames and row.span.end_frame == 120
    assert row.span.end_s == pytest.approx(4.0, abs=0.05)
    for name in ("whole avi", "pipe avi"):  # muxed to a pipe: RIFF size 0xFFFFFFFF, 2**30 frames (a review)
        whole, clips = run_source(hostile[name], str(tmp_path / name))
        assert clips and not whole.source.partial and whole.source.num_frames == 120
        assert not [r for r in whole.rejects if r.reason == "partially_decoded"]
    assert riff_extent(hostile["pipe avi"]) is None


def test_a_decode_that_fails_at_the_cut_of_an_mp4_cut_short_counts_what_its_index_lists(hostile, tmp_path):
    """An interrupted download of an MP4 with its index at the front: where the decoder
    fails on the last, partial packet (it did in the one-decode pass on real footage), the
    lost part is what the index lists past the cut, not just the packets the probe found
    before it (a break test: a row of 0.72-0.84 s for a 3 s file, and hours_in short)."""
    from curate.codec import CodecError
    from curate.probe import ProbeStage
    from curate.split.stage import _cut_short
    from support.hostile import truncate

    cut = str(tmp_path / "cut.mp4")
    truncate(hostile["front"], cut, 0.45)
    src = ProbeStage(limits=None)(SourceTask(path=cut, work_dir=str(tmp_path))).source
    assert src is not None and src.num_frames < 120
    times = [i / 30 for i in range(src.num_frames - 3)]  # the decode failed three frames before the probe's count
    failure = CodecError("decode_error", "Invalid data found when processing input")
    expected, failed = _cut_short(cut, src, times, len(times) / 30, [(failure, times[-1])])
    assert (expected.num_frames, expected.duration_s) == (120, pytest.approx(4.0, abs=0.01))
    [(error, at)] = failed
    assert error.reason == "truncated" and "its index lists 120 frames" in str(error) and at == times[-1]
    whole = ProbeStage(limits=None)(SourceTask(path=hostile["front"], work_dir=str(tmp_path))).source
    assert _cut_short(hostile["front"], whole, times, 1.0, [(failure, 1.0)]) == (whole, [(failure, 1.0)])


def test_claimed_frame_count_is_not_trusted(hostile):
    import av
    with av.open(hostile["cut front moov"]) as c:
        assert c.streams.video[0].frames == 120  # what the container says
    assert probe(hostile["cut front moov"]).num_frames < 120


def test_a_matroska_headers_duration_is_read_as_ffmpeg_reads_it(hostile):
    """:func:`curate.codec.matroska.header_duration` walks the EBML header instead of opening
    the file with FFmpeg (3 ms a file, for every Matroska source's damage check)."""
    import av

    from curate.codec.matroska import header_duration

    for case in ("whole", "audio 14s", "damaged mkv", "vfr", "cut mkv"):
        with av.open(hostile[case]) as c:
            assert header_duration(hostile[case]) == pytest.approx(c.duration / av.time_base, abs=1e-3), case
    assert header_duration(hostile["whole"]) == pytest.approx(4.0, abs=0.04)
    assert header_duration(hostile["audio 14s"]) == pytest.approx(14.0, abs=0.1)
    assert header_duration(hostile["whole no duration"]) is None  # its Duration is a Void element
    assert header_duration(hostile["front"]) is None and header_duration(hostile["noise"]) is None
