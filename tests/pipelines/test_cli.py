"""The vidcurate command end to end, in a subprocess with its own local Ray."""

import json
import os
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from support.pipelines import LOCAL_YAML
from support.synth import Shot, shots_video


def test_run_accounts_for_every_input_and_prints_a_summary(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shots_video(str(src / "good clip é.mp4"), [Shot(31, 40), Shot(32, 40)], 192, 144)
    (src / "junk.mp4").write_bytes(b"\x00" * 5000)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{src}/good clip é.mp4\n{src}/junk.mp4\n{src}/missing.mp4\n")
    out = tmp_path / "out"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    res = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", LOCAL_YAML, "--input-list", str(listing),
                          "--output", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "sources: 3 (2 rejected)" in res.stdout
    assert "good clip é.mp4: 2 clips made, 0 dropped" in res.stderr
    assert "clips kept: 2" in res.stdout
    rejects = {os.path.basename(r["source_path"]): r["reason"]
               for r in pq.read_table(out / "rejects.parquet").to_pylist()}
    assert rejects == {"junk.mp4": "decode_error", "missing.mp4": "not_found"}
    rows = {os.path.basename(r["source_path"]): r for r in pq.read_table(out / "rejects.parquet").to_pylist()}
    # a walk-through: the row of a source its probe rejected had no id, and its detail began
    # with FFmpeg's error code ('[Errno 1094995529] Invalid data found ...')
    from curate.ids import source_fingerprint

    assert rows["junk.mp4"]["source_id"] == source_fingerprint(str(src / "junk.mp4"))
    assert rows["junk.mp4"]["detail"].startswith("Invalid data found when processing input")
    assert rows["missing.mp4"]["source_id"] == ""  # nothing to read
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["rejects"] == {"probe:decode_error": 1, "probe:not_found": 1}
    # The same output while another live run holds its lease: a clear error, exit code 3.
    assert not (out / "work" / "lease.json").exists()  # a finished run gives its lease back
    lease = {"owner": "other", "host": "another-node", "pid": 1, "expiry": time.time() + 600, "ttl_s": 60}
    (out / "work" / "lease.json").write_text(json.dumps(lease))
    busy = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", LOCAL_YAML, "--input-list",
                           str(listing), "--output", str(out)], capture_output=True, text=True, env=env)
    assert busy.returncode == 3 and "in use by another vidcurate run" in busy.stderr


def test_joins_a_running_cluster_and_refuses_other_settings(ray_session, tmp_path):
    import yaml

    from support.pipelines import local_dict

    src = tmp_path / "in"
    src.mkdir()
    shots_video(str(src / "a.mp4"), [Shot(33, 40)], 160, 120)
    address = ray_session.get_runtime_context().gcs_address
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    out = tmp_path / "out"
    base = [sys.executable, "-m", "pipelines.cli", "run"]
    from ray._private.state import jobs

    drivers_before = len(jobs())
    res = subprocess.run(base + [LOCAL_YAML, "--input", str(src), "--output", str(out), "--address", address],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "clips kept: 1" in res.stdout
    assert len(jobs()) == drivers_before + 1  # the run was a driver of this cluster
    other = local_dict()
    other["stages"][2]["short_side"] = 144
    changed = tmp_path / "other.yaml"
    changed.write_text(yaml.safe_dump(other))
    res = subprocess.run(base + [str(changed), "--input", str(src), "--output", str(out), "--address", address],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 3
    assert "holds work made with other settings (changed: extract)" in res.stderr


def test_identical_sources_keep_one_set_of_keys(ray_session, tmp_path):
    import shutil

    from pipelines.runner import run_pipeline
    from support.pipelines import make_pipeline

    src = tmp_path / "in"
    src.mkdir()
    shots_video(str(src / "a.mp4"), [Shot(34, 40), Shot(35, 40)], 160, 120)
    shutil.copyfile(src / "a.mp4", src / "b.mp4")
    os.symlink(src / "a.mp4", src / "c.mp4")
    out = tmp_path / "out"
    run_pipeline(make_pipeline({"dedup": {"max_distance": 0.0}}), [str(src)], str(out), progress=False)
    keys = [r["clip_id"] for r in pq.read_table(out / "index.parquet").to_pylist()]
    assert len(keys) == len(set(keys)) == 2
    dups = pq.read_table(out / "rejects.parquet").to_pylist()
    assert sorted(os.path.basename(r["source_path"]) for r in dups) == ["b.mp4", "b.mp4", "c.mp4", "c.mp4"]
    assert {r["duplicate_of"] for r in dups} == set(keys)


def test_repeated_input_flags_add_up():
    from pipelines.cli import build_parser

    args = build_parser().parse_args(["run", LOCAL_YAML, "--input", "a", "b", "--input", "c", "--output", "o",
                                      "--input-list", "l1", "--input-list", "l2",
                                      "--dedup-against", "r1", "--dedup-against", "r2", "r3"])
    assert (args.input, args.input_list, args.dedup_against) == (["a", "b", "c"], ["l1", "l2"], ["r1", "r2", "r3"])
    again = build_parser().parse_args(["run", LOCAL_YAML, "--input", "d", "--output", "o"])
    assert (again.input, again.input_list, again.dedup_against) == (["d"], [], None)  # defaults not shared


def test_connect_timeout_must_be_positive_seconds(capsys):
    """``--connect-timeout -1`` was taken silently (found by a new-user walk-through)."""
    from pipelines.cli import build_parser

    base = ["run", LOCAL_YAML, "--input", "a", "--output", "o", "--connect-timeout"]
    assert build_parser().parse_args([*base, "2.5"]).connect_timeout == 2.5
    for bad, why in (("-1", "must be more than 0 seconds, got -1"), ("0", "more than 0"),
                     ("soon", "not a number of seconds: 'soon'")):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args([*base, bad])
        assert exc.value.code == 2 and why in capsys.readouterr().err


def test_an_empty_output_is_a_usage_error_not_the_current_folder(capsys):
    """A break test: ``--output "$OUT"`` with OUT unset wrote the whole run (shards, work,
    index, report) into the current folder and exited 0."""
    from pipelines.cli import build_parser

    for empty in ("", "  "):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(["run", LOCAL_YAML, "--input", "a", "--output", empty])
        assert exc.value.code == 2 and "--output: an empty path" in capsys.readouterr().err
    assert build_parser().parse_args(["run", LOCAL_YAML, "--input", "a", "--output", "o"]).output == "o"
    from pipelines.exits import UsageError
    from pipelines.runner import run_pipeline

    with pytest.raises(UsageError, match="--output: an empty path"):  # the library API alike
        run_pipeline(None, ["a"], "")


def test_the_commands_own_warnings_are_one_line(monkeypatch):
    """A train run over short clips printed each skipped-data warning as two lines (its
    message, then the source line of the warn call): found by a new-user walk-through."""
    import warnings

    from pipelines.cli import _one_line_warnings
    from train.shards import SkippedDataWarning

    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # undone after the test
    _one_line_warnings()
    text = warnings.formatwarning(SkippedDataWarning("skipped shard (1 so far): x.tar: truncated"),
                                  SkippedDataWarning, "/x/train/shards.py", 60, "warnings.warn(...)")
    assert text == "warning: skipped shard (1 so far): x.tar: truncated\n"
    other = warnings.formatwarning(DeprecationWarning("old"), DeprecationWarning, "/y/ray/a.py", 5, "z")
    assert other.startswith("/y/ray/a.py:5: DeprecationWarning: old")  # others as Python prints them
