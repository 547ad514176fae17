"""Python 3.12's builtin sum(), for running the suite on an older Python.

From Python 3.12 on, ``sum`` adds floats with Neumaier's compensation, and
its result can differ in the last bits from adding left to right.
neuronsim adds every Σ in the written order with
``neuronsim.core.summation.sum_in_order`` instead, so its numbers do not
depend on the Python version.  tests/test_summation.py runs the bit-for-bit
tests with :func:`compensated_sum` in place of the builtin: a float sum left
to the builtin anywhere on a path that tests compare bit for bit then fails
there, on every Python version (CI runs 3.11).
"""

import builtins
import math

_builtin_sum = builtins.sum


def compensated_sum(iterable, /, start=0):
    """sum() as CPython 3.12 computes it for the sums neuronsim does: a list of
    floats with Neumaier's compensation, anything without a float (ints,
    Fractions, numpy scalars, lists) as the builtin.  (A list mixing ints and
    floats is compensated whole here; 3.12 adds its leading ints exactly
    first, so a few such sums differ in the last bit from 3.12's.)"""
    items = list(iterable)
    numbers = (int, float)
    if not (type(start) in numbers and all(type(v) in numbers for v in items)
            and (type(start) is float or any(type(v) is float for v in items))):
        return _builtin_sum(items, start)
    total, compensation = float(start), 0.0
    for value in items:
        value = float(value)
        t = total + value
        if abs(total) >= abs(value):
            compensation += (total - t) + value
        else:
            compensation += (value - t) + total
        total = t
    if compensation and math.isfinite(compensation):
        total += compensation
    return total


def install():
    """Put compensated_sum in place of the builtin (after neuronsim's summation
    module has taken the builtin it uses before Python 3.12)."""
    import neuronsim.core.summation  # noqa: F401  (binds sum_in_order first)
    builtins.sum = compensated_sum
