"""A frozen picture held as video is dropped by local.yaml's motion floor; a slow real scene is kept."""

import numpy as np
import pytest

from support.pipelines import make_pipeline, run_source
from support.synth import render, write_video

FPS = 25.0


def _video(path, drift):
    """3 s of scene 5 at 320x240: its blobs drift at ``drift`` scene widths per second (0: frozen),
    with a little sensor noise that changes every frame (as a real camera's does)."""
    rng = np.random.default_rng(0)
    frames = [np.clip(render(5, k / FPS, 320, 240, drift=drift).astype(np.int16)
                      + (rng.normal(0, 1.0, (240, 320, 1)) if drift else 0), 0, 255).astype(np.uint8)
              for k in range(int(3 * FPS))]
    write_video(path, frames, FPS)
    return path


@pytest.mark.parametrize("drift, kept", [(0.0, False), (0.01, True)])
def test_motion_floor_drops_a_frozen_picture_only(tmp_path, drift, kept):
    pipeline = make_pipeline()
    assert pipeline.stage("filter").min_motion == pytest.approx(0.0002)
    task, clips = run_source(pipeline, _video(str(tmp_path / "v.mp4"), drift), str(tmp_path / "work"))
    assert len(clips) == 1
    clip = clips[0]
    motion = clip.record.scores.motion
    if kept:
        assert clip.reject_row is None and 0.0002 < motion < 0.01
    else:
        assert clip.reject_row is not None and clip.reject_row.reason == "low_motion"
        assert motion < 0.0001
