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


def test_paths_with_only_the_root_in_common_are_shown_whole():
    got = short_names(["/tmp/in/bird.mkv", "/work/footage/bird.mkv"])
    assert got == {"/tmp/in/bird.mkv": "/tmp/in/bird.mkv", "/work/footage/bird.mkv": "/work/footage/bird.mkv"}


def test_report_tiles_of_a_source_and_its_identical_copy_name_their_folders():
    """A walk-through: the copy dropped as an identical source was titled 'bottle.mp4', as
    its kept original, so the page read as a file duplicating itself."""
    import pyarrow as pa

    from pipelines.report_html.data import RunData
    from pipelines.report_html.tiles import dropped_tiles, kept_tiles

    kept = pa.table({"clip_id": ["c1"], "source.path": ["/in/a/bottle.mp4"], "span.start_s": [0.0],
                     "span.end_s": [2.0], "caption.text": ["x"], "shard": ["shard-000000.tar"]})
    rejects = pa.table({"stage": ["dedup"], "reason": ["duplicate"], "clip_id": ["c1"],
                        "source_path": ["/in/b/bottle.mp4"], "detail": ["identical source: same clip as in "
                                                                        "/in/a/bottle.mp4"],
                        "duplicate_of": ["c1"], "span.start_s": [0.0], "span.end_s": [2.0], "duration_s": [2.0]})
    run = RunData("out", {"pipeline": {"stages": [{"stage": "dedup"}]}}, kept, rejects)
    assert kept_tiles(run, 5)[0].title == "a/bottle.mp4 @ 0.00-2.00 s"
    assert dropped_tiles(run, 5)[0]["tiles"][0].title == "b/bottle.mp4 @ 0.00-2.00 s"
