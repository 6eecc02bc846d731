"""What a finished run holds, read back from its output: manifest, kept clips, reject rows.

:func:`load_run` reads ``manifest.json``, ``index.parquet`` and ``rejects.parquet`` of an
output folder or store URL (:mod:`curate.store`) into flat Arrow tables (nested record
groups become dotted columns: ``scores.motion``, ``clip.duration_s``, ``caption.text``).
From it: the funnel (:func:`funnel`: source hours to kept hours, per stage and reason),
the filter thresholds of each score (:func:`thresholds`) and score quantiles
(:func:`quantiles`). Nothing here decodes video; 10^5 clips load in about a second.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate import store
from curate.filter import CHECKS
from pipelines.exits import UsageError
from schemas import Scores

SCORES = tuple(Scores.model_fields)  # motion, sharpness, luma_mean, black_fraction, text_area, ...
SCORE_UNITS = {"motion": "frame widths / s", "sharpness": "Laplacian variance",
               "focus": "Laplacian / picture variance x 1000",
               "luma_mean": "luma 0..255", "black_fraction": "share of frames",
               "clipped_fraction": "share of pixels", "change": "luma levels 0..255",
               "text_area": "share of picture", "nsfw": "detector confidence 0..1",
               "aesthetic": "aesthetic score", "clip_score": "image-caption cosine"}
QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
RESIDUAL = "not in any clip"


@dataclass
class RunData:
    """A run's output read back. ``kept``/``rejects``: flattened tables (one row per kept
    clip / reject row); ``manifest``: ``manifest.json`` as a dict."""

    output: str
    manifest: dict
    kept: pa.Table
    rejects: pa.Table

    @property
    def stage_order(self) -> list[str]:
        """Stage names in pipeline order, from the manifest's pipeline config."""
        return [s.get("stage", "") for s in self.manifest.get("pipeline", {}).get("stages", [])]


def flatten(table: pa.Table) -> pa.Table:
    """Flatten struct columns until none is left (``scores`` -> ``scores.motion``, ...)."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


# index.parquet columns the report reads: not the per-step motion tracks (the bulk of a
# record), so 10^5 clips read in megabytes, not hundreds of them.
KEPT_COLUMNS = ("clip_id", "source", "span", "clip", "scores", "caption", "shard", "duplicate_of")


def _read_table(location: str, columns: tuple[str, ...] | None = None) -> pa.Table:
    fs, path = store.filesystem(location)
    with fs.open(path, "rb") as f:
        names = pq.ParquetFile(f).schema_arrow.names
    wanted = [c for c in names if columns is None or c in columns]
    return flatten(pq.read_table(path, filesystem=fs, columns=wanted))


_MANIFEST_FIELDS = {"counts": (dict, True), "hours_in": ((int, float), True), "hours_out": ((int, float), True),
                    "pipeline": (dict, False), "timings": (dict, False), "skipped": (list, False),
                    "inputs": (list, False), "versions": (dict, False), "shards": (list, False)}


def check_manifest(manifest: dict) -> None:
    """Check that a manifest has the fields the report and ``stats`` read, of their types
    (a manifest of ``{"counts": null}`` had ended them with an internal error, and ``{}``
    had been shown as a run of no source), and the nested values they read
    (:func:`_check_nested`). Raises ValueError naming the first wrong field."""
    for key, (kind, required) in _MANIFEST_FIELDS.items():
        if key not in manifest:
            if required:
                raise ValueError(f"no {key!r}")
            continue
        value = manifest[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"{key!r} is a JSON {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{key!r} is {value}")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in manifest["counts"].values()
               if not isinstance(v, dict)):
        raise ValueError("'counts' holds a value that is no whole number")
    _check_nested(manifest)


def _number(value, where: str, none: bool = False) -> None:
    if value is None and none:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{where} is {json.dumps(value)[:40]}, not a number")


def _check_nested(manifest: dict) -> None:
    """The nested values the report and ``stats`` read (found by a break tester:
    ``pipeline.stages: "abc"``, a filter threshold ``"abc"`` and ``timings.stage_s: 5``
    had ended them with an internal error): the stages a list of objects with a text
    ``stage``, the filter's thresholds numbers or null, the timings numbers."""
    stages = manifest.get("pipeline", {}).get("stages", [])
    if not isinstance(stages, list) or not all(isinstance(s, dict) for s in stages):
        raise ValueError("'pipeline.stages' is not a list of objects")
    for k, stage in enumerate(stages):
        if not isinstance(stage.get("stage", ""), str):
            raise ValueError(f"'pipeline.stages[{k}].stage' is not text")
        if stage.get("stage") == "filter":
            for key, *_ in CHECKS:
                _number(stage.get(key), f"'pipeline.stages[{k}].{key}'", none=True)
    timings = manifest.get("timings", {})
    _number(timings.get("wall_s"), "'timings.wall_s'", none=True)
    _number(timings.get("video_s"), "'timings.video_s'", none=True)
    for part in ("stage_s", "phase_wall_s"):
        values = timings.get(part, {})
        if not isinstance(values, dict):
            raise ValueError(f"'timings.{part}' is a JSON {type(values).__name__}")
        for name, value in values.items():
            _number(value, f"'timings.{part}.{name}'")


def load_run(output: str) -> RunData:
    """Read a run's output (local folder, ``file://`` or fsspec URL).

    Raises FileNotFoundError naming the missing file when ``manifest.json``,
    ``index.parquet`` or ``rejects.parquet`` is absent (the run did not finish), and
    :class:`pipelines.exits.UsageError` naming the file when one is there but cannot be
    read as what it should be (cut short, overwritten).
    """
    root = store.resolve(output)
    parts = {}
    for name in ("manifest.json", "index.parquet", "rejects.parquet"):
        location = store.join(root, name)
        if not store.exists(location):
            raise FileNotFoundError(f"{location} not found: is {output} the output of a finished run?")
        parts[name] = location
    name = "manifest.json"
    try:
        manifest = json.loads(store.read_bytes(parts[name]))
        if not isinstance(manifest, dict):
            raise ValueError(f"a JSON {type(manifest).__name__}, not an object")
        check_manifest(manifest)
        name = "index.parquet"
        kept = _read_table(parts[name], KEPT_COLUMNS)
        name = "rejects.parquet"
        return RunData(root, manifest, kept, _read_table(parts[name]))
    except (ValueError, pa.ArrowException) as exc:  # JSONDecodeError and ArrowInvalid among them
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UsageError(f"{parts[name]} is damaged ({type(exc).__name__}: {first}); the command that "
                         f"made {output}, run again, writes it anew") from None


def run_captions(run: "RunData") -> dict[str, int]:
    """:func:`pipelines.report.caption_outcomes` of the run's kept clips (from the index)."""
    from pipelines.report import caption_outcomes  # noqa: PLC0415 - the summary's own count

    t = run.kept
    return caption_outcomes(zip(texts(t, "caption.source"), texts(t, "caption.degenerate_reason"),
                                texts(t, "caption.model_id")))


def column(table: pa.Table, name: str) -> np.ndarray:
    """A numeric column as float64 with NaN for nulls (all NaN when the column is absent)."""
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    return table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)


def texts(table: pa.Table, name: str) -> list:
    """A column as a Python list (``None`` for nulls; all ``None`` when absent)."""
    if name not in table.column_names:
        return [None] * table.num_rows
    return table.column(name).to_pylist()


def time_unit(hours: float) -> tuple[str, float]:
    """A readable unit for an amount of video: ``("h", 1)``, ``("min", 60)`` or ``("s", 3600)``
    (the factor turns hours into that unit)."""
    if hours >= 1:
        return "h", 1.0
    return ("min", 60.0) if hours * 60 >= 1 else ("s", 3600.0)


@dataclass
class FunnelRow:
    """One step of the funnel: ``hours`` of video (and ``count`` rows) dropped by
    ``stage``/``reason``; the first row is the source video in, the last the clips kept.
    ``remaining_h``: hours left after this step."""

    stage: str
    reason: str
    count: int
    hours: float
    remaining_h: float

    @property
    def label(self) -> str:
        """``stage: reason`` (or the stage alone for the first and last rows)."""
        return f"{self.stage}: {self.reason}" if self.reason else self.stage


def funnel(run: RunData) -> list[FunnelRow]:
    """Source hours -> kept hours, per stage (pipeline order) and reason.

    Reject rows count their ``duration_s`` (a whole source, a shot or a clip). What is
    neither kept nor in a reject row (frames of transitions, trims at cuts, blank runs,
    the rest of a long shot cut into windows) is one ``not in any clip`` row, placed
    before the filter; it is clamped at 0 when rounding makes it negative.
    """
    m = run.manifest
    hours_in, hours_out = float(m.get("hours_in", 0.0)), float(m.get("hours_out", 0.0))
    drops: dict[tuple[str, str], list] = {}
    durations = column(run.rejects, "duration_s")
    for stage, reason, dur in zip(texts(run.rejects, "stage"), texts(run.rejects, "reason"), durations):
        entry = drops.setdefault((stage, reason), [0, 0.0])
        entry[0] += 1
        entry[1] += 0.0 if np.isnan(dur) else dur / 3600
    residual = max(0.0, hours_in - hours_out - sum(h for _, h in drops.values()))
    if residual > 1e-9:
        drops[("split", RESIDUAL)] = [0, residual]
    order = {name: i for i, name in reversed(list(enumerate(run.stage_order)))}
    keys = sorted(drops, key=lambda k: (order.get(k[0], len(order)), k[1] != RESIDUAL, k[1]))
    counts = m.get("counts", {})
    rows = [FunnelRow("source video", "", int(counts.get("sources", 0)), hours_in, hours_in)]
    left = hours_in
    for stage, reason in keys:
        n, hours = drops[(stage, reason)]
        left = max(0.0, left - hours)
        rows.append(FunnelRow(stage, reason, n, hours, left))
    rows.append(FunnelRow("kept", "", run.kept.num_rows, hours_out, hours_out))
    return rows


def thresholds(manifest: dict) -> dict[str, list[tuple[str, float, str]]]:
    """Filter thresholds per score: ``{score: [(kind "min"/"max", value, reject reason)]}``,
    from the filter stage of the manifest's pipeline config (empty without one)."""
    stages = manifest.get("pipeline", {}).get("stages", [])
    cfg = next((s for s in stages if s.get("stage") == "filter"), {})
    out: dict[str, list] = {}
    for key, score, kind, reason in CHECKS:
        if cfg.get(key) is not None:
            out.setdefault(score, []).append((kind, float(cfg[key]), reason))
    return out


def score_values(run: RunData, score: str) -> tuple[np.ndarray, np.ndarray]:
    """``(kept, dropped)`` finite values of ``score`` (reject rows that carry scores)."""
    kept = column(run.kept, f"scores.{score}")
    dropped = column(run.rejects, f"scores.{score}")
    return kept[np.isfinite(kept)], dropped[np.isfinite(dropped)]


def quantiles(run: RunData) -> dict[str, dict[str, dict[str, float]]]:
    """``{score: {"kept"|"dropped": {"n", "p0", "p5", "p25", "p50", "p75", "p95", "p100"}}}``;
    quantile entries are absent when a group has no value."""
    out: dict[str, dict] = {}
    for score in SCORES:
        groups = dict(zip(("kept", "dropped"), score_values(run, score)))
        out[score] = {}
        for group, values in groups.items():
            row: dict[str, float] = {"n": int(values.size)}
            if values.size:
                qs = np.quantile(values, QUANTILES)
                row.update({f"p{round(q * 100)}": float(v) for q, v in zip(QUANTILES, qs)})
            out[score][group] = row
    return out
