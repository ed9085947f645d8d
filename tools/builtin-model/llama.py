"""A Llama causal language model in plain PyTorch with the same arithmetic and
the same tensor names as Hugging Face `transformers`' LlamaForCausalLM (RMSNorm
in float32, rotate-half rotary embeddings, SwiGLU, grouped-query attention, eager
softmax in float32), plus a dependency-free safetensors reader and writer.

It is written from the published definition of the architecture so that the
checkpoint it saves loads unchanged in `transformers`, and so that the
reference attentions it computes are an independent check of the extension's
engine.
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class LlamaConfig:
    vocab_size: int = 8192
    hidden_size: int = 256
    intermediate_size: int = 688
    num_hidden_layers: int = 4
    num_attention_heads: int = 8
    num_key_value_heads: int = 4
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_position_embeddings: int = 1024
    bos_token_id: int = 0
    eos_token_id: int = 1
    initializer_range: float = 0.02

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def to_hub_json(self, torch_dtype: str) -> dict:
        """config.json as Llama checkpoints on the Hub spell it."""
        return {
            "architectures": ["LlamaForCausalLM"],
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "hidden_size": self.hidden_size,
            "initializer_range": self.initializer_range,
            "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings,
            "mlp_bias": False,
            "model_type": "llama",
            "num_attention_heads": self.num_attention_heads,
            "num_hidden_layers": self.num_hidden_layers,
            "num_key_value_heads": self.num_key_value_heads,
            "pretraining_tp": 1,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_scaling": None,
            "rope_theta": self.rope_theta,
            "tie_word_embeddings": True,
            "torch_dtype": torch_dtype,
            "use_cache": True,
            "vocab_size": self.vocab_size,
        }

    @classmethod
    def from_hub_json(cls, data: dict) -> "LlamaConfig":
        if data.get("model_type") != "llama" or not data.get("tie_word_embeddings", False):
            raise ValueError("expected a Llama config with tied word embeddings")
        if data.get("rope_scaling") or data.get("attention_bias") or data.get("mlp_bias"):
            raise ValueError("rope scaling and biases are not implemented here")
        fields = {k: data[k] for k in asdict(cls()) if k in data}
        cfg = cls(**fields)
        if data.get("head_dim", cfg.head_dim) != cfg.head_dim:
            raise ValueError("head_dim must equal hidden_size / num_attention_heads")
        return cfg


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotary_cos_sin(cfg: LlamaConfig, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    dim = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64, device=device).float() / dim))
    positions = torch.arange(n, device=device).float()
    freqs = torch.outer(positions, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        hd = cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden_size, cfg.num_attention_heads * hd, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, cfg.num_key_value_heads * hd, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, cfg.num_key_value_heads * hd, bias=False)
        self.o_proj = nn.Linear(cfg.num_attention_heads * hd, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, eager: bool):
        b, n, _ = x.shape
        cfg = self.cfg
        hd = cfg.head_dim
        q = self.q_proj(x).view(b, n, cfg.num_attention_heads, hd).transpose(1, 2)
        k = self.k_proj(x).view(b, n, cfg.num_key_value_heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, n, cfg.num_key_value_heads, hd).transpose(1, 2)
        cos, sin = cos.to(q.dtype), sin.to(q.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # grouped-query attention: query head h reads key/value head h // group
        group = cfg.num_attention_heads // cfg.num_key_value_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        if eager or not hasattr(F, "scaled_dot_product_attention"):  # torch < 2.0 has no fused kernel
            scores = torch.matmul(q, k.transpose(2, 3)) * (hd ** -0.5)
            mask = torch.full((n, n), torch.finfo(scores.dtype).min, device=x.device, dtype=scores.dtype).triu(1)
            probs = F.softmax(scores + mask, dim=-1, dtype=torch.float32).to(q.dtype)
            out = torch.matmul(probs, v)
        else:
            probs = None
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        out = out.transpose(1, 2).reshape(b, n, -1)
        return self.o_proj(out), probs


class MLP(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, eager):
        attn_out, probs = self.self_attn(self.input_layernorm(x), cos, sin, eager)
        x = x + attn_out
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, probs


class LlamaModel(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


@dataclass
class Output:
    logits: torch.Tensor
    attentions: list[torch.Tensor] | None
    hidden_states: list[torch.Tensor] | None


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        self.model = LlamaModel(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.model.embed_tokens.weight  # tied

    def init_weights(self, generator: torch.Generator) -> None:
        """Normal(0, 0.02) like transformers, with the residual output projections
        scaled down by sqrt(2 * layers) (GPT-2's choice) for a stable start."""
        std = self.cfg.initializer_range
        residual_std = std / math.sqrt(2 * self.cfg.num_hidden_layers)
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            else:
                s = residual_std if name.endswith(("o_proj.weight", "down_proj.weight")) else std
                with torch.no_grad():
                    p.copy_(torch.randn(p.shape, generator=generator) * s)

    def forward(self, input_ids: torch.Tensor, eager: bool = True, output_attentions: bool = False,
                output_hidden_states: bool = False, return_logits: bool = True) -> Output:
        n = input_ids.shape[1]
        x = self.model.embed_tokens(input_ids)
        cos, sin = rotary_cos_sin(self.cfg, n, input_ids.device)
        attentions, hidden = [], [x]
        for layer in self.model.layers:
            x, probs = layer(x, cos, sin, eager or output_attentions)
            attentions.append(probs)
            hidden.append(x)
        x = self.model.norm(x)
        hidden[-1] = x  # as transformers returns it: the last entry is after the final norm
        logits = self.lm_head(x) if return_logits else x
        return Output(logits, attentions if output_attentions else None, hidden if output_hidden_states else None)


# ---- safetensors --------------------------------------------------------------

_DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (np.uint16, 2)}


def save_safetensors(path: Path, tensors: dict[str, torch.Tensor], dtype: str) -> None:
    """Writes tensors in safetensors layout: u64 little-endian header size, JSON
    header, then the raw little-endian data of each tensor in header order."""
    header: dict = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        if dtype == "BF16":
            raw = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        elif dtype == "F16":
            raw = t.to(torch.float16).numpy().tobytes()
        elif dtype == "F32":
            raw = t.to(torch.float32).numpy().tobytes()
        else:
            raise ValueError(f"unsupported dtype {dtype}")
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for raw in blobs:
            f.write(raw)


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Reads every tensor and widens it to float32."""
    data = Path(path).read_bytes()
    (size,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + size])
    base = 8 + size
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        np_dtype, width = _DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
        arr = np.frombuffer(data, dtype=np_dtype, count=(end - start) // width, offset=base + start)
        if info["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(arr.astype(np.float32).reshape(info["shape"]))
    return out


def load_checkpoint(folder: Path) -> LlamaForCausalLM:
    """Loads config.json + model.safetensors in float32 (rounded weights widened)."""
    folder = Path(folder)
    cfg = LlamaConfig.from_hub_json(json.loads((folder / "config.json").read_text()))
    model = LlamaForCausalLM(cfg)
    tensors = load_safetensors(folder / "model.safetensors")
    expected = {k for k in model.state_dict() if k != "lm_head.weight"}
    if set(tensors) != expected:
        raise ValueError(f"{folder}: tensor names differ: missing {sorted(expected - set(tensors))}, "
                         f"unexpected {sorted(set(tensors) - expected)}")
    model.load_state_dict({**tensors, "lm_head.weight": tensors["model.embed_tokens.weight"]})
    return model.eval()


def checkpoint_tensors(model: LlamaForCausalLM) -> dict[str, torch.Tensor]:
    """The tensors to save: the tied lm_head is not stored, as transformers does."""
    return {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
