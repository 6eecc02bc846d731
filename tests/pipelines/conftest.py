"""Fixtures shared by the input-rule tests (``test_sources*.py``)."""

import pytest


@pytest.fixture
def tree(tmp_path):
    """A folder of inputs: ``a/one.mp4``, ``a/three.mov``, ``a/b/two.MKV``, ``a/b/four name
    é.webm`` (sources by extension, case-insensitive, a space and a non-ASCII letter) and
    ``a/b/notes.txt`` (skipped); each file holds one byte."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b").mkdir()
    for rel in ("a/one.mp4", "a/b/two.MKV", "a/b/notes.txt", "a/three.mov", "a/b/four name é.webm"):
        (tmp_path / rel).write_bytes(b"x")
    return tmp_path
