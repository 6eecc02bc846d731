"""--input expansion: files, folders, globs, list files, missing paths."""

import os

import pytest

from pipelines.sources import expand_inputs


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b").mkdir()
    for rel in ("a/one.mp4", "a/b/two.MKV", "a/b/notes.txt", "a/three.mov", "a/b/four name é.webm"):
        (tmp_path / rel).write_bytes(b"x")
    return tmp_path


def test_folder_is_recursive_and_filters_extensions(tree):
    got = [os.path.relpath(p, tree) for p in expand_inputs([str(tree / "a")])]
    assert got == ["a/b/four name é.webm", "a/b/two.MKV", "a/one.mp4", "a/three.mov"]


def test_glob_and_file_and_dedup(tree):
    got = expand_inputs([str(tree / "a" / "*.mp4"), str(tree / "a" / "one.mp4")])
    assert got == [str(tree / "a" / "one.mp4")]


def test_list_file_with_relative_paths_comments_and_missing(tree):
    lst = tree / "list.txt"
    (tree / "a" / "take #2.mp4").write_bytes(b"x")
    lst.write_bytes("\ufeffa/one.mp4\r\n# sources\r\n\n  a/missing.mp4  \na/take #2.mp4\n".encode())
    got = expand_inputs([str(lst)])
    assert got == [str(tree / "a" / p) for p in ("missing.mp4", "one.mp4", "take #2.mp4")]


def test_a_real_file_with_glob_characters_is_not_a_glob(tree):
    (tree / "clip [1080p].mp4").write_bytes(b"x")
    assert expand_inputs([str(tree / "clip [1080p].mp4")]) == [str(tree / "clip [1080p].mp4")]


def test_nothing_found_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        expand_inputs([str(tmp_path / "*.mp4")])


def test_a_mistyped_path_is_an_error_not_an_empty_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        expand_inputs([str(tmp_path / "nope.mp4")])
