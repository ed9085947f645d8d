"""Byte-level BPE: a small deterministic trainer, an encoder, and a writer for the
Hugging Face `tokenizer.json` format (the same scheme as GPT-2 / Llama 3).

The encoder reproduces what the `tokenizers` library does with the written file
(checked by prepare.py against the npm `tokenizers` package), so the token ids the
model is trained on are the ids users get at run time.
"""
from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict

import regex

BOS_TOKEN = "<|begin_of_text|>"
EOS_TOKEN = "<|end_of_text|>"
SPECIAL_TOKENS = [BOS_TOKEN, EOS_TOKEN]  # ids 0 and 1
FIRST_BYTE_ID = len(SPECIAL_TOKENS)  # ids 2..257 are the 256 single bytes

# Llama 3's pre-tokenization pattern: contractions, letter runs with one leading
# non-letter, 1-3 digit groups, punctuation runs, newlines, whitespace.
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_split_re = regex.compile(SPLIT_PATTERN)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def pre_tokenize(text: str) -> list[str]:
    return _split_re.findall(text)


def to_byte_chars(piece: str) -> str:
    return "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))


def train_bpe(word_counts: Counter, vocab_size: int, min_count: int = 2) -> list[tuple[str, str]]:
    """Learns merges from {pre-token (byte chars): count}. Ties are broken by the
    pair's symbols, so the result depends only on the counts."""
    # Two merges can produce the same string ((ab, c) and (a, bc)); such a merge
    # adds no vocabulary entry, so stop on vocabulary size rather than merge count.
    known = {BYTE_TO_CHAR[b] for b in range(256)}
    target = vocab_size - FIRST_BYTE_ID
    words = [list(w) for w in word_counts]
    counts = [word_counts[w] for w in word_counts]
    pair_count: dict[tuple[str, str], int] = defaultdict(int)
    pair_words: dict[tuple[str, str], set[int]] = defaultdict(set)
    for idx, symbols in enumerate(words):
        for pair in zip(symbols, symbols[1:]):
            pair_count[pair] += counts[idx]
            pair_words[pair].add(idx)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    while len(known) < target and heap:
        neg, pair = heapq.heappop(heap)
        current = pair_count.get(pair, 0)
        if current != -neg:  # stale entry: re-queue with its current count
            if current > 0:
                heapq.heappush(heap, (-current, pair))
            continue
        if current < min_count:
            break
        merges.append(pair)
        left, right = pair
        merged = left + right
        known.add(merged)
        touched: set[tuple[str, str]] = set()
        for idx in pair_words.pop(pair, ()):
            symbols = words[idx]
            n = len(symbols)
            out: list[str] = []
            i = 0
            while i < n:
                if i + 1 < n and symbols[i] == left and symbols[i + 1] == right:
                    out.append(merged)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            if len(out) == n:
                continue  # stale index: the pair left this word in an earlier merge
            c = counts[idx]
            for old in zip(symbols, symbols[1:]):
                pair_count[old] -= c
            for new in zip(out, out[1:]):
                pair_count[new] += c
            for new in zip(out, out[1:]):
                if new[0] == merged or new[1] == merged:
                    pair_words[new].add(idx)
                    touched.add(new)
            words[idx] = out
        pair_count.pop(pair, None)
        for new in sorted(touched):
            heapq.heappush(heap, (-pair_count[new], new))
        # Counts of neighbouring pairs dropped; their heap entries are fixed lazily.
    return merges


class ByteLevelBPE:
    def __init__(self, merges: list[tuple[str, str]]):
        self.merges = merges
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.vocab: dict[str, int] = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
        for b in range(256):
            self.vocab[BYTE_TO_CHAR[b]] = FIRST_BYTE_ID + b
        for left, right in merges:
            self.vocab.setdefault(left + right, len(self.vocab))
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self._cache: dict[str, list[str]] = {}

    @property
    def bos_id(self) -> int:
        return self.vocab[BOS_TOKEN]

    @property
    def eos_id(self) -> int:
        return self.vocab[EOS_TOKEN]

    def _bpe(self, word: str) -> list[str]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        symbols = list(word)
        while len(symbols) > 1:
            best_rank, best_i = None, -1
            for i in range(len(symbols) - 1):
                r = self.ranks.get((symbols[i], symbols[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best_rank, best_i = r, i
            if best_rank is None:
                break
            left, right = self.merges[best_rank]
            out: list[str] = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == left and symbols[i + 1] == right:
                    out.append(left + right)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            symbols = out
        if len(self._cache) < 2_000_000:
            self._cache[word] = symbols
        return symbols

    def encode_ids(self, text: str) -> list[int]:
        """Token ids of `text` without the BOS token."""
        vocab = self.vocab
        ids: list[int] = []
        for piece in pre_tokenize(text):
            ids.extend(vocab[s] for s in self._bpe(to_byte_chars(piece)))
        return ids

    def encode(self, text: str) -> tuple[list[int], list[str], list[list[int]]]:
        """ids, tokens and code-point offsets with the BOS token first, as the
        `tokenizers` library reports them for this tokenizer.json."""
        ids, tokens, offsets = [self.bos_id], [BOS_TOKEN], [[0, 0]]
        for match in _split_re.finditer(text):
            piece = match.group()
            # code-point index of every byte of the piece
            byte_to_char: list[int] = []
            for k, ch in enumerate(piece):
                byte_to_char.extend([match.start() + k] * len(ch.encode("utf-8")))
            byte_pos = 0
            for sym in self._bpe(to_byte_chars(piece)):
                n = len(sym)
                start = byte_to_char[byte_pos]
                end = byte_to_char[byte_pos + n - 1] + 1
                ids.append(self.vocab[sym])
                tokens.append(sym)
                offsets.append([start, end])
                byte_pos += n
        return ids, tokens, offsets

    def decode(self, ids: list[int]) -> str:
        out = bytearray()
        for i in ids:
            tok = self.id_to_token[i]
            if tok in SPECIAL_TOKENS:
                continue
            out.extend(CHAR_TO_BYTE[c] for c in tok)
        return out.decode("utf-8", errors="replace")

    def tokenizer_json(self) -> dict:
        added = [
            {"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for i, tok in enumerate(SPECIAL_TOKENS)
        ]
        bos = {"SpecialToken": {"id": BOS_TOKEN, "type_id": 0}}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": {
                "type": "Sequence",
                "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Isolated", "invert": False},
                    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
                ],
            },
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}},
                         bos, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {BOS_TOKEN: {"id": BOS_TOKEN, "ids": [self.bos_id], "tokens": [BOS_TOKEN]}},
            },
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": None,
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None,
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": self.vocab,
                "merges": [[a, b] for a, b in self.merges],
            },
        }

    @classmethod
    def from_tokenizer_json(cls, path: str) -> "ByteLevelBPE":
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if data["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] != SPLIT_PATTERN:
            raise ValueError(f"{path}: pre-tokenizer pattern differs from this encoder's")
        merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in data["model"]["merges"]]
        tok = cls(merges)  # type: ignore[arg-type]
        if tok.vocab != data["model"]["vocab"]:
            raise ValueError(f"{path}: vocabulary is not the one its merges imply")
        return tok
