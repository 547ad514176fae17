"""The trace of an optimizer's, a penalty's or clipping's update of a network
that reads sequences (``RecurrentTracer``).

The same table and per-parameter lines as a feed-forward step's
(tests/test_trace_optimizers.py), for every w, u, b and learned a[0]: the
traced state before and after each step and the new values are the core's
own, bit for bit (a traced and an untraced copy of the network move alike),
one sequence at a time and in batches; every format renders and the LaTeX
compiles; ``neuronsim trace FILE`` on a file with an "optimizer" exits 0.
Networks: dense → recurrent (learned a[0]) → dense, and the bundled rnn-parity.
"""

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.files.bundled import example_path
from neuronsim.render.numfmt import format_number
from neuronsim.render.tables import latex_document
from neuronsim.trace.recurrent import (
    RecurrentTracer,
    render_sequence_batches,
    render_sequences,
)
from neuronsim.trace.tracer import copy_state

OPTIMIZERS = {"adam": ("adam", {}), "sgd_momentum": ("sgd", {"momentum": 0.9})}


def stack_spec():
    """dense -> recurrent (learned a[0]) -> dense; three sequences of three steps."""
    return {"inputs": 2, "loss": "half_sse", "learning_rate": 0.1,
            "layers": [
                {"activation": "tanh", "weights": [[0.5, -0.2], [0.1, 0.3], [0.2, 0.2]],
                 "biases": [0.1, 0.0, -0.1]},
                {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform",
                 "seed": 3, "learn_initial_state": True, "initial_state": [0.2, -0.3]},
                {"activation": "sigmoid", "size": 2, "init": "uniform", "seed": 5}],
            "samples": [
                {"input": [[1, 0], [0, 1], [1, 1]], "target": [[1, 0], None, [0, 1]]},
                {"input": [[1, 1], [0, 0], [0.5, -1]], "target": [[0, 0], [1, 1], [0.5, 0.5]]},
                {"input": [[-1, 0.5], [0.2, 0.3], [0, 1]], "target": [[1, 0], [0, 1], [1, 1]]}]}


def network(name, optimizer, penalty=None, clip=None):
    net = Network.from_spec(stack_spec() if name == "stack" else example_path("rnn"))
    kind, options = OPTIMIZERS[optimizer]
    net.set_optimizer(kind, **options)
    if penalty:
        net.set_penalty(**penalty)
    if clip:
        net.set_clip(**clip)
    return net


def owners(net):
    """(place, owner, names) of every optimizer state: each neuron, then a learned a[0]."""
    for l, layer in enumerate(net.layers):
        for j, neuron in enumerate(layer.neurons):
            yield (l, j), neuron
        if layer.is_recurrent and layer.learn_initial_state:
            yield (l, None), layer


def batches_of(net, size):
    pairs = [(s["input"], s["target"]) for s in net.samples]
    return [pairs[i:i + size] for i in range(0, len(pairs), size)]


def _identical(a, b):
    """Equal and of the same type (bit for bit for floats)."""
    assert type(a) is type(b) and a == b, (a, b)


def _value(net, p):
    """The value of a batch :class:`~neuronsim.trace.tracer.ParameterRecord` in ``net``."""
    layer = net.layers[p.layer]
    if p.kind == "initial_state":
        return layer.initial_state[p.neuron]
    neuron = layer.neurons[p.neuron]
    if p.kind == "bias":
        return neuron.bias
    values = neuron.recurrent_weights if p.kind == "recurrent_weight" else neuron.weights
    return values[p.index]


def _record_of(record, place):
    l, j = place
    series = record.layers[l]
    return series if j is None else series.neurons[j]


def _check_record(record, plain, before):
    """The traced record against the untraced copy after the same update."""
    assert record.updated and record.rule is not None
    for place, owner in owners(plain):
        traced = _record_of(record, place)
        assert traced.state_before == before[place]
        assert traced.state_after == owner.optimizer_state
        if place[1] is None:
            for got, want in zip(traced.new_initial_state, owner.initial_state):
                _identical(got, want)
            assert traced.applied_initial_state_grad == owner.batch_grad["initial_state"]
            continue
        for got, want in zip(traced.new_weights, owner.weights):
            _identical(got, want)
        _identical(traced.new_bias, owner.bias)
        if getattr(owner, "recurrent_weights", None) is not None:
            for got, want in zip(traced.new_recurrent_weights, owner.recurrent_weights):
                _identical(got, want)
        assert traced.applied == owner.batch_grad


@pytest.mark.parametrize("size", [1, 2])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("name", ["stack", "parity"])
def test_traced_state_and_new_values_are_the_cores(name, optimizer, size):
    traced, plain = network(name, optimizer), network(name, optimizer)
    tracer = RecurrentTracer(batches=size > 1).attach(traced)
    batches = batches_of(plain, size)[:3]
    for _ in range(2):
        for batch in batches:
            before = {place: copy_state(owner.optimizer_state) for place, owner in owners(plain)}
            for net in (traced, plain):
                for xs, targets in batch:
                    net.forward_pass(xs)
                    net.back_prop(targets)
                net.update_weights(0.05)
            _check_record(tracer.sequences[-1], plain, before)
            if size > 1:
                for p in tracer.batches[-1].parameters:
                    _identical(p.new, _value(plain, p))
    # the state is a copy: the network's later steps left the first record alone
    first = tracer.sequences[0 if size == 1 else size - 1]
    assert first.layers[0].neurons[0].state_before is None
    for a, b in zip(traced.layers, plain.layers):
        assert a.parameters() == b.parameters()


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_printed_lines_end_in_the_cores_numbers(optimizer):
    net = network("stack", optimizer)
    tracer = RecurrentTracer().attach(net)
    for s in net.samples[:2]:
        net.step(s["input"], s["target"], 0.1)
    record = tracer.sequences[-1]
    text = render_sequences([record], digits=9, sections=("update",))
    assert f"Update after the whole sequence (η = 0.1): {OPTIMIZERS[optimizer][0]} (" in text
    layer = net.layers[1]
    for j, neuron in enumerate(layer.neurons):
        assert f"= {format_number(neuron.recurrent_weights[0], 9)}\n" in text
        assert f"= {format_number(layer.initial_state[j], 9)}\n" in text
        state = layer.optimizer_state["initial_state"][j]
        key = "exp_avg" if optimizer == "adam" else "momentum_buffer"
        assert f"= {format_number(state[key], 9)}\n" in text
    labels = ("u₁₂⁽³⁾: ", "a₂⁽³⁾[0]: ", "w₁₁⁽²⁾: ", "b₂⁽⁴⁾: ")
    assert all(label in text for label in labels)
    if optimizer == "adam":
        assert "a₁⁽³⁾[0]: m ← m + (1 − β₁)·(g − m) = " in text and "a₁⁽³⁾[0]: t = 2" in text
    else:
        assert "a₁⁽³⁾[0]: b ← μ·b + (1 − τ)·g = " in text


def test_batch_update_is_the_optimizers_with_penalty_and_clipping():
    net = network("stack", "sgd_momentum", penalty={"l2": 0.01}, clip={"max_norm": 0.5})
    tracer = RecurrentTracer(batches=True).attach(net)
    for _ in range(2):
        for xs, targets in batches_of(net, 3)[0]:
            net.forward_pass(xs)
            net.back_prop(targets)
        net.update_weights(0.1)
    text = render_sequence_batches(tracer.batches, digits=6, sections=("update",))
    assert text.count("Update, once for the batch (learning rate η = 0.1): sgd (momentum 0.9") == 2
    assert "penalty l1 0, l2 0.01 (weights only); clipping by global norm (max_norm 0.5, N = " \
        in text
    assert "dE/dθ (mean over 3 sequences)" in text and "g (clipped)" in text
    assert "a₂⁽³⁾[0] ← a₂⁽³⁾[0] − η·g = " in text
    assert "(Σₛ dEₛ/d" not in text     # not the plain w − η·(Σ)/n lines


@pytest.mark.parametrize("name", ["stack", "parity"])
@pytest.mark.parametrize("fmt", ["plain", "markdown", "latex", "html"])
def test_every_format_renders(name, fmt):
    net = network(name, "adam")
    net.update_biases = False
    online = RecurrentTracer().attach(net)
    for s in net.samples[:2]:
        net.step(s["input"], s["target"], 0.1)
    online.detach(net)
    batched = RecurrentTracer(batches=True).attach(net)
    for xs, targets in batches_of(net, 2)[0]:
        net.forward_pass(xs)
        net.back_prop(targets)
    net.update_weights(0.1)
    style = "latex" if fmt == "latex" else "html" if fmt == "html" else "text"
    text = render_sequences(online.sequences, format=fmt, digits=6)
    batches = render_sequence_batches(batched.batches, format=fmt, digits=6)
    assert format_number(online.sequences[-1].layers[-1].neurons[0].new_weights[0], 6,
                         style) in text
    assert format_number(net.layers[-1].neurons[0].weights[0], 6, style) in batches
    assert "(fixed)" in text and "(fixed)" in batches
    if fmt == "latex":
        assert "←" not in text + batches and "β" not in text + batches


def _pdflatex(document):
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "trace.tex").write_text(document, encoding="ascii")
        result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                                 "trace.tex"], cwd=folder, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=120, check=False)
        errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
        return result.returncode, errors


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles():
    parts = []
    for optimizer in sorted(OPTIMIZERS):
        net = network("stack", optimizer, penalty={"l1": 0.01}, clip={"value": 0.05})
        tracer = RecurrentTracer(batches=True).attach(net)
        for _ in range(2):
            for xs, targets in batches_of(net, 2)[0]:
                net.forward_pass(xs)
                net.back_prop(targets)
            net.update_weights(0.1)
        parts.append(render_sequences(tracer.sequences[-1:], format="latex", digits=6,
                                      sections=("update",)))
        parts.append(render_sequence_batches(tracer.batches[-1:], format="latex", digits=6,
                                             sections=("update",)))
    document = latex_document("\n\n".join(parts))
    document.encode("ascii")
    assert _pdflatex(document) == (0, [])


@pytest.mark.parametrize("argv", [[], ["--format", "latex"], ["--format", "html"],
                                  ["--format", "markdown"], ["--batch-size", "full"],
                                  ["--batch-size", "2", "--steps", "2"]])
def test_cli_trace_of_a_file_with_an_optimizer_exits_0(tmp_path, capsys, argv):
    spec = dict(stack_spec(), optimizer={"name": "adam", "amsgrad": True},
                penalty={"l2": 0.01}, clip={"max_norm": 0.1})
    path = tmp_path / "adam.json"
    path.write_text(json.dumps(spec))
    assert main(["trace", str(path), "--steps", "2", *argv]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "adam (" in out and "clipping by global norm" in out


def test_cli_trace_of_rnn_parity_with_sgd_momentum(tmp_path, capsys):
    spec = json.loads(Path(example_path("rnn")).read_text())
    spec["optimizer"] = {"name": "sgd", "momentum": 0.9}
    path = tmp_path / "parity.json"
    path.write_text(json.dumps(spec))
    assert main(["trace", str(path), "--batch-size", "4", "--steps", "2",
                 "--sections", "update"]) == 0
    out = capsys.readouterr().out
    assert "Update, once for the batch (learning rate η = " in out and "sgd (momentum 0.9" in out
    assert "b ← μ·b + (1 − τ)·g = " in out
