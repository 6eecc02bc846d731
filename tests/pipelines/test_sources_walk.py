"""The folder walk behind --input on what is not a plain file in a plain folder: linked
folders and links back up, hidden links, folders that cannot be read, trees of any depth,
FIFOs (in folders and lists), and names that are not UTF-8."""

import os

from pipelines.sources import InputList, Skipped, scan_inputs


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
    itself = "a link to an input folder (searched under its own path): not followed"
    assert [(s.path, s.rule) for s in found.skipped] == [
        (str(folder / "linked" / "up"), itself), (str(folder / "parent"), above)]


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
    itself = "a link to an input folder (searched under its own path): not followed"
    hidden = "hidden: a name starting with '.' inside a folder or glob"
    want = [str(folder / "a" / "v1.mkv"), str(folder / "b" / "v2.mkv")]
    walked = scan_inputs([str(folder)])
    assert walked.sources == want
    assert [(s.path, s.rule) for s in walked.skipped] == [
        (str(folder / ".hid" / "v3.mkv"), hidden), (str(folder / "c"), hidden),
        (str(folder / "rootabs"), itself), (str(folder / "self"), itself), (str(folder / "up"), above)]
    globbed = scan_inputs([str(folder / "*")])  # fsspec's * matches .hid too
    glob_base = "a link to the folder a glob was matched in: not followed"  # (not searched whole: a review)
    assert globbed.sources == want and [(s.path, s.rule) for s in globbed.skipped] == [
        (p, glob_base if rule == itself else rule) for p, rule in ((s.path, s.rule) for s in walked.skipped)]


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
