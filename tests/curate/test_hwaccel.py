"""GPU codec selection (curate.codec.hwaccel): the CPU fallback on a machine without a
working CUDA device, the NVENC option mapping, and the clip-id rule of the extract stage.

Nothing here needs a GPU; bench/gpu_check.sh checks NVDEC/NVENC on a GPU node.
"""

import logging
import os

import numpy as np
import pytest

from curate.codec import ClipWriter, iter_frames, pick_decoder, pick_encoder
from curate.codec import hwaccel
from curate.extract import ExtractStage
from curate.ids import clip_id
from curate.probe import ProbeStage
from curate.tasks import ClipTask, SourceTask
from schemas import Span
from support.synth import write_video

X264_TODAY = {"crf": "23", "preset": "veryfast", "threads": "1", "x264-params": "mbtree=0"}


@pytest.fixture(autouse=True)
def _fresh_verdicts():
    hwaccel.reset()
    yield
    hwaccel.reset()


@pytest.fixture
def real_gpu_absent():
    """The machine's own verdicts must say 'no GPU path' (true on this project's CI)."""
    if hwaccel.cuda_verdict() is None or hwaccel.nvenc_verdict() is None:
        pytest.skip("a CUDA device works here: the fallback cannot be observed")


@pytest.fixture
def fake_gpu(monkeypatch):
    """A build that offers NVDEC/NVENC whose device opens (the probes succeed)."""
    for name in ("_cuda_built", "_nvenc_built"):
        monkeypatch.setattr(hwaccel, name, lambda: True)
    for name in ("_open_cuda", "_open_nvenc"):
        monkeypatch.setattr(hwaccel, name, lambda: None)


def _frames(n=12, h=64, w=96):
    """Frames with a bright square moving right one 4-pixel step per frame."""
    out = []
    for i in range(n):
        img = np.full((h, w, 3), 40, np.uint8)
        img[16:40, 4 * i:4 * i + 24] = (220, 180, 30)
        out.append(img)
    return out


def _clip_bytes(path, frames, **kw):
    with ClipWriter(path, 96, 64, 24.0, **kw) as writer:
        for img in frames:
            writer.write(img)
    with open(path, "rb") as f:
        return f.read()


def test_nvenc_options_map_the_x264_settings():
    assert hwaccel.nvenc_options(23, "veryfast") == {
        "preset": "p3", "tune": "hq", "rc": "vbr", "cq": "23", "b": "0", "bf": "3", "profile": "high"}
    assert [hwaccel.nvenc_options(20, p)["preset"] for p in
            ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")] == \
        ["p1", "p2", "p3", "p4", "p4", "p5", "p6"]
    assert hwaccel.nvenc_options(0, "slow")["cq"] == "1"  # NVENC reads cq=0 as "automatic"
    assert hwaccel.nvenc_options(51, "slow")["cq"] == "51"
    assert hwaccel.nvenc_options(23, "ultrafast")["bf"] == "0"
    with pytest.raises(ValueError, match="unknown x264 preset"):
        hwaccel.nvenc_options(23, "placebo-ish")


def test_default_writer_keeps_todays_x264_options(tmp_path):
    w = ClipWriter(str(tmp_path / "a.mp4"), 96, 64, 24.0)
    assert (w.choice.codec_name, w.options) == ("libx264", X264_TODAY)
    assert pick_encoder("libx264", 18, "slow").options == {**X264_TODAY, "crf": "18", "preset": "slow"}


def test_unknown_settings_are_errors():
    with pytest.raises(ValueError, match="decoder must be one of"):
        pick_decoder("vaapi")
    with pytest.raises(ValueError, match="encoder must be one of"):
        pick_encoder("x265")


def test_auto_and_explicit_fall_back_here_with_a_reason(real_gpu_absent, caplog):
    with caplog.at_level(logging.INFO, logger="curate.codec.hwaccel"):
        auto_enc, nv_enc = pick_encoder("auto"), pick_encoder("nvenc")
        auto_dec, nv_dec = pick_decoder("auto"), pick_decoder("nvdec")
    assert (auto_enc.name, auto_enc.codec_name, auto_enc.options) == ("libx264", "libx264", X264_TODAY)
    assert nv_enc.options == X264_TODAY and nv_enc.name == "libx264"
    assert "encoder nvenc -> libx264: " in nv_enc.reason and "h264_nvenc" in nv_enc.reason
    assert (auto_dec.name, auto_dec.hwaccel, nv_dec.name, nv_dec.hwaccel) == ("cpu", None, "cpu", None)
    assert nv_dec.reason.startswith("decoder nvdec -> cpu: ")
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # explicit requests warn; auto is told at info; each reason once per process
    assert len(warned) == 2 and any("nvenc requested" in m for m in warned)
    assert any("nvdec requested" in m for m in warned)


def test_build_offers_nvenc_but_device_fails_falls_back(monkeypatch, caplog):
    calls = []

    def no_device():
        calls.append(1)
        raise RuntimeError("CUDA_ERROR_NO_DEVICE")

    monkeypatch.setattr(hwaccel, "_nvenc_built", lambda: True)
    monkeypatch.setattr(hwaccel, "_open_nvenc", no_device)
    monkeypatch.setattr(hwaccel, "_cuda_built", lambda: True)
    monkeypatch.setattr(hwaccel, "_open_cuda", no_device)
    with caplog.at_level(logging.INFO, logger="curate.codec.hwaccel"):
        first, second = pick_encoder("nvenc", 20, "medium"), pick_encoder("auto", 20, "medium")
        again = pick_encoder("nvenc", 20, "medium")
        dec = pick_decoder("auto")
    assert first.codec_name == second.codec_name == "libx264"
    assert first.options == {**X264_TODAY, "crf": "20", "preset": "medium"}
    assert "h264_nvenc does not open (RuntimeError: CUDA_ERROR_NO_DEVICE)" in second.reason
    assert dec.name == "cpu" and "no CUDA device opens (RuntimeError: CUDA_ERROR_NO_DEVICE)" in dec.reason
    assert len(calls) == 2  # one encoder probe and one device probe, cached for the process
    assert again == first
    told = [(r.levelno, r.getMessage()) for r in caplog.records if "h264_nvenc does not open" in r.getMessage()]
    assert [lv for lv, _ in told] == [logging.WARNING, logging.INFO]  # once per setting and process


def test_build_without_nvenc_is_named_as_the_reason(monkeypatch):
    monkeypatch.setattr(hwaccel, "_nvenc_built", lambda: False)
    monkeypatch.setattr(hwaccel, "_cuda_built", lambda: False)
    assert pick_encoder("auto").reason == "encoder auto -> libx264: this FFmpeg build has no h264_nvenc"
    assert pick_decoder("nvdec").reason == "decoder nvdec -> cpu: this FFmpeg build has no cuda hwaccel"


def test_working_device_selects_the_gpu_paths(fake_gpu):
    enc = pick_encoder("auto", 20, "slow")
    assert (enc.name, enc.codec_name) == ("nvenc", "h264_nvenc")
    assert enc.options == hwaccel.nvenc_options(20, "slow")
    dec = pick_decoder("auto")
    assert dec.name == "nvdec" and dec.hwaccel is not None
    assert pick_decoder("cpu").hwaccel is None and pick_encoder("libx264").codec_name == "libx264"
    # the stage rules the GPU out without a GPU share, however the probes answer
    assert ExtractStage(encoder="nvenc").encoder_choice().codec_name == "libx264"
    assert ExtractStage(decoder="nvdec").decoder_setting() == "cpu"


def test_fallback_clip_bytes_equal_the_default_paths(real_gpu_absent, tmp_path):
    frames = _frames()
    default = _clip_bytes(str(tmp_path / "d.mp4"), frames)
    assert _clip_bytes(str(tmp_path / "a.mp4"), frames, encoder="auto") == default
    assert _clip_bytes(str(tmp_path / "n.mp4"), frames, encoder="nvenc") == default
    path = str(tmp_path / "d.mp4")
    cpu = [f.image for f in iter_frames(path, size=(48, 32))]
    nvdec = [f.image for f in iter_frames(path, size=(48, 32), decoder="nvdec")]
    assert len(cpu) == len(nvdec) == 12
    assert all(np.array_equal(a, b) for a, b in zip(cpu, nvdec))


def _span_task(tmp_path, stage):
    os.makedirs(tmp_path, exist_ok=True)
    path = str(tmp_path / "src.mp4")
    write_video(path, _frames(n=24), fps=24)
    src = ProbeStage()(SourceTask(path=path, work_dir="")).source
    span = Span(shot_index=0, start_frame=0, end_frame=24, start_s=0.0, end_s=1.0)
    cid = clip_id(src.source_id, 0, 24, stage.clip_settings())
    return ClipTask(source=src, span=span, clip_id=cid, work_dir=str(tmp_path / "work"))


def test_extract_ids_and_bytes_unchanged_when_the_gpu_falls_back(real_gpu_absent, tmp_path):
    cpu = ExtractStage(short_side=64, decoder="cpu", encoder="libx264")
    gpu = ExtractStage(short_side=64, decoder="nvdec", encoder="nvenc", resources={"gpus": 0.5})
    auto = ExtractStage(short_side=64)
    assert cpu.clip_settings() == gpu.clip_settings() == auto.clip_settings() == \
        {"short_side": 64, "max_fps": 24.0, "crf": 23, "preset": "veryfast"}
    assert cpu.settings() == gpu.settings()  # the work-store guard sees no change either
    out = []
    for i, stage in enumerate((cpu, gpu)):
        task = stage.process(_span_task(tmp_path / str(i), stage))
        with open(os.path.join(task.work_dir, "clips", f"{task.clip_id}.mp4"), "rb") as f:
            out.append((task.clip_id, task.record.clip.num_frames, f.read()))
    assert out[0] == out[1] and out[0][1] == 24


def test_clip_id_names_the_resolved_nvenc_and_workers_must_match(fake_gpu, monkeypatch):
    stage = ExtractStage(encoder="auto", resources={"gpus": 0.25})
    assert stage.clip_settings()["encoder"] == "nvenc"
    assert stage.settings()["encoder"] == "nvenc"
    assert ExtractStage(encoder="libx264", resources={"gpus": 0.25}).clip_settings().get("encoder") is None
    # pinned: a worker where NVENC does not open refuses rather than write x264 under an nvenc id
    hwaccel.reset()
    monkeypatch.setattr(hwaccel, "_open_nvenc", lambda: (_ for _ in ()).throw(RuntimeError("no device")))
    with pytest.raises(RuntimeError, match="clip ids name nvenc"):
        stage.encoder_choice()


def test_explicit_nvdec_without_a_gpu_share_is_said_and_the_run_records_its_codecs(real_gpu_absent, caplog):
    """An explicit ``nvdec`` in a stage with no GPU share decodes on the CPU, as ``auto``
    does, but says so (before, silently); the codecs a run records are the resolved ones."""
    stage = ExtractStage(decoder="nvdec", encoder="nvenc")
    with caplog.at_level(logging.INFO, logger="curate.codec.hwaccel"):
        assert stage.decoder_setting() == "cpu"
        codecs = stage.codecs()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("decoder: nvdec requested, using the CPU path: the extract stage has no GPU share")
               for m in warned), warned
    assert codecs["encoder"] == "libx264" and codecs["decoder"] == "cpu"
    assert codecs["encoder_reason"].startswith("encoder nvenc -> libx264: the extract stage has no GPU share")
    assert ExtractStage(decoder="auto").codecs()["decoder"] == "cpu"
    assert ExtractStage(decoder="nvdec", resources={"gpus": 0.5}).decoder_setting() == "nvdec"  # resolved per worker
