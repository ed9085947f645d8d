"""The benchmark's peer for bert-base: the same safetensors weights in a plain PyTorch BERT encoder,
exported with torch.onnx.export (attentions of every layer as outputs), so onnxruntime-node can run
the graph a Python user would produce. Needs only torch and numpy (Debian: python3-torch).

Usage: python3 bench/peer_bert.py <bert-base checkpoint folder> <out.onnx>
"""
import json
import math
import struct
import sys

import numpy as np
import torch
from torch import nn


def read_safetensors(path):
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", "the peer reads float32 checkpoints"
        begin, end = entry["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=begin).reshape(entry["shape"]).copy())
    return tensors


class Layer(nn.Module):
    def __init__(self, hidden, heads, inter, eps):
        super().__init__()
        self.heads, self.d = heads, hidden // heads
        self.q, self.k, self.v, self.o = (nn.Linear(hidden, hidden) for _ in range(4))
        self.ln1 = nn.LayerNorm(hidden, eps=eps)
        self.fc1, self.fc2 = nn.Linear(hidden, inter), nn.Linear(inter, hidden)
        self.ln2 = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x):
        n = x.shape[0]
        split = lambda t: t.view(n, self.heads, self.d).transpose(0, 1)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        probs = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(self.d), dim=-1)
        context = (probs @ v).transpose(0, 1).reshape(n, -1)
        h = self.ln1(x + self.o(context))
        h = self.ln2(h + self.fc2(nn.functional.gelu(self.fc1(h))))
        return h, probs


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        hidden = c["hidden_size"]
        self.words = nn.Embedding(c["vocab_size"], hidden)
        self.positions = nn.Embedding(c["max_position_embeddings"], hidden)
        self.types = nn.Embedding(c["type_vocab_size"], hidden)
        self.ln = nn.LayerNorm(hidden, eps=c["layer_norm_eps"])
        self.layers = nn.ModuleList(Layer(hidden, c["num_attention_heads"], c["intermediate_size"], c["layer_norm_eps"]) for _ in range(c["num_hidden_layers"]))

    def forward(self, ids, types):
        positions = torch.arange(ids.shape[0])
        x = self.ln(self.words(ids) + self.positions(positions) + self.types(types))
        attentions = []
        for layer in self.layers:
            x, probs = layer(x)
            attentions.append(probs)
        return torch.stack(attentions)


def main():
    folder, out = sys.argv[1], sys.argv[2]
    config = json.load(open(f"{folder}/config.json"))
    w = read_safetensors(f"{folder}/model.safetensors")
    model = Bert(config).eval()
    p = "bert.embeddings."
    state = {"words.weight": w[p + "word_embeddings.weight"], "positions.weight": w[p + "position_embeddings.weight"],
             "types.weight": w[p + "token_type_embeddings.weight"], "ln.weight": w[p + "LayerNorm.weight"], "ln.bias": w[p + "LayerNorm.bias"]}
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value", "o": "attention.output.dense",
             "ln1": "attention.output.LayerNorm", "fc1": "intermediate.dense", "fc2": "output.dense", "ln2": "output.LayerNorm"}
    for l in range(config["num_hidden_layers"]):
        for ours, theirs in names.items():
            for kind in ("weight", "bias"):
                state[f"layers.{l}.{ours}.{kind}"] = w[f"bert.encoder.layer.{l}.{theirs}.{kind}"]
    model.load_state_dict(state)
    ids = torch.arange(1, 31)
    with torch.no_grad():
        torch.onnx.export(model, (ids, torch.zeros_like(ids)), out, input_names=["input_ids", "token_type_ids"], output_names=["attentions"],
                          dynamic_axes={"input_ids": {0: "n"}, "token_type_ids": {0: "n"}, "attentions": {2: "n", 3: "n"}}, opset_version=17)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
