"""The frozen parts a checkpoint was trained with, and the checks that a resume or a
sample meets the same ones.

A checkpoint holds the U-Net's weights only: the text encoder (``text.name``) and the VAE
(``vae.name``) are loaded again from their folders. Another model put at the same path
had passed as the one the U-Net was trained with: another VAE decoded wrongly (a break
test), another text encoder of the same width conditioned every sample on the wrong
embeddings without a word, and one of another width ended ``sample`` and ``train
--resume`` in a shape error's traceback (a break test). So a checkpoint keeps each
frozen part's weights fingerprint (:func:`weights_fingerprint`), and
:func:`check_same_text` and :func:`check_same_vae` compare them on resume and sampling;
:func:`load_weights` turns weights that do not fit the model its stored config builds
into the same kind of one-line error (:class:`train.checkpoint.CheckpointError`, exit 2).
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from train.checkpoint import CheckpointError


def weights_fingerprint(module: nn.Module) -> str:
    """16 hex digits of SHA-256 over ``module``'s state dict: each tensor hashed on its own,
    by dtype, shape and values, and the sorted digests hashed again, so neither the
    tensors' names (which diffusers and transformers rename across versions) nor their
    order counts. About 0.5 s for 100 M parameters."""
    digests = []
    for tensor in module.state_dict().values():
        t = tensor.detach().cpu().contiguous()
        d = hashlib.sha256(f"{t.dtype}:{tuple(t.shape)};".encode())
        d.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        digests.append(d.digest())
    return hashlib.sha256(b"".join(sorted(digests))).hexdigest()[:16]


def check_same_vae(state: dict, codec, name: str) -> None:
    """Raise :class:`CheckpointError` when the checkpoint ``state`` was trained on latents of
    another VAE than ``codec`` (a :class:`train.latents.LatentCodec` loaded from ``name``):
    their weights' fingerprints differ. Checkpoints without a fingerprint (pixel models, or
    written before it was kept) are not checked."""
    saved = state.get("vae_weights")
    if codec is not None and saved and saved != codec.fingerprint:
        raise CheckpointError(f"the VAE at vae.name {name!r} is not the one this model was trained with "
                              f"(weights {codec.fingerprint}, trained with {saved}): put that VAE back there")


def check_same_text(state: dict, text, name: str) -> None:
    """Raise :class:`CheckpointError` when ``text`` (a :class:`train.text.TextEncoder` loaded
    from ``name``) is not the encoder the checkpoint ``state`` was trained with: tokens of
    another width (``context_dim``), or other weights (``text_weights``; checkpoints written
    before it was kept are checked by width alone)."""
    where = f"the text encoder at text.name {name!r}" if name else "the text encoder its config loads"
    if int(state.get("context_dim", text.dim)) != text.dim:
        raise CheckpointError(f"{where} gives {text.dim}-wide tokens and this model was trained on "
                              f"{int(state['context_dim'])}-wide ones: put the encoder it was trained with back there")
    saved = state.get("text_weights")
    if saved and saved != text.fingerprint:
        raise CheckpointError(f"{where} is not the one this model was trained with (weights {text.fingerprint}, "
                              f"trained with {saved}): put that encoder back there")


def load_weights(module: nn.Module, weights: dict, what: str) -> None:
    """``module.load_state_dict(weights)``; raises :class:`CheckpointError` naming ``what``
    (e.g. ``"model"``) and the first mismatch when they do not fit the module that the
    checkpoint's config built (a config edited inside the checkpoint, say)."""
    try:
        module.load_state_dict(weights)
    except RuntimeError as err:
        lines = [ln.strip() for ln in str(err).splitlines()[1:] if ln.strip()]
        raise CheckpointError(f"the checkpoint's {what} weights do not fit the model its config builds"
                              f"{': ' + lines[0] if lines else ''}") from None
