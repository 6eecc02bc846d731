"""--input expansion on local paths: files, folders, globs, list files (--input-list) and
their encodings, skipped files, missing paths, the run's own output (URLs:
test_sources_urls.py; links, FIFOs and odd folders: test_sources_walk.py)."""

import os

import pytest

from pipelines.sources import InputList, Skipped, expand_inputs, scan_inputs


def test_folder_is_recursive_and_filters_extensions(tree):
    got = [os.path.relpath(p, tree) for p in expand_inputs([str(tree / "a")])]
    assert got == ["a/b/four name é.webm", "a/b/two.MKV", "a/one.mp4", "a/three.mov"]


def test_glob_and_file_and_dedup(tree):
    got = expand_inputs([str(tree / "a" / "*.mp4"), str(tree / "a" / "one.mp4")])
    assert got == [str(tree / "a" / "one.mp4")]


def test_list_file_with_relative_paths_comments_and_missing(tree):
    lst = tree / "list.txt"
    (tree / "a" / "take #2.mp4").write_bytes(b"x")
    lst.write_bytes("\ufeffa/one.mp4\r\n# sources\r\n\n  a/missing.mp4  \na/take #2.mp4\na/b/raw\n".encode())
    got = expand_inputs([InputList(str(lst))])
    # every listed line is a source, whatever its extension; the missing one reaches the probe
    assert got == [str(tree / "a" / p) for p in ("b/raw", "missing.mp4", "one.mp4", "take #2.mp4")]


def test_a_text_file_given_as_input_is_skipped_not_read(tree):
    lst = tree / "LICENSE.txt"
    lst.write_text("\n".join(f"line {i} of the licence" for i in range(300)))
    found = scan_inputs([str(lst), str(tree / "a" / "one.mp4")])
    assert found.sources == [str(tree / "a" / "one.mp4")]
    assert found.skipped == [Skipped(str(lst), "not a video extension (.txt); list files need --input-list")]


def test_a_missing_list_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="--input-list"):
        scan_inputs([InputList(str(tmp_path / "nope.txt"))])


def test_a_video_or_a_folder_given_as_a_list_is_a_usage_error(tmp_path):
    """Found by a new-user walk-through: ``--input-list clip.mp4`` was an internal error
    (UnicodeDecodeError, exit 1) and ``--input-list folder`` said "no such file"."""
    from pipelines.exits import UsageError

    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42\xb8\xff\xfe" * 8)
    with pytest.raises(UsageError, match="clip.mp4: not a text file listing one source per line"):
        scan_inputs([InputList(str(video))])
    with pytest.raises(UsageError, match="is a folder; --input-list takes a text file"):
        scan_inputs([InputList(str(tmp_path))])


def test_every_file_in_a_folder_or_glob_is_a_source_or_skipped_with_its_rule(tmp_path):
    import numpy as np
    from PIL import Image

    names = ["anim.gif", "anim.WEBP", "clip.mp4", "LICENSE.txt", "README.md", "Makefile", "song.mp3",
             ".DS_Store", "._clip.mp4", ".cache/x.mp4", "still.png", "moving.png", "moving.apng"]
    for name in names:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    frames = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (0, 128)]
    frames[0].save(tmp_path / "still.png")
    for name in ("moving.png", "moving.apng"):
        frames[0].save(tmp_path / name, format="PNG", save_all=True, append_images=frames[1:])
    want_sources = sorted(str(tmp_path / n) for n in ("anim.gif", "anim.WEBP", "clip.mp4", "moving.png",
                                                      "moving.apng"))
    want_rules = {
        "LICENSE.txt": "not a video extension (.txt); list files need --input-list",
        "README.md": "not a video extension (.md)",
        "Makefile": "no file extension (name it in --input-list to curate it)",
        "song.mp3": "not a video extension (.mp3)",
        ".DS_Store": "hidden: a name starting with '.' inside a folder or glob",
        "._clip.mp4": "hidden: a name starting with '.' inside a folder or glob",
        ".cache/x.mp4": "hidden: a name starting with '.' inside a folder or glob",
        "still.png": "still PNG image (not an APNG)",
    }
    for args in ([str(tmp_path)], [str(tmp_path / "*"), str(tmp_path / ".*")]):
        found = scan_inputs(args)
        assert found.sources == want_sources
        assert {os.path.relpath(s.path, tmp_path): s.rule for s in found.skipped} == want_rules
        # accounted for: every file is a source or skipped, exactly once
        assert len(found.sources) + len(found.skipped) == len(names)


def test_a_shell_expanded_glob_skips_what_a_folder_skips(tmp_path):
    for name in ("clip.mp4", "LICENSE.txt", "README.md"):
        (tmp_path / name).write_bytes(b"x")
    named = scan_inputs([str(p) for p in sorted(tmp_path.iterdir())])  # what `vidcurate run --input *` gets
    assert named == scan_inputs([str(tmp_path)])
    assert named.sources == [str(tmp_path / "clip.mp4")]


def test_only_skipped_files_is_an_error_that_names_them(tmp_path):
    (tmp_path / "notes.txt").write_text("a.mp4\n")
    with pytest.raises(ValueError, match=r"skipped 1: notes.txt: not a video extension \(.txt\)"):
        scan_inputs([str(tmp_path)])


def test_a_real_file_with_glob_characters_is_not_a_glob(tree):
    (tree / "clip [1080p].mp4").write_bytes(b"x")
    assert expand_inputs([str(tree / "clip [1080p].mp4")]) == [str(tree / "clip [1080p].mp4")]


def test_nothing_found_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        expand_inputs([str(tmp_path / "*.mp4")])


def test_a_mistyped_path_is_an_error_not_an_empty_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        expand_inputs([str(tmp_path / "nope.mp4")])


def test_no_inputs_at_all_is_an_error():
    with pytest.raises(ValueError, match="--input PATH ... and/or --input-list FILE"):
        scan_inputs([])


def test_one_file_listed_under_two_spellings_is_one_source(tree):
    lst = tree / "list.txt"
    lst.write_text(f"a/one.mp4\na/b/../one.mp4\n./a/one.mp4\n{tree}/a//one.mp4\n")
    got = expand_inputs([InputList(str(lst)), str(tree / "a" / "b" / ".." / "one.mp4")])
    assert got == [str(tree / "a" / "one.mp4")]


def test_files_inside_the_runs_output_are_not_inputs(tmp_path):
    # --input data --output data/out: the rerun must not curate its own clips or list its files
    (tmp_path / "clip.mp4").write_bytes(b"x")
    clips = tmp_path / "out" / "work" / "clips"
    clips.mkdir(parents=True)
    (clips / "c1.mp4").write_bytes(b"x")
    (tmp_path / "out" / "index.parquet").write_bytes(b"x")
    (tmp_path / "outside.mp4").write_bytes(b"x")  # a name that starts like the output folder
    assert len(scan_inputs([str(tmp_path)]).sources) == 3
    found = scan_inputs([str(tmp_path)], exclude=str(tmp_path / "out"))
    assert found.sources == [str(tmp_path / "clip.mp4"), str(tmp_path / "outside.mp4")]
    assert found.skipped == []
    with pytest.raises(ValueError, match="no video files found"):
        scan_inputs([str(clips)], exclude=str(tmp_path / "out"))


def test_a_pattern_that_matches_nothing_is_named(tmp_path):
    """A break test: a mistyped glob, or a name with brackets that does not exist, said only
    "no video files found", as if the files had been found and skipped."""
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"no file or folder is named or matched by .*clip\[1\]\.mp4"):
        scan_inputs([str(tmp_path / "clip[1].mp4")])
    with pytest.raises(ValueError) as err:
        scan_inputs([str(tmp_path / "*.txt"), str(tmp_path / "*.mkv")])
    assert "skipped 1: notes.txt" in str(err.value)
    assert f"matched by {tmp_path / '*.mkv'} (" in str(err.value)  # the pattern that matched a file is not named


def test_a_list_in_another_encoding_is_told_to_be_saved_as_utf8(tmp_path):
    from pipelines.exits import UsageError

    listed = tmp_path / "list.txt"
    listed.write_bytes("café.mp4\nother.mp4\n".encode("latin-1"))
    with pytest.raises(UsageError, match="list.txt: not UTF-8 text; save the list as UTF-8"):
        scan_inputs([InputList(str(listed))])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])  # with a BOM (Notepad), without
def test_a_utf16_list_is_told_to_be_saved_as_utf8(tmp_path, encoding):
    """A break test: UTF-16 without a BOM read as UTF-8 with NUL bytes (internal error,
    exit 1); with one it was called "not a text file"."""
    from pipelines.exits import UsageError

    listed = tmp_path / "list.txt"
    listed.write_bytes("clip.mp4\nother.mp4\n".encode(encoding))
    with pytest.raises(UsageError, match="not UTF-8 text; save the list as UTF-8"):
        scan_inputs([InputList(str(listed))])
