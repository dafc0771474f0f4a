"""Planted bugs: pytest plugins that swap a package function for a subtly wrong one.

`tests/test_planted_bugs.py` runs the oracle and property tests with each plugin loaded and checks
that they fail: a test suite that cannot catch these bugs would not be worth trusting.
"""
