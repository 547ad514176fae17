"""Sums added in the order they are written: ((t_1 + t_2) + t_3) + ...

Every Σ of the simulator (z = Σ_k w_k a_k + b, the batch sums, the loss, and
every hand recomputation of them) adds its terms one after another, left to
right, starting from the integer 0, exactly as a student adds them on paper.
That order is part of the numbers: the same network gives the same bits on
every Python version, and a flat loop or a worksheet that adds in the same
order agrees bit for bit.

Python's builtin ``sum`` adds in that order up to Python 3.11.  From 3.12 on
it compensates float sums (Neumaier's algorithm): a little more accurate, but
different in the last bits from the written order.  ``sum_in_order`` is
therefore the builtin where the builtin adds in order (it is the fastest sum
in plain Python, and this is the simulator's hot path) and a plain loop
elsewhere.  Both give the same result; tests/test_summation.py checks the loop
against the builtin of Python 3.11 and against sums that compensation would
change.
"""

import sys


def sum_in_order_loop(values, start=0):
    """start + values[0] + values[1] + ..., added left to right.

    Works for every number system (float, Fraction, mpmath) and for any
    iterable.  ``start`` is 0 as for the builtin ``sum``.
    """
    total = start
    for value in values:
        total = total + value
    return total


# The one speed choice of this module (see the docstring): builtin sum adds
# left to right before Python 3.12, so it is used there as it is.
if sys.version_info < (3, 12):
    sum_in_order = sum
else:
    sum_in_order = sum_in_order_loop
