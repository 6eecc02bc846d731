"""The run summary's source counts: rejected whole, and the others that kept no clip."""

from pipelines.report import summarise
from schemas import ClipRecord, ClipVideo, RejectRecord, SourceInfo, Span


def _clip(path: str, cid: str) -> ClipRecord:
    src = SourceInfo(path=path, source_id=path, size_bytes=1, duration_s=3, fps=25, num_frames=75,
                     width=64, height=64, codec="h264")
    span = Span(shot_index=0, start_frame=0, end_frame=75, start_s=0, end_s=3)
    return ClipRecord(clip_id=cid, source=src, span=span,
                      clip=ClipVideo(num_frames=75, fps=25, width=64, height=64, duration_s=3.0))


def test_sources_whose_every_clip_was_dropped_are_counted_apart():
    """A new-user walk-through: 'sources: 13 (3 rejected)' while 5 sources had given no clip
    (a dark clip dropped by the filter, a 0.5 s file too short to make one)."""
    kept = _clip("c.mp4", "c1")
    dropped = _clip("b.mp4", "b1")
    rejects = [RejectRecord(source_path="a.mp4", source_id="a", stage="probe", reason="decode_error"),
               RejectRecord(source_path="b.mp4", source_id="b", stage="filter", reason="black_frames",
                            clip_id="b1", span=dropped.span),
               RejectRecord(source_path="d.mp4", source_id="d", stage="split", reason="too_short",
                            span=Span(shot_index=0, start_frame=0, end_frame=12, start_s=0, end_s=0.48))]
    summary = summarise("out", ["a.mp4", "b.mp4", "c.mp4", "d.mp4"], {"b.mp4": 3, "c.mp4": 3, "d.mp4": 0.48},
                        [kept], rejects, 1.0, {}, {}, [])
    assert (summary.sources_rejected, summary.sources_without_clips) == (1, 2)
    assert "sources: 4 (1 rejected, 2 more with no clip kept)" in summary.lines()


def test_hours_under_one_are_also_given_in_minutes_or_seconds():
    summary = summarise("out", ["c.mp4"], {"c.mp4": 3.0}, [_clip("c.mp4", "c1")], [], 1.0, {}, {}, [])
    assert "hours in: 0.0008 (3.0 s)  hours out: 0.0008 (3.0 s)" in summary.lines()
    summary.hours_in, summary.hours_out = 0.0725, 2.5
    assert "hours in: 0.0725 (4.3 min)  hours out: 2.5000" in summary.lines()
