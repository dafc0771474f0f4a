"""Encoding speed of the course's byte-level BPE tokenizer on SmolLM2's file.

    PYTHONPATH=src python benchmarks/bench_bpe.py

Text: the first 4,000 characters of the book's prose pages (English with
code and numbers). Timed: `encode` with an empty cache (every piece merged
from bytes), `encode` again (pieces cached), and a worst case, one
4,000-letter "word" (a single piece, so nothing is cached or split). The
Rust reference (tokenizers, set up as SmolLM2's tokenizer.json) encodes the
same text for a ratio, shown for information: plain Python is expected to
be far slower. Course target: a few KB of text in well under a second.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from _timing import Row, median, report, time_interleaved, time_once

from attention_course.models.bpe import BPETokenizer, smollm2_gguf_path

ROOT = Path(__file__).resolve().parent.parent


def _prose(chars: int = 4000) -> str:
    """The first `chars` characters of the book's markdown pages."""
    pages = sorted((ROOT / "book").glob("*.md"))
    return "".join(p.read_text(encoding="utf-8") for p in pages)[:chars]


def _reference(reader: Any, tok: BPETokenizer) -> Any:
    """tokenizers set up as SmolLM2's tokenizer.json, or None if absent."""
    try:
        import tokenizers as tk
    except ImportError:
        return None
    fields = reader.fields
    tokens = fields["tokenizer.ggml.tokens"].contents()
    merges = fields["tokenizer.ggml.merges"].contents()
    ref = tk.Tokenizer(tk.models.BPE(
        vocab={t: i for i, t in enumerate(tokens)},
        merges=[tuple(m.split(" ")) for m in merges],
    ))
    ref.pre_tokenizer = tk.pre_tokenizers.Sequence([
        tk.pre_tokenizers.Digits(individual_digits=True),
        tk.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    ref.add_special_tokens(
        [tk.AddedToken(t, special=True) for t in tok.special_tokens]
    )
    return ref


def main() -> None:
    import gguf

    reader = gguf.GGUFReader(smollm2_gguf_path())
    tok = BPETokenizer.from_gguf(reader)
    text = _prose()
    tok.encode("warm up the regexes")  # built once per process
    cold = []
    for _ in range(5):
        tok.clear_cache()
        cold.append(time_once(lambda: tok.encode(text)))
    warm = time_interleaved({"warm": lambda: tok.encode(text)}, repeats=9)
    rng = random.Random(0)
    word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                   for _ in range(4000))
    worst = time_once(lambda: tok.encode(word))
    ids = tok.encode(text)
    print(f"{len(text)} characters -> {len(ids)} tokens; cold "
          f"{1e3 * median(cold):.1f} ms, warm "
          f"{1e3 * median(warm['warm']):.1f} ms, one 4,000-letter word "
          f"{1e3 * worst:.0f} ms")
    rows = [
        Row("encode 4,000 characters of prose, empty cache",
            median(cold), at_most=0.25, unit="s"),
        Row("encode one 4,000-letter word (worst case)", worst,
            at_most=1.0, unit="s"),
    ]
    ref = _reference(reader, tok)
    if ref is not None:
        if ref.encode(text).ids != ids:
            raise SystemExit("ids differ from the reference tokenizer")
        rust = time_interleaved(
            {"rust": lambda: ref.encode(text)}, repeats=9
        )
        rows.append(Row("course BPE (empty cache) / tokenizers (Rust)",
                        median(cold) / median(rust["rust"]),
                        detail="information; ids identical"))
    report("byte-level BPE tokenizer", rows)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
