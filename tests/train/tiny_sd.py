"""A tiny Stable-Diffusion-layout model folder built from configs (no weights ship):
``vae/`` (AutoencoderKL, factor 2, 4 latent channels), ``unet/``
(UNet2DConditionModel, 2 levels, cross-attention to 32-wide tokens),
``text_encoder/`` (CLIPTextModel) and ``tokenizer/`` (a byte-level CLIPTokenizer with
no merges), each written with ``save_pretrained`` and read back through the trainer's
loaders by path."""

from __future__ import annotations

from pathlib import Path

import torch

TEXT_DIM = 32


def _byte_vocab() -> dict[str, int]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}


def save_tokenizer(folder: Path) -> int:
    """Write a CLIPTokenizer (characters only) to ``folder``; returns the vocab size."""
    from transformers import CLIPTokenizer

    vocab = _byte_vocab()
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(str(folder))
    return len(vocab)


def vae_config(channels=(8, 16)) -> dict:
    n = len(channels)
    return dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
                up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(channels),
                layers_per_block=1, latent_channels=4, norm_num_groups=4, sample_size=16,
                scaling_factor=0.5)


def unet_config(channels=(16, 32)) -> dict:
    return dict(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                block_out_channels=tuple(channels),
                down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
                cross_attention_dim=TEXT_DIM, attention_head_dim=8, norm_num_groups=8)


def make_tiny_sd(folder: Path, seed: int = 0) -> Path:
    """Build and save the four parts under ``folder``; returns ``folder``."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    vocab = save_tokenizer(folder / "tokenizer")
    torch.manual_seed(seed)
    AutoencoderKL(**vae_config()).save_pretrained(str(folder / "vae"))
    UNet2DConditionModel(**unet_config()).save_pretrained(str(folder / "unet"))
    text = CLIPTextConfig(vocab_size=vocab, hidden_size=TEXT_DIM, intermediate_size=64,
                          num_hidden_layers=1, num_attention_heads=2,
                          max_position_embeddings=32, bos_token_id=vocab - 2,
                          eos_token_id=vocab - 1, pad_token_id=vocab - 1)
    CLIPTextModel(text).save_pretrained(str(folder / "text_encoder"))
    return folder
