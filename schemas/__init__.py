"""The versioned record contract shared by curation (``curate``) and training (``train``)."""

from schemas.arrow import arrow_schema, read_records, to_table, write_parquet
from schemas.rejects import RejectRecord
from schemas.record import (
    SCHEMA_VERSION,
    CameraSegment,
    Caption,
    CaptionEvent,
    ClipRecord,
    ClipVideo,
    MotionStep,
    Scores,
    SourceInfo,
    Span,
)

__all__ = [
    "SCHEMA_VERSION", "CameraSegment", "Caption", "CaptionEvent", "ClipRecord", "ClipVideo", "MotionStep",
    "RejectRecord", "Scores", "SourceInfo", "Span",
    "arrow_schema", "read_records", "to_table", "write_parquet",
]
