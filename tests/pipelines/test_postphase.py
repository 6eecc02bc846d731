"""The steps between dedup and the shards (:mod:`pipelines.postphase`): captions on kept
clips, and no restore when every kept clip's work files are there."""

from __future__ import annotations

from pipelines.config import load_pipeline
from pipelines.postphase import post_phase, restore_work
from pipelines.progress import Progress
from pipelines.workstore import WorkStore
from schemas import MotionStep
from tests.support.dedup import clip_record


def _steps(pan_x: float, seconds: float = 2.0, fps: float = 4.0) -> list[MotionStep]:
    n = int(seconds * fps)
    return [MotionStep(t_s=(i + 0.5) / fps, pan_x=pan_x, pan_y=0.0, zoom=0.0, residual=0.0,
                       magnitude=abs(pan_x), luma=100.0) for i in range(n)]


def test_post_phase_captions_every_kept_clip_in_order():
    still, pan = clip_record("c1", "00"), clip_record("c2", "00")
    still.motion_track, pan.motion_track = _steps(0.0), _steps(0.2)  # 0.2 widths/s: over pan_threshold 0.04
    kept, rejects = post_phase(load_pipeline("local"), "/nowhere", Progress(enabled=False), [still, pan])
    assert rejects == [] and [r.clip_id for r in kept] == ["c1", "c2"]
    assert kept[0].caption.text == "0.0-2.0 s: static camera, almost no motion"
    assert "pan" in kept[1].caption.text and kept[1].caption.source == "signals"


def test_post_phase_without_post_stages_or_clips_returns_them_as_they_are():
    pipe = load_pipeline("local")
    pipe.stages = [s for s in pipe.stages if s.name != "caption"]
    rec = clip_record("c1", "00")
    assert post_phase(pipe, "/nowhere", Progress(enabled=False), [rec]) == ([rec], [])
    assert post_phase(load_pipeline("local"), "/nowhere", Progress(enabled=False), []) == ([], [])


def test_restore_work_leaves_clips_whose_files_are_there(tmp_path):
    rec = clip_record("c1", "00")
    work = WorkStore(str(tmp_path / "out"), {})
    clips = tmp_path / "out" / "work" / "clips"
    clips.mkdir(parents=True)
    (clips / "c1.mp4").write_bytes(b"x")
    rejects, walls = [], {}
    def never(fn, calls):
        raise AssertionError("nothing to restore: no call")

    assert restore_work(load_pipeline("local"), work, Progress(enabled=False), [rec], rejects, walls, never) == [rec]
    assert rejects == [] and walls == {}
