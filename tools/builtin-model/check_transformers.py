"""Optional cross-check where Hugging Face `transformers` is installed: loads
media/builtin-model with AutoTokenizer / AutoModelForCausalLM unchanged and
compares token ids, offsets, attentions and hidden states with the reference
fixture written by reference.py.

    python3 tools/builtin-model/check_transformers.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import llama  # noqa: E402
from reference import FIXTURE_DIR, MODEL_DIR  # noqa: E402


def main() -> None:
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
    dtype_arg = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    model = AutoModelForCausalLM.from_pretrained(MODEL_DIR, attn_implementation="eager", **{dtype_arg: torch.float32}).eval()
    expected = json.loads((FIXTURE_DIR / "expected.json").read_text(encoding="utf-8"))
    tensors = llama.load_safetensors(FIXTURE_DIR / "expected.safetensors")
    worst_attention = worst_hidden = 0.0
    ok = True
    for i, case in enumerate(expected["cases"]):
        enc = tokenizer(case["text"], return_offsets_mapping=True)
        offsets = [list(o) for o in enc["offset_mapping"]]
        if enc["input_ids"] != case["input_ids"] or offsets != case["offsets"]:
            ok = False
            print(f"case {i}: tokenizer differs: ids {enc['input_ids']} offsets {offsets}")
        with torch.no_grad():
            out = model(torch.tensor([case["input_ids"]]), output_attentions=True, output_hidden_states=True)
        att = torch.stack([a[0] for a in out.attentions])
        hid = torch.stack([h[0] for h in out.hidden_states])
        d_att = (att - tensors[f"case{i}.attentions"]).abs().max().item()
        ref_h = tensors[f"case{i}.hidden_states"]
        d_hid = max(((hid[k] - ref_h[k]).abs().max() / ref_h[k].abs().max()).item() for k in range(len(ref_h)))
        worst_attention, worst_hidden = max(worst_attention, d_attention := d_att), max(worst_hidden, d_hid)
        print(f"case {i}: {len(case['input_ids'])} tokens, attention max abs diff {d_attention:.2e}, hidden max rel diff {d_hid:.2e}")
    print(f"transformers {transformers.__version__}, torch {torch.__version__}: worst attention diff {worst_attention:.2e}, "
          f"worst hidden-state diff {worst_hidden:.2e}")
    if not ok or worst_attention > 1e-5 or worst_hidden > 1e-4:
        sys.exit("transformers disagrees with the reference fixture")


if __name__ == "__main__":
    main()
