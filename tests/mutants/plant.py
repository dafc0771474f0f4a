"""A pytest plugin that plants the bug named by the MUTANT environment variable before tests import the package."""

import os

import numpy as np

import attention_course
import attention_course.attention as attention_module
from attention_course.masks import causal_mask

original = attention_module.scaled_dot_product_attention


def no_sqrt(q, k, v, mask=None, causal=False, scale=None, **kwargs):
    """Forgets the 1/sqrt(d_k) scale."""
    return original(q, k, v, mask=mask, causal=causal, scale=1.0 if scale is None else scale, **kwargs)


def flipped_mask(q, k, v, mask=None, causal=False, scale=None, **kwargs):
    """Reads the boolean mask with the other library's polarity (True = ignore)."""
    return original(q, k, v, mask=None if mask is None else ~np.asarray(mask), causal=causal, scale=scale,
                    **kwargs)


def causal_sees_future(q, k, v, mask=None, causal=False, scale=None, **kwargs):
    """Builds the causal mask the wrong way round (upper triangle)."""
    if causal:
        tri = causal_mask(np.shape(q)[-2], np.shape(k)[-2]).T if np.shape(q)[-2] == np.shape(k)[-2] else None
        mask = tri if mask is None else (np.asarray(mask) & tri)
    return original(q, k, v, mask=mask, causal=False, scale=scale, **kwargs)


MUTANTS = {"no_sqrt": no_sqrt, "flipped_mask": flipped_mask, "causal_sees_future": causal_sees_future}


def pytest_configure(config):
    mutant = MUTANTS[os.environ["MUTANT"]]
    attention_module.scaled_dot_product_attention = mutant
    attention_course.scaled_dot_product_attention = mutant
