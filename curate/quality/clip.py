"""CLIP image and text embeddings with open_clip (Ilharco et al., OpenCLIP, 2021; Radford et al., CLIP, 2021).

A model is an open_clip model name plus ``pretrained``: a tag open_clip knows for that
name (weights from the hub or its cache: set ``HF_HUB_OFFLINE=1`` to use the cache only),
a local checkpoint path, or None (random weights: tests). ``model_config`` registers a
custom model config (an open_clip JSON file, or a folder of them) before the name is
looked up, so tiny models can be built from configs. :func:`check` validates all this
without loading anything, so a pipeline fails before any work starts.

Embeddings are L2-normalised ``float32`` rows; a clip's embedding is the normalised mean
of its frames' embeddings. In records they travel as base64 float16 (:func:`pack`).
"""

from __future__ import annotations

import base64
import os

import numpy as np

from curate.quality.weights import WeightsMissing


def _register(model_config: str | None) -> None:
    import open_clip

    if model_config is not None:
        if not os.path.exists(model_config):
            raise WeightsMissing(f"open_clip model config {model_config} not found")
        open_clip.add_model_config(model_config)


def check(model: str, pretrained: str | None, model_config: str | None = None) -> None:
    """Raise :class:`WeightsMissing` unless ``model`` is a known (or registered) open_clip
    config and ``pretrained`` is None, an existing file, or a tag open_clip lists for it."""
    import open_clip

    _register(model_config)
    if model not in open_clip.list_models():
        raise WeightsMissing(f"open_clip has no model config {model!r} (set model_config to a JSON config)")
    if pretrained is None or os.path.isfile(pretrained):
        return
    if pretrained.startswith(("/", "./", "~")) or pretrained.endswith((".pt", ".pth", ".bin", ".safetensors")):
        raise WeightsMissing(f"open_clip checkpoint {pretrained} not found")
    tags = open_clip.list_pretrained_tags_by_model(model)
    if pretrained not in tags:
        raise WeightsMissing(f"open_clip has no pretrained tag {pretrained!r} for {model}; known: {tags}")


class ClipEmbedder:
    """An open_clip model loaded once (see module docstring); ``device`` None = CUDA when
    available. Raises :class:`WeightsMissing` as :func:`check`, or when hub weights are
    not cached while offline."""

    def __init__(self, model: str, pretrained: str | None = None, model_config: str | None = None,
                 device: str | None = None):
        import open_clip
        import torch

        check(model, pretrained, model_config)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.model, _, self.preprocess = open_clip.create_model_and_transforms(
                model, pretrained=pretrained, device=self.device)
        except (RuntimeError, OSError) as exc:
            raise WeightsMissing(f"open_clip {model} / {pretrained}: weights could not be loaded ({exc})") from exc
        self.model.eval()
        self.tokenizer = open_clip.get_tokenizer(model)

    def images(self, frames: np.ndarray, batch: int = 64) -> np.ndarray:
        """``(N, D) float32`` unit embeddings of ``(N, H, W, 3) uint8`` RGB frames."""
        import torch
        from PIL import Image

        out = []
        with torch.no_grad():
            for s in range(0, len(frames), batch):
                x = torch.stack([self.preprocess(Image.fromarray(f)) for f in frames[s:s + batch]])
                out.append(self.model.encode_image(x.to(self.device)).float().cpu().numpy())
        return _unit(np.concatenate(out)) if out else np.zeros((0, 0), np.float32)

    def texts(self, texts: list[str]) -> np.ndarray:
        """``(N, D) float32`` unit embeddings of ``texts``."""
        import torch

        with torch.no_grad():
            emb = self.model.encode_text(self.tokenizer(texts).to(self.device)).float().cpu().numpy()
        return _unit(emb)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)).astype(np.float32)


def clip_vectors(embedder: ClipEmbedder, clips: list[np.ndarray]) -> np.ndarray:
    """``(C, D)`` unit clip embeddings: the normalised mean of each clip's frame embeddings,
    all frames of all clips in one batched pass. ``clips``: ``(N_i, H, W, 3) uint8`` each."""
    emb = embedder.images(np.concatenate(clips)) if clips else np.zeros((0, 0), np.float32)
    cuts = np.cumsum([len(c) for c in clips])[:-1]
    return _unit(np.stack([e.mean(axis=0) for e in np.split(emb, cuts)]))


def caption_scores(embedder: ClipEmbedder, clip_vecs: np.ndarray, captions: list[str]) -> np.ndarray:
    """``(C,)`` cosine of each clip embedding and its caption's text embedding (CLIP score)."""
    return (clip_vecs * embedder.texts(captions)).sum(axis=1)


def pack(vec: np.ndarray) -> str:
    """A unit vector as base64 of float16 (record field); :func:`unpack` reverses it."""
    return base64.b64encode(np.asarray(vec, np.float16).tobytes()).decode("ascii")


def unpack(text: str) -> np.ndarray:
    """``(D,) float32`` from :func:`pack`'s string."""
    return np.frombuffer(base64.b64decode(text), dtype=np.float16).astype(np.float32)
