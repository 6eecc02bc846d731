"""The quality stage in a real run (actor pool): a low-resolution source rejected, NSFW scores in the index."""

import copy

import pyarrow.parquet as pq

from support.synth import Shot, shots_video


def test_quality_stage_runs_in_the_pipeline(ray_session, tmp_path):
    from pipelines.config import parse_pipeline
    from pipelines.runner import run_pipeline
    from support.pipelines import TEST_OVERRIDES, local_dict

    data = copy.deepcopy(local_dict())
    names = [s["stage"] for s in data["stages"]]
    data["stages"].insert(names.index("filter") + 1, {"stage": "quality", "min_short_side": 150, "nsfw": True,
                                                      "max_nsfw": 0.99, "resources": {"batch_size": 4}})
    for stage in data["stages"]:
        stage.update(TEST_OVERRIDES.get(stage["stage"], {}))
    (tmp_path / "in").mkdir()
    shots_video(str(tmp_path / "in" / "small.mp4"), [Shot(41, 40)], 160, 120)
    shots_video(str(tmp_path / "in" / "large.mp4"), [Shot(42, 40), Shot(43, 40)], 320, 240)
    run_pipeline(parse_pipeline(data, "test"), [str(tmp_path / "in")], str(tmp_path / "out"), progress=False)
    kept = pq.read_table(tmp_path / "out" / "index.parquet").to_pylist()
    rejects = pq.read_table(tmp_path / "out" / "rejects.parquet").to_pylist()
    small = [r for r in rejects if r["source_path"].endswith("small.mp4")]
    assert [(r["stage"], r["reason"]) for r in small] == [("quality", "low_resolution")]
    # judged on the probed source, before any decode: one row for the source, no clip scores
    assert small[0]["clip_id"] is None and small[0]["scores"] is None and small[0]["duration_s"] > 1.0
    assert len(kept) == 2 and all(r["source"]["path"].endswith("large.mp4") for r in kept)
    assert all(0.0 <= r["scores"]["nsfw"] <= 1.0 and r["dedup_signature"].startswith("v1:") for r in kept)


def test_picture_limits_alone_run_inside_the_pass_without_ray(tmp_path):
    """A quality stage with picture limits only (no text, no NSFW model) loads no model: it
    runs inside the one-decode pass and a local run starts no Ray for it (it had started
    one with an actor pool: the footage run took 35 s instead of 17 s, same output). Its
    limits judge each probed source once: a source under them is one reject row and is
    never split or encoded."""
    import json
    import os
    import subprocess
    import sys

    import yaml

    from pipelines.config import load_pipeline
    from pipelines.localrun import why_local_ray
    from support.pipelines import TEST_OVERRIDES, local_dict

    data = copy.deepcopy(local_dict())
    names = [s["stage"] for s in data["stages"]]
    data["stages"].insert(names.index("filter"), {"stage": "quality", "min_short_side": 150, "max_aspect": 2.0})
    for stage in data["stages"]:
        stage.update(TEST_OVERRIDES.get(stage["stage"], {}))
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    pipeline = load_pipeline(str(path))
    assert why_local_ray(pipeline) is None and not pipeline.stage("quality").uses_model
    (tmp_path / "in").mkdir()
    shots_video(str(tmp_path / "in" / "small.mp4"), [Shot(41, 40)], 160, 120)
    shots_video(str(tmp_path / "in" / "wide.mp4"), [Shot(44, 40)], 480, 160)
    shots_video(str(tmp_path / "in" / "large.mp4"), [Shot(42, 40), Shot(43, 40)], 320, 240)
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", str(path), "--input", str(tmp_path / "in"),
                           "--output", str(tmp_path / "out"), "--quiet", "--keep-work"], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["timings"]["ray"] is False
    kept = pq.read_table(tmp_path / "out" / "index.parquet").to_pylist()
    rejects = pq.read_table(tmp_path / "out" / "rejects.parquet").to_pylist()
    assert sorted((r["source_path"].rsplit("/", 1)[-1], r["stage"], r["reason"]) for r in rejects) == [
        ("small.mp4", "quality", "low_resolution"), ("wide.mp4", "quality", "bad_aspect_ratio")]
    assert all(r["clip_id"] is None and r["span"] is None for r in rejects)  # whole sources, before their split
    commits = [json.loads(p.read_text()) for p in (tmp_path / "out" / "work" / "sources").glob("*.json")]
    steps = {c["path"].rsplit("/", 1)[-1]: sorted(c["timings"]) for c in commits}
    assert steps["small.mp4"] == steps["wide.mp4"] == ["probe"]  # neither split, decoded nor encoded
    assert {"split", "extract", "quality"} <= set(steps["large.mp4"])
    assert len(kept) == 2 and all(r["source"]["path"].endswith("large.mp4") for r in kept)
