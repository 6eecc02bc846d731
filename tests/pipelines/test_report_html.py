"""report.html as a person sees it: rendered in headless Chromium, screenshot, console.

The curated run (tests/conftest.py) has known truth: 3 synthetic sources, 8 clips of
which one (shot 1 of ``cuts.mp4``, planted again at a higher resolution in ``dup.mp4``)
is a ``dedup: duplicate``; the run wrote ``report.html`` itself.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from support.chromium import find_chromium, render
from support.s3 import s3  # noqa: F401 - the module-scoped S3 server fixture

DATA_URI = re.compile(r'src="data:image/jpeg;base64,([^"]+)"')
PAGE_FACTS = """(() => {
  const q = (s) => Array.from(document.querySelectorAll(s));
  return {
    images: q('img').map(i => [i.complete, i.naturalWidth, i.naturalHeight]),
    funnel: (document.querySelector('.funnel svg') || {}).textContent || '',
    hists: q('.hist').map(h => [h.dataset.score, h.querySelector('svg') !== null, h.textContent]),
    kept: q('.tile.kept').length, dropped: q('.tile.dropped').length,
    headings: q('h2').map(h => h.textContent),
    timing: q('table.stages, table.phases').map(t => t.textContent).join(' '),
  };
})()"""


def _chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it)")
    return path


@pytest.fixture(scope="module")
def page(curated_run, tmp_path_factory):
    """The run's own report.html rendered in Chromium (facts, errors, screenshot path)."""
    binary = _chromium()
    report = curated_run / "report.html"
    assert report.is_file(), "the run did not write report.html"
    shown = render(report.as_uri(), PAGE_FACTS, binary=binary)
    shot = tmp_path_factory.mktemp("report") / "report.png"
    shot.write_bytes(shown.screenshot)
    keep = os.environ.get("VIDCURATE_REPORT_SCREENSHOT")  # where a person wants to look at it
    if keep:
        shutil.copy(shot, keep)
    return shown, shot


def test_report_renders_without_console_errors(page):
    shown, shot = page
    assert shown.errors == []
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert 1200 <= img.shape[1] <= 1280 and img.shape[0] > 2000  # the whole page (less a scroll bar)
    colours = len(np.unique(img.reshape(-1, 3), axis=0))
    assert colours > 2000  # charts and photo thumbnails, not a blank or text-only page


def test_report_has_the_funnel_with_the_planted_duplicate(page, curated_run):
    facts = page[0].value
    assert "Funnel: source video to kept clips" in facts["headings"]
    for label in ("source video", "dedup: duplicate", "kept"):
        assert label in facts["funnel"]
    index = pq.read_table(curated_run / "index.parquet")
    rejects = pq.read_table(curated_run / "rejects.parquet").to_pylist()
    assert [(r["stage"], r["reason"]) for r in rejects] == [("dedup", "duplicate")]
    assert index.num_rows == 7  # 3 (cuts) + 2 (dup) + 3 windows (long) - 1 duplicate
    assert facts["kept"] == 7 and facts["dropped"] == 1


def test_report_histograms_draw_each_filter_threshold(page, curated_run):
    facts = page[0].value
    manifest = json.loads((curated_run / "manifest.json").read_text())
    flt = next(s for s in manifest["pipeline"]["stages"] if s["stage"] == "filter")
    hists = {score: (has_svg, text) for score, has_svg, text in facts["hists"]}
    assert set(hists) == {"motion", "sharpness", "focus", "luma_mean", "black_fraction", "clipped_fraction", "change"}
    assert all(has_svg for has_svg, _ in hists.values())
    expected = {"min_motion": "motion", "min_sharpness": "sharpness", "min_luma": "luma_mean", "max_luma": "luma_mean",
                "max_black_fraction": "black_fraction", "max_clipped_fraction": "clipped_fraction"}
    for key, score in expected.items():
        assert flt[key] is not None
        assert f"{key[:3]} {flt[key]:g}" in hists[score][1], (key, hists[score][1])
    assert "kept (7)" in hists["sharpness"][1] and "dropped (1)" in hists["sharpness"][1]


def test_report_thumbnails_decode_and_are_not_blank(page, curated_run):
    facts = page[0].value
    assert len(facts["images"]) == 8  # every kept and dropped clip of this run has frames
    assert all(done and w > 0 and h == 90 for done, w, h in facts["images"])
    html = (curated_run / "report.html").read_text()
    uris = DATA_URI.findall(html)
    assert len(uris) == 8
    for data in uris:
        img = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"), np.float64)
        assert img.shape[0] == 90 and img.shape[1] > 3 * 60
        assert img.std() > 10  # synthetic shots are textured: a blank frame would be flat
    # every tile from its clip's saved frame sample (7 kept, the duplicate), no mp4 decoded
    assert html.count("frames: frame sample") == 8 and "frames: clip mp4" not in html


def test_report_has_timing_skipped_versions_and_settings(page, curated_run):
    facts = page[0].value
    for heading in ("Time and throughput", "Skipped inputs", "Versions", "Settings"):
        assert heading in facts["headings"]
    for name in ("probe", "split", "extract", "score", "embed", "filter",  # worker time per stage
                 "startup", "per_source", "dedup", "caption", "shards", "whole run"):  # wall per phase
        assert name in facts["timing"]


def test_report_command_rebuilds_the_page_from_a_store_url(curated_run, tmp_path):
    """``vidcurate report`` on a copy of the output behind an fsspec URL (memory://):
    every read, thumbnails included, goes through the store."""
    import fsspec

    from pipelines.cli import main

    fs = fsspec.filesystem("memory")
    root = f"/vidcurate-report/{tmp_path.name}"
    for path in curated_run.rglob("*"):
        if path.is_file() and path.name != "report.html":
            fs.pipe_file(f"{root}/{path.relative_to(curated_run)}", path.read_bytes())
    assert main(["report", f"memory://{root}"]) == 0
    html = fs.cat_file(f"{root}/report.html").decode()
    assert len(DATA_URI.findall(html)) == 8 and "dedup: duplicate" in html
    assert main(["report", str(tmp_path / "nothing-here")]) == 2


def test_chromium_check_sees_console_errors_and_broken_images(tmp_path):
    """The page checks above can fail: a page with a script error and a broken image."""
    binary = _chromium()
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><script>console.error("boom")</script>'
                   '<img src="data:image/jpeg;base64,AAAA"></body></html>')
    shown = render(bad.as_uri(), PAGE_FACTS, binary=binary)
    assert shown.errors and "boom" in shown.errors[0]
    assert shown.value["images"] == [[True, 0, 0]]


def test_process_start_counts_time_before_the_import(tmp_path):
    """The run's wall time starts at process start: 1.5 s slept before importing counts."""
    code = ("import time; time.sleep(1.5); from pipelines.progress import process_started_at; "
            "print(time.time() - process_started_at())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert 1.5 <= float(out.stdout) < 600


def test_report_command_on_an_s3_bucket_reads_thumbnails_from_shards(curated_run, s3, tmp_path):  # noqa: F811
    """``vidcurate report s3://...`` on a real S3 endpoint (moto on loopback): an output whose
    work folder lost the kept clips' mp4s and frame samples still gets every thumbnail, from
    the shards."""
    fs = s3.fs()
    kept = set(pq.read_table(curated_run / "index.parquet").column("clip_id").to_pylist())
    for path in curated_run.rglob("*"):
        rel = str(path.relative_to(curated_run))
        gone = rel.startswith("work/clips/") and (rel.endswith(".mp4") or path.name.split(".")[0] in kept)
        if path.is_file() and path.name != "report.html" and not gone:
            fs.put_file(str(path), f"{s3.bucket}/runs/a/{rel}")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **s3.env)
    res = subprocess.run([sys.executable, "-m", "pipelines.cli", "report", s3.url("runs", "a")],
                         capture_output=True, text=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == s3.url("runs", "a", "report.html")
    html = fs.cat_file(f"{s3.bucket}/runs/a/report.html").decode()
    assert len(DATA_URI.findall(html)) == 8
    assert html.count("frames: shard shard-000000.tar") == 7 and "frames: frame sample" in html
    assert not (tmp_path / "s3:").exists()
    res = subprocess.run([sys.executable, "-m", "pipelines.cli", "inspect", s3.url("runs", "a"), "--sample", "2"],
                         capture_output=True, text=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("(shard-000000.tar)") == 2 and res.stdout.count("  txt: ") == 2
    # a brace range naming shards that are not there is exit 2, as for local files (a break test: 0)
    res = subprocess.run([sys.executable, "-m", "pipelines.cli", "inspect",
                          s3.url("runs", "a", "shards", "shard-{000000..000002}.tar")],
                         capture_output=True, text=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
    assert res.returncode == 2 and "shard files not found" in res.stderr and "shard-000001.tar" in res.stderr, \
        res.stderr[-3000:]
