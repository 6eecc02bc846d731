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
    assert small[0]["scores"]["sharpness"] is not None and small[0]["scores"]["nsfw"] is None
    assert len(kept) == 2 and all(r["source"]["path"].endswith("large.mp4") for r in kept)
    assert all(0.0 <= r["scores"]["nsfw"] <= 1.0 and r["dedup_signature"].startswith("v1:") for r in kept)
