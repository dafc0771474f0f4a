"""Read (and write) the safetensors weight format with numpy alone.

A safetensors file is three things in a row:

1. 8 bytes: the header length N, an unsigned 64-bit little-endian integer;
2. N bytes: a UTF-8 JSON header mapping each tensor name to
   ``{"dtype": "F32", "shape": [384, 384], "data_offsets": [begin, end]}``
   (offsets count from the first byte after the header; an optional ``"__metadata__"``
   entry holds string-to-string metadata);
3. the raw little-endian tensor bytes, packed one after the other.

Because the layout is that simple, numpy can map the file into memory and hand out
arrays that point straight into it: nothing is read from disk until it is used.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..checks import check_flag

__all__ = ["SafetensorsError", "read_safetensors", "read_safetensors_header", "write_safetensors"]

# safetensors dtype names -> little-endian numpy dtypes. BF16 has no numpy dtype: it is
# stored as uint16 and widened to float32 on load (bf16 is the top half of a float32).
DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {np.dtype(v): k for k, v in DTYPES.items() if k != "BF16"}

# A header larger than this is not a weight file (the format itself caps it at 100 MB).
_MAX_HEADER = 100_000_000


class SafetensorsError(ValueError):
    """The file is not a valid safetensors file; the message says what is wrong and where."""


def read_safetensors_header(path: str | os.PathLike[str]) -> tuple[dict[str, dict[str, Any]], int]:
    """Parse and validate the JSON header; returns (entries name -> {dtype, shape, data_offsets}, data_start).

    The ``__metadata__`` entry, if any, is dropped. Raises SafetensorsError naming the problem.
    """
    path = _check_path(path)
    file_size = os.path.getsize(path)
    if file_size < 8:
        raise SafetensorsError(
            f"{path}: {file_size} bytes is too short for a safetensors file "
            "(it must start with an 8-byte header length)"
        )
    with open(path, "rb") as f:
        (n_header,) = struct.unpack("<Q", f.read(8))
        if n_header > min(_MAX_HEADER, file_size - 8):
            raise SafetensorsError(
                f"{path}: header length {n_header} does not fit in a file of "
                f"{file_size} bytes; is this really a safetensors file?"
            )
        raw = f.read(n_header)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SafetensorsError(f"{path}: the {n_header}-byte header is not valid UTF-8 JSON ({err})") from err
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: the header must be a JSON object, got {type(header).__name__}")
    header.pop("__metadata__", None)
    data_start = 8 + n_header
    data_size = file_size - data_start
    for name, entry in header.items():
        _check_entry(path, name, entry, data_size)
    return header, data_start


def _check_entry(path: str, name: str, entry: Any, data_size: int) -> None:
    """Raise SafetensorsError unless `entry` is a well-formed tensor description inside the data."""
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise SafetensorsError(
            f"{path}: tensor {name!r} needs 'dtype', 'shape' and 'data_offsets', got {entry!r}"
        )
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPES:
        raise SafetensorsError(
            f"{path}: tensor {name!r} has unsupported dtype {dtype!r}; known: {sorted(DTYPES)}"
        )
    if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
        raise SafetensorsError(f"{path}: tensor {name!r} has invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise SafetensorsError(f"{path}: tensor {name!r} has invalid data_offsets {offsets!r}")
    begin, end = offsets
    expected = math.prod(shape) * DTYPES[dtype].itemsize
    if not 0 <= begin <= end <= data_size:
        raise SafetensorsError(
            f"{path}: tensor {name!r} has data_offsets {offsets} outside the "
            f"{data_size} data bytes (file truncated?)"
        )
    if end - begin != expected:
        raise SafetensorsError(
            f"{path}: tensor {name!r} with dtype {dtype} and shape {tuple(shape)} "
            f"needs {expected} bytes, but data_offsets {offsets} give {end - begin}"
        )


def read_safetensors(path: str | os.PathLike[str], *, mmap: bool = True) -> dict[str, np.ndarray]:
    """Load every tensor of a safetensors file; returns name -> array with the stored shape and dtype.

    With mmap=True (default) the arrays are read-only views into a memory map of the file (BF16
    tensors excepted: they are widened to float32 copies). With mmap=False everything is read now.
    """
    header, data_start = read_safetensors_header(path)
    if check_flag(mmap, "mmap"):
        file_size = os.path.getsize(path)
        buffer: Any = (
            np.memmap(path, dtype=np.uint8, mode="r", offset=data_start)
            if file_size > data_start
            else np.zeros(0, dtype=np.uint8)
        )
    else:
        with open(path, "rb") as f:
            f.seek(data_start)
            buffer = np.frombuffer(f.read(), dtype=np.uint8)
    tensors: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = DTYPES[entry["dtype"]]
        arr = np.asarray(buffer[begin:end]).view(dtype).reshape(entry["shape"])
        if entry["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = arr
    return tensors


def write_safetensors(
    path: str | os.PathLike[str], tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> None:
    """Write name -> array (any shape; dtypes of the DTYPES table except BF16) as a safetensors file."""
    path = _check_path(path)
    for name, value in (("tensors", tensors), ("metadata", metadata)):
        if not isinstance(value, Mapping) and (
            name == "tensors" or value is not None
        ):
            raise TypeError(
                f"{name} must be a dict (name -> "
                f"{'array' if name == 'tensors' else 'str'}), "
                f"got {type(value).__name__}"
            )
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        arr = np.asarray(value)
        little = arr.dtype.newbyteorder("<")
        if little not in _NAMES:
            raise TypeError(
                f"tensor {name!r} has dtype {arr.dtype} (shape {arr.shape}), which safetensors "
                f"cannot store; use one of {sorted(str(d) for d in _NAMES)}"
            )
        blob = np.ascontiguousarray(arr, dtype=little).tobytes()
        header[name] = {
            "dtype": _NAMES[little],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # pad so tensor data starts 8-byte aligned, as the reference does
    _write_atomically(path, [struct.pack("<Q", len(raw)), raw, *blobs])


def _check_path(path: Any) -> str:
    """Return path as a str if it is a str or os.PathLike, else raise."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or pathlib.Path, got {type(path).__name__} "
            f"{path!r:.60}"
        )
    return os.fspath(path)


def _write_atomically(
    path: str | os.PathLike[str], chunks: list[bytes]
) -> None:
    """Write chunks to a temporary file beside path, then rename it over path.

    Why: a reader may hold the old file memory-mapped (read_safetensors does
    by default). Truncating that file in place kills the reader with SIGBUS,
    or silently changes arrays it already loaded; a rename leaves the old
    inode alive for the reader, and a crash mid-write leaves the old file
    whole instead of half a new one.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
