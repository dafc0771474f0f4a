"""Real pretrained models run with the package's numpy functions: weights reader, tokenizer, encoder."""

from .bpe import BPETokenizer, bytes_to_unicode, smollm2_gguf_path
from .minilm import (
    EncoderConfig,
    EncoderOutput,
    MiniLM,
    encode_sentences,
    load_minilm,
    mean_pool,
    minilm_folder,
)
from .safetensors_io import SafetensorsError, read_safetensors, read_safetensors_header, write_safetensors
from .tokenizer import WordPieceTokenizer, load_tokenizer

__all__ = [
    "BPETokenizer",
    "EncoderConfig",
    "EncoderOutput",
    "MiniLM",
    "SafetensorsError",
    "WordPieceTokenizer",
    "encode_sentences",
    "load_minilm",
    "load_tokenizer",
    "mean_pool",
    "minilm_folder",
    "read_safetensors",
    "read_safetensors_header",
    "write_safetensors",
    "bytes_to_unicode",
    "smollm2_gguf_path",
]
