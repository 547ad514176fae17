"""scripts/flat_lstm.py: the flat plain-Python LSTM step is neuronsim's, bit for bit,
and the bench prints its rows (timings of a quick run mean nothing)."""

import io
import os
import sys

import pytest

SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts")


@pytest.fixture(scope="module")
def scripts():
    sys.path.insert(0, SCRIPTS)
    try:
        import bench
        import flat_lstm
    finally:
        sys.path.remove(SCRIPTS)
    return bench, flat_lstm


@pytest.mark.parametrize("shape, steps", [("3-lstm4-2", 5), ("2-lstm3-1", 1)])
def test_flat_lstm_is_bit_identical_over_several_steps(scripts, shape, steps):
    _, flat_lstm = scripts
    problem = flat_lstm.LSTMProblem(shape, steps)
    net, flat = flat_lstm.neuronsim_lstm(problem), flat_lstm.flat_lstm(problem)
    for xs, ts in problem.samples:
        net.step(xs, ts, 0.5)
        flat.step(xs, ts, 0.5)
    assert flat_lstm.values_of(flat) == flat_lstm.values_of(net)
    assert flat_lstm.values_of(net) != flat_lstm.values_of(flat_lstm.flat_lstm(problem))


def test_bench_prints_the_lstm_rows(scripts):
    bench, _ = scripts
    out = io.StringIO()
    assert bench.main(["--quick", "--shapes", "2-2-2", "--stream-steps", "0",
                       "--recurrent-shapes", "", "--lstm-shapes", "3-lstm4-2",
                       "--sequence-length", "3", "--skip", "micrograd,numpy,variants"],
                      out=out) == 0
    text = out.getvalue()
    section = text.split("## LSTM 3-lstm4-2, T = 3")[1]
    assert "flat bit-identical" in section
    for name in ("neuronsim", "flat plain Python LSTM"):
        assert f"\n{name}" in section
    assert "neuronsim / flat plain Python LSTM, step" in section
