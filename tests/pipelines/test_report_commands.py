"""``vidcurate stats`` and ``vidcurate inspect`` on the curated run (tests/conftest.py), and
the progress display when the output is not a terminal."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image
from rich.console import Console

from pipelines.cli import main
from pipelines.progress import Progress


def test_stats_json_funnel_and_quantiles_match_the_output(curated_run, capsys):
    assert main(["stats", str(curated_run), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    manifest = json.loads((curated_run / "manifest.json").read_text())
    index = pq.read_table(curated_run / "index.parquet").to_pylist()
    rejects = pq.read_table(curated_run / "rejects.parquet").to_pylist()
    funnel = data["funnel"]
    assert [(r["stage"], r["reason"], r["count"]) for r in funnel] == [
        ("source video", "", 3), ("dedup", "duplicate", 1), ("kept", "", 7)]
    assert funnel[0]["hours"] == pytest.approx(manifest["hours_in"])
    assert funnel[1]["hours"] * 3600 == pytest.approx(rejects[0]["duration_s"])
    assert funnel[2]["hours"] * 3600 == pytest.approx(sum(r["clip"]["duration_s"] for r in index))
    sharp = [r["scores"]["sharpness"] for r in index]
    assert data["scores"]["sharpness"]["kept"]["p50"] == pytest.approx(float(np.median(sharp)))
    assert data["scores"]["sharpness"]["kept"]["p100"] == pytest.approx(max(sharp))
    assert data["scores"]["sharpness"]["dropped"]["n"] == 1
    assert data["wall_s"] == pytest.approx(manifest["timings"]["wall_s"])
    assert data["sources_resumed"] == manifest["counts"]["resumed"] == 0


def test_stats_of_a_resumed_run_says_whose_seconds_it_shows(curated_run, capsys, tmp_path):
    """A walk-through read a resumed run's 3.5 s as the curation's time."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(curated_run, copy, ignore=shutil.ignore_patterns("work"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["counts"]["resumed"], manifest["timings"]["wall_s"] = 3, 1.25
    manifest["counts"].update(sources_rejected=1, sources_without_clips=2, earlier=12, skipped=1)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert main(["stats", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "last run: 1.2 s wall (3 of the sources were done by an earlier run on this output)" in out
    # a walk-through: the summary and the report told of 12 earlier sources and stats did not
    assert ("sources: 1 rejected whole, 2 more with no clip kept, 12 more from earlier runs not named by the "
            "last run, 1 input files skipped") in out
    assert main(["stats", str(copy), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["sources_rejected"], data["sources_without_clips"], data["sources_earlier"], data["skipped"]) == \
        (1, 2, 12, 1)
    assert main(["stats", str(curated_run)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("last run: "))
    assert line.endswith(" s wall")


def test_stats_table_names_each_step(curated_run, capsys):
    assert main(["stats", str(curated_run)]) == 0
    out = capsys.readouterr().out
    for text in ("source video", "duplicate", "kept", "sharpness", "threshold sharpness: min 5 (blurry)",
                 "rows: sources in, reject rows"):
        assert text in out
    # a score no stage computed has no rows, only its name under the table (a new user's
    # walk-through: four empty scores, eight rows of dashes)
    assert "not computed by this run's stages: text_area, nsfw, aesthetic, clip_score" in out
    assert not any(line.split()[:1] == ["nsfw"] for line in out.splitlines())


def test_inspect_key_prints_record_and_caption(curated_run, capsys):
    index = sorted(pq.read_table(curated_run / "index.parquet").to_pylist(), key=lambda r: r["clip_id"])
    rec = index[3]
    assert main(["inspect", str(curated_run), "--key", rec["clip_id"]]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"{rec['clip_id']}  (shard-")
    assert f"txt: {rec['caption']['text']}" in out
    assert f"{rec['clip']['width']}x{rec['clip']['height']}" in out
    assert main(["inspect", str(curated_run), "--key", "0" * 24]) == 2


def test_inspect_sample_json_and_contact_sheet(curated_run, capsys, tmp_path):
    sheet = tmp_path / "sheet.png"
    assert main(["inspect", str(curated_run), "--sample", "3", "--seed", "1", "--json",
                 "--contact-sheet", str(sheet)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    records = [json.loads(line) for line in lines]  # stdout is JSON lines only
    keys = {r["clip_id"] for r in pq.read_table(curated_run / "index.parquet").to_pylist()}
    assert len({r["key"] for r in records}) == 3 and {r["key"] for r in records} <= keys
    assert all(r["record"]["clip_id"] == r["key"] and r["txt"] for r in records)
    img = np.asarray(Image.open(sheet).convert("RGB"), np.float64)
    assert len(records) == 3 and err.strip() == f"contact sheet: {sheet} (3 clips, {img.shape[1]}x{img.shape[0]} px)"
    assert img.shape[0] == 2 * (90 + 40)  # 2 rows of tiles: 3 frames, key and caption
    strip = img[4:94, 4:120]  # the first frame of the first tile
    assert strip.std() > 10  # decoded picture, not a grey placeholder


def test_inspect_refuses_a_bad_sample_count_or_sheet_folder_before_reading(curated_run, capsys, tmp_path):
    for n in ("0", "-1", "x"):
        with pytest.raises(SystemExit) as err:  # argparse: exit 2 with the option's message
            main(["inspect", str(curated_run), "--sample", n])
        assert err.value.code == 2
    assert "--sample: " in capsys.readouterr().err
    missing = tmp_path / "no-such-dir" / "x.png"
    assert main(["inspect", str(curated_run), "--contact-sheet", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # nothing printed before the error
    assert err.strip() == f"error: --contact-sheet {missing}: no such folder {missing.parent}"
    assert main(["inspect", str(curated_run), "--contact-sheet", str(tmp_path)]) == 2  # a folder
    out, err = capsys.readouterr()
    assert out == "" and err.strip().startswith(f"error: --contact-sheet {tmp_path}: is a folder;")


def test_contact_sheet_named_jpg_is_a_jpeg_and_captions_are_cut_at_a_word(curated_run, capsys, tmp_path):
    from pipelines.report_html.inspect import _shorten

    sheet = tmp_path / "sheet.jpg"
    assert main(["inspect", str(curated_run), "--sample", "1", "--contact-sheet", str(sheet)]) == 0
    assert sheet.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG's start-of-image marker
    assert "(1 clip, " in capsys.readouterr().out
    assert _shorten("0.0-3.0 s: static camera,  almost no motion", 30) == "0.0-3.0 s: static camera\u2026"
    assert _shorten("short", 30) == "short"
    assert _shorten("x" * 40, 10) == "x" * 9 + "\u2026"


def test_stats_and_report_of_a_damaged_manifest_are_usage_errors(curated_run, capsys, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(curated_run, broken, ignore=shutil.ignore_patterns("*.tar", "work"))
    (broken / "manifest.json").write_text('{"sources": ')  # cut short
    for cmd in ("stats", "report"):
        assert main([cmd, str(broken)]) == 2
        err = capsys.readouterr().err
        assert f"{broken / 'manifest.json'} is damaged (JSONDecodeError" in err and "internal error" not in err
    # wrong types in nested fields (found by a break tester: exit 1 with a traceback)
    base = '{"counts": {}, "hours_in": 0, "hours_out": 0, '
    for nested, why in (('"pipeline": {"stages": "abc"}', "'pipeline.stages' is not a list of objects"),
                        ('"pipeline": {"stages": [{"stage": "filter", "min_motion": "abc"}]}',
                         "'pipeline.stages[0].min_motion' is \"abc\", not a number"),
                        ('"pipeline": {"stages": [7]}', "'pipeline.stages' is not a list of objects"),
                        ('"timings": {"stage_s": 5}', "'timings.stage_s' is a JSON int"),
                        ('"timings": {"stage_s": {"embed": "1 s"}}', "'timings.stage_s.embed' is \"1 s\""),
                        ('"timings": {"wall_s": []}', "'timings.wall_s' is [], not a number")):
        (broken / "manifest.json").write_text(base + nested + "}")
        for cmd in ("stats", "report"):
            assert main([cmd, str(broken)]) == 2, (nested, cmd)
            err = capsys.readouterr().err
            assert f"manifest.json is damaged (ValueError: {why}" in err and "internal error" not in err, err


def test_report_where_a_folder_takes_its_place_names_the_path_not_credentials(curated_run, capsys, tmp_path):
    """A new-user trial: a folder where report.html goes was told to check the bucket,
    credentials and endpoint."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(curated_run, copy, ignore=shutil.ignore_patterns("report.html"))
    (copy / "report.html").mkdir()
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "a folder is where this file goes" in err and str(copy / "report.html") in err
    assert err.strip().endswith("(check the path, its permissions and free space)") and "credentials" not in err


def _plain(clock) -> tuple[Progress, io.StringIO]:
    buf = io.StringIO()
    return Progress(console=Console(file=buf, force_terminal=False, width=200), interval_s=10.0,
                    clock=clock), buf


def test_progress_prints_plain_lines_when_not_a_terminal():
    now = [100.0]
    progress, buf = _plain(lambda: now[0])
    assert progress.plain
    with progress.step("starting Ray"):
        now[0] += 3.0
    progress.start("sources", 5)
    for t, name in ((101, "a"), (105, "b"), (115, "c"), (118, "d"), (126, "e")):
        now[0] = t + 3.0
        progress.advance("sources", f"{name}.mp4: 1 clip made, 0 dropped")
    progress.stop("sources")
    assert buf.getvalue().splitlines() == [
        "starting Ray ...",
        "starting Ray: done in 3.0 s",
        "sources: 0/5",
        "  a.mp4: 1 clip made, 0 dropped",
        "  b.mp4: 1 clip made, 0 dropped",
        "  c.mp4: 1 clip made, 0 dropped",
        "sources: 3/5 (60%) in 15 s, 0.20/s, about 10 s left",
        "  d.mp4: 1 clip made, 0 dropped",
        "  e.mp4: 1 clip made, 0 dropped",
        "sources: 5/5 (100%) in 26 s, 0.19/s",
        "sources: 5/5 done in 26.0 s",
    ]


def test_progress_of_work_begun_before_the_display_counts_from_its_start():
    """Sources a local run's head start finished while Ray started: 'sources: 2/2 done in
    0.0 s' (found by a new-user test) must read as the time they took."""
    now = [50.0]
    progress, buf = _plain(lambda: now[0])
    progress.start("sources", 2, since=43.0)  # the head start began 7 s before the display
    progress.advance("sources", "a.mp4: 3 clips made, 0 dropped")
    progress.advance("sources", "b.mp4: 1 clip made, 0 dropped")
    progress.stop("sources")
    assert buf.getvalue().splitlines()[-1] == "sources: 2/2 done in 7.0 s"


def test_plain_progress_of_a_phase_stopped_early_says_stopped():
    """A run interrupted half-way (Ctrl-C, SIGTERM) closes its phase with the steps done:
    the log's last progress line must not read as a finished phase."""
    now = [10.0]
    progress, buf = _plain(lambda: now[0])
    progress.start("sources", 24)
    for name in ("a", "b", "c"):
        now[0] += 1.0
        progress.advance("sources", f"{name}.mp4: 1 clip made, 0 dropped")
    now[0] += 0.7
    progress.stop("sources")
    assert buf.getvalue().splitlines()[-1] == "sources: 3/24 stopped after 3.7 s"


def test_progress_prints_file_names_as_they_are():
    """A cluster break test: ``br[ack]et.mkv`` read as ``bret.mkv`` and ``[red]x.mkv`` as
    ``x.mkv`` (Rich markup), plain and on a terminal alike."""
    now = [0.0]
    progress, buf = _plain(lambda: now[0])
    progress.start("sources", 2)
    progress.advance("sources", "br[ack]et.mkv: 1 clip made, 0 dropped")
    progress.advance("sources", "[red]x.mkv: 1 clip made, 0 dropped")
    assert buf.getvalue().splitlines()[1:] == ["  br[ack]et.mkv: 1 clip made, 0 dropped",
                                               "  [red]x.mkv: 1 clip made, 0 dropped"]
    buf = io.StringIO()
    progress = Progress(console=Console(file=buf, force_terminal=True, width=200, color_system=None))
    assert not progress.plain
    progress.start("sources", 1)
    progress.advance("sources", "[red]x.mkv: 1 clip made, 0 dropped")
    progress.stop("sources")
    assert "  [red]x.mkv: 1 clip made, 0 dropped" in buf.getvalue()


def test_quiet_progress_prints_nothing():
    buf = io.StringIO()
    progress = Progress(enabled=False, console=Console(file=buf, force_terminal=False))
    with progress.step("starting Ray"):
        progress.start("sources", 2)
        progress.advance("sources", "x")
        progress.stop("sources")
    assert buf.getvalue() == ""


def test_a_source_span_decodes_to_the_clip_frames(curated_run, footage):
    """A dropped shot without a clip file gets its thumbnail from the source span: the same
    picture as the clip extracted from that span (shot 1 of cuts.mp4, frames 0-49)."""
    from pipelines.report_html import thumbs

    index = pq.read_table(curated_run / "index.parquet").to_pylist()
    rejects = pq.read_table(curated_run / "rejects.parquet").to_pylist()
    path = footage["cuts"][0]
    dup = next(r for r in rejects if r["source_path"] == path)  # the planted duplicate: shot 1
    assert dup["span"]["start_s"] == 0.0
    from_span = thumbs.span_frames(path, dup["span"]["start_s"], dup["span"]["end_s"])
    from_sample, note = thumbs.dropped_frames(str(curated_run), dup["clip_id"], path, None)
    assert note == "frame sample" and len(from_span) == len(from_sample) == 3
    first = np.asarray(Image.fromarray(from_sample[0]).resize(from_span[0].shape[1::-1]), np.float64)
    other = next(r for r in index if r["source"]["path"] == path and r["span"]["start_s"] > 0)
    elsewhere = thumbs.span_frames(path, other["span"]["start_s"], other["span"]["end_s"])[0]
    diffs = [np.abs(first - f.astype(np.float64)).mean() for f in (*from_span, elsewhere)]
    assert max(diffs[:3]) < 12 < diffs[3]  # shot 1 is still: its 3 frames match, shot 2 does not


def test_shard_spec_of_a_store_run_and_of_its_shards_folder():
    import fsspec

    from pipelines.report_html.inspect import shard_spec

    fsspec.filesystem("memory").pipe("/spec-run/shards/shard-000000.tar", b"x")
    assert shard_spec("memory://spec-run") == "memory://spec-run/shards/*.tar"
    # the shards folder itself, as a local folder works (before: .../shards/shards/*.tar, exit 2)
    assert shard_spec("memory://spec-run/shards") == "memory://spec-run/shards/*.tar"
    assert shard_spec("memory://spec-run/shards/") == "memory://spec-run/shards/*.tar"


def test_a_damaged_frame_sample_falls_back_to_the_clip_mp4(curated_run, tmp_path):
    """A kept clip whose saved frame sample is cut short or empty gets its thumbnail from
    its mp4 (found by a helper: a truncated .npz raised BadZipFile and the report failed)."""
    import shutil

    from pipelines.report_html import thumbs

    clip_id = pq.read_table(curated_run / "index.parquet").column("clip_id")[0].as_py()
    work = tmp_path / "out"
    shutil.copytree(curated_run, work, ignore=shutil.ignore_patterns("shards"))
    sample = next((work / "work" / "clips").rglob(f"{clip_id}.frames.npz"))
    frames, note = thumbs.kept_frames(str(work), clip_id, None)
    assert note == "frame sample" and len(frames) == 3
    for damaged in (sample.read_bytes()[:3000], b""):
        sample.write_bytes(damaged)
        frames, note = thumbs.kept_frames(str(work), clip_id, None)
        assert note == "clip mp4" and len(frames) == 3


def test_inspect_of_damaged_shards_only_is_exit_2_and_key_excludes_sample(curated_run, capsys, tmp_path):
    """Found by a new-user walk-through: a shard cut short showed nothing and exited 0, and
    ``--key K --sample N`` ignored ``--sample``."""
    [shard] = sorted((curated_run / "shards").glob("*.tar"))[:1]
    cut = tmp_path / "cut.tar"
    data = shard.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="truncated"):
        assert main(["inspect", str(cut)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == (f"error: no complete sample in {cut} (damaged shards and samples "
                                         "are skipped, each with a warning above)")
    with pytest.raises(SystemExit) as exc:
        main(["inspect", str(curated_run), "--key", "abc", "--sample", "2"])
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_time_left_follows_the_sources_weights_not_their_count():
    """Sources run largest first: after the one large source (8 of 10 units in 10 s) the two
    small ones are 2 units at 0.8 units/s, about 2 s, where the count rate (1 source in
    10 s) had said 20 s (a new-user test saw 123 s left of a run that ended 13 s later)."""
    now = [0.0]
    progress, buf = _plain(lambda: now[0])
    progress.start("sources", 3, weights={"/in/big.mp4": 8.0, "/in/a.mp4": 1.0, "/in/b.mp4": 1.0})
    now[0] = 10.0
    progress.advance("sources", "big.mp4: 4 clips made, 0 dropped", key="/in/big.mp4")
    assert buf.getvalue().splitlines()[-1] == "sources: 1/3 (33%) in 10 s, 0.10/s, about 2 s left"
    progress.stop("sources")
