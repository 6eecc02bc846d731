"""The reject row: a source or clip the run dropped, with the stage and the reason.

A row of ``rejects.parquet`` (Arrow schema from :func:`schemas.arrow.arrow_schema`, as for
the index); versioned with the clip record (:data:`schemas.record.SCHEMA_VERSION`) and
made of its groups (span, scores).
"""

from __future__ import annotations

from schemas.record import SCHEMA_VERSION, Scores, Span, _Model


class RejectRecord(_Model):
    """A dropped source or clip: a row of ``rejects.parquet``.

    ``stage`` names the stage that dropped it and ``reason`` is a stable code from
    :data:`curate.reasons.REASONS`; ``detail`` is free text (an error message, the
    threshold that failed). ``clip_id``/``span`` are empty for a source-level reject.
    """

    schema_version: str = SCHEMA_VERSION
    source_path: str
    source_id: str = ""
    clip_id: str | None = None
    stage: str
    reason: str
    detail: str = ""
    span: Span | None = None
    scores: Scores | None = None
    duplicate_of: str | None = None
    duration_s: float = 0.0
