"""Pipeline files: a YAML list of stages, validated before any work starts.

A pipeline file names its stages in order; each entry's ``stage:`` key picks the stage
class (:data:`STAGES`) and every other key is that stage's configuration, validated by
the stage's own pydantic fields. An unknown key, a bad value or a stage out of order is
a :class:`PipelineError` that names the file and the key, e.g.
``pipelines/local.yaml: stages[2] (extract).crf: Input should be less than or equal to 51``.

Order rules: ``probe``, ``split``, ``extract`` come first in that order; per-clip
stages (``score``, ``embed``, ``filter``, ``quality``, ``clip_embed``) follow; ``dedup`` at most once; ``caption``
(signals) and ``vlm_caption`` (a vision-language model, :mod:`curate.captioning`) after
``dedup`` (captioning is the expensive step, so it only sees kept clips), ``caption``
before ``vlm_caption`` when both are present (its camera segments are the model's
hints); ``clip_score`` (caption-clip agreement) after dedup too; ``shards`` last, exactly once.
"""

from __future__ import annotations

import difflib
import os
from typing import Annotated, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from curate.caption import CaptionStage
from curate.captioning import VLMCaptionStage
from curate.dedup import DedupStage
from curate.embed import EmbedStage
from curate.quality.clip_score_stage import ClipScoreStage
from curate.quality.clip_stage import ClipEmbedStage
from curate.quality.stage import QualityStage
from curate.extract import ExtractStage
from curate.filter import FilterStage
from curate.probe import ProbeStage
from curate.score import ScoreStage
from curate.shards import ShardStage
from curate.split import SplitStage
from pipelines.exits import InputNotFound

STAGES = (ProbeStage, SplitStage, ExtractStage, ScoreStage, EmbedStage, FilterStage,
          QualityStage, ClipEmbedStage, DedupStage, CaptionStage, VLMCaptionStage, ClipScoreStage,
          ShardStage)

StageConfig = Annotated[
    Union[ProbeStage, SplitStage, ExtractStage, ScoreStage, EmbedStage, FilterStage,
          QualityStage, ClipEmbedStage, DedupStage, CaptionStage, VLMCaptionStage, ClipScoreStage,
          ShardStage],
    Field(discriminator="stage"),
]

CLIP_STAGES = {"score", "embed", "filter", "quality", "clip_embed"}
POST_STAGES = {"caption", "vlm_caption", "clip_score"}


class PipelineError(ValueError):
    """A pipeline file that cannot be used; the message names the file and the key."""


class RayOptions(BaseModel):
    """How a run without ``--address`` uses this machine (``num_cpus`` None = all;
    ``head_start``: the driver works on small sources while Ray starts; ``local_passes``
    (with ``head_start``): the driver keeps every source, one pass per CPU;
    :mod:`pipelines.headstart`). ``start``: ``when_needed`` (a run whose steps are all
    plain CPU steps, with local passes, starts no Ray: its sources, dedup's parallel
    calls, shard packing and report thumbnails run on the local passes' sandbox
    children) or ``always`` (it starts a local Ray of its own, which runs what follows
    the sources)."""

    model_config = ConfigDict(extra="forbid")
    num_cpus: int | None = Field(None, ge=1)
    head_start: bool = True
    local_passes: bool = True
    start: Literal["when_needed", "always"] = "when_needed"


class Pipeline(BaseModel):
    """A validated pipeline: its name, Ray options, the stage-error budget and the ordered stage list."""

    model_config = ConfigDict(extra="forbid")
    name: str
    version: int = Field(1, ge=1, le=1)
    ray: RayOptions = Field(default_factory=RayOptions)
    #: share (0..1) of sources and clips that may end in ``stage_error`` before the run
    #: exits with code 5 (pipelines/exits.py); 0 = any stage error fails the run
    max_stage_error_share: float = Field(0.0, ge=0.0, le=1.0)
    #: keep ``<output>/work/clips`` (a second copy of every clip, plus frame samples) after
    #: the shards, index and report are written; false deletes it then (commits stay, so
    #: the same command still resumes; pipelines/workstore.py says how)
    keep_work: bool = False
    stages: list[StageConfig]

    @model_validator(mode="after")
    def _check_order(self) -> "Pipeline":
        names = [s.name for s in self.stages]
        if names[:3] != ["probe", "split", "extract"]:
            raise ValueError(f"stages must start with probe, split, extract; got {names[:3]}")
        if names.count("shards") != 1 or names[-1] != "shards":
            raise ValueError("stages must end with exactly one shards stage")
        for name in dict.fromkeys(names):  # a stage's result is found by its name: a second one had been skipped
            if names.count(name) > 1:
                raise ValueError(f"stage {name} appears more than once: give one {name} stage all its settings")
        middle = names[3:-1]
        cut = middle.index("dedup") if "dedup" in middle else next(
            (i for i, n in enumerate(middle) if n in POST_STAGES), len(middle))
        for i, n in enumerate(middle):
            if i < cut and n not in CLIP_STAGES:
                raise ValueError(f"stage {n} cannot run before dedup")
            if i > cut and n not in POST_STAGES:
                raise ValueError(f"stage {n} cannot run after dedup: put it between extract and dedup "
                                 f"(after dedup: {', '.join(sorted(POST_STAGES))})")
        if "filter" in names and "score" not in names:
            raise ValueError("filter needs a score stage before it")
        if "filter" in names and names.index("filter") < names.index("score"):
            raise ValueError("filter must come after score")
        if "vlm_caption" in names and "caption" in names and names.index("caption") > names.index("vlm_caption"):
            raise ValueError("caption (signals) must come before vlm_caption")
        if "dedup" in names and "embed" not in names:
            raise ValueError("dedup needs an embed stage before it (the perceptual hash)")
        dedup, embed = self.stage("dedup"), self.stage("embed")
        if dedup is not None and dedup.edit_distance is not None and not embed.signature:
            # found by a new-user walk-through: edited copies were silently not searched
            raise ValueError("dedup.edit_distance finds edited copies by embed's signatures, but embed has "
                             "signature: false: set dedup edit_distance: null (pHash pairs only) or embed "
                             "signature: true")
        vlm, signals = self.stage("vlm_caption"), self.stage("caption")
        if vlm is not None and signals is not None:  # its thresholds label the model's hints: in the cache key
            vlm.use_signal_thresholds(signals.thresholds())
        if vlm is not None and self.stage("extract") is not None:  # its frames are the prompts' images
            extract = self.stage("extract")
            vlm.use_frame_sample(extract.sample_frames, extract.sample_short_side)
        return self

    def stage(self, name: str):
        """The first stage called ``name``, or None."""
        return next((s for s in self.stages if s.name == name), None)

    def clip_stages(self) -> list:
        """Per-clip stages of the streaming phase (extract and what follows before dedup)."""
        out = [self.stages[2]]
        for s in self.stages[3:-1]:
            if s.name not in CLIP_STAGES:
                break
            out.append(s)
        return out

    def caption_variant(self) -> str:
        """Which caption goes into ``<key>.txt``: the ``vlm_caption`` stage's ``txt``, else ``text``."""
        vlm = self.stage("vlm_caption")
        return vlm.txt if vlm is not None else "text"

    def post_stages(self) -> list:
        """Stages that run on kept clips after dedup (captioning)."""
        return [s for s in self.stages if s.name in POST_STAGES]


def _where(loc: tuple, stages: list) -> str:
    parts = []
    for i, item in enumerate(loc):
        if isinstance(item, int) and i > 0 and loc[i - 1] == "stages":
            name = stages[item].get("stage", "?") if item < len(stages) and isinstance(stages[item], dict) else "?"
            parts[-1] = f"stages[{item}] ({name})"
        elif i > 1 and loc[0] == "stages" and i == 2 and isinstance(loc[1], int):
            continue  # the discriminator tag pydantic inserts
        else:
            parts.append(str(item))
    return ".".join(parts)


def _suggest(error: dict) -> str:
    """`` (did you mean X?)`` for an unknown key (of a stage, of ``ray:`` or at the top)
    or an unknown ``stage:`` name close to a real one (``error``: one of pydantic's)."""
    loc, msg = tuple(error["loc"]), error["msg"]
    if error.get("type") == "union_tag_invalid":  # stage: splt
        tags = [c.model_fields["stage"].default for c in STAGES]
        close = difflib.get_close_matches(str(error.get("ctx", {}).get("tag", "")), tags, n=1)
        return f" (did you mean {close[0]}?)" if close else ""
    if "Extra inputs" not in msg:
        return ""
    if len(loc) == 4 and loc[0] == "stages":
        cls = next((c for c in STAGES if c.model_fields["stage"].default == loc[2]), None)
        known, key = list(cls.model_fields) if cls else [], loc[3]
    elif len(loc) == 2 and loc[0] == "ray":
        known, key = list(RayOptions.model_fields), loc[1]
    elif len(loc) == 1:
        known, key = list(Pipeline.model_fields), loc[0]
    else:
        return ""
    close = difflib.get_close_matches(str(key), known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def parse_pipeline(data: dict, source: str = "<pipeline>") -> Pipeline:
    """Validate a pipeline mapping. Raises :class:`PipelineError` naming ``source`` and the key."""
    if not isinstance(data, dict):
        raise PipelineError(f"{source}: expected a mapping with name and stages")
    try:
        return Pipeline.model_validate(data)
    except ValidationError as exc:
        stages = data.get("stages") if isinstance(data.get("stages"), list) else []
        # the file's own rules read as sentences (pydantic prefixes them "Value error, "); the
        # one top-level rule (Pipeline._check_order) is about the stages list
        lines = [f"{source}: {_where(tuple(e['loc']), stages) or 'stages'}: "
                 f"{e['msg'].removeprefix('Value error, ')}{_suggest(e)}" for e in exc.errors()]
        raise PipelineError("\n".join(lines)) from None


def resolve_pipeline(path: str) -> str:
    """``path`` if it exists, else the shipped pipeline of that name: ``local``, ``gpu``,
    ``local.yaml`` or ``pipelines/local.yaml`` (the README's spelling) from any folder.
    A missing file anywhere else (``~/conf/local.yaml``) is an error, not the shipped
    file of the same name. Raises FileNotFoundError, and :class:`PipelineError` for a folder."""
    if os.path.isfile(path):
        return path
    folder, name = os.path.split(os.path.normpath(path))
    shipped = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    if folder in ("", "pipelines") and os.path.exists(shipped):
        return shipped  # also beside a folder of that name (``local/``)
    if os.path.isdir(path):
        raise PipelineError(f"{path}: is a folder; give a pipeline YAML file in it (shipped: local, gpu)")
    if os.path.exists(path):
        return path  # not a regular file (a FIFO): open() says what is wrong
    raise InputNotFound(f"no pipeline file {path!r} (shipped: local, gpu)")


def load_pipeline(path: str) -> Pipeline:
    """Read and validate a pipeline YAML file (a path or a shipped name, see
    :func:`resolve_pipeline`). Raises :class:`PipelineError` or OSError."""
    path = resolve_pipeline(path)
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise PipelineError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    return parse_pipeline(data, path)
