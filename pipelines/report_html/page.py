"""Assemble and write ``report.html``: one self-contained page (no script, no network).

:func:`render_report` turns a :class:`~pipelines.report_html.data.RunData` into HTML with
the Jinja2 template ``templates/report.html.j2``: funnel, score histograms with the
filter thresholds, thumbnail tiles of kept clips and of dropped clips per reason
(sampled: at most ``max_kept`` kept and ``max_per_reason`` per reason, the first clip
ids in order, i.e. a hash-random but stable sample; the page states the numbers),
per-stage time and throughput, skipped inputs, versions and settings. Charts are inline
SVG and thumbnails inline JPEG, so the file can be opened anywhere, also after being
copied out of a bucket. Page size is bounded by the sample, not by the run's size.
"""

from __future__ import annotations

import datetime
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import jinja2

from curate import store
from pipelines.report_html import thumbs
from pipelines.report_html.data import (SCORES, RunData, funnel, load_run, quantiles, run_captions, score_values,
                                        texts, thresholds, time_unit)
from pipelines.report_html.tiles import Tile, dropped_tiles, kept_tiles

MAX_KEPT, MAX_PER_REASON, MAX_SKIPPED = 24, 8, 200
FrameSource = Callable[[str, Tile], tuple[list, str]]


def frames_from_store(root: str, tile: Tile) -> tuple[list, str]:
    """Default frame source: :mod:`pipelines.report_html.thumbs` reading the output store."""
    if tile.kind == "kept":
        return thumbs.kept_frames(root, tile.clip_id, tile.shard)
    return thumbs.dropped_frames(root, tile.clip_id, tile.source, tile.span)


def fill_thumbnails(root: str, tiles: list[Tile], frames: FrameSource = frames_from_store,
                    workers: int = 4) -> None:
    """Set each tile's ``image`` (JPEG data URI, or None) and ``note`` (where the frames
    came from, or why there are none); store reads overlap in ``workers`` threads."""
    def one(tile: Tile) -> None:
        got, tile.note = frames(root, tile)
        tile.image = thumbs.data_uri(thumbs.strip(got)) if got else None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, tiles))


PHASES = ("startup", "per_source", "dedup", "caption", "shards")


def _ordered(data: dict, order) -> dict:
    rank = {name: i for i, name in enumerate(order)}
    return dict(sorted(data.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def run_video_s(m: dict) -> float:
    """Seconds of source video the run of manifest ``m`` curated itself: ``timings.video_s``
    (sources that earlier runs on the output had done are left out: a resumed run's
    throughput is its own), or all of ``hours_in`` for a manifest written before it."""
    own = m.get("timings", {}).get("video_s")
    return float(own) if own is not None else float(m.get("hours_in", 0.0)) * 3600


def _timing_rows(run: RunData) -> tuple[dict, dict, list[dict], list[dict]]:
    """Stage and phase seconds and their throughputs (video s per s). Stage seconds are
    summed over every source on the output (earlier runs' too), so their rate is over all
    of ``hours_in``; phase walls are this run's, so their rate is over :func:`run_video_s`."""
    m = run.manifest
    video_s = float(m.get("hours_in", 0.0)) * 3600
    own_s = run_video_s(m)
    timings = m.get("timings", {})
    stage_s = _ordered(timings.get("stage_s", {}), run.stage_order)
    phase_s = _ordered(timings.get("phase_wall_s", {}), PHASES)
    stages = [{"name": k, "seconds": v, "rate": video_s / v if v > 0 else None} for k, v in stage_s.items()]
    phases = [{"name": k, "seconds": v, "rate": own_s / v if v > 0 and own_s > 0 and k == "per_source" else None}
              for k, v in phase_s.items()]
    return stage_s, phase_s, stages, phases


def _settings(m: dict) -> list[dict]:
    pipe = m.get("pipeline", {})
    def items(d: dict) -> dict:
        return {k: json.dumps(v) for k, v in d.items() if k not in ("stage", "stages")}

    return [{"name": "pipeline", "items": items(pipe)}] + [
        {"name": stage.get("stage", "?"), "items": items(stage)} for stage in pipe.get("stages", [])]


def build_context(run: RunData, frames: FrameSource = frames_from_store, max_kept: int = MAX_KEPT,
                  max_per_reason: int = MAX_PER_REASON) -> dict:
    """Everything the template shows (charts rendered, thumbnails decoded)."""
    from pipelines.report_html import plots  # matplotlib: here, not where Ray workers import this module

    m = run.manifest
    kept = kept_tiles(run, max_kept)
    groups = dropped_tiles(run, max_per_reason)
    # thumbnails (store reads, decodes: on Ray workers at the end of a run) go on while
    # the charts are drawn here: 0.4-0.5 s of matplotlib no longer waits behind them
    with ThreadPoolExecutor(max_workers=1) as side:
        thumbnails = side.submit(fill_thumbnails, run.output, kept + [t for g in groups for t in g["tiles"]], frames)
        rows = funnel(run)
        limits = thresholds(m)
        values = {s: score_values(run, s) for s in SCORES}  # scores no stage computed get no chart
        hists = [{"score": s, "svg": plots.histogram_svg(s, *v, limits.get(s, []))}
                 for s, v in values.items() if any(part.size for part in v)]
        thumbnails.result()
    stage_s, phase_s, stages, phases = _timing_rows(run)
    timings = m.get("timings", {})
    skipped = m.get("skipped", [])
    unit, factor = time_unit(rows[0].hours if rows else 0.0)
    return {
        "output": run.output, "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "m": m, "counts": m.get("counts", {}), "wall_s": timings.get("wall_s", 0.0), "own_video_s": run_video_s(m),
        "funnel_svg": plots.funnel_svg(rows), "funnel": rows, "unit": unit, "factor": factor,
        "hists": hists, "quantiles": quantiles(run), "limits": limits,
        "kept_tiles": kept, "kept_total": run.kept.num_rows, "dropped_groups": groups,
        "max_kept": max_kept, "max_per_reason": max_per_reason, "thumb_h": thumbs.THUMB_H,
        "timing_svg": plots.stage_time_svg(stage_s, phase_s),
        "stages": stages, "phases": phases,
        "skipped": skipped[:MAX_SKIPPED], "skipped_total": len(skipped),
        "versions": m.get("versions", {}), "settings": _settings(m), "captions": run_captions(run),
        "inputs_total": len(m.get("inputs", [])), "sources": sorted(set(texts(run.kept, "source.path"))),
    }


def _env() -> jinja2.Environment:
    here = os.path.join(os.path.dirname(__file__), "templates")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(here), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v, d=3: "-" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:.{d}g}")
    env.filters["base"] = lambda p: os.path.basename(str(p).rstrip("/")) or str(p)
    return env


def render_report(run: RunData, frames: FrameSource = frames_from_store, **limits) -> str:
    """The report page of ``run`` as HTML text (``limits``: ``max_kept``, ``max_per_reason``)."""
    return _env().get_template("report.html.j2").render(**build_context(run, frames, **limits))


def write_report(output: str, frames: FrameSource = frames_from_store, **limits) -> str:
    """Read the run at ``output`` (folder or store URL), write ``<output>/report.html`` in
    one atomic put and return its location. Raises FileNotFoundError when the output lacks
    the manifest or parquet files (:func:`pipelines.report_html.data.load_run`)."""
    run = load_run(output)
    location = store.join(run.output, "report.html")
    store.write_bytes(location, render_report(run, frames, **limits).encode("utf-8"))
    return location
