"""Every checker turns whatever the learner's function does into a verdict.

The checkers are enumerated from `attention_course.exercises.__all__`, so a new
checker is covered automatically. A checker whose first argument is not the
learner's function must be listed in `NOT_A_FUNCTION` with the way to feed it a
bad value.
"""

import contextlib
import inspect
import io

import numpy as np
import pytest
from test_exercises import TINY, tiny_tensors

from attention_course import exercises as ex
from attention_course.exercises.checking import Case, run_checks


def _raise(error):
    def fn(*args, **kwargs):
        raise error

    return fn


# (name, the learner's function, words the verdict must contain)
BAD_LEARNERS = [
    (
        "returns None",
        lambda *a, **k: None,
        ["returned None", "forget to `return`"],
    ),
    ("returns a string", lambda *a, **k: "hello", ["str"]),
    ("returns a list", lambda *a, **k: [1, 2, 3], ["expected"]),
    ("returns a ragged list", lambda *a, **k: [[1, 2], [3]], ["expected"]),
    ("returns ...", lambda *a, **k: ..., ["not written yet"]),
    ("returns a dict", lambda *a, **k: {"a": 1}, ["expected"]),
    ("returns a float", lambda *a, **k: 0.123, ["expected"]),
    (
        "returns a wrong shape",
        lambda *a, **k: np.zeros((7, 7, 7)),
        ["expected"],
    ),
    (
        "returns int zeros",
        lambda *a, **k: np.zeros((2, 2), np.int64),
        ["expected"],
    ),
    ("returns NaN", lambda *a, **k: np.full((3, 3), np.nan), ["expected"]),
    ("returns complex", lambda *a, **k: np.ones(3) * 1j, ["expected"]),
    ("returns (None, None)", lambda *a, **k: (None, None), ["None"]),
    (
        "raises ZeroDivisionError",
        _raise(ZeroDivisionError("boom")),
        ["ZeroDivisionError", "boom"],
    ),
    (
        "raises NotImplementedError",
        _raise(NotImplementedError()),
        ["not written yet"],
    ),
    (
        "raises TypeError",
        _raise(TypeError("bad call")),
        ["TypeError", "bad call"],
    ),
]

# Checkers that need more than the learner's function (keyword arguments to
# add).
EXTRA_KWARGS = {
    "check_minilm_encoder": lambda: {"tensors": tiny_tensors(), "config": TINY}
}
# Checkers whose first argument is the learner's result, not a function: how to
# call them with that bad result (the learner's function's outcome stands in
# for it).
NOT_A_FUNCTION = {"check_encoder_stages"}


def _checkers():
    return sorted(n for n in ex.__all__ if n.startswith("check_"))


def test_every_checker_takes_the_learners_function_first():
    odd = [
        n
        for n in _checkers()
        if n not in NOT_A_FUNCTION
        and next(iter(inspect.signature(getattr(ex, n)).parameters)) != "fn"
    ]
    assert not odd, (
        f"checkers {odd} do not take the learner's function as `fn`; add "
        "them to NOT_A_FUNCTION in tests/test_checkers_bad_learner.py with "
        "a way to call them"
    )


def _stages_reference():
    from attention_course.models import MiniLM, WordPieceTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    model = MiniLM(TINY, tiny_tensors(), WordPieceTokenizer(specials))
    ids = np.arange(5)[None]
    return model.forward(ids, np.ones((1, 5), bool))


def _run(name, learner):
    checker = getattr(ex, name)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if name == "check_encoder_stages":
            try:
                value = learner()
            except (
                Exception
            ):  # a learner whose function raises never gets a value to check
                value = None
            result = checker(value, _stages_reference())
        else:
            result = checker(learner, **EXTRA_KWARGS.get(name, dict)())
    return result, out.getvalue()


@pytest.mark.parametrize("name", _checkers())
@pytest.mark.parametrize(
    "case, learner, words", BAD_LEARNERS, ids=[b[0] for b in BAD_LEARNERS]
)
def test_checker_gives_a_verdict_for_a_bad_learner(name, case, learner, words):
    result, printed = _run(name, learner)
    assert isinstance(result, ex.CheckResult) and not result, (
        f"{name} passed '{case}'"
    )
    assert result.message.startswith(f"✗ {name}"), result.message
    assert printed.strip() == result.message
    assert "Traceback" not in result.message
    if name not in NOT_A_FUNCTION and "case 1" in result.message:
        # the generic words are promised by run_checks; special checkers word
        # it their own way
        if name != "check_minilm_encoder" or case in (
            "returns None",
            "raises TypeError",
        ):
            for word in words:
                assert word in result.message, (
                    f"{name} on '{case}': {word!r} not in {result.message!r}"
                )


def test_run_checks_with_no_cases_is_refused():
    with pytest.raises(ValueError, match="cases is empty"):
        run_checks("check_nothing", lambda x: x, [], [])
    assert run_checks(
        "check_one",
        lambda x: x,
        [Case("identity", (1.0,), 1.0)],
        [],
        verbose=False,
    )
