"""attention_course: the tested helper package of "Attention, from intuition to code".

Each module holds one concept; the chapters build every idea by hand first and then show
that the function here gives the same numbers.
"""

from . import exercises, training
from .attention import scaled_dot_product_attention, softmax
from .blocks import feed_forward, gelu, layer_norm
from .heads import MultiHeadAttention, merge_heads, multi_head_attention, split_heads
from .masks import causal_mask, padding_mask
from .plotting import attention_table, plot_attention

__version__ = "0.1.0"

__all__ = [
    "MultiHeadAttention",
    "attention_table",
    "causal_mask",
    "exercises",
    "training",
    "feed_forward",
    "gelu",
    "layer_norm",
    "merge_heads",
    "multi_head_attention",
    "padding_mask",
    "plot_attention",
    "scaled_dot_product_attention",
    "softmax",
    "split_heads",
]
