"""--input expansion: files, folders, globs, list files (--input-list), skipped files, missing paths."""

import os

import pytest

from pipelines.sources import InputList, Skipped, expand_inputs, scan_inputs


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


def test_a_name_that_is_not_utf8_is_skipped_with_its_rule_not_a_crash(tmp_path):
    """A break test: a video named in Latin-1 (``caf\\xe9.mov``, as an old archive unpacks)
    stopped the whole run with an internal error (exit 1) when its id was made."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.mp4").write_bytes(b"x")
    latin1 = os.path.join(os.fsencode(folder), b"caf\xe9.mov")
    open(latin1, "wb").close()
    found = scan_inputs([str(folder)])
    assert found.sources == [str(folder / "good.mp4")]
    assert found.skipped == [Skipped(f"{folder}/caf\\xe9.mov",
                                     "name is not UTF-8 (e.g. Latin-1 from an old archive): rename it to curate it")]
    found.skipped[0].path.encode("utf-8")  # writable to the manifest


def test_a_list_in_another_encoding_is_told_to_be_saved_as_utf8(tmp_path):
    from pipelines.exits import UsageError

    listed = tmp_path / "list.txt"
    listed.write_bytes("café.mp4\nother.mp4\n".encode("latin-1"))
    with pytest.raises(UsageError, match="list.txt: not UTF-8 text; save the list as UTF-8"):
        scan_inputs([InputList(str(listed))])


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


def test_a_linked_subfolder_is_searched_and_a_link_back_up_is_no_loop(tmp_path):
    """A break test: a subfolder linked into an input folder was one skipped file "with no
    file extension", its videos never searched. A link back up to the input or above it is
    listed as passed over (a link to the input's parent had brought in the folders beside
    the input)."""
    footage = tmp_path / "elsewhere"
    footage.mkdir()
    (footage / "far.mp4").write_bytes(b"x")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "near.mkv").write_bytes(b"x")
    (folder / "linked").symlink_to(footage, target_is_directory=True)
    (footage / "up").symlink_to(folder, target_is_directory=True)  # in -> linked -> up -> in ...
    (folder / "parent").symlink_to(tmp_path, target_is_directory=True)  # above the input
    (tmp_path / "beside").mkdir()
    (tmp_path / "beside" / "other.mp4").write_bytes(b"x")
    found = scan_inputs([str(folder)])
    assert found.sources == [str(folder / "linked" / "far.mp4"), str(folder / "near.mkv")]
    above = "a link to a folder that holds the input folder: not followed"
    assert [(s.path, s.rule) for s in found.skipped] == [
        (str(folder / "linked" / "up"), above), (str(folder / "parent"), above)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])  # with a BOM (Notepad), without
def test_a_utf16_list_is_told_to_be_saved_as_utf8(tmp_path, encoding):
    """A break test: UTF-16 without a BOM read as UTF-8 with NUL bytes (internal error,
    exit 1); with one it was called "not a text file"."""
    from pipelines.exits import UsageError

    listed = tmp_path / "list.txt"
    listed.write_bytes("clip.mp4\nother.mp4\n".encode(encoding))
    with pytest.raises(UsageError, match="not UTF-8 text; save the list as UTF-8"):
        scan_inputs([InputList(str(listed))])


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


def test_a_folder_that_cannot_be_read_is_a_skipped_entry(tmp_path, monkeypatch):
    """A break test: a subfolder without read permission was left out silently; a hidden
    one (a locked ``.Trashes``) stays a hidden entry. Root reads any folder: under root the
    listing of a folder with mode 0 is refused as the kernel refuses anyone else."""
    folder = tmp_path / "in"
    (folder / "locked").mkdir(parents=True)
    (folder / ".Trashes").mkdir()
    (folder / "locked" / "inside.mp4").write_bytes(b"x")
    (folder / "clip.mp4").write_bytes(b"x")
    if os.geteuid() == 0:
        real = os.scandir

        def scandir(path):
            if os.stat(path).st_mode & 0o777 == 0:
                raise PermissionError(13, "Permission denied", path)
            return real(path)

        monkeypatch.setattr(os, "scandir", scandir)
    for name in ("locked", ".Trashes"):
        (folder / name).chmod(0)
    try:
        found = scan_inputs([str(folder)])
    finally:
        for name in ("locked", ".Trashes"):
            (folder / name).chmod(0o755)
    assert found.sources == [str(folder / "clip.mp4")]
    assert [(s.path, s.rule) for s in found.skipped] == [
        (str(folder / ".Trashes"), "hidden: a name starting with '.' inside a folder or glob"),
        (str(folder / "locked"), "folder cannot be read, its files were not searched (Permission denied)")]


def test_a_tree_of_any_depth_is_searched(tmp_path):
    """A break test: a tree 1100 folders deep was a RecursionError (exit 1) in ``os.walk``."""
    import subprocess
    import sys

    depth = sys.getrecursionlimit() + 100
    deep = tmp_path / "in"
    os.makedirs(deep)
    here = os.open(deep, os.O_RDONLY)  # relative steps: the full path is over PATH_MAX
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=here)
            nxt = os.open("d", os.O_RDONLY, dir_fd=here)
            os.close(here)
            here = nxt
        os.close(os.open("clip.mp4", os.O_WRONLY | os.O_CREAT, dir_fd=here))
    finally:
        os.close(here)
    try:
        found = scan_inputs([str(deep)])
    finally:  # pytest's own clean-up of old temp folders recurses and would fail on it
        subprocess.run(["rm", "-rf", str(deep)], check=True)
    assert found.sources == [str(deep) + "/d" * depth + "/clip.mp4"]


def test_a_hidden_link_never_hides_a_visible_folder(tmp_path):
    """A break test: the walk visits each real folder once, under whichever name came
    first; a hidden link (``.alias -> videos``) had listed the folder's videos as hidden and
    never curated them. Folders reached through no link come first, and a hidden link or
    one inside a hidden folder is not followed (listed once, as hidden)."""
    folder = tmp_path / "in"
    (folder / "videos").mkdir(parents=True)
    (folder / "videos" / "eat.mkv").write_bytes(b"x")
    (folder / ".alias").symlink_to("videos", target_is_directory=True)
    (folder / ".hid").mkdir()
    (folder / ".hid" / "elsewhere").symlink_to(folder / "videos", target_is_directory=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "far.mp4").write_bytes(b"x")
    (folder / "a-link").symlink_to(outside, target_is_directory=True)
    (folder / ".hid" / "far").symlink_to(outside, target_is_directory=True)
    found = scan_inputs([str(folder)])
    assert found.sources == [str(folder / "a-link" / "far.mp4"), str(folder / "videos" / "eat.mkv")]
    hidden = "hidden: a name starting with '.' inside a folder or glob"
    assert [(s.path, s.rule) for s in found.skipped] == [
        (str(folder / ".alias"), hidden), (str(folder / ".hid" / "elsewhere"), hidden),
        (str(folder / ".hid" / "far"), hidden)]


def test_a_fifo_named_like_a_video_is_skipped_not_probed(tmp_path):
    """A break test: ``mkfifo pipe.mp4`` in an input folder was a source whose probe waited
    on it until its time limit (2 x 120 s)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(b"x")
    os.mkfifo(folder / "pipe.mp4")
    rule = "not a regular file (a FIFO): nothing to read whole"
    found = scan_inputs([str(folder)])
    assert found.sources == [str(folder / "clip.mp4")]
    assert [(s.path, s.rule) for s in found.skipped] == [(str(folder / "pipe.mp4"), rule)]
    found = scan_inputs([str(folder / "pipe.mp4"), str(folder / "clip.mp4")])  # named directly
    assert [(s.path, s.rule) for s in found.skipped] == [(str(folder / "pipe.mp4"), rule)]


def _linked_tree(tmp_path):
    """in/{a,b,.hid} with a video each, a sibling folder beside in/, and links inside in/:
    to b (relative, absolute, through a chain), to .hid, to .., to . and to in/ itself."""
    folder = tmp_path / "in"
    for sub, name in (("a", "v1.mkv"), ("b", "v2.mkv"), (".hid", "v3.mkv")):
        (folder / sub).mkdir(parents=True)
        (folder / sub / name).write_bytes(b"x")
    (tmp_path / "sibling").mkdir()
    (tmp_path / "sibling" / "v4.mkv").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    for name, target in (("lb", "b"), ("lb_abs", str(folder / "b")), ("chain1", "chain2"), ("chain2", "b"),
                         ("c", ".hid"), ("up", ".."), ("self", "."), ("rootabs", str(folder))):
        (folder / name).symlink_to(target, target_is_directory=True)
    return folder


def test_a_glob_walks_its_matches_as_one_folder_walk(tmp_path):
    """A break test: ``--input 'in/*'`` walked each match on its own: b's video came again
    through lb, lb_abs and the chain, the whole input through self and rootabs, the folder
    beside it through up, and the hidden folder's video through c (35 sources for 7)."""
    folder = _linked_tree(tmp_path)
    above = "a link to a folder that holds the input folder: not followed"
    hidden = "hidden: a name starting with '.' inside a folder or glob"
    want = [str(folder / "a" / "v1.mkv"), str(folder / "b" / "v2.mkv")]
    walked = scan_inputs([str(folder)])
    assert walked.sources == want
    assert [(s.path, s.rule) for s in walked.skipped] == [
        (str(folder / ".hid" / "v3.mkv"), hidden), (str(folder / "c"), hidden),
        (str(folder / "rootabs"), above), (str(folder / "self"), above), (str(folder / "up"), above)]
    globbed = scan_inputs([str(folder / "*")])  # fsspec's * matches .hid too
    assert globbed.sources == want and globbed.skipped == walked.skipped


def test_one_folder_named_twice_through_two_paths_is_searched_once(tmp_path):
    """A break test: ``--input in/b --input in/lb`` gave b's video twice, once under each
    path. The folder's own path wins, whatever the order."""
    folder = _linked_tree(tmp_path)
    for args in ([folder / "b", folder / "lb"], [folder / "lb", folder / "b"]):
        assert scan_inputs([str(a) for a in args]).sources == [str(folder / "b" / "v2.mkv")]
    assert scan_inputs([str(folder / "lb")]).sources == [str(folder / "lb" / "v2.mkv")]
    assert len(scan_inputs([str(folder), str(folder / "self")]).sources) == 2


def test_a_listed_fifo_is_skipped_not_probed(tmp_path):
    """A break test: a FIFO named in --input-list held the run 4 minutes (its probe's two
    120 s attempts); --input had skipped it."""
    os.mkfifo(tmp_path / "f.mp4")
    (tmp_path / "ok.mkv").write_bytes(b"x")
    (tmp_path / "list.txt").write_text("f.mp4\nok.mkv\n")
    found = scan_inputs([InputList(str(tmp_path / "list.txt"))])
    assert found.sources == [str(tmp_path / "ok.mkv")]
    assert [(s.path, s.rule) for s in found.skipped] == [
        (str(tmp_path / "f.mp4"), "not a regular file (a FIFO): nothing to read whole")]
