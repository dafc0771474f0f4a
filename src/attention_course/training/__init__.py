"""Training attention by hand: backward passes, gradient checks, Adam, toy tasks, a tiny model.

Everything here is numpy only; chapter 10 ("Watch attention learn") builds each piece by hand
and checks it against these functions.
"""

from .grad import (
    IGNORE_INDEX,
    attention_backward,
    cross_entropy,
    cross_entropy_backward,
    embedding_backward,
    gelu_backward,
    gradient_check,
    layer_norm_backward,
    linear_backward,
    log_softmax,
    numerical_gradient,
    softmax_backward,
    softmax_jacobian,
)
from .induction import (
    RepeatBatch,
    induction_score,
    previous_token_score,
    repeat_task,
)
from .lm import DecoderLM
from .lm_loop import LMHistory, heldout_bpc, train_lm
from .loop import Evaluation, History, evaluate, train
from .model import TinyAttentionModel
from .optim import Adam, clip_grad_norm, grad_norm, warmup_cosine
from .tasks import heldout_split, retrieval_task, reversal_task, sorting_task
from .text import (
    TEXTS,
    CharVocab,
    bigram_bpc,
    load_text,
    random_windows,
    split_text,
    unigram_bpc,
)

__all__ = [
    "IGNORE_INDEX",
    "Adam",
    "Evaluation",
    "History",
    "TinyAttentionModel",
    "attention_backward",
    "cross_entropy",
    "cross_entropy_backward",
    "embedding_backward",
    "evaluate",
    "gelu_backward",
    "gradient_check",
    "heldout_split",
    "layer_norm_backward",
    "linear_backward",
    "log_softmax",
    "numerical_gradient",
    "retrieval_task",
    "reversal_task",
    "softmax_backward",
    "softmax_jacobian",
    "sorting_task",
    "train",
    # chapter 15: a language model from scratch
    "DecoderLM",
    "LMHistory",
    "train_lm",
    "heldout_bpc",
    "warmup_cosine",
    "clip_grad_norm",
    "grad_norm",
    "TEXTS",
    "CharVocab",
    "load_text",
    "split_text",
    "unigram_bpc",
    "bigram_bpc",
    "random_windows",
    "RepeatBatch",
    "repeat_task",
    "induction_score",
    "previous_token_score",
]
