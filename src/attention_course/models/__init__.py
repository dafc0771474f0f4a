"""Real pretrained models run with the package's numpy functions: weights readers, tokenizers, an encoder, a decoder."""

from .bpe import BPETokenizer, bytes_to_unicode, smollm2_gguf_path
from .generation import filter_top_k, filter_top_p, generate, generate_stream, next_token_probabilities
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
from .smollm2 import DecoderConfig, DecoderOutput, SmolLM2, load_smollm2, weights_cache_dir
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
    # the tokenizer and the decoder of chapter 16
    "BPETokenizer",
    "bytes_to_unicode",
    "DecoderConfig",
    "DecoderOutput",
    "SmolLM2",
    "filter_top_k",
    "filter_top_p",
    "generate",
    "generate_stream",
    "load_smollm2",
    "next_token_probabilities",
    "smollm2_gguf_path",
    "weights_cache_dir",
]
