"""JSON-schema-constrained decoding for transformers ``generate`` with lm-format-enforcer.

lm-format-enforcer (https://github.com/noamgat/lm-format-enforcer, PyPI
``lm-format-enforcer``, the ``structured`` extra of vidcurate) walks a JSON schema
character by character and, at each step, allows only the tokens whose text keeps the
answer a valid prefix of a document of that schema. Its own transformers integration
module imports ``transformers.tokenization_utils``, which transformers 5 no longer has, so
this module uses the library's core (``TokenEnforcer``, ``JsonSchemaParser``) and builds
the vocabulary table the same way that integration does (decode each token after a
``0`` to learn whether it starts a word). The result is a ``prefix_allowed_tokens_fn``
for ``model.generate``.

Building the table decodes every token twice (about 10 s for Qwen's 151 k vocabulary); it
is built once per loaded tokenizer and reused. :func:`available` tells whether the
library is installed; without it, the stage prompts for JSON and reads answers leniently.
"""

from __future__ import annotations

import functools
import importlib.util
import logging

log = logging.getLogger(__name__)


def available() -> bool:
    """True when lm-format-enforcer can be imported."""
    return importlib.util.find_spec("lmformatenforcer") is not None


def _regular_tokens(tokenizer) -> list[tuple[int, str, bool]]:
    """``(token_id, text, starts_word)`` for every non-special token (lm-format-enforcer's recipe)."""
    zero = tokenizer.encode("0", add_special_tokens=False)[-1]
    special = set(tokenizer.all_special_ids)
    out = []
    for idx in range(len(tokenizer)):
        if idx in special:
            continue
        after_zero = tokenizer.decode([zero, idx])[1:]
        alone = tokenizer.decode([idx])
        out.append((idx, after_zero, len(after_zero) > len(alone)))
    return out


class SchemaConstraint:
    """Per-tokenizer state for constraining answers to one JSON schema.

    ``tokenizer``: a transformers tokenizer; ``eos_ids``: the ids that end an answer;
    ``vocab_size``: rows of the model's output head (may exceed ``len(tokenizer)``).
    Raises ImportError when lm-format-enforcer is not installed.
    """

    def __init__(self, tokenizer, eos_ids: list[int], vocab_size: int):
        from lmformatenforcer import TokenEnforcerTokenizerData

        decode = functools.partial(lambda tok, ids: tok.decode(ids).rstrip("\ufffd"), tokenizer)
        log.info("building the lm-format-enforcer token table (%d tokens)", len(tokenizer))
        self.data = TokenEnforcerTokenizerData(_regular_tokens(tokenizer), decode, list(eos_ids),
                                               use_bitmask=False, vocab_size=vocab_size)

    def allowed_tokens_fn(self, schema: dict):
        """A ``prefix_allowed_tokens_fn(batch_id, ids (T,) int64) -> list[int]`` for one ``generate()``.

        A fresh enforcer per call: its state is keyed by each row's token prefix (prompt
        included), so rows of a left-padded batch never mix.
        """
        from lmformatenforcer import JsonSchemaParser, TokenEnforcer

        enforcer = TokenEnforcer(self.data, JsonSchemaParser(schema))

        def allowed(batch_id: int, ids) -> list[int]:
            return enforcer.get_allowed_tokens(ids.tolist()).allowed_tokens
        return allowed
