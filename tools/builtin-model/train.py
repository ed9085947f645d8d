"""Step 2 of 3: trains the built-in model on the tokens prepare.py wrote and saves
media/builtin-model/config.json + model.safetensors (bfloat16, tied embeddings).

    python3 tools/builtin-model/train.py --steps 4000          # CUDA GPU: about 6 minutes on one H100
    python3 tools/builtin-model/train.py --time-budget 400     # picks --steps from measured speed

On CPU the same command works but is about 1000 times slower. The seed fixes the
initial weights, the batches and the data augmentation; CUDA kernels are not
bit-for-bit deterministic, so a rerun gives an equivalent, not an identical,
checkpoint. The reference values the tests compare against are always computed
from the saved file (reference.py).

Requirements: PyTorch (1.13+), numpy.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import head_patterns  # noqa: E402
import llama  # noqa: E402
from prepare import DATA, MODEL_DIR  # noqa: E402

BOS_ID = 0
IGNORE = -100


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class Batches:
    """Random windows of the training stream, each starting with BOS like a
    selection analysed in the editor. A fraction of windows gets a span copied to
    a later position (text repeated within a window, as in duplicated code or
    quoted passages), which makes the copying (induction) circuit reliable."""

    def __init__(self, tokens: torch.Tensor, batch: int, context: int, copy_fraction: float, seed: int):
        self.tokens = tokens
        self.batch = batch
        self.context = context
        self.copy_fraction = copy_fraction
        self.gen = torch.Generator().manual_seed(seed)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.context
        starts = torch.randint(0, len(self.tokens) - c, (self.batch,), generator=self.gen)
        offsets = (starts[:, None] + torch.arange(c)[None, :]).to(self.tokens.device)
        bos = torch.full((self.batch, 1), BOS_ID, dtype=torch.long, device=self.tokens.device)
        rows = torch.cat([bos, self.tokens[offsets]], dim=1)
        copies = torch.rand(self.batch, generator=self.gen) < self.copy_fraction
        for r in torch.nonzero(copies).flatten().tolist():
            length = int(torch.randint(8, min(129, c // 4), (1,), generator=self.gen))
            src = int(torch.randint(1, c // 2 - length, (1,), generator=self.gen))
            dst = int(torch.randint(src + length, c + 1 - length, (1,), generator=self.gen))
            rows[r, dst:dst + length] = rows[r, src:src + length].clone()
        inputs, targets = rows[:, :-1], rows[:, 1:].clone()
        targets[targets == BOS_ID] = IGNORE  # document boundaries are not a prediction target
        return inputs, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, help="optimizer steps (default: chosen from --time-budget)")
    parser.add_argument("--time-budget", type=float, default=400.0, help="seconds of training when --steps is not given")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--micro-batch", type=int, help="windows per forward pass (default: all on CUDA, 4 on CPU)")
    parser.add_argument("--context", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--copy-fraction", type=float, default=0.1)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--safe", action="store_true", help="plain AdamW and eager attention (if a fused kernel fails)")
    args = parser.parse_args()

    t_start = time.time()
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    train_tokens = torch.from_numpy(np.load(DATA / "train.npz")["tokens"].astype(np.int64)).to(device)
    cfg = llama.LlamaConfig(num_hidden_layers=args.layers, max_position_embeddings=args.context)
    model = llama.LlamaForCausalLM(cfg)
    model.init_weights(torch.Generator().manual_seed(args.seed))
    model.to(device).train()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params:,} parameters; train stream {len(train_tokens):,} tokens; device {device}"
          f" ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}); torch {torch.__version__}")

    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt_kwargs = {"fused": True} if device.type == "cuda" and not args.safe else {}
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, **opt_kwargs)
    batches = Batches(train_tokens, args.batch, args.context, args.copy_fraction, args.seed)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    heldout = {g: np.load(DATA / f"heldout-{g}.npz")["tokens"] for g in ("prose", "code")}

    micro = args.micro_batch or (args.batch if device.type == "cuda" else 4)
    total = args.steps
    step = 0
    timing_from, timing_at = 10, 30
    t_timing = 0.0
    log = []
    t_train = time.time()
    while total is None or step < total:
        if total is None and step == timing_from:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t_timing = time.time()
        if total is None and step == timing_at:
            if device.type == "cuda":
                torch.cuda.synchronize()
            per_step = (time.time() - t_timing) / (timing_at - timing_from)
            total = max(timing_at + 1, int((args.time_budget - (time.time() - t_train)) / (per_step * 1.04)) + timing_at)
            print(f"measured {per_step * 1000:.1f} ms/step: training for {total} steps (--steps {total} reproduces)")
        lr = lr_at(step, total or 10**9, args.lr, args.warmup)
        for group in opt.param_groups:
            group["lr"] = lr
        inputs, targets = batches.next()
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        loss = torch.zeros((), device=device)
        for chunk in range(0, args.batch, micro):
            with autocast:
                out = model(inputs[chunk:chunk + micro], eager=args.safe, return_logits=True)
            part = F.cross_entropy(out.logits.float().view(-1, cfg.vocab_size), targets[chunk:chunk + micro].reshape(-1),
                                   ignore_index=IGNORE)
            weighted = part * inputs[chunk:chunk + micro].shape[0] / args.batch
            weighted.backward()
            loss += weighted.detach()  # read only when logging: .item() would wait for the GPU every step
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 100 == 0 or step == 1:
            elapsed = time.time() - t_train
            tps = step * args.batch * args.context / elapsed
            print(f"step {step:5d}/{total or '?'} loss {loss.item():.3f} lr {lr:.2e} {tps / 1e6:.2f}M tok/s {elapsed:.0f}s", flush=True)
        if args.eval_every and (step % args.eval_every == 0 or step == total):
            model.eval()
            with torch.no_grad():
                ev = {g: head_patterns.heldout_loss(model, tokens, windows=8, context=args.context, device=device)
                      for g, tokens in heldout.items()}
                ind = head_patterns.induction_scores(model, sequences=4, length=64, seed=0, device=device)
            model.train()
            best = float(ind.max())
            print(f"  eval step {step}: held-out loss prose {ev['prose'][0]:.3f} code {ev['code'][0]:.3f}; best induction score {best:.3f}", flush=True)
            log.append({"step": step, "heldout_prose": ev["prose"][0], "heldout_code": ev["code"][0], "best_induction": best})

    train_seconds = time.time() - t_train
    args.out.mkdir(parents=True, exist_ok=True)
    model.eval().to("cpu")
    (args.out / "config.json").write_text(json.dumps(cfg.to_hub_json("bfloat16"), indent=2) + "\n")
    llama.save_safetensors(args.out / "model.safetensors", llama.checkpoint_tensors(model), "BF16")
    summary = {
        "steps": step, "batch": args.batch, "context": args.context, "tokens_seen": step * args.batch * args.context,
        "train_stream_tokens": len(train_tokens), "parameters": n_params, "final_train_loss": loss.item(),
        "train_seconds": round(train_seconds, 1), "total_seconds": round(time.time() - t_start, 1),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "torch": torch.__version__, "args": {k: str(v) for k, v in vars(args).items()}, "evals": log,
    }
    (HERE / "train-summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("evals", "args")}))
    print(f"saved {args.out / 'model.safetensors'} ({(args.out / 'model.safetensors').stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
