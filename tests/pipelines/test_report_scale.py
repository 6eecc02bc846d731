"""report.html and stats for a large run: 10^5 synthetic clip records, no video.

The records have known durations and scores, so the funnel, the quantiles and the
sample sizes have exact truth; the page must stay small however many clips there are.
"""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines.report_html.data import load_run
from pipelines.report_html.page import MAX_KEPT, MAX_PER_REASON, render_report
from pipelines.report_html.stats import stats_dict
from schemas import ClipRecord, RejectRecord, arrow_schema

N_KEPT, CLIP_S, GAP_S = 100_000, 2.0, 100.0
# (stage, reason, rows, seconds per row, whole source?)
DROPS = [("probe", "decode_error", 50, 30.0, True), ("split", "too_short", 3000, 0.5, False),
         ("filter", "blurry", 8000, 2.0, False), ("filter", "too_dark", 1000, 2.0, False),
         ("dedup", "duplicate", 5000, 2.0, False)]


def _kept_rows(rng: np.random.Generator) -> pa.Table:
    motion, sharp = rng.uniform(0, 0.3, N_KEPT), rng.lognormal(3, 1, N_KEPT)
    rows = [{"clip_id": f"{i:024x}", "shard": f"shard-{i // 1000:06d}.tar",
             "source": {"path": f"/nowhere/src{i % 997}.mp4", "duration_s": 60.0},
             "span": {"shot_index": 0, "start_frame": 0, "end_frame": 50, "start_s": 0.0, "end_s": CLIP_S},
             "clip": {"duration_s": CLIP_S, "num_frames": 50, "fps": 25.0, "width": 256, "height": 256},
             "scores": {"motion": float(motion[i]), "sharpness": float(sharp[i]), "luma_mean": 100.0,
                        "black_fraction": 0.0},
             "caption": {"text": f"0.0-2.0 s: clip {i}", "source": "signals"}} for i in range(N_KEPT)]
    return pa.Table.from_pylist(rows, schema=arrow_schema(ClipRecord))


def _reject_rows() -> pa.Table:
    rows = []
    for stage, reason, n, seconds, whole in DROPS:
        for i in range(n):
            row = {"source_path": f"/nowhere/{reason}{i}.mp4", "stage": stage, "reason": reason,
                   "detail": f"{reason} row {i}", "duration_s": seconds}
            if not whole:
                row.update(clip_id=f"{reason[:4].encode().hex()}{i:016x}",
                           span={"shot_index": 0, "start_frame": 0, "end_frame": 10, "start_s": 1.0,
                                 "end_s": 1.0 + seconds},
                           scores={"motion": 0.01, "sharpness": 2.0, "luma_mean": 100.0, "black_fraction": 0.0})
            rows.append(row)
    return pa.Table.from_pylist(rows, schema=arrow_schema(RejectRecord))


@pytest.fixture(scope="module")
def big_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("big") / "out"
    out.mkdir()
    rng = np.random.default_rng(0)
    kept = _kept_rows(rng)
    pq.write_table(kept, out / "index.parquet")
    pq.write_table(_reject_rows(), out / "rejects.parquet")
    seconds_in = N_KEPT * CLIP_S + sum(n * s for _, _, n, s, _ in DROPS) + GAP_S
    manifest = {"schema_version": "1.1", "hours_in": seconds_in / 3600, "hours_out": N_KEPT * CLIP_S / 3600,
                "counts": {"sources": 1047, "clips_kept": N_KEPT}, "inputs": [], "versions": {"python": "3"},
                "pipeline": {"name": "big", "stages": [
                    {"stage": "probe"}, {"stage": "split"}, {"stage": "extract"}, {"stage": "score"},
                    {"stage": "filter", "min_sharpness": 5.0}, {"stage": "dedup"}]},
                "timings": {"wall_s": 3600.0, "phase_wall_s": {"per_source": 3000.0}, "stage_s": {"split": 900.0}},
                "skipped": [{"path": f"/in/notes{i}.txt", "rule": "not a video extension (.txt)"} for i in range(500)]}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out, kept


def test_funnel_and_quantiles_of_a_large_run(big_run):
    out, kept = big_run
    data = stats_dict(load_run(str(out)))
    rows = [(r["stage"], r["reason"], r["count"], round(r["hours"] * 3600, 6)) for r in data["funnel"]]
    total = N_KEPT * CLIP_S + sum(n * s for _, _, n, s, _ in DROPS) + GAP_S
    assert rows == [("source video", "", 1047, round(total, 6)), ("probe", "decode_error", 50, 1500.0),
                    ("split", "not in any clip", 0, GAP_S), ("split", "too_short", 3000, 1500.0),
                    ("filter", "blurry", 8000, 16000.0), ("filter", "too_dark", 1000, 2000.0),
                    ("dedup", "duplicate", 5000, 10000.0), ("kept", "", N_KEPT, N_KEPT * CLIP_S)]
    assert data["funnel"][-2]["remaining_hours"] == pytest.approx(N_KEPT * CLIP_S / 3600)
    motion = kept.column("scores").combine_chunks().field("motion").to_numpy()
    assert data["scores"]["motion"]["kept"]["p50"] == pytest.approx(float(np.median(motion)))
    assert data["scores"]["motion"]["dropped"] == {"n": 17000, **{k: 0.01 for k in
                                                   ("p0", "p5", "p25", "p50", "p75", "p95", "p100")}}
    assert data["thresholds"] == {"sharpness": [{"kind": "min", "value": 5.0, "reason": "blurry"}]}


def _noise(root: str, tile) -> tuple[list, str]:
    """Worst case for JPEG size: random pixels, 3 frames of 256x256."""
    rng = np.random.default_rng(abs(hash(tile.clip_id or tile.source)) % 2**32)
    return [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(3)], "test noise"


def test_large_run_page_is_sampled_and_stays_small(big_run):
    out, _ = big_run
    html = render_report(load_run(str(out)), frames=_noise)
    uris = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', html)
    assert len(uris) == MAX_KEPT + MAX_PER_REASON * len(DROPS)
    assert Image.open(io.BytesIO(base64.b64decode(uris[0]))).size[1] == 90
    assert len(html.encode()) < 3_000_000
    assert f"Showing {MAX_KEPT} of {N_KEPT} kept clips" in html
    assert html.count('class="tile kept"') == MAX_KEPT and html.count('class="tile dropped"') == 40
    assert "500 input file(s) are not source videos" in html and "the first 200 are listed" in html


def test_large_run_without_video_says_where_no_frames_exist(big_run):
    out, _ = big_run
    html = render_report(load_run(str(out)), max_kept=3, max_per_reason=2)
    assert 'src="data:image' not in html
    assert html.count("no clip file in work/clips or its shard") == 3
    assert html.count("no frames: the whole source was rejected before any clip was made") == 2
    # the funnel's residual row is video time, not reject rows: a dash, as in `stats` (a walk-through: 0 here, - there)
    assert re.search(r'<td>split: not in any clip</td><td class="n">-</td>', html), html[html.find("funnel"):][:3000]
    # too_short spans of sources that are not there (moved since: a walk-through read "could not be read")
    assert re.search(r"no frames: [^ ]+ is no longer at /", html)


def test_report_of_a_run_that_kept_nothing(tmp_path):
    """Exit code 4 runs still get a page: the funnel ends at 0, the reject is shown."""
    from pipelines.report_html import write_report
    from schemas import write_parquet

    write_parquet(ClipRecord, [], str(tmp_path / "index.parquet"))
    junk = RejectRecord(source_path="/x/junk.mp4", stage="probe", reason="decode_error", detail="invalid data")
    write_parquet(RejectRecord, [junk], str(tmp_path / "rejects.parquet"))
    (tmp_path / "manifest.json").write_text(json.dumps({"hours_in": 0.0, "hours_out": 0.0, "counts": {"sources": 1}}))
    html = (tmp_path / "report.html").read_text() if write_report(str(tmp_path)) else ""
    assert "Showing 0 of 0 kept clips" in html and "probe: decode_error" in html
    assert "invalid data" in html and "the whole source was rejected" in html
    assert "the same content as the clip kept under this id" not in html  # no clip id, no duplicate: no such line


def test_a_duplicate_of_identical_content_says_so_not_that_it_duplicates_its_own_id(tmp_path):
    """A break test: a byte copy of a source gives clips of the same (content-addressed)
    ids, and its tile read "46ae... duplicate of 46ae..."."""
    from pipelines.report_html import write_report
    from schemas import Span, write_parquet

    write_parquet(ClipRecord, [], str(tmp_path / "index.parquet"))
    span = Span(shot_index=0, start_frame=0, end_frame=10, start_s=0.0, end_s=0.4)
    rows = [RejectRecord(source_path="/x/copy.mkv", clip_id="46ae", span=span, stage="dedup", reason="duplicate",
                         detail="identical source: same clip as in /x/book.mkv", duplicate_of="46ae"),
            RejectRecord(source_path="/x/edit.mkv", clip_id="77bb", span=span, stage="dedup", reason="duplicate",
                         detail="an edited copy", duplicate_of="46ae")]
    write_parquet(RejectRecord, rows, str(tmp_path / "rejects.parquet"))
    (tmp_path / "manifest.json").write_text(json.dumps({"hours_in": 0.0, "hours_out": 0.0, "counts": {"sources": 3}}))
    html = (tmp_path / "report.html").read_text() if write_report(str(tmp_path)) else ""
    assert html.count("the same content as the clip kept under this id") == 1
    assert html.count("duplicate of <code>46ae</code>") == 1  # the edited copy's tile
