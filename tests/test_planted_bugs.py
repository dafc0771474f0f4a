"""The test suite catches planted bugs: a missing sqrt, a flipped mask polarity, a causal mask that sees the future.

Each case re-runs the PyTorch oracle tests and the property tests in a subprocess with one bug planted
(tests/mutants/plant.py) and asserts that they fail. The same tests pass on the real package.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITES = ["tests/test_properties.py", "tests/test_attention.py"]


def run_with_mutant(mutant, suites):
    env = dict(os.environ, MUTANT=mutant, PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), str(ROOT / "src")]))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           "-p", "mutants.plant", *suites], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("mutant", ["no_sqrt", "flipped_mask", "causal_sees_future"])
def test_planted_bug_is_caught(mutant):
    suites = list(SUITES)
    try:
        import torch  # noqa: F401

        suites.append("tests/test_oracle_torch.py")
    except ImportError:
        pass
    result = run_with_mutant(mutant, suites)
    assert result.returncode == 1, f"the planted bug {mutant!r} went unnoticed:\n{result.stdout[-2000:]}"
    assert "failed" in result.stdout

