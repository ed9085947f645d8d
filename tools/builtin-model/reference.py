"""Writes test/fixtures/builtin-reference/expected.json + expected.safetensors: the
token ids, tokens, offsets, attentions and hidden states of the shipped built-in
model for a few texts, computed by this folder's own PyTorch implementation
(llama.py) in float32 from the bfloat16 weights on disk. The layout is the one of
the shared hf-tiny fixtures, so the engine's fixture test runs on it unchanged.

    python3 tools/builtin-model/reference.py      # a few seconds
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bpe  # noqa: E402
import llama  # noqa: E402
from corpus import REPO_ROOT  # noqa: E402

MODEL_DIR = REPO_ROOT / "media" / "builtin-model"
FIXTURE_DIR = REPO_ROOT / "test" / "fixtures" / "builtin-reference"


def repeated_words_text(tok: bpe.ByteLevelBPE, count: int, seed: int) -> str:
    """`count` random whole-word tokens from the vocabulary, written twice: the
    second half is what induction heads look back on."""
    words = sorted(t for t in tok.vocab if len(t) >= 4 and t[0] == "Ġ" and t[1:].isascii() and t[1:].isalpha() and t[1:].islower())
    gen = torch.Generator().manual_seed(seed)
    picked = [words[int(i)] for i in torch.randint(0, len(words), (count,), generator=gen)]
    once = tok.decode([tok.vocab[w] for w in picked])
    return (once + once)[1:]  # drop the leading space of the first word


def cases(tok: bpe.ByteLevelBPE) -> list[str]:
    return [
        "Attention lets each token look back at the tokens before it. The first token often "
        "collects the attention that has nowhere better to go.",
        "def mean(values):\n    total = 0\n    for value in values:\n        total += value\n    return total / len(values)\n",
        repeated_words_text(tok, count=16, seed=6),
        "// Olá, mundo! 🎉\r\nconst greeting = `Olá, ${name}!`;\r\nconsole.log(greeting);",
    ]


def main() -> None:
    tok = bpe.ByteLevelBPE.from_tokenizer_json(str(MODEL_DIR / "tokenizer.json"))
    model = llama.load_checkpoint(MODEL_DIR)
    FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    entries = []
    for i, text in enumerate(cases(tok)):
        ids, tokens, offsets = tok.encode(text)
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_attentions=True, output_hidden_states=True, return_logits=False)
        attentions = torch.stack([a[0] for a in out.attentions])  # [layers, heads, n, n]
        hidden = torch.stack([h[0] for h in out.hidden_states])  # [layers + 1, n, hidden]
        tensors[f"case{i}.attentions"] = attentions
        tensors[f"case{i}.hidden_states"] = hidden
        entries.append({
            "text": text,
            "input_ids": ids,
            "tokens": tokens,
            "offsets": offsets,
            "special_tokens_mask": [1] + [0] * (len(ids) - 1),
            "max_attention_mean": attentions.max(-1).values.mean().item(),
        })
        print(f"case {i}: {len(ids)} tokens")
    model_bytes = (MODEL_DIR / "model.safetensors").read_bytes()
    expected = {
        "fixture": "builtin-model",
        "checkpoint": "media/builtin-model",
        "model_safetensors_sha256": hashlib.sha256(model_bytes).hexdigest(),
        "model_class": "LlamaForCausalLM",
        "model_type": "llama",
        "implementation": "tools/builtin-model/llama.py (PyTorch, written to match transformers' LlamaForCausalLM)",
        "torch_version": torch.__version__,
        "attn_implementation": "eager",
        "dtype_on_disk": "torch.bfloat16",
        "notes": "reference values of the shipped built-in model, computed in float32 from the bfloat16 weights on disk",
        "layout": "expected.safetensors holds case{i}.attentions [layers, heads, n, n] and case{i}.hidden_states "
                  "[layers+1, n, hidden] (float32); hidden_states[0] is the embedding output and the last entry is "
                  "the final hidden state after the model's final norm, as transformers returns it",
        "cases": entries,
    }
    (FIXTURE_DIR / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    llama.save_safetensors(FIXTURE_DIR / "expected.safetensors", tensors, "F32")
    print(f"wrote {FIXTURE_DIR}/expected.json and expected.safetensors")


if __name__ == "__main__":
    main()
