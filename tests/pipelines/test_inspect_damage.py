"""``vidcurate inspect``, ``stats`` and ``report`` on outputs and shards that are not as a run
left them: each bad part is skipped or refused with one line, the rest is shown. Found by
a break test."""

from __future__ import annotations

import io
import json
import shutil
import tarfile

import pytest
from PIL import Image

from pipelines.cli import main


def _members(tar_path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(tar_path) as tf:
        return [(m, tf.extractfile(m).read()) for m in tf if m.isfile()]


def _write(tar_path, members) -> None:
    with tarfile.open(tar_path, "w") as tf:
        for info, data in members:
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def test_a_sample_whose_record_does_not_read_is_skipped_and_the_rest_shown(curated_run, capsys, tmp_path):
    [shard] = sorted((curated_run / "shards").glob("*.tar"))[:1]
    members = _members(shard)
    jsons = [i for i, (m, _) in enumerate(members) if m.name.endswith(".json")]
    assert len(jsons) >= 4
    first, second, third = (members[i][0].name.split(".")[0] for i in jsons[:3])
    members[jsons[0]] = (members[jsons[0]][0], b'{"clip_id": "x"}')  # valid JSON, not a record
    members[jsons[1]] = (members[jsons[1]][0], b"not json")
    rec = json.loads(members[jsons[2]][1])
    rec["source"]["path"] = "/v/two\nlines.mp4"  # a newline in a file name
    members[jsons[2]] = (members[jsons[2]][0], json.dumps(rec).encode())
    bad = tmp_path / "bad.tar"
    _write(bad, members)
    assert main(["inspect", str(bad), "--sample", "100"]) == 0
    out, err = capsys.readouterr()
    assert f"sample '{first}' skipped: its record does not read" in err
    assert f"sample '{second}' skipped: its record does not read" in err
    shown = [line.split()[0] for line in out.splitlines() if not line.startswith(" ")]
    assert first not in shown and second not in shown and third in shown
    assert len(shown) == len(jsons) - 2
    assert "  source: /v/two\\x0alines.mp4 @ " in out  # one line per field
    assert main(["inspect", str(bad), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(json.loads(line)["key"] not in (first, second) for line in lines)
    assert main(["inspect", str(bad), "--key", first]) == 2  # asked for by key: damaged, not "no sample"
    err = capsys.readouterr().err
    assert f"the sample with key '{first}' in {bad} is damaged: its record does not read" in err
    assert "no sample" not in err
    assert main(["inspect", str(bad), "--key", third]) == 0 and third in capsys.readouterr().out


@pytest.mark.parametrize("name", ["out[1]", "out{a,b}", "out*"])
def test_an_existing_folder_is_taken_by_its_name_not_as_a_pattern(curated_run, capsys, tmp_path, name):
    copy = tmp_path / name
    shutil.copytree(curated_run / "shards", copy / "shards")
    assert main(["inspect", str(copy), "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) >= 1


def test_contact_sheet_type_follows_its_name(curated_run, capsys, tmp_path):
    sheet = tmp_path / "sheet.webp"
    assert main(["inspect", str(curated_run), "--sample", "1", "--contact-sheet", str(sheet)]) == 0
    assert Image.open(sheet).format == "WEBP"
    capsys.readouterr()
    odd = tmp_path / "sheet.xyz"
    assert main(["inspect", str(curated_run), "--contact-sheet", str(odd)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "no image type Pillow writes ends in '.xyz'" in err and not odd.exists()


def test_a_contact_sheet_that_cannot_be_written_leaves_the_earlier_one(curated_run, capsys, tmp_path, monkeypatch):
    """A disk that fills while the sheet is written (its encoder has written part of it):
    the earlier sheet of that name had been replaced by a cut one (a break test)."""
    import errno

    import os

    sheet = tmp_path / "sheet.png"
    mask = os.umask(0o022)
    try:
        assert main(["inspect", str(curated_run), "--sample", "1", "--contact-sheet", str(sheet)]) == 0
    finally:
        os.umask(mask)
    assert sheet.stat().st_mode & 0o777 == 0o644  # as open() makes it, not the temporary file's 0600 (a review)
    before = sheet.read_bytes()
    real = Image.Image.save

    def full(self, fp, *args, **kwargs):  # the sheet's file fills the disk; the tiles (in memory) do not
        real(self, fp, *args, **kwargs)
        if not isinstance(fp, io.BytesIO):
            raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Image.Image, "save", full)
    capsys.readouterr()
    assert main(["inspect", str(curated_run), "--sample", "2", "--contact-sheet", str(sheet)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert sheet.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["sheet.png"]


@pytest.mark.parametrize("manifest,said", [
    ({"counts": None}, "'counts' is a JSON NoneType"),
    ({"hours_in": "abc"}, "'hours_in' is a JSON str"),
    ({"pipeline": []}, "'pipeline' is a JSON list"),
    ({"counts": {"sources": "many"}}, "'counts' holds a value that is no whole number"),
    ({"hours_in": float("nan")}, "'hours_in' is nan"),
    ("drop counts", "no 'counts'"),
])
def test_a_manifest_with_wrong_fields_is_damaged_not_an_internal_error(curated_run, capsys, tmp_path, manifest, said):
    broken = tmp_path / "broken"
    shutil.copytree(curated_run, broken, ignore=shutil.ignore_patterns("*.tar", "work"))
    data = json.loads((broken / "manifest.json").read_text())
    if manifest == "drop counts":
        del data["counts"]
    else:
        data.update(manifest)
    (broken / "manifest.json").write_text(json.dumps(data))
    for cmd in ("stats", "report"):
        assert main([cmd, str(broken)]) == 2
        err = capsys.readouterr().err
        assert f"manifest.json is damaged (ValueError: {said})" in err and "internal error" not in err


def _samples_tar(curated_run, path, n: int) -> None:
    """A tar of ``n`` samples: the first shard's samples again under new keys, in turn."""
    [shard] = sorted((curated_run / "shards").glob("*.tar"))[:1]
    members = _members(shard)
    keys = sorted({m.name.split(".")[0] for m, _ in members})
    out = []
    for i in range(n):
        key = keys[i % len(keys)]
        for m, data in members:
            if m.name.split(".")[0] == key:
                info = tarfile.TarInfo(f"s{i:03d}." + m.name.split(".", 1)[1])
                out.append((info, data))
    _write(path, out)


def test_the_first_ten_samples_say_when_more_follow(curated_run, capsys, tmp_path):
    """A new-user trial: the first 10 of 44 samples were shown with no word of the others."""
    _samples_tar(curated_run, tmp_path / "many.tar", 11)
    assert main(["inspect", str(tmp_path / "many.tar"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["key"] for line in out.splitlines()] == [f"s{i:03d}" for i in range(10)]
    assert "(the first 10 samples; more follow: --sample N draws N at random, --key K shows one)" in err
    _samples_tar(curated_run, tmp_path / "ten.tar", 10)
    assert main(["inspect", str(tmp_path / "ten.tar")]) == 0
    out, err = capsys.readouterr()
    assert "s009  (ten.tar)" in out and "more follow" not in err


def test_shards_with_no_sample_say_why(capsys, tmp_path):
    """A new-user trial: an empty tar was said to be damaged shards 'each with a warning', and
    none was printed."""
    with tarfile.open(tmp_path / "empty.tar", "w"):
        pass
    assert main(["inspect", str(tmp_path / "empty.tar")]) == 2
    err = capsys.readouterr().err
    assert "a sample is a clip's .mp4, .json and .txt; these shards hold none" in err and "warning" not in err
    (tmp_path / "cut.tar").write_bytes((tmp_path / "empty.tar").read_bytes()[:700] + b"x" * 100)
    with pytest.warns(UserWarning):
        assert main(["inspect", str(tmp_path / "cut.tar")]) == 2
    assert "damaged shards and samples are skipped, each with a warning above" in capsys.readouterr().err
