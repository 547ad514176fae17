"""Every Σ is added in the written order, on every Python version.

neuronsim.core.summation.sum_in_order is builtin sum() up to Python 3.11 and
a plain loop from 3.12 on, where sum() compensates float sums.  These tests
pin the order itself, and run the suite's bit-for-bit tests with 3.12's
compensated sum() in place of the builtin (tests/compensated_sum.py), so that
a float sum left to the builtin fails here on the Python that CI runs.
"""

import functools
import operator
import os
import random
import subprocess
import sys
from fractions import Fraction

import pytest

from compensated_sum import compensated_sum
from neuronsim import Network
from neuronsim.core.summation import sum_in_order, sum_in_order_loop

TESTS = os.path.dirname(os.path.abspath(__file__))

#: terms whose left-to-right sum differs from the compensated (and the exact) one
UNEVEN = [1e16, 1.0, -1e16]


def written_order(values, start=0):
    """((start + v1) + v2) + ...: the definition, with reduce."""
    return functools.reduce(operator.add, values, start)


@pytest.mark.parametrize("add", [sum_in_order, sum_in_order_loop])
def test_terms_are_added_left_to_right(add):
    assert add(UNEVEN) == 0.0                 # (1e16 + 1) rounds back to 1e16
    assert compensated_sum(UNEVEN) == 1.0     # what sum() gives from Python 3.12 on
    assert add([0.1] * 10) == written_order([0.1] * 10) != 1.0
    assert add([]) == 0 and add([], 2.5) == 2.5
    assert add(iter([1, 2, 3])) == 6 and add(x * x for x in (1.5, 2.5)) == 8.5


@pytest.mark.parametrize("add", [sum_in_order, sum_in_order_loop])
def test_random_sums_equal_the_written_order_bit_for_bit(add):
    rng = random.Random(7)
    for _ in range(2000):
        values = [rng.choice((-1, 1)) * rng.random() * 10.0 ** rng.randint(-20, 20)
                  for _ in range(rng.randint(1, 30))]
        if rng.random() < 0.1:
            values[rng.randrange(len(values))] = -0.0
        start = rng.choice((0, 0.0, -0.0, values[0]))
        assert repr(add(values, start)) == repr(written_order(values, start))


def test_the_loop_is_the_builtin_of_python_3_11():
    """The builtin's own rules for the start value and signed zeros: 0 + (-0.0)
    is 0.0, a float start stays float, ints stay exact, other types keep theirs."""
    for values, start in (([-0.0], 0), ([-0.0, -0.0], -0.0), ([1, 2], 0.0), ([2 ** 80, 1], 0),
                          ([Fraction(1, 3), Fraction(1, 6)], 0), ([0.5, Fraction(1, 2)], 0)):
        expected = written_order(values, start)
        assert repr(sum_in_order_loop(values, start)) == repr(expected)
        if sys.version_info < (3, 12):
            assert sum_in_order is sum
            assert repr(sum(values, start)) == repr(expected)


def test_a_neurons_z_is_added_in_the_written_order():
    """z = ((w1·a1 + w2·a2) + w3·a3) + b: the 1 is lost, on every Python."""
    net = Network.from_arrays([[[1e16, 1.0, -1e16]]], [[0.5]], "linear")
    assert net.forward_pass([1.0, 1.0, 1.0]) == [0.5]
    assert net.layers[0].neurons[0].z == 0.5


def test_sum_is_replaced_only_when_asked():
    """In the run below, sum() is the compensated one (else that run proves nothing)."""
    assert (sum is compensated_sum) == bool(os.environ.get("NEURONSIM_COMPENSATED_SUM"))


#: the tests that compare recomputed numbers with the core's bit for bit
BIT_FOR_BIT = ["test_worksheet.py", "test_worksheet_gated.py", "test_worksheet_update.py",
               "test_worksheet_update_sequences.py", "test_trace_golden.py",
               "test_bench_smoke.py", "test_serve.py::test_a_step_is_the_reference_step",
               "test_summation.py::test_sum_is_replaced_only_when_asked"]


def test_bit_for_bit_tests_pass_with_the_compensated_sum_of_python_3_12():
    env = dict(os.environ, NEURONSIM_COMPENSATED_SUM="1")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         *[os.path.join(TESTS, name) for name in BIT_FOR_BIT]],
        env=env, cwd=os.path.dirname(TESTS), capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_label_widths_of_a_diagram_are_added_in_order():
    """draw.text_width sums the characters' advance widths: in order, so an SVG's
    label boxes are the same on every Python (they differed in the last digit
    written between 3.11 and 3.12)."""
    from neuronsim.render.draw import ADVANCE, text_width

    text = "0.138498562"
    assert text_width(text, 1) == written_order([ADVANCE.get(ch, 1.0) for ch in text])
    assert text_width(text, 1) != compensated_sum([ADVANCE.get(ch, 1.0) for ch in text])
