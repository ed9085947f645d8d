"""Step 1 of 3: builds the corpus, trains the byte-level BPE tokenizer, writes
media/builtin-model/tokenizer.json + tokenizer_config.json, and tokenizes the
corpus into tools/builtin-model/.data/ for train.py and head_patterns.py.

    python3 tools/builtin-model/prepare.py            # about 4 minutes on 2 cores

Requirements: Python 3.10+, numpy, regex (Debian: python3-numpy python3-regex),
the Debian packages named in corpus.py, and `npm ci` done in the repository (the
npm dependencies are part of the corpus, and the npm `tokenizers` package is used
to check that this encoder and the Hugging Face library agree).
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

import bpe
import corpus

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
MODEL_DIR = corpus.REPO_ROOT / "media" / "builtin-model"
VOCAB_SIZE = 8192
CONTEXT = 1024


def tokenizer_config() -> dict:
    return {
        "bos_token": bpe.BOS_TOKEN,
        "eos_token": bpe.EOS_TOKEN,
        "add_bos_token": True,
        "clean_up_tokenization_spaces": False,
        "model_max_length": CONTEXT,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def check_against_hf_tokenizers(tokenizer_path: Path, samples: list[str], tok: bpe.ByteLevelBPE) -> None:
    """Encodes samples with the npm `tokenizers` package (Hugging Face's Rust
    library) and fails if ids, tokens or offsets differ from this encoder's."""
    module = corpus.REPO_ROOT / "node_modules" / "tokenizers"
    if not module.is_dir():
        raise SystemExit(f"{module} is missing: run `npm ci` in the repository first")
    expected = [dict(zip(("ids", "tokens", "offsets"), tok.encode(s))) for s in samples]
    script = """
const { Tokenizer } = require(process.argv[1]);
const fs = require('fs');
(async () => {
  const [tokPath, casesPath] = process.argv.slice(2);
  const t = Tokenizer.fromFile(tokPath);
  const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
  let bad = 0;
  for (const c of cases) {
    const e = await t.encode(c.text);
    const got = { ids: e.getIds(), tokens: e.getTokens(), offsets: e.getOffsets() };
    const decoded = await t.decode(got.ids, true);
    if (JSON.stringify(got) !== JSON.stringify(c.expected) || decoded !== c.text) {
      if (bad++ < 3) console.error('mismatch for', JSON.stringify(c.text.slice(0, 80)));
    }
  }
  console.log(JSON.stringify({ checked: cases.length, mismatches: bad }));
  process.exit(bad ? 1 : 0);
})();
"""
    cases_path = DATA / "tokenizer-check.json"
    cases_path.write_text(json.dumps([{"text": s, "expected": e} for s, e in zip(samples, expected)]))
    result = subprocess.run(["node", "-e", script, str(module), str(tokenizer_path), str(cases_path)],
                            capture_output=True, text=True)
    print(f"  npm tokenizers check: {result.stdout.strip()} {result.stderr.strip()}")
    if result.returncode != 0:
        raise SystemExit("the Python encoder and the Hugging Face tokenizers library disagree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    t0 = time.time()
    DATA.mkdir(exist_ok=True)
    MODEL_DIR.mkdir(parents=True, exist_ok=True)

    docs = corpus.load_corpus(args.seed)
    train_docs = [d for d in docs if not d.heldout]
    print(f"corpus: {len(docs)} documents, {sum(len(d.text.encode()) for d in docs) / 1e6:.1f} MB "
          f"({len(docs) - len(train_docs)} held out) [{time.time() - t0:.0f}s]")

    words: Counter = Counter()
    for d in train_docs:
        words.update(bpe.pre_tokenize(d.text))
    byte_words: Counter = Counter()
    for w, c in words.items():
        byte_words[bpe.to_byte_chars(w)] += c
    merges = bpe.train_bpe(byte_words, VOCAB_SIZE)
    tok = bpe.ByteLevelBPE(merges)
    if len(tok.vocab) != VOCAB_SIZE:
        raise SystemExit(f"tokenizer has {len(tok.vocab)} entries, expected {VOCAB_SIZE}")
    tokenizer_path = MODEL_DIR / "tokenizer.json"
    tokenizer_path.write_text(json.dumps(tok.tokenizer_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (MODEL_DIR / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(), indent=2) + "\n")
    print(f"tokenizer: {len(tok.vocab)} tokens, {len(merges)} merges [{time.time() - t0:.0f}s]")

    rng = random.Random(args.seed)
    heldout_docs = [d for d in docs if d.heldout]
    check_against_hf_tokenizers(tokenizer_path, [d.text[:3000] for d in rng.sample(heldout_docs, 100)], tok)

    rng.shuffle(train_docs)  # interleave sources in the training stream
    streams: dict[str, list[int]] = {"train": [], "heldout-prose": [], "heldout-code": []}
    stats: dict[str, dict] = {}
    for d in train_docs + heldout_docs:
        ids = tok.encode_ids(d.text)
        key = f"heldout-{d.group}" if d.heldout else "train"
        streams[key].append(tok.bos_id)  # every document starts with BOS, as selections do
        streams[key].extend(ids)
        s = stats.setdefault(d.source, {"documents": 0, "bytes": 0, "tokens": 0, "heldout_tokens": 0})
        s["documents"] += 1
        s["bytes"] += len(d.text.encode("utf-8"))
        s["tokens" if not d.heldout else "heldout_tokens"] += len(ids) + 1
    for key, ids in streams.items():
        np.savez_compressed(DATA / f"{key}.npz", tokens=np.asarray(ids, dtype=np.uint16))
        print(f"  {key}: {len(ids):,} tokens")
    sources = [{"name": s.name, "group": s.group, "licence": s.licence, "origin": s.origin, **stats[s.name]}
               for s in corpus.SOURCES]
    npm = [{"name": n, "version": v, "licence": lic} for _, n, v, lic in corpus.npm_packages()]
    # committed: the record of exactly which sources and npm packages went in
    (HERE / "corpus-manifest.json").write_text(json.dumps({"seed": args.seed, "sources": sources, "npm_packages": npm}, indent=1))
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
