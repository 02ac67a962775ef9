#!/usr/bin/env python3
"""Write a Hugging Face tokenizer.json equivalent to the byte-level BPE vocabulary that
a GGUF model file carries (tokenizer.ggml.model == "gpt2"; SmolLM2 is one).

    gguf_to_tokenizer_json.py MODEL.gguf OUT.json

Requires the PyPI packages `gguf` and `tokenizers` only. llmb's tests use the result to
count prompt tokens exactly as llama-server counts them (`usage.prompt_tokens`).
"""
import json
import sys

from gguf import GGUFReader
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

# GGUF token types (llama.cpp's llama_token_type): 3 = control, 4 = user-defined.
CONTROL, USER_DEFINED = 3, 4

# llama.cpp pre-tokenizer names whose regex is "\p{N}" (single digits) followed by the
# GPT-2 pattern, and those that use the GPT-2 pattern alone. Others need their own mapping.
DIGITS_THEN_GPT2 = {"smollm", "starcoder", "refact", "command-r", "codeshell"}
GPT2_ONLY = {"gpt-2", "default", "phi-2"}


def field(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def pre_tokenizer_for(pre):
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in DIGITS_THEN_GPT2:
        return pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), byte_level]
        )
    if pre in GPT2_ONLY:
        return byte_level
    raise SystemExit(f"unsupported tokenizer.ggml.pre {pre!r}: add its pattern here")


def convert(gguf_path, out_path):
    r = GGUFReader(gguf_path)
    kind = field(r, "tokenizer.ggml.model")
    if kind != "gpt2":
        raise SystemExit(f"{gguf_path}: tokenizer.ggml.model is {kind!r}, only 'gpt2' is handled")
    pieces = list(field(r, "tokenizer.ggml.tokens"))
    kinds = list(field(r, "tokenizer.ggml.token_type", [1] * len(pieces)))
    merges = [tuple(m.split(" ", 1)) for m in field(r, "tokenizer.ggml.merges")]
    pre = field(r, "tokenizer.ggml.pre", "default")

    bpe = models.BPE(
        vocab={p: i for i, p in enumerate(pieces)},
        merges=merges,
        fuse_unk=False,
        byte_fallback=False,
    )
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizer_for(pre)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)

    specials = [AddedToken(p, special=True, normalized=False)
                for p, k in zip(pieces, kinds) if k == CONTROL]
    user = [AddedToken(p, special=False, normalized=False)
            for p, k in zip(pieces, kinds) if k == USER_DEFINED]
    tok.add_special_tokens(specials)
    tok.add_tokens(user)
    tok.save(out_path)

    # The BOS question matters to a client comparing counts with the server's usage.
    add_bos = field(r, "tokenizer.ggml.add_bos_token")
    info = {
        "pre": pre,
        "vocab": len(pieces),
        "merges": len(merges),
        "special": len(specials),
        "bos_token_id": field(r, "tokenizer.ggml.bos_token_id"),
        "add_bos_token": add_bos,
    }
    print(json.dumps(info), file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(sys.argv[1], sys.argv[2])
