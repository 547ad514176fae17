"""The long-range demo: the bundled LSTM learns to remember the first input
through noise, the bundled Elman network does not (fixed seeds)."""

import pytest

from neuronsim.classroom.datasets import long_range
from neuronsim.classroom.long_range import accuracy, race
from neuronsim.cli.main import main
from neuronsim.files.bundled import load_example


def test_long_range_sequences():
    samples = long_range(6, steps=5, noise=0.5, seed=3)
    assert samples == long_range(6, steps=5, noise=0.5, seed=3)
    assert samples != long_range(6, steps=5, noise=0.5, seed=4)
    for xs, target in samples:
        assert len(xs) == 5 and xs[0][1] == 1.0 and xs[0][0] in (1.0, -1.0)
        assert target == [1 if xs[0][0] > 0 else 0]
        assert all(x[1] == 0.0 and -0.5 <= x[0] <= 0.5 for x in xs[1:])
    assert {target[0] for _, target in long_range(40)} == {0, 1}


@pytest.mark.parametrize("options, message", [
    ({"n": 0}, "n: expected a whole number of sequences >= 1, got 0"),
    ({"steps": 1}, "steps: expected a whole number of steps >= 2, got 1"),
    ({"noise": -1.0}, "noise: expected a finite standard deviation >= 0, got -1.0"),
])
def test_long_range_refuses_bad_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        long_range(**options)


def test_lstm_learns_and_elman_does_not():
    """A shorter run than the demo's (240 of its 600 sequences, 100 test sequences)."""
    nets = {"Elman": load_example("long-range-elman"), "LSTM": load_example("long-range-lstm")}
    assert [layer.kind for layer in nets["LSTM"].layers] == ["lstm", "dense"]
    rows = race(nets, steps=20, sequences=240, every=120, test_size=100)
    assert [done for done, _ in rows] == [0, 120, 240]
    assert rows[-1][1]["LSTM"] >= 0.95
    assert all(scores["Elman"] <= 0.65 for _, scores in rows)
    test = long_range(100, 20, 1.0, seed=1)
    assert accuracy(nets["LSTM"], test) == rows[-1][1]["LSTM"]


def test_race_is_deterministic():
    def run():
        nets = {"LSTM": load_example("long-range-lstm")}
        return race(nets, steps=4, sequences=6, every=3, test_size=10)
    assert run() == run()


def test_demo_command(capsys):
    assert main(["demo", "long-range", "--steps", "3", "--sequences", "4"]) == 0
    out = capsys.readouterr().out
    assert "remember the first input" in out and "sequences   Elman    LSTM" in out
    assert out.splitlines()[-1].endswith("long-range-lstm'.") or "--against" in out
    assert "        4   " in out


@pytest.mark.parametrize("argv, message", [
    (["--steps", "1"], "--steps: expected 2 to 100, got 1"),
    (["--steps", "101"], "--steps: expected 2 to 100, got 101"),
    (["--sequences", "0"], "--sequences: expected 1 to 20000, got 0"),
    (["--sequences", "20000", "--steps", "50"],
     "demo long-range: --steps 50 × --sequences 20000 = 1,000,000 time steps of training, "
     "more than 100,000: give fewer --sequences or a smaller --steps"),
    (["--format", "latex"], "demo long-range: --format does not apply to this demo"),
])
def test_demo_refuses_absurd_work_in_one_line(capsys, argv, message):
    assert main(["demo", "long-range"] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err


def test_other_demos_refuse_the_long_range_options(capsys):
    assert main(["demo", "xor", "--steps", "5"]) == 2
    assert "--steps does not apply" in capsys.readouterr().err


def test_bundled_pair_in_gradient_flow(capsys):
    assert main(["gradient-flow", "long-range-elman", "--against", "long-range-lstm"]) == 0
    out = capsys.readouterr().out
    elman = next(line for line in out.splitlines() if "(Elman): |dE/dh[1]|" in line)
    lstm = next(line for line in out.splitlines() if "(LSTM): |dE/dh[1]|" in line)
    assert "(10^-7" in elman and "(10^-1" in lstm


def test_a_diverged_network_is_never_right():
    """A NaN output is on neither side of ½: a diverged network scores 0, not about half."""
    from neuronsim.classroom.long_range import accuracy
    from neuronsim.cli.rnn import parity_accuracy
    from neuronsim.files import load_example

    net = load_example("rnn-parity")
    for layer in net.layers:
        for neuron in layer.neurons:
            neuron.bias = float("nan")
    assert parity_accuracy(net, 3)[0] == 0
    samples = [([[1.0]] * 3, [0.0]), ([[1.0]] * 3, [1.0])]
    assert accuracy(net, samples) == 0
