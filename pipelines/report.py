"""The run's manifest (``manifest.json``) and the summary printed at the end.

The manifest holds the pipeline config, package versions, counts per stage and
reason, hours in and out, per-stage time (summed worker seconds) and per-phase wall
time, each shard's SHA-256, and the input files skipped as not videos (``skipped``:
path and the rule that skipped it, :mod:`pipelines.sources`).
"""

from __future__ import annotations

import json
import platform
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata

from curate import store
from curate.shards import ShardInfo
from pipelines.sources import Skipped
from schemas import SCHEMA_VERSION, ClipRecord, RejectRecord

PACKAGES = ("vidcurate", "ray", "av", "scenedetect-headless", "opencv-python-headless", "numpy",
            "pyarrow", "webdataset", "pydantic", "torch", "transformers", "open_clip_torch")


def versions() -> dict[str, str]:
    """Installed versions of the packages that shape the output (``missing`` when absent)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


FALLBACK_WARN_SHARE = 0.5
"""Above this share of kept clips falling back from the caption model to the signal
caption, the run summary warns: a model failing on every clip looked like success."""


def caption_outcomes(captions) -> dict[str, int]:
    """How the kept clips were captioned, for runs with a caption model: ``{"model": n,
    "caption_degenerate": n, "caption_failed": n}`` (the fallback reasons, only those that
    occur) from ``(source, degenerate_reason, model_id)`` of each kept clip's caption (None
    for a clip without one); ``{}`` when no clip names a model (signal captions only)."""
    rows = [c for c in captions if c is not None]
    if not any(model_id for _, _, model_id in rows):
        return {}
    out = Counter("model" if source == "model" else (reason or "signals") for source, reason, _ in rows)
    return {"model": out.pop("model", 0), **dict(sorted(out.items()))}


def caption_lines(outcomes: dict[str, int]) -> list[str]:
    """Summary lines for :func:`caption_outcomes`: how many captions came from the model, why
    the others fell back, and a warning when most fell back."""
    if not outcomes:
        return []
    total, model = sum(outcomes.values()), outcomes.get("model", 0)
    fell = {k: v for k, v in outcomes.items() if k != "model"}
    line = f"captions: {model} of {total} from the model"
    if fell:
        line += " (fell back to the signal caption: " + ", ".join(f"{k} {v}" for k, v in fell.items()) + ")"
    out = [line]
    if total and (total - model) / total > FALLBACK_WARN_SHARE:
        out.append(f"warning: {total - model} of {total} model captions fell back to the signal caption; "
                   "check the caption model (vidcurate inspect --json shows each clip's degenerate_detail)")
    return out


def _readable(hours: float) -> str:
    """`` (4.4 min)`` or `` (6.1 s)`` after an amount of video under an hour, in the report's
    unit (:func:`pipelines.report_html.data.time_unit`; a walk-through: "hours in: 0.0004"
    said little); ``""`` from an hour on."""
    if hours >= 1 or hours <= 0:
        return ""
    from pipelines.report_html.data import time_unit  # noqa: PLC0415 - pyarrow: at the summary, not at start-up

    unit, factor = time_unit(hours)
    return f" ({hours * factor:.1f} {unit})"


@dataclass
class RunSummary:
    """What a run did: counts, durations (hours of video), timings and shards."""

    output: str
    sources: int
    sources_rejected: int
    clips_kept: int
    rejects_by_reason: dict[str, int]
    hours_in: float
    hours_out: float
    wall_s: float
    resumed: int = 0
    earlier: int = 0  # sources of earlier runs on the output that this run did not name
    video_s_run: float = 0.0  # seconds of source video this run curated (not those of earlier runs)
    head_start_sources: int = 0
    ray: bool = True  # whether the run started or joined Ray (ray.start: when_needed)
    phase_wall_s: dict[str, float] = field(default_factory=dict)
    stage_s: dict[str, float] = field(default_factory=dict)
    shards: list[ShardInfo] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    captions: dict[str, int] = field(default_factory=dict)  # caption_outcomes of the kept clips
    sources_without_clips: int = 0  # sources not rejected whole whose every clip was dropped (or that gave none)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [
            f"output: {self.output}",
            f"sources: {self.sources} ({self.sources_rejected} rejected"
            + (f", {self.sources_without_clips} more with no clip kept" if self.sources_without_clips else "")
            + (f", {self.resumed} already done by an earlier run)" if self.resumed else ")"),
            f"clips kept: {self.clips_kept} in {len(self.shards)} shard(s)",
            f"hours in: {self.hours_in:.4f}{_readable(self.hours_in)}  "
            f"hours out: {self.hours_out:.4f}{_readable(self.hours_out)}",
            f"wall time: {self.wall_s:.1f} s",
        ]
        if self.earlier:
            out.append(f"kept from earlier runs: {self.earlier} source(s) on this output not among "
                       "this run's inputs (a new --output starts an empty dataset)")
        if self.skipped:
            entries = "input entry that is not a video or was" if len(self.skipped) == 1 else \
                "input entries that are not videos or were"
            out.append(f"skipped: {len(self.skipped)} {entries} passed over "
                       "(manifest.json lists each with its rule)")
        if self.rejects_by_reason:
            out.append("dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(self.rejects_by_reason.items())))
        return out + caption_lines(self.captions)


def summarise(output: str, sources: list[str], source_info: dict[str, float], kept: list[ClipRecord],
              rejects: list[RejectRecord], wall_s: float, phase_wall_s: dict[str, float],
              stage_s: dict[str, float], shards: list[ShardInfo], skipped: list[Skipped] = ()) -> RunSummary:
    """Build the summary. ``source_info`` maps each probed source path to its duration (s);
    ``skipped``: input files that are not source videos (:func:`pipelines.sources.scan_inputs`).

    A source counts as rejected when it has a row for the whole source (no span, no clip);
    span rows (``too_short`` shots, the lost part of a ``partially_decoded`` source) do not.
    """
    source_level = {r.source_path for r in rejects if r.clip_id is None and r.span is None}
    with_clips = {r.source.path for r in kept}
    reasons = Counter(f"{r.stage}:{r.reason}" for r in rejects)
    return RunSummary(
        output=output, sources=len(sources), sources_rejected=len(source_level),
        clips_kept=len(kept), rejects_by_reason=dict(reasons),
        hours_in=sum(source_info.values()) / 3600, hours_out=sum(r.clip.duration_s for r in kept) / 3600,
        wall_s=wall_s, phase_wall_s=phase_wall_s, stage_s=stage_s, shards=shards, skipped=list(skipped),
        captions=caption_outcomes(None if r.caption is None else
                                  (r.caption.source, r.caption.degenerate_reason, r.caption.model_id) for r in kept),
        sources_without_clips=sum(1 for s in set(sources) if s not in with_clips and s not in source_level),
    )


def write_manifest(path: str, summary: RunSummary, config: dict, inputs: list[str],
                   codecs: dict | None = None, dedup_against: list[str] | None = None) -> None:
    """Write ``manifest.json`` at ``path`` (local path or store URL) in one atomic put.
    ``codecs``: the resolved encoder and decoder setting (``ExtractStage.codecs``);
    ``dedup_against``: the earlier runs the dedup stage matched against (``--dedup-against``)."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "pipeline": config,
        "codecs": codecs or {},
        "inputs": inputs,
        "dedup_against": list(dedup_against or []),
        "versions": versions(),
        "counts": {
            "sources": summary.sources, "sources_rejected": summary.sources_rejected,
            "sources_without_clips": summary.sources_without_clips,
            "clips_kept": summary.clips_kept, "rejects": summary.rejects_by_reason,
            "skipped": len(summary.skipped), "captions": summary.captions,
            "resumed": summary.resumed, "earlier": summary.earlier,
        },
        "skipped": [{"path": s.path, "rule": s.rule} for s in summary.skipped],
        "hours_in": summary.hours_in, "hours_out": summary.hours_out,
        "timings": {"wall_s": summary.wall_s, "phase_wall_s": summary.phase_wall_s,
                    "stage_s": summary.stage_s, "head_start_sources": summary.head_start_sources,
                    "ray": summary.ray, "video_s": summary.video_s_run},
        "shards": [vars(s) for s in summary.shards],
    }
    store.write_bytes(path, json.dumps(data, indent=2, sort_keys=True).encode())
