"""gradient-flow on LSTM and GRU networks, and an Elman layer against an LSTM
on the same sequence (--against): |dE/dh[t]| by t."""

import math
import random

import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.cli.rnn import compare_gradient_flow, network_gradient_flow
from neuronsim.core.summation import sum_in_order

T = 40


def sequence(steps=T, seed=1):
    """Remember the first input: a marked ±1 at t = 1, then noise."""
    rng = random.Random(seed)
    return [[1.0, 1.0]] + [[rng.uniform(-1, 1), 0.0] for _ in range(steps - 1)]


def network(kind, forget_bias=3.0):
    layer = {"type": kind, "size": 4, "init": "uniform", "scale": 0.5, "seed": 1}
    if kind == "recurrent":
        layer["activation"] = "tanh"
    net = Network.from_spec({"inputs": 2, "loss": "binary_cross_entropy", "layers": [
        layer, {"type": "dense", "size": 1, "activation": "sigmoid", "init": "uniform",
                "seed": 101}]})
    if kind == "lstm":
        for neuron in net.layers[0].gates["forget"]:
            neuron.bias_ih = forget_bias
    return net


def test_lstm_keeps_the_gradient_where_elman_loses_it():
    flow = compare_gradient_flow({"elman": network("recurrent"), "lstm": network("lstm")},
                                 sequence(), [1])
    assert flow["steps"] == list(range(T, 0, -1))
    elman, lstm = flow["elman: layer 2 (Elman)"], flow["lstm: layer 2 (LSTM)"]
    elman_ratio, lstm_ratio = elman[-1] / elman[0], lstm[-1] / lstm[0]
    assert elman_ratio < 1e-5 and lstm_ratio > 1e-4 and lstm_ratio > 50 * elman_ratio
    # Elman's keeps falling; the LSTM's levels off once the cell path carries it
    assert elman[-1] < elman[T // 2] / 100
    assert lstm[-1] > lstm[T // 2] / 10


def test_values_are_the_records_dE_dh():
    net = network("lstm")
    xs = sequence(6)
    flow = network_gradient_flow(net, xs, [1])
    assert flow["steps"] == [6, 5, 4, 3, 2, 1]
    for i, t in enumerate(flow["steps"]):
        grads = [net.history[t - 1][0][j].output_grad for j in range(4)]
        assert flow["layer 2"][i] == math.sqrt(sum_in_order(g * g for g in grads))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_command_takes_gated_files(tmp_path, capsys, kind):
    net = network(kind)
    net.samples = [{"input": sequence(8), "target": [1]}]
    path = tmp_path / f"{kind}.json"
    net.save(path)
    assert main(["gradient-flow", str(path)]) == 0
    out = capsys.readouterr().out
    assert "|dE/dh[t]| layer 2" in out and "|dE/dh[1]| / |dE/dh[T]|" in out


def test_command_against(tmp_path, capsys):
    paths = {}
    for kind in ("recurrent", "lstm"):
        net = network(kind)
        net.samples = [{"input": sequence(), "target": [1]}]
        paths[kind] = tmp_path / f"{kind}.json"
        net.save(paths[kind])
    assert main(["gradient-flow", str(paths["recurrent"]), "--against",
                 str(paths["lstm"])]) == 0
    out = capsys.readouterr().out
    assert "layer 2 (Elman)" in out and "layer 2 (LSTM)" in out
    assert out.count("\n40 ") == 1 or " 40 " in out
    first = main(["gradient-flow", str(paths["recurrent"]), "--against", str(paths["lstm"]),
                  "--format", "markdown"])
    assert first == 0 and "\\|dE/dh[t]\\|" in capsys.readouterr().out


def test_against_refuses_other_sizes_in_one_line(tmp_path, capsys):
    net = network("lstm")
    net.samples = [{"input": sequence(5), "target": [1]}]
    path = tmp_path / "lstm.json"
    net.save(path)
    assert main(["gradient-flow", str(path), "--against", "rnn"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--against rnn: 1 inputs and 1 outputs" in err


def test_a_ratio_that_underflows_still_gets_its_power_of_ten():
    from neuronsim.render.tables import _Writer
    from neuronsim.trace.recurrent import flow_ratio_line

    w = _Writer("plain", 4, "nielsen", False)
    line = flow_ratio_line(w, "elman", "dE/dh", 4.0, 5e-324)
    assert line.startswith("elman: |dE/dh[1]| / |dE/dh[T]| = ") and "(10^-323.9)" in line
    assert flow_ratio_line(w, "x", "δ", 2.0, 0.0).endswith("= 0 / 2")
    assert "nan" in flow_ratio_line(w, "x", "δ", float("nan"), 1.0).lower()


def test_a_flow_longer_than_the_work_budget_is_refused_before_it_runs(tmp_path, capsys):
    """The budget is checked on the sequence that runs (after --length), not the file's."""
    import json

    from neuronsim.cli import main

    spec = {"inputs": 20, "loss": "half_sse", "layers": [
        {"type": "lstm", "size": 100, "init": "uniform", "seed": 1},
        {"type": "dense", "size": 1, "activation": "linear", "seed": 2}],
        "samples": [{"input": [[0.1] * 20] * 2, "target": [[0.0]] * 2}]}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(spec))
    assert main(["gradient-flow", str(path)]) == 0
    capsys.readouterr()
    assert main(["gradient-flow", str(path), "--length", "1000"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "1000 time steps" in err and "--length" in err
