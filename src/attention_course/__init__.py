"""attention_course: the tested helper package of "Attention, from intuition to code".

Each module holds one concept; the chapters build every idea by hand first and then show
that the function here gives the same numbers.
"""

from . import exercises, training
from .attention import scaled_dot_product_attention, softmax
from .blocks import (
    TransformerBlock,
    feed_forward,
    gelu,
    layer_norm,
    rms_norm,
    silu,
    swiglu,
)
from .diagnose import (
    Diagnosis,
    diagnose_attention,
    diagnose_gqa,
    diagnose_rope,
    diagnose_split_heads,
)
from .flash import attention_tiles, flash_attention, online_softmax, online_softmax_trace
from .heads import (
    MultiHeadAttention,
    grouped_query_attention,
    merge_heads,
    multi_head_attention,
    split_heads,
)
from .kv_cache import KVCache, ToyDecoder, kv_cache_bytes
from .masks import causal_mask, padding_mask
from .plotting import attention_table, plot_attention
from .positions import (
    apply_rope,
    rope_angles,
    sinusoidal_frequencies,
    sinusoidal_positional_encoding,
    sinusoidal_shift_matrix,
)
from .scaling import (
    SaturationStats,
    dot_product_variance,
    entropy,
    random_dot_products,
    random_scores,
    saturation_stats,
    softmax_jacobian,
)

__version__ = "0.1.0"

__all__ = [
    "KVCache",
    "MultiHeadAttention",
    "SaturationStats",
    "ToyDecoder",
    "attention_table",
    "attention_tiles",
    "causal_mask",
    "dot_product_variance",
    "entropy",
    "exercises",
    "training",
    "feed_forward",
    "flash_attention",
    "gelu",
    "grouped_query_attention",
    "kv_cache_bytes",
    "layer_norm",
    "merge_heads",
    "multi_head_attention",
    "online_softmax",
    "online_softmax_trace",
    "padding_mask",
    "plot_attention",
    "random_dot_products",
    "random_scores",
    "saturation_stats",
    "scaled_dot_product_attention",
    "softmax",
    "softmax_jacobian",
    "split_heads",
    # positions and the Transformer block (chapters 7-9)
    "TransformerBlock",
    "apply_rope",
    "rope_angles",
    "sinusoidal_frequencies",
    "sinusoidal_positional_encoding",
    "sinusoidal_shift_matrix",
    # which conventions an attention function follows (chapter 13)
    "Diagnosis",
    "diagnose_attention",
    "diagnose_gqa",
    "diagnose_rope",
    "diagnose_split_heads",
    # the pieces of a Llama-style decoder (chapter 16)
    "rms_norm",
    "silu",
    "swiglu",
]
