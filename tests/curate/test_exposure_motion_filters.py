"""local.yaml's motion floor and blow-out limit: a frozen picture and an overexposed one are
dropped, the same scene moving slowly and exposed normally is kept."""

import numpy as np
import pytest

from support.pipelines import make_pipeline, run_source
from support.synth import render, write_video

FPS = 25.0


def _video(path, drift, gain=1.0, lift=0):
    """3 s of scene 5 at 320x240: its blobs drift at ``drift`` scene widths per second (0: frozen),
    with a little sensor noise that changes every frame (as a real camera's does), its
    levels ``x gain + lift``."""
    rng = np.random.default_rng(0)
    frames = [np.clip(render(5, k / FPS, 320, 240, drift=drift).astype(np.int16) * gain + lift
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


def test_blown_out_picture_is_overexposed_though_its_mean_is_under_max_luma(tmp_path):
    pipeline = make_pipeline()
    assert pipeline.stage("filter").max_clipped_fraction == pytest.approx(0.5)
    _, (normal,) = run_source(pipeline, _video(str(tmp_path / "a.mp4"), 0.01), str(tmp_path / "wa"))
    _, (blown,) = run_source(pipeline, _video(str(tmp_path / "b.mp4"), 0.01, 3.0, 60), str(tmp_path / "wb"))
    assert normal.reject_row is None and normal.record.scores.clipped_fraction < 0.01
    scores = blown.record.scores
    assert scores.luma_mean < pipeline.stage("filter").max_luma  # the mean alone would keep it
    assert scores.clipped_fraction > 0.5
    assert blown.reject_row is not None and blown.reject_row.reason == "overexposed"
