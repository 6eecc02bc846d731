"""Source names in progress lines (pipelines.pathtext.short_names)."""

from pipelines.pathtext import short_names


def test_a_name_shared_by_two_folders_shows_the_folders_below_their_common_one():
    """A walk-through: two 'bird.mkv: 1 clip made' lines from two folders read as one source twice."""
    got = short_names(["/in/asl/bird.mkv", "/in/more/asl/bird.mkv", "/in/asl/cat.mkv"])
    assert got == {"/in/asl/bird.mkv": "asl/bird.mkv", "/in/more/asl/bird.mkv": "more/asl/bird.mkv",
                   "/in/asl/cat.mkv": "cat.mkv"}
    urls = short_names(["s3://b/run/x/a.mp4", "s3://b/run/y/a.mp4"])
    assert urls == {"s3://b/run/x/a.mp4": "x/a.mp4", "s3://b/run/y/a.mp4": "y/a.mp4"}
    mixed = short_names(["s3://b/a.mp4", "/in/a.mp4"])  # nothing in common: the whole paths
    assert mixed == {"s3://b/a.mp4": "s3://b/a.mp4", "/in/a.mp4": "/in/a.mp4"}


def test_a_line_break_in_a_name_does_not_break_the_progress_line():
    assert short_names(["/in/two\nlines\t.mp4"]) == {"/in/two\nlines\t.mp4": "two\\nlines\\t.mp4"}
