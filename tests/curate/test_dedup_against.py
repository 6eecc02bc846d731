"""Dedup against earlier runs' index.parquet (``--dedup-against``)."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.dedup import DedupStage, load_earlier
from schemas import ClipRecord, write_parquet
from support.dedup import clip_record as _rec
from support.dedup import flip as _flip
from support.dedup import random_hashes
from support.synth import Shot, shots_video


def _earlier(folder, recs):
    folder.mkdir()
    write_parquet(ClipRecord, recs, str(folder / "index.parquet"))
    return str(folder)


def test_new_clips_near_an_earlier_run_are_dropped_and_earlier_clips_win(tmp_path):
    h = random_hashes(4)
    run1 = _earlier(tmp_path / "run1", [_rec("E1", h[0]), _rec("E2", h[1])])
    new = [
        _rec("N1", _flip(h[0], range(0, 300, 15)), width=1920, height=1080),  # 20 bits from E1
        _rec("N2", _flip(h[0], range(5, 1000, 25))),  # 40 bits from E1, 60 from N1: a chain via E1
        _rec("N3", h[2]),
        _rec("E2", h[1]),  # the same clip again (same id and hash)
        _rec("N4", h[3]), _rec("N5", _flip(h[3], range(7))),  # a pair inside the new batch only
    ]
    kept, dropped = DedupStage().run(new, against=[run1])
    assert [r.clip_id for r in kept] == ["N3", "N4"]
    assert [(r.clip_id, k) for r, k, _ in dropped] == [("N1", "E1"), ("N2", "E1"), ("E2", "E2"),
                                                       ("N5", "N4")]
    assert dropped[0][2] == f"near-duplicate of E1 in earlier run {run1}"
    assert dropped[2][2] == f"the same clip as E2 in earlier run {run1}"  # (had read 'near-duplicate of' itself)
    assert dropped[3][2] == "near-duplicate of N4"


def test_paths_urls_and_the_first_earlier_run_named(tmp_path):
    h = random_hashes(2, seed=1)
    run1 = _earlier(tmp_path / "run1", [_rec("B", _flip(h[0], range(0, 60, 3)))])  # 20 bits from A
    run2 = _earlier(tmp_path / "run2", [_rec("A", h[0]), _rec("C", h[1])])
    new = [_rec("X", _flip(h[0], range(1, 60, 3)))]  # 20 bits from A, 40 from B
    for runs in ([run1, run2], [run1 + "/index.parquet", "file://" + run2]):
        _, dropped = DedupStage().run(new, against=runs)
        assert [(r.clip_id, k) for r, k, _ in dropped] == [("X", "B")]  # group {A, B, X}: run1 first
        assert dropped[0][2].endswith(f"in earlier run {runs[0]}")
    index = load_earlier([run2, run1])
    assert len(index) == 3 and index.by_len[256].clip_ids.tolist() == ["A", "C", "B"]


def test_missing_or_hashless_indexes_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere: no earlier run's index.parquet"):
        load_earlier([str(tmp_path / "nowhere")])
    (tmp_path / "bad").mkdir()
    pq.write_table(pa.table({"clip_id": ["a"]}), tmp_path / "bad" / "index.parquet")
    with pytest.raises(ValueError, match=r"no \['phash'\] column"):
        load_earlier([str(tmp_path / "bad")])


def test_run_pipeline_rejects_clips_already_in_an_earlier_run(ray_session, tmp_path, monkeypatch):
    from pipelines.runner import run_pipeline
    from support.pipelines import make_pipeline

    for name, shots, size in (("in1", [Shot(34, 40), Shot(35, 40)], (160, 120)),
                              ("in2", [Shot(34, 40), Shot(36, 40)], (240, 180))):  # shot 34 again
        (tmp_path / name).mkdir()
        shots_video(str(tmp_path / name / "v.mp4"), shots, *size)
    first, second = tmp_path / "first", tmp_path / "second"
    with pytest.raises(FileNotFoundError, match="in1: no earlier run's index.parquet"):
        run_pipeline(make_pipeline(), [str(tmp_path / "in2")], str(second), progress=False,
                     dedup_against=[str(tmp_path / "in1")])  # checked before any work
    run_pipeline(make_pipeline(), [str(tmp_path / "in1")], str(first), progress=False)
    with pytest.raises(ValueError, match="needs a dedup stage"):
        run_pipeline(make_pipeline(drop=("dedup",)), [str(tmp_path / "in2")], str(second),
                     progress=False, dedup_against=[str(first)])
    assert not second.exists()
    before = pq.read_table(first / "index.parquet").to_pylist()
    assert len(before) == 2
    monkeypatch.chdir(tmp_path)  # named as typed, relative: rows and manifest name it whole (a walk-through)
    run_pipeline(make_pipeline(), [str(tmp_path / "in2")], str(second), progress=False,
                 dedup_against=["first"])
    assert json.loads((second / "manifest.json").read_text())["dedup_against"] == [str(first)]
    after = pq.read_table(second / "index.parquet").to_pylist()
    dups = [r for r in pq.read_table(second / "rejects.parquet").to_pylist() if r["reason"] == "duplicate"]
    assert len(after) == 1 and len(dups) == 1  # the higher-resolution copy of shot 34 is not re-added
    assert dups[0]["duplicate_of"] == before[[r["span"]["start_frame"] for r in before].index(0)]["clip_id"]
    assert dups[0]["detail"].endswith(f"in earlier run {first}")
    assert after[0]["span"]["start_frame"] > 0 and pq.read_table(first / "index.parquet").to_pylist() == before


def test_an_index_dataset_of_several_files_is_read_whole(tmp_path):
    h = random_hashes(3, seed=2)
    parts = tmp_path / "run" / "index.parquet"
    parts.mkdir(parents=True)
    pq.write_table(pa.table({"clip_id": ["B", "A"], "phash": [h[1], h[0]]}), parts / "part-0.parquet")
    pq.write_table(pa.table({"clip_id": ["C", "D"], "phash": [h[2], ""]}), parts / "part-1.parquet")
    index = load_earlier([str(tmp_path / "run")])
    assert index.by_len[256].clip_ids.tolist() == ["A", "B", "C"]  # sorted; no hash, no entry
    kept, dropped = DedupStage().run([_rec("X", _flip(h[2], range(3))), _rec("Y", h[0][::-1])], against=index)
    assert [r.clip_id for r in kept] == ["Y"] and [(r.clip_id, k) for r, k, _ in dropped] == [("X", "C")]


def test_cli_missing_earlier_index_exits_2_before_any_work(tmp_path, capsys):
    from pipelines.cli import main

    src = tmp_path / "v.mp4"
    shots_video(str(src), [Shot(3, 30)], 64, 48)
    out = tmp_path / "out"
    rc = main(["run", "local", "--input", str(src), "--output", str(out), "--quiet",
               "--dedup-against", str(tmp_path / "gone"), str(tmp_path / "other")])
    assert rc == 2
    assert f"--dedup-against {tmp_path / 'gone'}: no earlier run's index.parquet" in capsys.readouterr().err
    assert not out.exists()


def test_unusable_earlier_runs_are_refused_before_any_work(tmp_path, capsys):
    """The run's own output (every clip would be a duplicate of itself, and its published
    index and shards were emptied: found by a helper), also through a symlink, a file that is not Parquet and a
    rejects table are exit 2 with one line, before the output is touched."""
    from pipelines.cli import main

    run1 = _earlier(tmp_path / "run1", [_rec("E1", random_hashes(1)[0])])
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "index.parquet").write_text("garbage\n")
    pq.write_table(pa.table({"source_path": ["a.mp4"]}), tmp_path / "rejects.parquet")
    before = (tmp_path / "run1" / "index.parquet").read_bytes()
    (tmp_path / "link").symlink_to(tmp_path / "run1")  # another name of the same folder (found by a helper)
    base = ["run", "local", "--input", str(tmp_path / "nothing-needed"), "--quiet"]
    cases = [([*base, "--output", run1, "--dedup-against", run1], "that is this run's own --output"),
             ([*base, "--output", run1, "--dedup-against", run1 + "/index.parquet"], "own --output"),
             ([*base, "--output", run1, "--dedup-against", str(tmp_path / "link")], "own --output"),
             ([*base, "--output", str(tmp_path / "link"), "--dedup-against", run1 + "/"], "own --output"),
             ([*base, "--output", str(tmp_path / "o"), "--dedup-against", str(tmp_path / "junk")],
              "is not a readable Parquet index"),
             ([*base, "--output", str(tmp_path / "o"), "--dedup-against", str(tmp_path / "rejects.parquet")],
              "index has no ['clip_id', 'phash'] column")]
    for argv, want in cases:
        assert main(argv) == 2, argv
        assert want in capsys.readouterr().err
    assert (tmp_path / "run1" / "index.parquet").read_bytes() == before and not (tmp_path / "o").exists()


def test_earlier_indexes_with_unusable_values_are_refused_before_any_work(tmp_path, capsys):
    """Found by a break tester: an index whose phash held integers or non-hex text, or
    whose dedup_signature was garbage, passed the column-name check and the run died with
    an internal error after the per-source phase. Every row's values are checked first."""
    from pipelines.cli import main
    from support.edited import clip, record

    good = record("E", clip(0.0, 2.0))
    sig = good.dedup_signature
    tables = {
        "intphash": (pa.table({"clip_id": ["x"], "phash": [7]}), "index column phash holds int64, not text"),
        "nonhex": (pa.table({"clip_id": ["x", "y"], "phash": ["ab" * 128, "zz"]}),
                   "index row 1, column phash: 'zz' is not a hex hash"),
        "noid": (pa.table({"clip_id": ["x", None], "phash": ["ab", "cd"]}), "index row 1, column clip_id: None"),
        "badsig": (pa.table({"clip_id": ["x"], "phash": ["ab" * 128], "dedup_signature": ["garbage"]}),
                   "index row 0, column dedup_signature: bad dedup signature"),
        "cutsig": (pa.table({"clip_id": ["x"], "phash": ["ab"], "dedup_signature": [sig[:-1]]}),
                   "column dedup_signature: bad dedup signature: the thumbnails' base64 is cut short"),
        "badgist": (pa.table({"clip_id": ["x"], "phash": ["ab"], "dedup_signature": ["v1:250:48:AAAAAA==:" + sig[-8:]]}),
                    "a gist of 2 values, not 64"),
    }
    for name, (table, want) in tables.items():
        (tmp_path / name).mkdir()
        pq.write_table(table, tmp_path / name / "index.parquet")
        out = tmp_path / f"out_{name}"
        argv = ["run", "local", "--input", str(tmp_path / "nothing-needed"), "--quiet", "--output", str(out),
                "--dedup-against", str(tmp_path / name)]
        assert main(argv) == 2, name
        err = capsys.readouterr().err
        assert want in err and f"--dedup-against {tmp_path / name}: " in err, err
        assert not out.exists()
    _earlier(tmp_path / "fine", [good])
    from curate.dedup.against import check_earlier

    check_earlier([str(tmp_path / "fine")], str(tmp_path / "o"))  # a real index passes


def test_an_earlier_signature_damaged_inside_its_thumbnails_is_left_out_with_a_warning(tmp_path, capsys):
    """The check reads each signature's fields and gist, not its compressed thumbnails
    (a hundred microseconds each); one damaged there is left out, not a crash."""
    from curate.dedup.against_edits import earlier_edit_matches
    from support.edited import clip, crop_bright, record

    orig = record("E", clip(0.0, 2.0))
    orig.dedup_signature = orig.dedup_signature.rsplit(":", 1)[0] + ":AAAA"  # inflates to nothing
    _earlier(tmp_path / "run", [orig])
    copy = record("N", clip(0.0, 2.0, edit=crop_bright), path="b.mp4")
    assert earlier_edit_matches([copy.dedup_signature], [str(tmp_path / "run")], 0.06, 0.7) == {}
    assert "clip E: bad dedup signature" in capsys.readouterr().err


def test_an_older_releases_signatures_without_the_gist_are_read(tmp_path):
    """Found by a break tester: an index written by vidcurate before the gist joined the
    signature string (``v1:<ms>:<size>:<thumbnails>``, same tag) passed the check, then
    the run died with 'bad dedup signature: not enough values to unpack'. The old form is
    read, its gist computed from the thumbnails, so its edited copies are still found."""
    from curate.dedup.against import check_earlier
    from curate.dedup.signature import read_gist
    from support.edited import clip, crop_bright, record

    orig = record("E", clip(0.0, 2.0))
    fields = orig.dedup_signature.split(":")
    old_form = ":".join(fields[:3] + fields[4:])  # the gist left out
    size, gist = read_gist(old_form)
    assert size == 48 and float(gist @ read_gist(orig.dedup_signature)[1]) > 0.999
    orig.dedup_signature = old_form
    run = _earlier(tmp_path / "old", [orig])
    check_earlier([run], str(tmp_path / "o"))  # not refused
    new = [record("N", clip(0.0, 2.0, edit=crop_bright), path="b.mp4"), record("X", clip(0.0, 2.0, seed=8))]
    kept, dropped = DedupStage().run(new, against=[run])
    assert [r.clip_id for r in kept] == ["X"] and [(r.clip_id, k) for r, k, _ in dropped] == [("N", "E")]


def test_an_earlier_run_with_another_hash_length_is_still_matched_by_signature(tmp_path):
    """Found by a break tester: an earlier run made with ``embed.hash_frames: 2`` (128-char
    hashes) was never matched by a run with 4 (256), not even a plain re-encode by its
    signature: signature matches were dropped when the earlier clip had no hash of the
    new run's length."""
    from support.edited import clip, crop_bright, record

    frames = clip(0.0, 2.0)
    orig = record("E", frames)
    orig.phash = orig.phash[:128]  # the length of a 2-frame run's hash
    run = _earlier(tmp_path / "h2", [orig])
    new = [record("N", frames, path="b.mp4"), record("C", clip(0.0, 2.0, edit=crop_bright), path="c.mp4"),
           record("X", clip(0.0, 2.0, seed=8), path="d.mp4")]
    kept, dropped = DedupStage().run(new, against=[run])
    assert [r.clip_id for r in kept] == ["X"]
    assert [(r.clip_id, k, d) for r, k, d in dropped] == [
        ("N", "E", f"near-duplicate of E in earlier run {run}"), ("C", "E", f"near-duplicate of E in earlier run {run}")]
    kept, _ = DedupStage(edit_distance=None).run(new, against=[run])  # pHashes of other lengths: no pair
    assert [r.clip_id for r in kept] == ["N", "C", "X"]
