"""The walk (step, report) of an update by an optimizer, a penalty or clipping: each
parameter's lines are the trace's (neuronsim.render.tables), ending in the value the
core kept; before, the walk wrote θ − η·g with the optimizer's new value, which did not
add up.  Feed-forward, Elman and gated networks."""

import json

import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.files.bundled import example_path
from neuronsim.render.numfmt import format_number
from neuronsim.trace import RecurrentTracer, Tracer
from neuronsim.trace.walk import walk, walk_sequence


def updates(computations):
    return [c for c in computations if c.phase == "update"]


@pytest.mark.parametrize("optimizer", [{"name": "adam"}, {"name": "sgd", "momentum": 0.9},
                                       {"name": "rmsprop"}])
def test_a_feed_forward_walk_writes_the_optimizers_lines(optimizer):
    spec = json.load(open(example_path("xor")))
    spec["optimizer"] = optimizer
    spec["penalty"] = {"l2": 0.01}
    net = Network.from_spec(spec)
    tracer = Tracer().attach(net)
    sample = net.samples[0]
    net.step(sample["input"], sample["target"], 0.5)
    computations = updates(walk(tracer.steps[0]))
    assert computations
    for c, neuron in zip(computations, [n for layer in net.layers for n in layer.neurons]):
        news = [line for line in c.lines if line.quantity == "new_weights"]
        assert [line.value for line in news] == neuron.weights
        bias = next(line for line in c.lines if line.quantity == "new_bias")
        assert bias.value == neuron.bias
        for line in news + [bias]:
            assert line.formula.endswith(" = " + format_number(line.value, 9))
            assert "←" in line.formula and line.formula.startswith(line.label + ":")


def test_an_elman_walk_writes_the_optimizers_lines_and_plain_sgd_is_unchanged():
    spec = json.load(open(example_path("rnn")))
    spec["optimizer"] = {"name": "adam"}
    net = Network.from_spec(spec)
    tracer = RecurrentTracer().attach(net)
    sample = net.samples[0]
    net.step(sample["input"], sample["target"], 0.1)
    tracer.flush()
    for c in updates(walk_sequence(tracer.sequences[0])):
        neuron = net.layers[c.layer].neurons[c.neuron]
        values = {(line.quantity, line.index): line.value for line in c.lines}
        assert values[("new_bias", None)] == neuron.bias
        assert values[("new_weights", 0)] == neuron.weights[0]
        assert any("m ← m + (1 − β₁)·(g − m)" in line.formula for line in c.lines)
    plain = Network.from_spec(example_path("rnn"))
    tracer = RecurrentTracer().attach(plain)
    plain.step(sample["input"], sample["target"], 0.1)
    tracer.flush()
    first = updates(walk_sequence(tracer.sequences[0]))[0].lines[0]
    assert first.formula.startswith("w₁₁⁽²⁾ ← w₁₁⁽²⁾ − η·dE/dw₁₁⁽²⁾ = ")


def test_step_prints_the_optimizers_lines(tmp_path, capsys):
    spec = json.load(open(example_path("mazur")))
    spec["optimizer"] = {"name": "adam"}
    path = tmp_path / "mazur-adam.json"
    path.write_text(json.dumps(spec))
    assert main(["step", str(path)]) == 0
    out = capsys.readouterr().out
    update = out[out.index("\nUpdate\n"):]
    assert "w₁₁⁽²⁾: v ← β₂·v + (1 − β₂)·g²" in update
    assert "0.15 − 0.5·0.000438567734" not in update    # θ − η·g is not Adam's step
