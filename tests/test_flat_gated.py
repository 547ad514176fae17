"""scripts/flat_gated.py: the flat plain-Python LSTM and GRU steps are neuronsim's, bit
for bit, and the bench prints their rows (timings of a quick run mean nothing)."""

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
        import flat_gated
    finally:
        sys.path.remove(SCRIPTS)
    return bench, flat_gated


@pytest.mark.parametrize("shape, steps", [("3-lstm4-2", 5), ("2-lstm3-1", 1),
                                          ("3-gru4-2", 5), ("2-gru3-1", 1), ("5-gru2-3", 7)])
def test_flat_step_is_bit_identical_over_several_steps(scripts, shape, steps):
    _, flat_gated = scripts
    problem = flat_gated.GatedProblem(shape, steps)
    net, flat = flat_gated.neuronsim_gated(problem), flat_gated.flat_gated(problem)
    for xs, ts in problem.samples:
        net.step(xs, ts, 0.5)
        flat.step(xs, ts, 0.5)
    assert flat_gated.values_of(flat) == flat_gated.values_of(net)
    assert flat_gated.values_of(net) != flat_gated.values_of(flat_gated.flat_gated(problem))


def test_gru_step_agrees_with_torch(scripts):
    torch = pytest.importorskip("torch")
    _, flat_gated = scripts
    problem = flat_gated.GatedProblem("3-gru4-2", 6)
    net, model = flat_gated.neuronsim_gated(problem), flat_gated.TorchGated(problem)
    xs, ts = problem.samples[0]
    net.step(xs, ts, flat_gated.LEARNING_RATE)
    model.step(torch.tensor(xs, dtype=torch.float64)[:, None],
               torch.tensor(ts, dtype=torch.float64)[:, None])
    for ours, theirs in zip(flat_gated.values_of(net), model.values()):
        assert abs(ours - theirs) <= 1e-12 * max(1.0, abs(theirs))


@pytest.mark.parametrize("shape", ["4-rnn8-2", "4-lstm-2", "lstm8"])
def test_a_bad_shape_is_named(scripts, shape):
    _, flat_gated = scripts
    with pytest.raises(SystemExit, match=shape):
        flat_gated.GatedProblem(shape, 3)


def test_bench_prints_the_lstm_and_gru_rows(scripts):
    bench, _ = scripts
    out = io.StringIO()
    assert bench.main(["--quick", "--shapes", "2-2-2", "--stream-steps", "0",
                       "--recurrent-shapes", "", "--lstm-shapes", "3-lstm4-2",
                       "--gru-shapes", "3-gru4-2",
                       "--sequence-length", "3", "--skip", "micrograd,numpy,variants"],
                      out=out) == 0
    text = out.getvalue()
    for kind, shape in (("LSTM", "3-lstm4-2"), ("GRU", "3-gru4-2")):
        section = text.split(f"## {kind} {shape}, T = 3")[1].split("\n## ")[0]
        assert "flat bit-identical" in section
        for name in ("neuronsim", f"flat plain Python {kind}"):
            assert f"\n{name}" in section
        assert f"neuronsim / flat plain Python {kind}, step" in section
