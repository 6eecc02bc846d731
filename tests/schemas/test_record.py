"""The record contract: Arrow schema derived from the models, JSON and parquet round trips."""

import pyarrow as pa

from schemas import (SCHEMA_VERSION, ClipRecord, ClipVideo, RejectRecord, SourceInfo, Span,
                     arrow_schema, read_records, write_parquet)


def _record(clip_id="abc123") -> ClipRecord:
    src = SourceInfo(path="/v/a.mp4", source_id="f" * 24, size_bytes=10, duration_s=3.0, fps=25.0,
                     num_frames=75, width=320, height=240, codec="h264")
    span = Span(shot_index=1, start_frame=25, end_frame=75, start_s=1.0, end_s=3.0)
    return ClipRecord(clip_id=clip_id, source=src, span=span,
                      clip=ClipVideo(num_frames=50, fps=25.0, width=320, height=240, duration_s=2.0))


def test_arrow_schema_follows_models():
    schema = arrow_schema(ClipRecord)
    assert schema.metadata[b"schema_version"] == SCHEMA_VERSION.encode()
    assert schema.field("clip_id").type == pa.string()
    assert schema.field("span").type.field("start_frame").type == pa.int64()
    assert schema.field("scores").type.field("motion").type == pa.float64()
    assert schema.field("motion_track").type.value_type.field("zoom").type == pa.float64()
    assert set(schema.names) == set(ClipRecord.model_fields)


def test_span_derived_lengths():
    span = _record().span
    assert span.num_frames == 50
    assert span.duration_s == 2.0


def test_json_round_trip_is_exact():
    rec = _record()
    assert ClipRecord.model_validate_json(rec.model_dump_json()) == rec


def test_parquet_round_trip(tmp_path):
    recs = [_record("a1"), _record("b2")]
    path = str(tmp_path / "index.parquet")
    write_parquet(ClipRecord, recs, path)
    assert read_records(ClipRecord, path) == recs
    rej = [RejectRecord(source_path="/x.mp4", stage="probe", reason="no_video_stream")]
    write_parquet(RejectRecord, rej, str(tmp_path / "r.parquet"))
    assert read_records(RejectRecord, str(tmp_path / "r.parquet"))[0].reason == "no_video_stream"
