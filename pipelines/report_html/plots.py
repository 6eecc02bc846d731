"""The report's charts, drawn with matplotlib and returned as inline SVG text.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state, safe in any
thread, no display needed). Text stays text in the SVG (``svg.fonttype: none``), so a
page's charts are small and searchable, and each figure gets its own id salt so several
SVGs can share one HTML page without clashing element ids. Chart size does not grow
with the number of clips: histograms are binned first.
"""

from __future__ import annotations

import io
import os
import re
import tempfile

# matplotlib caches fonts under ~/.cache and ~/.config unless told otherwise; a run must
# write nothing into the driver's home folder, so its cache lives in the temp folder.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "vidcurate-matplotlib"))

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from pipelines.report_html.data import SCORE_UNITS, FunnelRow, time_unit

KEPT, DROPPED, LINE = "#2b7bba", "#d9822b", "#c0392b"
STAGE_COLOURS = ("#7f8c8d", "#8e44ad", "#16a085", "#d35400", "#2c3e50", "#c0392b", "#27ae60", "#f39c12")


def to_svg(fig: Figure, name: str, tight: bool = True) -> str:
    """``fig`` as an ``<svg ...>...</svg>`` string (XML header and DOCTYPE removed).

    ``name`` salts the SVG's element ids and becomes the root ``id``. ``tight``: the
    canvas is cut to what is drawn (``bbox_inches="tight"``, which draws the figure
    twice); False keeps the figure's own size and margins (one draw)."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name, "svg.id": f"chart-{name}"}):
        fig.savefig(buf, format="svg", bbox_inches="tight" if tight else None)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def funnel_svg(rows: list[FunnelRow]) -> str:
    """Waterfall of the funnel: the source video bar, one bar per stage and reason
    spanning the video it dropped, and the kept bar (``rows`` from
    :func:`pipelines.report_html.data.funnel`)."""
    unit, k = time_unit(rows[0].hours if rows else 0.0)
    fig = Figure(figsize=(8, 0.42 * len(rows) + 1.0))
    ax = fig.add_subplot()
    stages = list(dict.fromkeys(r.stage for r in rows[1:-1]))
    for i, row in enumerate(rows):
        if i == 0 or i == len(rows) - 1:
            left, colour = 0.0, (KEPT if i else "#95a5a6")
        else:
            left, colour = row.remaining_h, STAGE_COLOURS[stages.index(row.stage) % len(STAGE_COLOURS)]
        ax.barh(i, row.hours * k, left=left * k, color=colour)
        ax.text((left + row.hours) * k, i, f" {row.hours * k:.3g} {unit}" + (f" ({row.count})" if row.count else ""),
                va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [r.label for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"video ({unit})")
    top = max([r.hours for r in rows] + [1e-12]) * k
    ax.set_xlim(0, top * 1.3)
    ax.set_title("funnel: source video to kept clips", fontsize=10)
    return to_svg(fig, "funnel")


def _bins(values: np.ndarray, log: bool) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.geomspace(lo, hi, 31) if log else np.linspace(lo, hi, 31)


def histogram_svg(score: str, kept: np.ndarray, dropped: np.ndarray, limits: list[tuple[str, float, str]]) -> str:
    """Histogram of one score, kept and dropped clips stacked, each filter threshold a
    dashed vertical line labelled ``min``/``max`` with its value. ``kept``/``dropped``:
    finite values (1-D float). Sharpness is binned on a log axis when all values are positive.
    The layout is fixed (the same labels on every chart: no tight cut, half the drawing time
    of the report's six histograms)."""
    fig = Figure(figsize=(4.2, 2.8))
    fig.subplots_adjust(left=0.16, right=0.96, bottom=0.33, top=0.9)
    ax = fig.add_subplot()
    both = np.concatenate([kept, dropped, [v for _, v, _ in limits]])
    log = score == "sharpness" and both.size > 0 and float(both.min()) > 0
    if both.size:
        ax.hist([kept, dropped], bins=_bins(both, log), stacked=True, color=[KEPT, DROPPED],
                label=[f"kept ({kept.size})", f"dropped ({dropped.size})"])
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    for kind, value, reason in limits:
        ax.axvline(value, color=LINE, linestyle="--", linewidth=1.2)
        left = kind == "min"  # min labels to the right of their line, max labels to the left
        ax.annotate(f"{kind} {value:g}\n({reason})", (value, 1), xycoords=("data", "axes fraction"),
                    fontsize=7, color=LINE, ha="left" if left else "right", va="top",
                    xytext=(3 if left else -3, -3), textcoords="offset points")
    ax.set_xlabel(f"{score} ({SCORE_UNITS.get(score, '')})", fontsize=8)
    ax.set_ylabel("clips", fontsize=8)
    ax.tick_params(labelsize=7)
    if both.size:
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    else:
        ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center")
    ax.set_title(f"{score}", fontsize=9)
    return to_svg(fig, f"hist-{re.sub('[^a-z_]', '', score)}", tight=False)


def stage_time_svg(stage_s: dict[str, float], phase_wall_s: dict[str, float]) -> str:
    """Two bar charts: summed worker seconds per stage, and wall seconds per phase."""
    fig = Figure(figsize=(8, 2.6))
    for i, (data, title, colour) in enumerate(((stage_s, "worker time per stage (s, summed)", KEPT),
                                               (phase_wall_s, "wall time per phase (s)", DROPPED))):
        ax = fig.add_subplot(1, 2, i + 1)
        names = list(data)
        ax.barh(range(len(names)), [data[n] for n in names], color=colour)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.tick_params(labelsize=7)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return to_svg(fig, "timing")
