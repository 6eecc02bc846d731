"""local.yaml's motion floor and blow-out limit: a frozen picture and an overexposed one are
dropped, the same scene moving slowly and exposed normally is kept."""

from types import SimpleNamespace

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


@pytest.mark.parametrize("drift, kept", [(0.0, False), (0.01, True)])
def test_a_still_with_film_grain_is_low_motion_by_its_change_and_a_slow_drift_is_kept(tmp_path, drift, kept):
    """A break test: grain of 3 levels on a still held as video made the optical flow move
    (motion over min_motion), and the still was kept; its picture changes by about 1 level."""
    rng = np.random.default_rng(1)
    frames = [np.clip(render(5, k / FPS, 320, 240, drift=drift).astype(np.int16)
                      + rng.normal(0, 3.0, (240, 320, 1)), 0, 255).astype(np.uint8) for k in range(int(3 * FPS))]
    write_video(str(tmp_path / "v.mp4"), frames, FPS)
    pipeline = make_pipeline({"filter": {"min_change": 1.5}})  # (off in local.yaml: README)
    _, clips = run_source(pipeline, str(tmp_path / "v.mp4"), str(tmp_path / "work"))
    assert len(clips) == 1
    scores, row = clips[0].record.scores, clips[0].reject_row
    if kept:
        assert row is None and scores.change > 4
    else:
        assert scores.motion > 0.0002 and scores.change <= 1.5  # the flow moves; the picture does not
        assert row is not None and row.reason == "low_motion" and "change=" in row.detail


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


def test_a_dark_sharp_clip_is_not_blurry_and_a_dark_blurred_one_is():
    import cv2

    from curate.score import focus, sharpness
    from curate.stage import RejectError
    from schemas import Scores

    flt = make_pipeline().stage("filter")
    assert (flt.min_sharpness, flt.sharp_focus) == (5.0, 3.5)
    # a scene with hard-edged detail (6 px cells, as bricks or leaves) at 224 px, 8 frames
    cells = np.random.default_rng(0).integers(-8, 9, (38, 60, 1)).repeat(6, axis=0).repeat(6, axis=1)
    sharp = np.stack([np.clip(128 + 0.4 * (render(5, k / 4, 336, 224, drift=0.1) - 128.0) + cells[:224, k:k + 336], 0, 255)
                      for k in range(8)]).astype(np.float64)
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 4) for f in sharp])

    def clip(frames, gain):
        return np.clip(np.rint(frames * gain), 0, 255).astype(np.uint8)  # 8-bit levels, as decoded

    def verdict(frames):
        scores = Scores(sharpness=sharpness(frames), focus=focus(frames), luma_mean=100.0)
        try:
            flt.process(SimpleNamespace(record=SimpleNamespace(scores=scores)))
            return "kept"
        except RejectError as err:
            return err.reason

    dark_sharp, dark_blurred = clip(sharp, 0.2), clip(blurred, 0.2)
    assert sharpness(dark_sharp) < flt.min_sharpness < sharpness(clip(sharp, 1.0))  # contrast squared
    assert focus(dark_sharp) == pytest.approx(focus(clip(sharp, 1.0)), rel=0.25)  # gain-free
    assert focus(dark_blurred) < flt.sharp_focus < focus(dark_sharp)  # quantisation noise does not count
    assert (verdict(clip(sharp, 1.0)), verdict(dark_sharp)) == ("kept", "kept")
    assert (verdict(clip(blurred, 1.0)), verdict(dark_blurred)) == ("blurry", "blurry")


def test_change_is_the_largest_move_from_the_first_frame_in_luma_levels():
    from curate.score import change

    still = np.full((5, 100, 100), 90, np.uint8)
    assert change(still) == 0.0 and change(still[:1]) == 0.0
    moved = still.copy()
    moved[3, 40:60, 40:60] = 140  # 4 % of the picture 50 levels brighter in one frame
    assert 40 <= change(moved) <= 50
    drift = still.copy()
    drift[1:, :, :] += np.arange(1, 5, dtype=np.uint8)[:, None, None]  # a slow rise: 1 level a step
    assert change(drift) == 4.0  # from the first frame, not the one before


def _blurred_video(path, w, h, blur_px):
    """3 s of scene 5 with hard-edged detail (12 px cells, as bricks or leaves) sliding 2 px
    a frame, blurred by ``blur_px`` (Gaussian sigma) at 640x360, then scaled to ``w x h``:
    one picture, in focus or not, at another resolution."""
    import cv2

    cells = np.random.default_rng(0).integers(-30, 31, (30, 70, 1)).repeat(12, axis=0).repeat(12, axis=1)
    frames = []
    for k in range(int(3 * FPS)):
        img = np.clip(render(5, k / FPS, 640, 360, drift=0.0) + cells[:360, 2 * k:2 * k + 640], 0, 255).astype(np.uint8)
        img = cv2.GaussianBlur(img, (0, 0), blur_px) if blur_px else img
        frames.append(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA))
    write_video(path, frames, FPS)
    return path


def test_a_tiny_picture_is_judged_at_112_px(tmp_path):
    """A break test: sharpness was the Laplacian at the sample's own size, and a source under
    224 px is never scaled up, so a smaller copy always scored sharper (one footage window
    36 at 768x432, 654 at 2x2) and tiny sources passed the blur filter. Under 112 px
    (``curate.score.SHARP_SIDE``) a sample is now judged scaled up to 112."""
    pipeline = make_pipeline()
    verdicts, sharp = {}, {}
    for name, (w, h, blur) in {"blurred": (640, 360, 12), "blurred tiny": (96, 54, 12), "sharp": (640, 360, 0),
                               "sharp small": (160, 90, 0), "sharp tiny": (96, 54, 0)}.items():
        _, (clip,) = run_source(pipeline, _blurred_video(str(tmp_path / f"{name}.mp4"), w, h, blur),
                                str(tmp_path / f"w {name}"))
        verdicts[name] = clip.reject_row.reason if clip.reject_row else "kept"
        sharp[name] = clip.record.scores.sharpness
    assert verdicts == {"blurred": "blurry", "blurred tiny": "blurry", "sharp": "kept", "sharp small": "kept",
                        "sharp tiny": "kept"}, sharp
    assert sharp["blurred tiny"] < 2 * sharp["blurred"]  # (at its own size: 47.6 against 4.5)
