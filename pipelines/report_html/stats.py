"""``vidcurate stats OUTPUT``: the funnel and score quantiles of a run, as tables or JSON.

Reads only ``manifest.json``, ``index.parquet`` and ``rejects.parquet``
(:func:`pipelines.report_html.data.load_run`), so it is quick on a bucket too.
"""

from __future__ import annotations

import json

from rich import box
from rich.console import Console
from rich.table import Table

from pipelines.report import caption_lines
from pipelines.report_html.data import QUANTILES, RESIDUAL, RunData, funnel, quantiles, run_captions, thresholds

QUANTILE_KEYS = tuple(f"p{round(q * 100)}" for q in QUANTILES)


def stats_dict(run: RunData) -> dict:
    """The run's numbers as plain JSON-able data::

        {"output", "sources", "sources_rejected", "sources_without_clips", "sources_earlier", "skipped",
         "clips_kept", "hours_in", "hours_out", "wall_s", "sources_resumed",
         "funnel": [{"stage", "reason", "count", "hours", "remaining_hours", "share"}],
         "captions": {"model": n, "caption_degenerate": n, ...} ({} without a caption model),
         "scores": {score: {"kept"|"dropped": {"n", "p0", ..., "p100"}}},
         "thresholds": {score: [{"kind", "value", "reason"}]}}

    ``share``: the row's hours over the source hours (0 when there are none). ``wall_s``
    (seconds) is the last run's: one that resumed the output ran only the sources not
    done before (``sources_resumed`` were, by earlier runs). ``sources``: the last run's
    inputs, of which ``sources_rejected`` were rejected whole and ``sources_without_clips``
    others kept no clip; ``sources_earlier``: sources of earlier runs on the output that the
    last run did not name (their clips are in it too); ``skipped``: input files passed over.
    """
    m = run.manifest
    rows = funnel(run)
    total = rows[0].hours if rows else 0.0
    return {
        "output": run.output,
        "sources": m.get("counts", {}).get("sources", 0),
        "sources_rejected": m.get("counts", {}).get("sources_rejected", 0),
        "sources_without_clips": m.get("counts", {}).get("sources_without_clips", 0),
        "sources_earlier": m.get("counts", {}).get("earlier", 0),
        "skipped": m.get("counts", {}).get("skipped", 0),
        "clips_kept": run.kept.num_rows,
        "hours_in": m.get("hours_in", 0.0), "hours_out": m.get("hours_out", 0.0),
        "wall_s": m.get("timings", {}).get("wall_s"),
        "sources_resumed": m.get("counts", {}).get("resumed", 0),
        "funnel": [{"stage": r.stage, "reason": r.reason, "count": r.count, "hours": r.hours,
                    "remaining_hours": r.remaining_h, "share": r.hours / total if total else 0.0}
                   for r in rows],
        "captions": run_captions(run),
        "scores": quantiles(run),
        "thresholds": {k: [{"kind": a, "value": b, "reason": c} for a, b, c in v]
                       for k, v in thresholds(m).items()},
    }


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def print_stats(run: RunData, as_json: bool = False, console: Console | None = None) -> None:
    """Print the funnel and the score quantiles (rich tables), or :func:`stats_dict` as JSON."""
    data = stats_dict(run)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    console = console or Console()
    if not console.is_terminal and console.width < 120:  # piped: no reason to squeeze columns
        console = Console(width=120)
    console.print(f"output: {data['output']}  sources: {data['sources']}  clips kept: {data['clips_kept']}  "
                  f"hours in: {data['hours_in']:.4f}  hours out: {data['hours_out']:.4f}", markup=False)
    parts = [f"{data['sources_rejected']} rejected whole"] + (
        [f"{data['sources_without_clips']} more with no clip kept"] if data["sources_without_clips"] else []) + (
        [f"{data['sources_earlier']} more from earlier runs not named by the last run"] if data["sources_earlier"]
        else []) + ([f"{data['skipped']} input files skipped"] if data["skipped"] else [])
    console.print("sources: " + ", ".join(parts), markup=False, soft_wrap=True)
    if data["wall_s"] is not None:  # a walk-through read a resumed run's seconds as the curation's
        done = data["sources_resumed"]
        console.print(f"last run: {data['wall_s']:.1f} s wall" + (
            f" ({done} of the sources were done by an earlier run on this output)" if done else ""), markup=False)
    table = Table(title="funnel: source video to kept clips")
    for name in ("stage", "reason", "rows", "hours", "hours left", "share of input"):
        table.add_column(name, justify="left" if name in ("stage", "reason") else "right")
    no_input = not (data["funnel"] and data["funnel"][0]["hours"])  # no source time probed: no shares
    for r in data["funnel"]:
        rows = "-" if r["reason"] == RESIDUAL else str(r["count"])  # video time, not reject rows
        table.add_row(r["stage"], r["reason"], rows, f"{r['hours']:.4f}",
                      f"{r['remaining_hours']:.4f}", "-" if no_input else f"{100 * r['share']:.1f}%")
    table.caption = (f"rows: sources in, reject rows (a source, a shot or a clip), clips kept; \"{RESIDUAL}\": video left out between "
                     "clips (transitions, trims at cuts, blank runs, remainders of long shots)")
    console.print(table)
    for line in caption_lines(data["captions"]):
        console.print(line, markup=False)
    scores = Table(title="scores (quantiles)", box=box.SIMPLE_HEAD)
    for name in ("score", "group", "n", *QUANTILE_KEYS):
        scores.add_column(name, justify="left" if name in ("score", "group") else "right")
    hidden = []
    for score, groups in data["scores"].items():
        shown = {group: row for group, row in groups.items() if row["n"]}  # an empty group: no row
        if not shown:  # no stage computed it (--json lists every score)
            hidden.append(score)
        for group, row in shown.items():
            scores.add_row(score, group, str(row["n"]), *(_fmt(row.get(k)) for k in QUANTILE_KEYS))
    if hidden:
        scores.caption = f"not computed by this run's stages: {', '.join(hidden)}"
    console.print(scores)
    for score, limits in data["thresholds"].items():
        console.print(f"threshold {score}: " + ", ".join(f"{t['kind']} {t['value']:g} ({t['reason']})" for t in limits))
