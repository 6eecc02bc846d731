"""--input and --input-list with URLs: store objects and folders (memory://, s3 folder
markers, ``..`` in a store list), file:// paths, web addresses, and schemes by their case."""

import pytest

from pipelines.sources import InputList, expand_inputs, scan_inputs


def test_a_missing_store_url_is_an_error_like_a_local_path():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/vc-src/in/a.mp4", b"x")
    assert expand_inputs(["memory://vc-src/in/a.mp4"]) == ["memory://vc-src/in/a.mp4"]
    for missing in ("memory://vc-src/in/nothere.mp4", "memory://vc-src/nodir/"):
        with pytest.raises(FileNotFoundError, match="no such file or folder"):  # before: a run of
            expand_inputs([missing])  # not_found rows (exit 4), or a 'no file extension' skip
    with pytest.raises(FileNotFoundError, match="no such file"):
        expand_inputs([InputList("memory://vc-src/lists/none.txt")])


def test_a_store_list_with_dot_dot_paths_names_the_files_it_means():
    """``../big/a.mkv`` in ``s3://bkt/lists/l.txt`` stayed ``s3://bkt/lists/../big/a.mkv``, a
    not_found row (break test); as in a local list it is ``s3://bkt/big/a.mkv``."""
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/vc-dots/lists/l.txt", b"../big/a.mkv\nsub/../../big/b.mkv\nc.mkv\n")
    assert expand_inputs([InputList("memory://vc-dots/lists/l.txt")]) == [
        "memory://vc-dots/big/a.mkv", "memory://vc-dots/big/b.mkv", "memory://vc-dots/lists/c.mkv"]


def test_store_folder_markers_are_no_input_files():
    """s3fs lists the empty ``sub/`` keys some tools make for folders; they were counted as
    skipped files with an empty name (break test)."""
    from pipelines.sources import _files

    class Listing:  # what s3fs's find gives for a prefix with folder markers
        def isdir(self, path):
            return True

        def find(self, root):
            return ["bkt/in/a.mp4", "bkt/in/sub/", "bkt/in/dir.mp4/", "bkt/in/sub/b.mkv"]

    assert _files(Listing(), "bkt/in", False) == [("bkt/in/a.mp4", None), ("bkt/in/sub/b.mkv", None)]


def test_a_file_url_input_is_the_local_path(tree):
    """``--input file:///abs/one.mp4`` was 'no such file or folder' (break test)."""
    path = str(tree / "a" / "one.mp4")
    assert expand_inputs([f"file://{path}"]) == [path]


def test_a_web_address_is_one_source(tmp_path):
    """A break test: ``--input http://host/clip.mp4`` said "no such file or folder" (the
    scheme was cut off before asking the server) while ``--input-list`` took it."""
    import functools
    import http.server
    import threading

    from pipelines.exits import InputNotFound

    (tmp_path / "clip.mp4").write_bytes(b"x" * 100)
    (tmp_path / "notes.txt").write_text("hello")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        found = scan_inputs([f"{base}/clip.mp4", f"{base}/notes.txt"])
        assert found.sources == [f"{base}/clip.mp4"]
        assert [s.path for s in found.skipped] == [f"{base}/notes.txt"]
        # a query (a signed URL) or a fragment (a media fragment, #t=2) is no part of the name
        tails = [f"{base}/clip.mp4?X-Amz-Signature=ab12", f"{base}/clip.mp4#t=2"]
        for tail in tails:
            assert scan_inputs([tail]).sources == [tail]
        assert scan_inputs(tails).sources == sorted(tails)[:1]  # one object: one source
        with pytest.raises(InputNotFound, match="no such file"):
            scan_inputs([f"{base}/gone.mp4"])
    finally:
        server.shutdown()
        server.server_close()


def test_an_upper_case_scheme_is_read_and_an_unknown_one_is_a_usage_error(tmp_path):
    """A break test: ``HTTP://...`` and ``foo://...`` were internal errors (exit 1)."""
    from pipelines.exits import InputNotFound, UsageError

    with pytest.raises(UsageError, match="cannot read foo:// URLs"):
        scan_inputs(["foo://bucket/clip.mp4"])
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    assert scan_inputs([f"FILE://{video}"]).sources == [str(video)]
    with pytest.raises(InputNotFound, match="http://127.0.0.1:9/clip.mp4: no such file, or the server cannot"):
        scan_inputs(["HTTP://127.0.0.1:9/clip.mp4"])  # port 9 (discard): nothing listens
