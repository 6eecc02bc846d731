"""Every file in a folder is accounted for: curated, rejected with a reason, or skipped in
the manifest with its rule (issue 8, kind 5); a partly decoded source is counted (kind 6)."""

import json
import os

import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines.runner import run_pipeline
from pipelines.sources import InputList
from support.hostile import _frames
from support.pipelines import TEST_OVERRIDES, make_pipeline
from support.streams import corrupt_middle
from support.synth import Shot, encode, shots_video


def _gif(path: str, n: int = 50) -> None:
    """An animated GIF: ``n`` frames of a panning scene, 40 ms each (2 s at 25 fps); another
    scene than the tests' mp4s (the same one is a duplicate of their clips, kept at their
    higher frame rate)."""
    frames = [Image.fromarray(img) for img in _frames(n, 160, 120, seed=11)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=40, loop=0)


def test_a_folder_with_a_gif_and_text_files(ray_session, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _gif(str(src / "anim.gif"))
    shots_video(str(src / "clip.mp4"), [Shot(31, 50, pan=(0.05, 0.0))], 160, 120)
    (src / "LICENSE.txt").write_text("\n".join(f"clause {i}" for i in range(200)))
    (src / "README.md").write_text("# footage\n")
    encode(str(tmp_path / "good.mp4"), _frames(90), options={"g": "30"})
    corrupt_middle(str(tmp_path / "good.mp4"), str(tmp_path / "corrupt.mp4"))
    (tmp_path / "more.txt").write_text("corrupt.mp4\n")
    out = tmp_path / "out"
    summary = run_pipeline(make_pipeline(TEST_OVERRIDES), [str(src), InputList(str(tmp_path / "more.txt"))],
                           str(out), progress=False)
    kept = pq.read_table(out / "index.parquet").to_pylist()
    rejects = pq.read_table(out / "rejects.parquet").to_pylist()
    curated = {os.path.basename(r["source"]["path"]) for r in kept}
    rejected = {(os.path.basename(r["source_path"]), r["stage"], r["reason"]) for r in rejects}
    assert {"anim.gif", "clip.mp4", "corrupt.mp4"} <= curated | {name for name, _, _ in rejected}
    gif = [r["source"] for r in kept if r["source"]["path"].endswith("anim.gif")]
    assert gif and gif[0]["codec"] == "gif" and gif[0]["num_frames"] == 50
    assert not any(reason == "not_found" for _, _, reason in rejected)
    assert ("corrupt.mp4", "split", "partially_decoded") in rejected
    assert all(r["source"]["partial"] == r["source"]["path"].endswith("corrupt.mp4") for r in kept)
    manifest = json.loads((out / "manifest.json").read_text())
    txt_rule = "not a video extension (.txt); list files need --input-list"
    assert manifest["skipped"] == [{"path": str(src / "LICENSE.txt"), "rule": txt_rule},
                                   {"path": str(src / "README.md"), "rule": "not a video extension (.md)"}]
    assert manifest["counts"]["skipped"] == 2
    assert manifest["counts"]["rejects"].get("split:partially_decoded") == 1
    # hours in count the corrupt file's whole 3 s (90 frames at 30 fps), its lost part too,
    # so the funnel's rows add up (found by a walk-through: 1156 % of the input was lost)
    whole = {os.path.basename(r["source"]["path"]): r["source"]["duration_s"] for r in kept}
    assert manifest["hours_in"] * 3600 == pytest.approx(whole["anim.gif"] + whole["clip.mp4"] + 3.0, abs=0.02)
    assert summary.sources == 3 and summary.sources_rejected == 0
    assert "skipped: 2 input entries that are not videos or were passed over (manifest.json lists each with its rule)" \
        in summary.lines()


def test_a_gif_whose_last_frame_is_held(ray_session, tmp_path):
    """A GIF's last frame shown for 1 s (its delay) where the others last 40 ms: the source
    lasts 9 x 0.04 + 1.0 = 1.36 s and its clip runs to that end, the hold included; the
    last frame had lasted a typical interval (1.2 s), so the hold was lost (a break test)."""
    src = tmp_path / "in"
    src.mkdir()
    frames = [Image.fromarray(img) for img in _frames(10, 160, 120)]
    frames[0].save(src / "held.gif", save_all=True, append_images=frames[1:], duration=[40] * 9 + [1000], loop=0)
    out = tmp_path / "out"
    run_pipeline(make_pipeline(TEST_OVERRIDES), [str(src)], str(out), progress=False)
    kept = pq.read_table(out / "index.parquet").to_pylist()
    assert len(kept) == 1
    assert kept[0]["source"]["duration_s"] == pytest.approx(1.36, abs=1e-6)
    assert kept[0]["span"]["end_s"] == pytest.approx(1.36, abs=1e-6)
    fps = kept[0]["clip"]["fps"]
    assert kept[0]["clip"]["num_frames"] == int(1.36 * fps + 1e-3)
