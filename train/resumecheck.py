"""What a resume may change: a checkpoint's config against the config of the run resuming it.

A resume continues one training run, so what the network is and what it learns must be
the same: the model, text encoder, data, VAE and inflation sections whole (but for
:data:`RESUME_MAY_CHANGE`), and the diffusion keys that define the objective
(:data:`TRAINED_DIFFUSION`). Learning rate, steps, logging and sampling settings may change.
"""

from __future__ import annotations

from train.config import ConfigError, TrainConfig

TRAINED_DIFFUSION = {"cosine": ("timesteps", "schedule", "cosine_s", "prediction"),
                     "scaled_linear": ("timesteps", "schedule", "beta_start", "beta_end", "prediction")}
"""DiffusionConfig keys that define what the network learns (noise schedule and target), per
saved schedule: a resume must keep them; the DDIM sampling defaults, and the keys the saved
schedule does not use, may change."""


RESUME_MAY_CHANGE = {"data": ("num_workers", "decode_threads"), "text": ("caption_dropout",)}
"""Keys of the compared sections that a resume may change: how the loader runs on this
machine (its worker processes, codec threads; a new core count must not block a resume)
and the caption dropout, a training setting like the learning rate."""


def check_same_section(section: str, saved, now) -> None:
    """Raise ConfigError naming the first key of ``section`` whose value differs between the
    checkpoint's config (``saved``) and this one (``now``), other than
    :data:`RESUME_MAY_CHANGE`; a section present in one and not the other is named whole."""
    if (saved is None) != (now is None):
        had, has = ("a", "no") if saved is not None else ("no", "a")
        raise ConfigError(f"checkpoint was trained with {had} '{section}' section, this config has {has} "
                          f"'{section}' section")
    if saved is None:
        return
    a, b = saved.model_dump(mode="json"), now.model_dump(mode="json")
    free = RESUME_MAY_CHANGE.get(section, ())
    for key in sorted(set(a) | set(b)):
        if key not in free and a.get(key) != b.get(key):
            may = (f"a resume may change only {', '.join(f'{section}.{k}' for k in free)} of it" if free
                   else f"a resume may change nothing in '{section}'")
            raise ConfigError(f"checkpoint was trained with {section}.{key} = {a.get(key)!r}, this config has "
                              f"{b.get(key)!r} ({may})")


def check_resume_config(saved: TrainConfig, now: TrainConfig) -> None:
    """Raise ConfigError naming the first setting that ``now`` may not change from the
    checkpoint's ``saved`` config (module docstring); return None when the resume may go on."""
    for section in ("model", "text", "data", "vae", "inflate"):
        check_same_section(section, getattr(saved, section), getattr(now, section))
    for key in TRAINED_DIFFUSION[saved.diffusion.schedule]:  # the objective
        if getattr(saved.diffusion, key) != getattr(now.diffusion, key):
            raise ConfigError(f"checkpoint was trained with diffusion.{key} = "
                              f"{getattr(saved.diffusion, key)!r}, this config has "
                              f"{getattr(now.diffusion, key)!r}")
