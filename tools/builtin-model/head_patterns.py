"""Step 3 of 3: measures the shipped model (float32 on CPU, deterministic):

- held-out loss and perplexity on prose and on code (documents never trained on),
- previous-token heads: mean attention from token i to token i-1 on held-out text,
- induction heads: on random tokens repeated twice, mean attention from each token
  of the second copy to the token that followed its earlier occurrence,
- first-token sink heads: mean attention to the BOS token at position 0, and how
  often BOS is the key a query attends to most.

    python3 tools/builtin-model/head_patterns.py [--json out.json]   # about 1 minute on 2 cores

Requirements: PyTorch, numpy, and tools/builtin-model/.data from prepare.py.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import llama  # noqa: E402

BOS_ID = 0
FIRST_MERGED_ID = 258  # ids below are BOS/EOS and the 256 single bytes
PREV_THRESHOLD, INDUCTION_THRESHOLD = 0.5, 0.3
# Uniform causal attention over BOS + 255 tokens puts 0.02 on BOS on average; a
# sink head puts at least ten times that there.
SINK_THRESHOLD = 0.25


def _windows(tokens: np.ndarray, count: int, span: int) -> list[np.ndarray]:
    """`count` windows of `span` tokens spread evenly over the stream."""
    count = min(count, len(tokens) // span)
    starts = np.linspace(0, len(tokens) - span, count).astype(np.int64)
    return [tokens[s:s + span].astype(np.int64) for s in starts]


@torch.no_grad()
def heldout_loss(model: llama.LlamaForCausalLM, tokens: np.ndarray, windows: int, context: int,
                 device: torch.device | str = "cpu", batch: int = 8) -> tuple[float, int]:
    """Mean next-token cross-entropy over windows of BOS + (context - 1) tokens. The
    prediction made at BOS (the first token of a window cut mid-document) and
    predictions of BOS are not counted."""
    total, count = 0.0, 0
    rows = [np.concatenate([[BOS_ID], w]) for w in _windows(tokens, windows, context)]
    for i in range(0, len(rows), batch):
        x = torch.tensor(np.stack(rows[i:i + batch]), device=device)
        logits = model(x[:, :-1], eager=False).logits.float()
        targets = x[:, 1:].clone()
        targets[:, 0] = -100
        targets[targets == BOS_ID] = -100
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100, reduction="sum")
        total += loss.item()
        count += int((targets != -100).sum())
    return total / count, count


@torch.no_grad()
def attention_stats(model: llama.LlamaForCausalLM, tokens: np.ndarray, windows: int, length: int,
                    device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[layers, heads] mean attention to the previous token (queries i >= 2, so the
    previous token is never BOS), mean attention to position 0 and the share of
    queries whose largest weight is on position 0 (queries i >= 1)."""
    prev, sink, sink_top = [], [], []
    for w in _windows(tokens, windows, length - 1):
        x = torch.tensor(np.concatenate([[BOS_ID], w]), device=device)[None]
        att = torch.stack(model(x, output_attentions=True, return_logits=False).attentions)[:, 0].float().cpu()
        n = att.shape[-1]
        idx = torch.arange(2, n)
        prev.append(att[:, :, idx, idx - 1].mean(-1))
        sink.append(att[:, :, 1:, 0].mean(-1))
        sink_top.append((att[:, :, 1:, :].argmax(-1) == 0).float().mean(-1))
    return torch.stack(prev).mean(0), torch.stack(sink).mean(0), torch.stack(sink_top).mean(0)


def repeated_random_tokens(sequences: int, length: int, seed: int, vocab_size: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    half = rng.integers(FIRST_MERGED_ID, vocab_size, size=(sequences, length))
    return torch.tensor(np.concatenate([np.full((sequences, 1), BOS_ID), half, half], axis=1))


@torch.no_grad()
def induction_scores(model: llama.LlamaForCausalLM, sequences: int, length: int, seed: int,
                     device: torch.device | str = "cpu", with_loss: bool = False):
    """[layers, heads] induction score on BOS + r + r (r: `length` random tokens):
    the query at the second copy's j-th token (position length+1+j) attends to
    the token after the first copy's j-th token (position j+2), i.e. length-1 back."""
    x = repeated_random_tokens(sequences, length, seed, model.cfg.vocab_size).to(device)
    out = model(x, output_attentions=True)
    att = torch.stack(out.attentions).float().cpu()  # [layers, batch, heads, n, n]
    q = torch.arange(length + 1, 2 * length + 1)
    scores = att[:, :, :, q, q - (length - 1)].mean(dim=(1, 3))
    if not with_loss:
        return scores
    losses = F.cross_entropy(out.logits[:, :-1].float().transpose(1, 2), x[:, 1:], reduction="none").cpu()
    first = losses[:, 1:length].mean().item()  # predicting r[1..] inside the first copy
    second = losses[:, length + 1:2 * length].mean().item()  # predicting r[1..] inside the second copy
    return scores, first, second


def _fmt_heads(matrix: torch.Tensor, threshold: float) -> str:
    hits = [(matrix[l, h].item(), l, h) for l in range(matrix.shape[0]) for h in range(matrix.shape[1])
            if matrix[l, h] >= threshold]
    hits.sort(reverse=True)
    return ", ".join(f"L{l}H{h} {v:.2f}" for v, l, h in hits) or "none"


def measure(model_dir: Path, data_dir: Path, device: str = "cpu") -> dict:
    torch.manual_seed(0)
    model = llama.load_checkpoint(model_dir).to(device)
    context = model.cfg.max_position_embeddings
    heldout = {g: np.load(data_dir / f"heldout-{g}.npz")["tokens"] for g in ("prose", "code")}
    losses = {g: heldout_loss(model, t, windows=32, context=context, device=device) for g, t in heldout.items()}
    all_tokens = sum(n for _, n in losses.values())
    losses["all"] = (sum(l * n for l, n in losses.values()) / all_tokens, all_tokens)
    stats = {g: attention_stats(model, t, windows=16, length=256, device=device) for g, t in heldout.items()}
    prev = (stats["prose"][0] + stats["code"][0]) / 2
    sink = (stats["prose"][1] + stats["code"][1]) / 2
    sink_top = (stats["prose"][2] + stats["code"][2]) / 2
    uniform_bos = float(np.mean([1.0 / (i + 1) for i in range(1, 256)]))
    induction, first_copy, second_copy = induction_scores(model, sequences=16, length=64, seed=0, device=device, with_loss=True)
    return {
        "heldout": {g: {"loss": l, "perplexity": float(np.exp(l)), "tokens": n} for g, (l, n) in losses.items()},
        "repeated_random_tokens": {"sequences": 16, "length": 64, "loss_first_copy": first_copy, "loss_second_copy": second_copy},
        "previous_token": prev.tolist(),
        "previous_token_prose": stats["prose"][0].tolist(),
        "previous_token_code": stats["code"][0].tolist(),
        "induction": induction.tolist(),
        "first_token_sink": sink.tolist(),
        "first_token_top_key_share": sink_top.tolist(),
        "uniform_attention_to_first_token": uniform_bos,
    }


def report(m: dict) -> str:
    prev, ind, sink, top = (torch.tensor(m[k]) for k in
                            ("previous_token", "induction", "first_token_sink", "first_token_top_key_share"))
    h = m["heldout"]
    r = m["repeated_random_tokens"]
    lines = [
        "held-out loss (nats/token), perplexity:",
        *(f"  {g:<5} {v['loss']:.3f}  ppl {v['perplexity']:.1f}  ({v['tokens']:,} tokens)" for g, v in h.items()),
        f"random tokens repeated twice ({r['sequences']} x {r['length']}): loss in first copy {r['loss_first_copy']:.2f}, "
        f"in second copy {r['loss_second_copy']:.2f}",
        "",
        "head   prev-token  induction  first-token sink  BOS is top key",
    ]
    for l in range(prev.shape[0]):
        for hh in range(prev.shape[1]):
            lines.append(f"L{l}H{hh:<3} {prev[l, hh]:10.3f} {ind[l, hh]:10.3f} {sink[l, hh]:17.3f} {top[l, hh]:15.2f}")
    lines += [
        "",
        f"previous-token heads (>= {PREV_THRESHOLD}): {_fmt_heads(prev, PREV_THRESHOLD)}",
        f"induction heads (>= {INDUCTION_THRESHOLD}): {_fmt_heads(ind, INDUCTION_THRESHOLD)}",
        f"first-token sink heads (>= {SINK_THRESHOLD}; uniform attention would give "
        f"{m['uniform_attention_to_first_token']:.3f}): {_fmt_heads(sink, SINK_THRESHOLD)}",
    ]
    return "\n".join(lines)


def main() -> None:
    from prepare import DATA, MODEL_DIR

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODEL_DIR)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, help="also write all numbers to this file")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    m = measure(args.model, args.data)
    print(report(m))
    if args.json:
        args.json.write_text(json.dumps(m, indent=1) + "\n")
    prev, ind = torch.tensor(m["previous_token"]), torch.tensor(m["induction"])
    if prev.max() < PREV_THRESHOLD or ind.max() < INDUCTION_THRESHOLD:
        print("\nthe model misses a target pattern (see thresholds above)")
        sys.exit(1)


if __name__ == "__main__":
    main()
