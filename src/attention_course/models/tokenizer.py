"""BERT's WordPiece tokenizer, written out in plain Python.

Text becomes token ids in two stages, exactly as in BERT (Devlin et al., 2019):

1. *Basic tokenisation* cleans the text (drop control characters, turn every kind of space
   into " "), puts spaces around CJK ideographs, strips accents (Unicode NFD, then drop the
   combining marks), lower-cases, and splits on whitespace and on every punctuation character.
2. *WordPiece* cuts each word into the longest vocabulary pieces, left to right:
   "embeddings" -> "em", "##bed", "##ding", "##s" ("##" marks a piece that continues a word).
   A word that cannot be cut, or is longer than 100 characters, becomes [UNK].

The sequence is then wrapped as [CLS] ... [SEP]; a batch is padded with [PAD] to one length.
The literal texts "[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]" in the input are read as those
special tokens, as Hugging Face's tokenizer does.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..checks import check_flag, check_positive_int, check_texts

__all__ = ["WordPieceTokenizer", "load_tokenizer"]

# Unicode White_Space characters that are not control characters (controls are removed first).
_SPACES = frozenset(
    " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)

# The CJK Unified Ideographs blocks that BERT splits into one token per character.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _is_whitespace(ch: str) -> bool:
    """Tab, newline, carriage return, or a Unicode space character."""
    return ch in "\t\n\r" or ch in _SPACES


def _is_control(ch: str) -> bool:
    """A control, format, surrogate or private-use character (Cc, Cf, Cs, Co), except tab/newline/return.

    Unassigned code points (Cn) are kept, as the reference tokenizer keeps them (they become [UNK]).
    """
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co")


def _is_punctuation(ch: str) -> bool:
    """Any ASCII non-alphanumeric printable character (so also $, +, ^, ...) or a Unicode P* character."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(ch: str) -> bool:
    """True for a CJK ideograph (Chinese characters and Japanese kanji; not kana or hangul)."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


class WordPieceTokenizer:
    """BERT tokenizer: basic tokenisation then greedy longest-match-first WordPiece over `vocab`.

    vocab: the tokens in id order (line i of vocab.txt is the token with id i).
    """

    def __init__(
        self,
        vocab: Sequence[str],
        *,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        tokenize_cjk: bool = True,
        unk_token: str = "[UNK]",
        cls_token: str = "[CLS]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        mask_token: str = "[MASK]",
        max_input_chars_per_word: int = 100,
        model_max_length: int = 512,
    ) -> None:
        """Build the token -> id table; strip_accents=None means "strip when lower-casing" (BERT's rule)."""
        self.vocab = check_texts(vocab, "vocab")
        self.token_to_id = {tok: i for i, tok in enumerate(self.vocab)}
        if len(self.token_to_id) != len(self.vocab):
            raise ValueError(
                f"vocab has {len(self.vocab)} entries but only {len(self.token_to_id)} distinct tokens"
            )
        self.special_tokens = [unk_token, cls_token, sep_token, pad_token, mask_token]
        missing = [t for t in self.special_tokens if t not in self.token_to_id]
        if missing:
            raise ValueError(
                f"special tokens {missing} are not in the vocabulary of {len(self.vocab)} tokens"
            )
        self.lowercase = check_flag(lowercase, "lowercase")
        self.strip_accents = (
            lowercase
            if strip_accents is None
            else check_flag(strip_accents, "strip_accents")
        )
        self.tokenize_cjk = check_flag(tokenize_cjk, "tokenize_cjk")
        self.unk_token, self.cls_token, self.sep_token = unk_token, cls_token, sep_token
        self.pad_token, self.mask_token = pad_token, mask_token
        self.unk_id = self.token_to_id[unk_token]
        self.cls_id = self.token_to_id[cls_token]
        self.sep_id = self.token_to_id[sep_token]
        self.pad_id = self.token_to_id[pad_token]
        self.max_input_chars_per_word = check_positive_int(
            max_input_chars_per_word, "max_input_chars_per_word"
        )
        self.model_max_length = check_positive_int(model_max_length, "model_max_length")
        # Longest special token first, so that a longer one wins where two could match.
        specials = sorted(self.special_tokens, key=len, reverse=True)
        self._special_re = re.compile("(" + "|".join(re.escape(t) for t in specials) + ")")

    # ----- stage 1: basic tokenisation --------------------------------------------------------
    def normalize(self, text: str) -> str:
        """Clean the text, space out CJK ideographs, strip accents and lower-case, as BERT does."""
        _check_str(text, "text")
        out = []
        for ch in text:
            if ch == "\x00" or ch == "\ufffd" or _is_control(ch):
                continue  # invisible or broken characters carry no meaning
            if _is_whitespace(ch):
                out.append(" ")
            elif self.tokenize_cjk and _is_cjk(ch):
                out.append(f" {ch} ")  # Chinese has no spaces: every ideograph is its own word
            else:
                out.append(ch)
        text = "".join(out)
        if self.strip_accents:
            # NFD splits "é" into "e" + a combining accent (category Mn), which we drop.
            text = "".join(
                ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn"
            )
        if self.lowercase:
            # Character by character, as the reference does (no context rules such as a final sigma).
            text = "".join(ch.lower() for ch in text)
        return text

    def basic_tokenize(self, text: str) -> list[str]:
        """Normalise, then split on whitespace and around every punctuation character."""
        _check_str(text, "text")
        words: list[str] = []
        for chunk in self.normalize(text).split(" "):
            current = ""
            for ch in chunk:
                if _is_punctuation(ch):
                    if current:
                        words.append(current)
                    words.append(ch)
                    current = ""
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    # ----- stage 2: WordPiece -----------------------------------------------------------------
    def wordpiece(self, word: str) -> list[str]:
        """Cut one word into the longest vocabulary pieces, left to right; [UNK] if impossible."""
        _check_str(word, "word")
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces = []
        start = 0
        while start < len(word):
            # Try the longest remaining substring first and shrink until it is in the vocabulary.
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.token_to_id:
                    pieces.append(piece)
                    start = end
                    break
            else:
                return [self.unk_token]  # no piece fits: the whole word is unknown
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """Text -> WordPiece tokens, without [CLS]/[SEP]; literal special-token text stays special."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        tokens: list[str] = []
        for part in self._special_re.split(text):
            if part in self.token_to_id and part in self.special_tokens:
                tokens.append(part)
            elif part:
                for word in self.basic_tokenize(part):
                    tokens.extend(self.wordpiece(word))
        return tokens

    # ----- ids --------------------------------------------------------------------------------
    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """Text -> ids [CLS] tokens [SEP], cut to at most max_length ids (default model_max_length)."""
        max_length = self._max_length(max_length)
        ids = [self.token_to_id[t] for t in self.tokenize(text)][: max_length - 2]
        return [self.cls_id, *ids, self.sep_id]

    def encode_batch(
        self, texts: Sequence[str], max_length: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encode, right-pad with [PAD]; returns (input_ids (batch, n) int64, attention_mask (batch, n) bool).

        n is the longest encoded text. attention_mask is True on real tokens (the course's
        convention; Hugging Face returns the same information as integers 1/0).
        """
        texts = check_texts(texts, "texts")
        if len(texts) == 0:
            raise ValueError("texts is empty: need at least one text to encode")
        encoded = [self.encode(t, max_length) for t in texts]
        n = max(len(e) for e in encoded)
        input_ids = np.full((len(encoded), n), self.pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(encoded), n), dtype=bool)
        for row, ids in enumerate(encoded):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = True
        return input_ids, attention_mask

    def convert_ids_to_tokens(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        """ids: (n,) -> the n token strings (for labelling plots)."""
        arr = np.asarray(ids)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"ids must be a 1-D array of integers, got dtype {arr.dtype} with shape {arr.shape}"
            )
        if arr.size and (arr.min() < 0 or arr.max() >= len(self.vocab)):
            raise ValueError(
                f"ids must lie in [0, {len(self.vocab)}), got values from {arr.min()} to {arr.max()}"
            )
        return [self.vocab[i] for i in arr.tolist()]

    def _max_length(self, max_length: int | None) -> int:
        """Check a requested length: room for [CLS] and [SEP], and at most model_max_length."""
        if max_length is None:
            return self.model_max_length
        max_length = check_positive_int(max_length, "max_length")
        if not 2 <= max_length <= self.model_max_length:
            raise ValueError(
                f"max_length must lie in [2, {self.model_max_length}] (room for [CLS] and [SEP]), "
                f"got {max_length}"
            )
        return max_length

    def __len__(self) -> int:
        """Vocabulary size."""
        return len(self.vocab)

    def __repr__(self) -> str:
        return (
            f"WordPieceTokenizer(vocab_size={len(self.vocab)}, lowercase={self.lowercase}, "
            f"strip_accents={self.strip_accents}, model_max_length={self.model_max_length})"
        )


def _check_str(value: object, name: str) -> None:
    """Raise TypeError naming `name` unless value is a str."""
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be a str, got {type(value).__name__} {value!r:.60}"
        )


def load_tokenizer(folder: str | os.PathLike[str]) -> WordPieceTokenizer:
    """Build the tokenizer from a model folder holding vocab.txt (and optionally tokenizer_config.json)."""
    folder = Path(folder)
    vocab_file = folder / "vocab.txt"
    if not vocab_file.is_file():
        raise FileNotFoundError(
            f"no vocab.txt in {folder}: a WordPiece model folder needs one token per line"
        )
    # Tokens may contain any character except a newline; keep trailing spaces, drop only "\n".
    vocab = vocab_file.read_text(encoding="utf-8").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    options = {}
    config_file = folder / "tokenizer_config.json"
    if config_file.is_file():
        cfg = json.loads(config_file.read_text(encoding="utf-8"))
        options = {
            "lowercase": bool(cfg.get("do_lower_case", True)),
            "strip_accents": cfg.get("strip_accents"),
            "tokenize_cjk": bool(cfg.get("tokenize_chinese_chars", True)),
            "model_max_length": int(cfg.get("model_max_length", 512)),
        }
        for key in ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token"):
            if isinstance(cfg.get(key), str):
                options[key] = cfg[key]
    return WordPieceTokenizer(vocab, **options)
