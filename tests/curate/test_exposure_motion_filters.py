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


def test_a_dark_sharp_clip_is_not_blurry_and_a_blurred_one_is(tmp_path):
    import cv2

    pipeline = make_pipeline()
    flt = pipeline.stage("filter")
    assert (flt.min_sharpness, flt.sharp_focus) == (5.0, 20.0)
    # the scene with fine texture on it (gravel, leaves): sharp, and at a quarter of its exposure
    grain = np.random.default_rng(0).integers(-4, 5, (240, 640, 1))
    frames = [np.clip(render(5, k / FPS, 320, 240, drift=0.01) + grain[:, 2 * k:2 * k + 320], 0, 255).astype(np.uint8)
              for k in range(int(3 * FPS))]
    paths = {"sharp": frames, "dark": [(f * 0.25).astype(np.uint8) for f in frames],
             "blurred": [cv2.GaussianBlur(f, (0, 0), 6) for f in frames]}
    clips = {}
    for name, video in paths.items():
        write_video(str(tmp_path / f"{name}.mp4"), video, FPS)
        clips[name] = run_source(pipeline, str(tmp_path / f"{name}.mp4"), str(tmp_path / name))[1][0]
    sharp, dark, blur = (clips[k].record.scores for k in ("sharp", "dark", "blurred"))
    assert dark.sharpness < flt.min_sharpness < sharp.sharpness  # falls with contrast squared
    assert 0.5 < dark.focus / sharp.focus < 2 and dark.focus > flt.sharp_focus  # about gain-free (8-bit levels, codec)
    assert clips["sharp"].reject_row is None and clips["dark"].reject_row is None
    assert blur.sharpness < flt.min_sharpness and blur.focus < flt.sharp_focus
    assert clips["blurred"].reject_row.reason == "blurry"
