"""When a run without --address starts no Ray (pipelines/localrun.py), and what
``vidcurate validate`` says of it."""

from __future__ import annotations

import pytest
import yaml

from pipelines.cli import main
from pipelines.config import load_pipeline
from pipelines.localrun import runs_without_ray, why_local_ray
from support.pipelines import local_dict


def _pipeline(tmp_path, edit) -> str:
    data = local_dict()
    edit(data)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _stage(data, name) -> dict:
    return next(s for s in data["stages"] if s["stage"] == name)


@pytest.mark.parametrize("edit,reason", [
    (lambda d: None, None),
    (lambda d: d["ray"].update(start="always"), "ray.start: always"),
    (lambda d: d["ray"].update(local_passes=False), "ray.local_passes: false"),
    (lambda d: d["ray"].update(head_start=False), "ray.head_start: false"),
    (lambda d: _stage(d, "extract").update(one_pass=False), "extract.one_pass: false"),
    (lambda d: _stage(d, "score").update(resources={"gpus": 1}), "stage score has a GPU share"),
    (lambda d: d["stages"].insert(5, {"stage": "quality", "min_short_side": 144}), None),  # no model
    (lambda d: d["stages"].insert(5, {"stage": "quality", "nsfw": True}), "stage quality uses a model"),
])
def test_a_local_run_starts_ray_only_when_something_needs_it(tmp_path, capsys, edit, reason):
    path = _pipeline(tmp_path, edit)
    pipeline = load_pipeline(path)
    assert why_local_ray(pipeline) == reason
    assert runs_without_ray(pipeline, None, False) == (reason is None)
    assert not runs_without_ray(pipeline, "auto", False) and not runs_without_ray(pipeline, None, True)
    assert main(["validate", path]) == 0
    said = capsys.readouterr().out.strip().splitlines()[-1]
    assert said == ("without --address: runs without Ray (no step needs one: ray.start: when_needed)" if reason is None
                    else f"without --address: starts a local Ray ({reason})")


def test_the_gpu_pipeline_starts_a_local_ray_for_its_models():
    assert why_local_ray(load_pipeline("gpu")) == "stage quality uses a model"


def test_validate_says_that_ray_address_in_the_environment_counts_as_address(capsys, monkeypatch):
    """A new-user trial: with RAY_ADDRESS set, validate said "runs without Ray" while run joined
    (or failed to reach) that cluster."""
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    assert main(["validate", "local"]) == 0
    said = capsys.readouterr().out.strip().splitlines()
    assert said[-1] == ("but RAY_ADDRESS is set (127.0.0.1:1): it counts as --address, so a run in this "
                        "environment joins that cluster")
    for value in ("local", None):  # run takes 'local' for no address (a review)
        if value is None:
            monkeypatch.delenv("RAY_ADDRESS")
        else:
            monkeypatch.setenv("RAY_ADDRESS", value)
        assert main(["validate", "local"]) == 0
        assert "RAY_ADDRESS" not in capsys.readouterr().out
