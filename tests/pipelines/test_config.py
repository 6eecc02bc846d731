"""Pipeline files: validation errors name the key, before any work starts."""

import copy
import subprocess
import sys

import pytest
import yaml

from pipelines.config import PipelineError, load_pipeline, parse_pipeline
from support.pipelines import LOCAL_YAML, local_dict


def test_local_yaml_is_valid():
    p = load_pipeline(LOCAL_YAML)
    assert [s.name for s in p.stages] == ["probe", "split", "extract", "score", "embed", "filter",
                                          "dedup", "caption", "shards"]
    assert [s.name for s in p.clip_stages()] == ["extract", "score", "embed", "filter"]
    assert [s.name for s in p.post_stages()] == ["caption"]


def _error(data) -> str:
    with pytest.raises(PipelineError) as err:
        parse_pipeline(data, "p.yaml")
    return str(err.value)


def test_unknown_key_is_named():
    data = local_dict()
    data["stages"][1]["max_clip_seconds"] = 5
    assert ("p.yaml: stages[1] (split).max_clip_seconds: Extra inputs are not permitted "
            "(did you mean max_clip_s?)") in _error(data)


def test_unknown_top_level_and_ray_keys_get_a_suggestion():
    data = local_dict()
    data["keepwork"] = True
    assert "p.yaml: keepwork: Extra inputs are not permitted (did you mean keep_work?)" in _error(data)
    data = local_dict()
    data["ray"]["num_cpu"] = 2
    assert "p.yaml: ray.num_cpu: Extra inputs are not permitted (did you mean num_cpus?)" in _error(data)
    data = local_dict()
    data["zzzz"] = 1  # nothing close: no suggestion
    assert _error(data).endswith("zzzz: Extra inputs are not permitted")
    data = local_dict()
    data["stages"][1]["stage"] = "splt"  # a stage's name mistyped (found by a new-user walk-through)
    assert _error(data).endswith("'clip_score', 'shards' (did you mean split?)")


def test_a_yaml_syntax_error_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstages: [\n  - a: b\n")
    with pytest.raises(PipelineError) as err:
        load_pipeline(str(bad))
    assert "\n" not in str(err.value) and str(err.value).endswith("line 3, column 3")


def test_shipped_pipelines_load_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_pipeline("local").name == "local"
    assert load_pipeline("pipelines/gpu.yaml").name == "gpu"
    with pytest.raises(FileNotFoundError):
        load_pipeline("nonesuch")
    # a missing file elsewhere is not the shipped one of the same name (a user's edited copy)
    with pytest.raises(FileNotFoundError, match="no pipeline file"):
        load_pipeline(str(tmp_path / "conf" / "local.yaml"))
    assert load_pipeline("local.yaml").name == "local"
    # a new-user trial: a folder was a storage error that blamed permissions and free space
    (tmp_path / "pipelines").mkdir()
    with pytest.raises(PipelineError, match="pipelines: is a folder; give a pipeline YAML file in it"):
        load_pipeline("pipelines")
    (tmp_path / "local").mkdir()  # a folder named as a shipped pipeline: the shipped one (a review)
    assert load_pipeline("local").name == "local"


def test_bad_value_is_named():
    data = local_dict()
    data["stages"][2]["crf"] = 99
    assert "stages[2] (extract).crf" in _error(data)
    data = local_dict()
    data["stages"][1]["min_clip_s"] = 20.0
    assert "min_clip_s (20.0) must not exceed max_clip_s" in _error(data)


def test_unknown_stage_and_top_level_key():
    data = local_dict()
    data["stages"].insert(3, {"stage": "teleport"})
    assert "stages[3]" in _error(data)
    data = local_dict()
    data["workers"] = 4
    assert "workers: Extra inputs are not permitted" in _error(data)


def _insert(stages: list, *at: tuple[int, dict]) -> None:
    for k, stage in at:
        stages.insert(k, stage)


@pytest.mark.parametrize("mutate,message", [
    (lambda s: s.pop(0), "must start with probe, split, extract"),
    (lambda s: s.pop(), "must end with exactly one shards stage"),
    (lambda s: s.insert(3, s.pop(7)), "caption cannot run before dedup"),
    (lambda s: s.insert(3, s.pop(5)), "filter must come after score"),
    (lambda s: s.insert(7, {"stage": "quality", "min_short_side": 150}),
     "stage quality cannot run after dedup: put it between extract and dedup (after dedup: caption, clip_score"),
    # a second stage of one name had been skipped (each clip records a stage's result by
    # its name): a break test's second filter and second quality stage dropped nothing
    (lambda s: s.insert(6, {"stage": "filter", "max_luma": 1.0}),
     "stage filter appears more than once: give one filter stage all its settings"),
    (lambda s: _insert(s, (5, {"stage": "quality", "nsfw": True}), (7, {"stage": "quality", "min_short_side": 150})),
     "stage quality appears more than once"),
    (lambda s: s.insert(7, dict(s[6])), "stage dedup appears more than once"),
    # found by a new-user walk-through: dedup searched no edited copy and said nothing
    (lambda s: s[4].update(signature=False),
     "dedup.edit_distance finds edited copies by embed's signatures, but embed has signature: false"),
])
def test_stage_order_rules(mutate, message):
    data = copy.deepcopy(local_dict())
    mutate(data["stages"])
    said = _error(data)
    assert message in said and "Value error" not in said  # the rule as a sentence, no pydantic prefix
    assert ": stages" in said  # names the list it is about (it had said "(top level)")


def test_cli_validate_exit_codes(tmp_path):
    data = local_dict()
    data["stages"][0]["bogus"] = 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    cmd = [sys.executable, "-m", "pipelines.cli", "validate"]
    ok = subprocess.run(cmd + [LOCAL_YAML], capture_output=True, text=True)
    assert ok.returncode == 0 and "probe -> split" in ok.stdout
    res = subprocess.run(cmd + [str(bad)], capture_output=True, text=True)
    assert res.returncode == 2 and "stages[0] (probe).bogus" in res.stderr


def test_contradictory_filter_and_missing_score_are_errors():
    data = local_dict()
    data["stages"][5]["min_luma"], data["stages"][5]["max_luma"] = 200.0, 100.0
    assert "min_luma (200.0) must not exceed max_luma (100.0)" in _error(data)
    data = local_dict()
    data["stages"] = [s for s in data["stages"] if s["stage"] != "score"]
    assert "filter needs a score stage before it" in _error(data)


def test_dedup_without_signatures_needs_edit_distance_null_and_workers_default_to_the_run_cpus():
    """edit_distance: null with signature: false is fine; a dedup block without a
    workers key verifies on every CPU of the run, as the shipped files' null does (a missing
    key had meant 1, found by a new-user walk-through)."""
    data = copy.deepcopy(local_dict())
    names = [st["stage"] for st in data["stages"]]
    data["stages"][names.index("embed")]["signature"] = False
    dedup = data["stages"][names.index("dedup")]
    dedup["edit_distance"] = None
    dedup.pop("workers")
    stage = parse_pipeline(data).stage("dedup")
    assert stage.edit_distance is None and stage.workers is None


def test_a_crop_only_gist_range_that_is_empty_or_reversed_is_refused():
    """Found by a new-user walk-through: crop_gist_cos 0.9 over min_gist_cos 0.7 passed."""
    data = copy.deepcopy(local_dict())
    names = [st["stage"] for st in data["stages"]]
    data["stages"][names.index("dedup")]["crop_gist_cos"] = 0.9
    assert "crop_gist_cos (0.9) must be under min_gist_cos (0.7)" in _error(data)
