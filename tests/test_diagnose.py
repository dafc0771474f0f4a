"""The convention diagnosis recognises each convention: on the package's own
functions, on planted wrong versions (one per convention) and on PyTorch."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pytest

from attention_course import (
    apply_rope,
    grouped_query_attention,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)
from attention_course.diagnose import (
    Diagnosis,
    diagnose_attention,
    diagnose_gqa,
    diagnose_rope,
    diagnose_split_heads,
)


def assert_finding(report: Diagnosis, axis: str, words: str,
                   agrees: bool) -> None:
    """The axis names a convention containing `words`, with a counter-example."""
    finding = report[axis]
    assert words in finding.convention, str(report)
    assert finding.agrees is agrees, str(report)
    assert finding.probe and finding.observed
    text = str(report)
    assert f"probe: {finding.probe}\n    gives: {finding.observed}" in text
    assert (finding in report.disagreements) is (not agrees)


def assert_findings(report: Diagnosis, expected: dict[str, tuple[str, bool]]) -> None:
    """assert_finding for each axis: (words, agrees)."""
    for axis, (words, agrees) in expected.items():
        assert_finding(report, axis, words, agrees)


# ---- a planted attention: every convention is a keyword ----------------------

_SCALES = {"sqrt_dk": lambda d: 1 / math.sqrt(d), "none": lambda d: 1.0,
           "dk": lambda d: 1 / d, "d_model": lambda d: 1 / math.sqrt(64)}


def planted(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: Any = None,
            causal: bool = False, *, scale: str = "sqrt_dk", axis: int = -1,
            polarity: str = "attend", fill: float = -np.inf,
            naive: bool = False, top_left: bool = False,
            causal_upper: bool = False, strict: bool = True) -> np.ndarray:
    """Attention written with one chosen convention per axis (strict: refuse
    masks that are not boolean, as the course does)."""
    s = q @ k.T * _SCALES[scale](q.shape[-1])
    allowed = np.ones(s.shape, dtype=bool)
    if mask is not None:
        m = np.asarray(mask)
        if strict and polarity != "added" and m.dtype != np.bool_:
            raise TypeError(f"mask must be boolean, got {m.dtype}")
        if polarity == "added":
            s = s + m
        else:
            allowed &= m.astype(bool) == (polarity == "attend")
    if causal:
        n_q, n_k = s.shape
        tri = np.tril(np.ones((n_q, n_k), dtype=bool), 0 if top_left else n_k - n_q)
        allowed &= np.triu(np.ones((n_q, n_k), dtype=bool)) if causal_upper else tri
    s = np.where(allowed, s, fill)
    if naive:  # no care for rows with nothing to attend to
        e = np.exp(s - s.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True) @ v
    return softmax(s, axis=axis) @ v


def test_the_package_attention_follows_the_course() -> None:
    report = diagnose_attention(scaled_dot_product_attention)
    assert report.agrees_with_course, str(report)
    assert_findings(report, {
        "softmax axis": ("over the keys", True), "scale": ("1/sqrt(d_k)", True),
        "mask (boolean)": ("True = attend", True),
        "mask (0/1 integers)": ("refused", True),
        "fully masked row": ("zeros", True), "causal mask": ("lower triangle", True),
        "causal alignment (n_q != n_k)": ("bottom-right", True),
        "causal path vs mask path": ("equals", True)})
    assert report.subject == "scaled_dot_product_attention"
    assert str(report).startswith("Diagnosis of scaled_dot_product_attention: the course")


def test_a_planted_attention_with_the_course_conventions_agrees() -> None:
    assert diagnose_attention(planted).agrees_with_course


@pytest.mark.parametrize(("options", "axis", "words"), [
    ({"axis": -2}, "softmax axis", "over the queries"),
    ({"scale": "none"}, "scale", "none"),
    ({"scale": "dk"}, "scale", "1/d_k"),
    ({"scale": "d_model"}, "scale", "1/sqrt(64) whatever d_k"),
    ({"polarity": "ignore"}, "mask (boolean)", "True = ignore"),
    ({"polarity": "added"}, "mask (boolean)", "added to the scores as numbers"),
    ({"polarity": "ignore", "strict": False}, "mask (0/1 integers)", "1 = ignore"),
    ({"strict": False}, "mask (float, additive 0/-inf)", "read as boolean"),
    ({"naive": True}, "fully masked row", "NaN"),
    ({"fill": -1e9}, "fully masked row", "uniform"),
    ({"top_left": True}, "causal alignment (n_q != n_k)", "top-left"),
    ({"causal_upper": True}, "causal mask", "FUTURE"),
    ({"causal_upper": True}, "causal path vs mask path", "DISAGREE"),
])
def test_each_planted_convention_is_named(options: dict[str, Any], axis: str,
                                          words: str) -> None:
    fn = functools.partial(planted, **options)
    report = diagnose_attention(fn, name="planted")
    assert_finding(report, axis, words, False)
    assert not report.agrees_with_course
    assert "axis(es) differ from the course" in str(report)


def test_right_conventions_of_other_libraries_are_named_and_accepted() -> None:
    report = diagnose_attention(functools.partial(planted, strict=False))
    assert_finding(report, "mask (0/1 integers)", "1 = attend (Hugging Face", True)
    additive = diagnose_attention(functools.partial(planted, polarity="added"))
    assert_finding(additive, "mask (float, additive 0/-inf)", "added to the scores: 0 keeps", True)


def test_a_function_without_mask_or_causal_is_probed_on_what_it_takes() -> None:
    def plain(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        return softmax(q @ k.T / math.sqrt(q.shape[-1])) @ v

    report = diagnose_attention(plain)
    assert list(report.conventions) == ["softmax axis", "scale"]
    assert report.agrees_with_course


def test_a_function_that_raises_is_reported_not_raised() -> None:
    def broken(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        raise NotImplementedError("not written yet")

    report = diagnose_attention(broken)
    assert "raises NotImplementedError" in report["softmax axis"].convention
    assert not report.agrees_with_course


def test_complex_output_is_reported_not_cast_to_real() -> None:
    def complex_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray
                          ) -> np.ndarray:
        return scaled_dot_product_attention(q, k, v)[0] + 0j

    finding = diagnose_attention(complex_attention)["softmax axis"]
    assert finding.convention.startswith(
        "raises TypeError: returned complex numbers")
    assert not finding.agrees


def test_bad_input_names_the_argument() -> None:
    for diagnose in (diagnose_attention, diagnose_gqa, diagnose_rope, diagnose_split_heads):
        with pytest.raises(TypeError, match="fn must be a function, got int"):
            diagnose(3)
    with pytest.raises(KeyError, match="no axis 'colour'"):
        diagnose_attention(planted)["colour"]


# ---- grouped-query attention, RoPE, splitting heads ----------------------------

def test_gqa_repeat_and_tile() -> None:
    assert_finding(diagnose_gqa(grouped_query_attention), "GQA head order", "repeat", True)

    def tiled(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        group = q.shape[0] // k.shape[0]
        k, v = np.tile(k, (group, 1, 1)), np.tile(v, (group, 1, 1))
        return scaled_dot_product_attention(q, k, v)[0]

    assert_finding(diagnose_gqa(tiled), "GQA head order", "tile", False)


def rope_half_split(x: np.ndarray, positions: np.ndarray, sign: float = 1.0,
                    base: float = 10000.0) -> np.ndarray:
    """RoPE pairing feature i with i + d/2 (numpy, written from the formula)."""
    half = x.shape[-1] // 2
    angles = positions[:, None] * base ** (-np.arange(half) / half)
    cos, sin = np.cos(angles), sign * np.sin(angles)
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)


def test_rope_pairing_direction_and_base() -> None:
    report = diagnose_rope(apply_rope)
    assert_finding(report, "RoPE pairing", "interleaved: pairs (2i, 2i+1)", True)
    assert_finding(report, "RoPE base", "10000", True)
    assert_finding(diagnose_rope(rope_half_split), "RoPE pairing", "half-split", False)
    reversed_rope = functools.partial(rope_half_split, sign=-1.0)
    assert_finding(diagnose_rope(reversed_rope), "RoPE pairing", "half-split, rotating the other way", False)
    report = diagnose_rope(functools.partial(apply_rope, base=500000.0))
    assert_finding(report, "RoPE base", "500000", False)
    assert_finding(diagnose_rope(lambda x, p: x), "RoPE pairing", "no effect", False)


def test_split_heads_variants() -> None:
    assert_finding(diagnose_split_heads(split_heads), "splitting heads", "then swap axes", True)
    cases = {
        "a plain reshape": lambda x, h: x.reshape(h, x.shape[0], -1),
        "without the swap": lambda x, h: x.reshape(x.shape[0], h, -1),
        "strided": lambda x, h: x.reshape(x.shape[0], -1, h).transpose(2, 0, 1),
    }
    for words, fn in cases.items():
        assert_finding(diagnose_split_heads(fn), "splitting heads", words, False)


# ---- PyTorch, through thin wrappers that return numpy arrays -------------------

def test_pytorch_sdpa() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    functional = torch.nn.functional

    def sdpa(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: Any = None,
             causal: bool = False) -> np.ndarray:
        t = [torch.from_numpy(np.asarray(a)) for a in (q, k, v)]
        attn_mask = None if mask is None else torch.from_numpy(np.asarray(mask))
        return functional.scaled_dot_product_attention(
            *t, attn_mask=attn_mask, is_causal=causal).numpy()

    assert_findings(diagnose_attention(sdpa), {
        "softmax axis": ("over the keys", True), "scale": ("1/sqrt(d_k)", True),
        "mask (boolean)": ("True = attend", True),
        "mask (float, additive 0/-inf)": ("added to the scores", True),
        "fully masked row": ("zeros", True), "causal mask": ("lower triangle", True),
        "causal alignment (n_q != n_k)": ("top-left", False),
        "causal path vs mask path": ("equals", True)})


def test_pytorch_multihead_attention() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")

    def mha(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: Any = None,
            causal: bool = False) -> np.ndarray:
        """One head, identity projections: its attention weights (n_q, n_k)."""
        d, n_q, n_k = q.shape[-1], q.shape[0], k.shape[0]
        layer = torch.nn.MultiheadAttention(d, 1, bias=False, batch_first=True, vdim=v.shape[-1])
        with torch.no_grad():
            layer.q_proj_weight.copy_(torch.eye(d, dtype=torch.float64))
            layer.k_proj_weight.copy_(torch.eye(d, dtype=torch.float64))
        layer = layer.double()
        attn_mask = None if mask is None else torch.from_numpy(np.asarray(mask))
        if causal:  # the usual way: hide the keys above the diagonal
            attn_mask = torch.triu(torch.ones(n_q, n_k, dtype=torch.bool), diagonal=1)
        t = [torch.from_numpy(np.asarray(a, dtype=np.float64))[None] for a in (q, k, v)]
        _, weights = layer(*t, attn_mask=attn_mask, need_weights=True)
        return weights[0].detach().numpy()

    assert_findings(diagnose_attention(mha, name="nn.MultiheadAttention"), {
        "softmax axis": ("over the keys", True), "scale": ("1/sqrt(d_k)", True),
        "mask (boolean)": ("True = ignore (nn.MultiheadAttention", False),
        "mask (float, additive 0/-inf)": ("added to the scores", True),
        "fully masked row": ("NaN", False),
        "causal alignment (n_q != n_k)": ("top-left", False),
        "causal path vs mask path": ("equals", True)})


def test_pytorch_gqa_and_head_split() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")

    def gqa(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        t = [torch.from_numpy(a)[None] for a in (q, k, v)]
        return torch.nn.functional.scaled_dot_product_attention(*t, enable_gqa=True)[0].numpy()

    assert_finding(diagnose_gqa(gqa), "GQA head order", "repeat", True)

    def view_transpose(x: np.ndarray, h: int) -> np.ndarray:
        t = torch.from_numpy(x)
        return t.view(t.shape[0], h, -1).transpose(0, 1).numpy()

    def view_only(x: np.ndarray, h: int) -> np.ndarray:
        return torch.from_numpy(x).view(h, x.shape[0], -1).numpy()

    assert_finding(diagnose_split_heads(view_transpose), "splitting heads", "then swap axes", True)
    assert_finding(diagnose_split_heads(view_only), "splitting heads", "a plain reshape", False)


def test_hugging_face_rope_is_half_split() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    llama = pytest.importorskip("transformers.models.llama.modeling_llama",
                                reason="transformers is not installed")

    def hf_rope(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
        d = x.shape[-1]
        inv_freq = 1.0 / 10000.0 ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
        freqs = torch.outer(torch.from_numpy(positions).double(), inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        t = torch.from_numpy(x)[None, None]
        out, _ = llama.apply_rotary_pos_emb(t, t, emb.cos()[None], emb.sin()[None])
        return out[0, 0].numpy()

    report = diagnose_rope(hf_rope, name="transformers apply_rotary_pos_emb")
    assert_finding(report, "RoPE pairing", "half-split: pairs (i, i + d/2)", False)
    assert_finding(report, "RoPE base", "10000", True)


# ---- a failing check names the conventions the function followed -------------

def test_failing_checks_name_the_conventions(capsys: pytest.CaptureFixture[str]) -> None:
    from attention_course.exercises import check_attention, check_rope, check_split_heads

    result = check_attention(lambda q, k, v: softmax(q @ np.swapaxes(k, -1, -2) / 8.0) @ v)
    assert not result and "conventions: yours differs from the course's on 1 axis(es)" in result.message
    assert "scale: a constant 0.125 = 1/sqrt(64)" in result.message
    assert result.message in capsys.readouterr().out  # printed once, with the note
    strided = check_split_heads(lambda x, h: np.moveaxis(x.reshape(*x.shape[:-1], -1, h), -1, -3),
                                verbose=False)
    assert "splitting heads: strided" in strided.message
    assert "RoPE pairing: half-split" in check_rope(rope_half_split, verbose=False).message
    assert check_attention(lambda q, k, v: scaled_dot_product_attention(q, k, v)[0], verbose=False)


def test_a_stub_gets_no_convention_note() -> None:
    from attention_course.exercises import check_attention

    def stub(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    assert "conventions" not in check_attention(stub, verbose=False).message


def test_wrapper_outputs_with_a_batch_axis_or_none_are_understood() -> None:
    def batched(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        return scaled_dot_product_attention(q, k, v)[0][None, None]

    assert diagnose_attention(batched).agrees_with_course

    def unwritten(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
        return None

    finding = diagnose_attention(unwritten)["softmax axis"]
    assert finding.convention == "raises NotImplementedError: returned None: not written yet"


def test_a_wrapper_may_return_tensors_that_need_grad() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")

    def sdpa(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> Any:
        t = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
        return torch.nn.functional.scaled_dot_product_attention(*t)[None]

    assert diagnose_attention(sdpa).agrees_with_course


def test_a_stub_is_reported_as_raising_on_every_axis() -> None:
    def stub(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("not written yet")

    for diagnose in (diagnose_attention, diagnose_gqa, diagnose_rope, diagnose_split_heads):
        conventions = diagnose(stub).conventions.values()
        assert all(c.startswith("raises NotImplementedError") or c.startswith("not probed")
                   for c in conventions), conventions


def test_pytorch_causal_lower_right_is_bottom_right() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    from torch.nn.attention.bias import causal_lower_right

    def sdpa(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool = False) -> np.ndarray:
        t = [torch.from_numpy(a) for a in (q, k, v)]
        bias = causal_lower_right(q.shape[0], k.shape[0]) if causal else None
        return torch.nn.functional.scaled_dot_product_attention(*t, attn_mask=bias).numpy()

    assert_finding(diagnose_attention(sdpa), "causal alignment (n_q != n_k)", "bottom-right", True)
