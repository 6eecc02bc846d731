"""LAION-style aesthetic score: an MLP over L2-normalised CLIP image embeddings.

After the LAION aesthetic predictor v2 (christophschuhmann/improved-aesthetic-predictor:
``sac+logos+ava1-l14-linearMSE.pth``, an MLP 768-1024-128-64-16-1 over CLIP ViT-L/14
image embeddings, trained on SAC, LAION-Logos and AVA ratings, 1..10). No weights ship
with this project: download that file (or train your own head) and give its path; it
needs the matching CLIP model (ViT-L-14, ``pretrained: openai``).

:func:`load_head` reads a torch state dict whose ``layers.<k>.weight``/``.bias`` are
linear layers at positions ``k`` of a ``torch.nn.Sequential`` (the predictor's own
layout; the positions between are dropouts, identity at inference), so heads of any
sizes load, e.g. a small one trained in a test.
"""

from __future__ import annotations

import os
import re

import numpy as np

from curate.quality.weights import WeightsMissing


def load_head(path: str):
    """The MLP of a state-dict file ``path``: an eval-mode module whose ``layers`` is a ``torch.nn.Sequential``.

    Raises :class:`WeightsMissing` when ``path`` does not exist and ValueError when it
    has no ``layers.<k>.weight`` entries."""
    import torch

    if not os.path.isfile(path):
        raise WeightsMissing(f"aesthetic head {path} not found (see curate/quality/aesthetic.py for weights)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    idx = sorted({int(m.group(1)) for k in state if (m := re.fullmatch(r"layers\.(\d+)\.weight", k))})
    if not idx:
        raise ValueError(f"{path}: no layers.<k>.weight entries: not an aesthetic head state dict")
    mods = [torch.nn.Identity() for _ in range(idx[-1] + 1)]
    for k in idx:
        w = state[f"layers.{k}.weight"]
        mods[k] = torch.nn.Linear(w.shape[1], w.shape[0])
    head = torch.nn.Module()
    head.layers = torch.nn.Sequential(*mods)
    head.load_state_dict({k: v for k, v in state.items() if k.startswith("layers.")})
    return head.eval()


def input_dim(head) -> int:
    """Embedding size the head expects."""
    return next(m for m in head.layers if hasattr(m, "in_features")).in_features


def score(head, embeddings: np.ndarray) -> np.ndarray:
    """``(N,) float`` scores of ``(N, D)`` unit CLIP image embeddings. Raises ValueError when
    ``D`` is not the head's input size."""
    import torch

    if embeddings.shape[1] != input_dim(head):
        raise ValueError(f"aesthetic head takes {input_dim(head)}-d embeddings, got {embeddings.shape[1]}-d")
    with torch.no_grad():
        return head.layers(torch.from_numpy(np.ascontiguousarray(embeddings, np.float32))).squeeze(1).numpy()
