"""Batch steps of a network that reads sequences: ``RecurrentTracer(batches=True)``
and ``neuronsim trace SPEC --batch-size N|full``.

Every traced number is the network's own: the accumulated gradient of each
parameter (w, u, b and a learned a[0]) equals ``net.gradient_arrays()`` before
the update and ``new`` the parameters after ``update_weights``, bit for bit;
each sequence's term equals the gradient of that sequence alone (a one-sequence
batch with a summed loss), bit for bit.  The independent numpy reference
(:func:`neuronsim.crosscheck.vectorized.stack_bptt`) agrees to 1e-12:
sequence losses, batch loss and every gradient.  Networks: dense → recurrent
(learned a[0]) → dense, and the bundled rnn-parity; mean and sum; full batch
and a mini-batch; full and truncated BPTT.
"""

import json
import shutil
import subprocess

import numpy as np
import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.crosscheck.compare_rnn import stack_layers
from neuronsim.crosscheck.vectorized import stack_bptt
from neuronsim.files.bundled import example_path
from neuronsim.render.tables import latex_document
from neuronsim.trace.recurrent import RecurrentTracer, render_sequence_batches

RTOL = 1e-12


def stack_spec(reduction="mean"):
    """dense -> recurrent (learned a[0]) -> dense; three sequences of three steps,
    one step without a target."""
    return {"inputs": 2, "loss": "half_sse", "reduction": reduction, "learning_rate": 0.4,
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


def network(name, reduction="mean"):
    if name == "stack":
        return Network.from_spec(stack_spec(reduction))
    net = Network.from_spec(example_path("rnn"))
    net.reduction = reduction
    return net


def flat(arrays):
    """Every parameter of gradient_arrays()/parameters() in the tracer's order: per layer,
    each neuron's w, (u,) b; then a learned a[0]."""
    values = []
    for layer in arrays:
        W, b = np.asarray(layer[0], dtype=float), np.asarray(layer[-1] if len(layer) in (2, 3)
                                                             else layer[2], dtype=float)
        U = np.asarray(layer[1], dtype=float) if len(layer) >= 3 else None
        for j in range(len(b)):
            values += list(W[j]) + ([] if U is None else list(U[j])) + [b[j]]
        if len(layer) == 4:
            values += list(np.asarray(layer[3], dtype=float))
    return values


def parameter_values(net):
    return flat([layer.parameters() for layer in net.layers])


def sequence_arrays(pairs, n_out):
    """X (m, T, n_in), targets (m, T, n_out) with 0 where a step has none, and the mask."""
    X = np.array([xs for xs, _ in pairs], dtype=float)
    m, steps = X.shape[:2]
    Y, mask = np.zeros((m, steps, n_out)), np.zeros((m, steps), dtype=bool)
    for i, (_, targets) in enumerate(pairs):
        if not isinstance(targets[0], list) and targets[0] is not None:   # many-to-one
            targets = [None] * (steps - 1) + [targets]
        for t, target in enumerate(targets):
            if target is not None:
                Y[i, t], mask[i, t] = target, True
    return X, Y, mask


def run_batches(net, size, steps=1, truncation=None, rate=0.25):
    """``steps`` batch steps of ``size`` sequences in file order, traced; for each: the
    network's gradient_arrays() before the update, its parameters before and after, and
    the numpy reference of the same batch with the weights before."""
    pairs = [(s["input"], s["target"]) for s in net.samples]
    batches = [pairs[i:i + size] for i in range(0, len(pairs), size)]
    tracer = RecurrentTracer(batches=True).attach(net)
    seen = []
    for step in range(steps):
        batch = batches[step % len(batches)]
        before = parameter_values(net)
        X, Y, mask = sequence_arrays(batch, net.n_outputs)
        reference = stack_bptt(stack_layers(net), X, Y, mask, net.loss.name,
                               step_loss=net.step_loss, reduction=net.reduction,
                               truncation=truncation)
        for xs, targets in batch:
            net.forward_pass(xs)
            net.back_prop(targets, truncation=truncation)
        gradients = flat(net.gradient_arrays())
        net.update_weights(rate)
        seen.append((batch, before, gradients, parameter_values(net), reference))
    tracer.detach(net)
    return tracer, seen


def alone(name, pair, truncation):
    """The gradient of one sequence alone (summed loss), with the file's weights."""
    net = network(name, "sum")
    net.forward_pass(pair[0])
    net.back_prop(pair[1], truncation=truncation)
    return flat(net.gradient_arrays())


def close(ours, theirs, what):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    scale = max(1.0, float(np.max(np.abs(theirs)))) if theirs.size else 1.0
    assert np.all(np.abs(ours - theirs) <= RTOL * scale), f"{what}: {ours} vs {theirs}"


CASES = [("stack", "mean", 3, 1, None), ("stack", "sum", 2, 3, None), ("stack", "mean", 2, 2, 2),
         ("parity", "mean", 16, 1, None), ("parity", "sum", 5, 2, None),
         ("parity", "mean", 4, 1, 2)]


@pytest.mark.parametrize("name, reduction, size, steps, truncation", CASES)
def test_batch_records_are_the_networks_numbers(name, reduction, size, steps, truncation):
    net = network(name, reduction)
    tracer, seen = run_batches(net, size, steps, truncation)
    assert len(tracer.batches) == steps
    for batch, (pairs, before, gradients, after, reference) in zip(tracer.batches, seen):
        n = len(pairs)
        assert batch.size == n and batch.unseen == 0 and batch.updated
        assert batch.divisor == (n if reduction == "mean" else 1)
        assert len(batch.samples) == n and [s.inputs for s in batch.samples] == \
            [xs for xs, _ in pairs]
        parameters = batch.parameters
        assert len(parameters) == len(gradients)
        kinds = {p.kind for p in parameters}
        assert {"weight", "recurrent_weight", "bias"} <= kinds
        assert ("initial_state" in kinds) == (name == "stack")
        # bit for bit: the network's gradient before the update, its values before and after
        assert [p.gradient for p in parameters] == gradients
        assert [p.old for p in parameters] == before
        assert [p.new for p in parameters] == after
        for p in parameters:
            assert p.gradient == p.total / batch.divisor and len(p.terms) == n
        # the batch loss is the mean (or sum) of the sequence losses
        total = 0
        for value in batch.losses:
            total += value
        assert batch.loss == (total / n if reduction == "mean" else total)
        # the numpy reference, with the weights before the update
        close(batch.losses, reference.sequence_losses, "sequence losses")
        close(batch.loss, reference.loss, "batch loss")
        close([p.gradient for p in parameters], flat(reference.grads), "gradients")
        close([sum(p.terms) / batch.divisor for p in parameters], flat(reference.grads),
              "Σ of the terms")


@pytest.mark.parametrize("name, truncation", [("stack", None), ("stack", 2), ("parity", None)])
def test_each_sequence_term_is_that_sequence_alone(name, truncation):
    tracer, seen = run_batches(network(name), 3, 1, truncation)
    batch, pairs = tracer.batches[0], seen[0][0]
    for s, pair in enumerate(pairs):
        expected = alone(name, pair, truncation)
        assert [p.terms[s] for p in batch.parameters] == expected


def test_initial_state_parameters_are_labelled_and_updated():
    net = network("stack")
    tracer, _ = run_batches(net, 3)
    batch = tracer.batches[0]
    a0 = [p for p in batch.parameters if p.kind == "initial_state"]
    assert [(p.layer, p.neuron) for p in a0] == [(1, 0), (1, 1)]
    assert [p.new for p in a0] == net.layers[1].initial_state
    assert [p.old for p in a0] == [0.2, -0.3]
    text = render_sequence_batches(tracer.batches, digits=6)
    assert "a₁⁽³⁾[0]" in text and "u₁₂⁽³⁾" in text
    assert "dE/da₁⁽³⁾[0] = (dE₁/da₁⁽³⁾[0] + dE₂/da₁⁽³⁾[0] + dE₃/da₁⁽³⁾[0])/3" in text


def test_update_with_an_optimizer_is_traced():
    """Once pinned the refusal; an optimizer's batch update is traced now
    (tests/test_trace_optimizers_sequences.py checks its numbers)."""
    net = network("stack")
    net.set_optimizer("adam")
    tracer = RecurrentTracer(batches=True).attach(net)
    net.forward_pass(net.samples[0]["input"])
    net.back_prop(net.samples[0]["target"])
    net.update_weights(0.1)
    assert len(tracer.batches) == 1 and tracer.sequences[0].rule.optimizer == "adam"
    assert [p.new for p in tracer.batches[0].parameters] == parameter_values(net)


def test_render_batches_needs_batches():
    tracer = RecurrentTracer()
    with pytest.raises(ValueError, match="RecurrentTracer\\(batches=True\\)"):
        tracer.render_batches()


# ------------------------------------------------------------------ rendering
def _pdflatex(document):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "trace.tex").write_text(document, encoding="ascii")
        result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                                 "trace.tex"], cwd=folder, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=120, check=False)
        errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
        return result.returncode, errors


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_every_format_renders_and_latex_compiles(reduction):
    net = network("stack", reduction)
    tracer, _ = run_batches(net, 2)
    for fmt in ("plain", "markdown", "html", "latex"):
        text = render_sequence_batches(tracer.batches, format=fmt, digits=6)
        assert text.count("Batch step 1") >= 3
        assert ("2: reduction mean" in text) == (reduction == "mean")
    latex = latex_document(render_sequence_batches(tracer.batches, format="latex", digits=6))
    latex.encode("ascii")
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    assert _pdflatex(latex) == (0, [])


def test_filters_keep_their_rows():
    net = network("stack")
    tracer, _ = run_batches(net, 3)
    text = render_sequence_batches(tracer.batches, digits=5, layers={1}, neurons={1},
                                   times=[2], convention="ng",
                                   sections=("backward", "gradients", "update"))
    assert "Forward pass" not in text and "Batch loss" not in text
    assert "t = 2" in text and "t = 3\n" not in text
    assert "u₂₁⁽³⁾" in text and "a₂⁽³⁾[0]" in text and "\nu₁₁⁽³⁾ " not in text
    assert "Update, once for the batch" in text
    with pytest.raises(ValueError, match="time step 4"):
        render_sequence_batches(tracer.batches, times=[4])


# ------------------------------------------------------------------ command
@pytest.fixture
def stack_file(tmp_path):
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(stack_spec()))
    return str(path)


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_trace_batch_of_a_stack(capsys, stack_file, tmp_path):
    status, out, err = run(capsys, "trace", stack_file, "--batch-size", "full", "--digits", "6")
    assert status == 0 and err == ""
    net = network("stack")
    tracer, _ = run_batches(net, 3, rate=0.4)
    assert out == render_sequence_batches(tracer.batches, digits=6)
    assert "Batch step 1: 3 samples, every δ with the same weights, then one update" in out
    assert "Batch step 1, sample 2 of 3: T = 3 time steps" in out
    assert "E = (E₁ + E₂ + E₃)/3 = " in out
    assert "Accumulated gradient (Σ over the 3 samples, then ÷ 3: reduction mean)" in out
    assert "a₁⁽³⁾[0] ← a₁⁽³⁾[0] − η·(Σₛ dEₛ/da₁⁽³⁾[0])/3 = 0.2 − 0.4·" in out
    status, out, _ = run(capsys, "trace", stack_file, "--batch-size", "2", "--steps", "2",
                         "--truncation", "1", "--times", "3", "--layer", "3", "--neuron", "1")
    assert status == 0
    assert "Batch step 2: 1 sample," in out and "Batch step 1: 2 samples" in out
    assert "truncated BPTT, k = 1 step back" in out
    for fmt in ("markdown", "html", "latex"):
        out_file = tmp_path / f"batch.{fmt}"
        assert run(capsys, "trace", stack_file, "--batch-size", "full", "--format", fmt,
                   "--digits", "5", "-o", str(out_file))[0] == 0
    if shutil.which("pdflatex"):
        assert _pdflatex((tmp_path / "batch.latex").read_text(encoding="ascii")) == (0, [])


def test_trace_batch_of_rnn_parity(capsys):
    status, out, err = run(capsys, "trace", "rnn-parity", "--batch-size", "4", "--times", "4",
                           "--layer", "3", "--sections", "loss", "gradients", "update")
    assert status == 0 and err == ""
    assert "Batch step 1: 4 samples" in out and "sample 4 of 4" in out
    assert "E = (E₁ + E₂ + E₃ + E₄)/4 = " in out
    assert "b₁⁽³⁾ ← b₁⁽³⁾ − η·(Σₛ dEₛ/db₁⁽³⁾)/4 = " in out
    status, one, _ = run(capsys, "trace", "rnn-parity", "--batch-size", "1")
    status2, online, _ = run(capsys, "trace", "rnn-parity")
    assert status == status2 == 0 and one == online     # 1: online, as without the option


def test_fraction_numbers(capsys, tmp_path):
    spec = {"inputs": 1, "loss": "half_sse", "learning_rate": "1/2", "layers": [
        {"type": "recurrent", "activation": "linear", "weights": [[1]],
         "recurrent_weights": [["1/2"]], "biases": [0]}],
        "samples": [{"input": [[1], [2]], "target": [[1], [1]]},
                    {"input": [[0], [1]], "target": [[0], [1]]}]}
    path = tmp_path / "linear.json"
    path.write_text(json.dumps(spec))
    status, out, err = run(capsys, "trace", str(path), "--batch-size", "full",
                           "--numbers", "fraction", "--sections", "gradients", "update")
    assert status == 0, err
    net = Network.from_spec(spec, numbers="fraction")
    tracer = RecurrentTracer(batches=True).attach(net)
    for s in net.samples:
        net.forward_pass(s["input"])
        net.back_prop(s["target"])
    net.update_weights(net.learning_rate)
    u = next(p for p in tracer.batches[0].parameters if p.kind == "recurrent_weight")
    assert str(u.new) in out.replace("−", "-") and "/" in str(u.new)


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "0"], "--batch-size: expected at least 1, got 0"),
    (["--batch-size", "4"], "--batch-size 4: there are 3 samples"),
    (["--batch-size", "two"], "--batch-size: expected a whole number or 'full'"),
    (["--batch-size", "2", "--sample", "2"], "--sample: online steps over the file's sequences"),
    (["--batch-size", "full", "--steps", "400"], "fewer --steps or a smaller --batch-size"),
    (["--batch-size", "full", "--steps", "1000"], "samples; at most 1,000"),
    (["--batch-size", "full", "--times", "4"], "time step 4"),
])
def test_bad_values_exit_2_in_one_line(capsys, stack_file, argv, message):
    status, out, err = run(capsys, "trace", stack_file, *argv)
    assert status == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_optimizer_file_is_traced(capsys, tmp_path):
    """Once pinned the refusal; ``neuronsim trace`` of a file with an optimizer exits 0."""
    spec = dict(stack_spec(), optimizer={"name": "adam"})
    path = tmp_path / "adam.json"
    path.write_text(json.dumps(spec))
    status, out, err = run(capsys, "trace", str(path), "--batch-size", "full")
    assert status == 0 and err == ""
    assert "Update, once for the batch (learning rate η = 0.4): adam (" in out


def test_precise_numbers(capsys):
    net = Network.from_spec(example_path("rnn"), numbers="precise:30")
    tracer = RecurrentTracer(batches=True).attach(net)
    for s in net.samples[:3]:
        net.forward_pass(s["input"])
        net.back_prop(s["target"])
    gradients = flat(net.gradient_arrays())
    net.update_weights(net.learning_rate)
    parameters = tracer.batches[0].parameters
    close([float(p.gradient) for p in parameters], gradients, "precise gradients")
    assert [p.new for p in parameters] == _values(net)
    status, out, err = run(capsys, "trace", "rnn-parity", "--batch-size", "3", "--numbers",
                           "precise:30", "--digits", "25", "--layer", "3", "--times", "4",
                           "--sections", "update")
    assert status == 0 and err == ""
    assert "b₁⁽³⁾ ← b₁⁽³⁾ − η·(Σₛ dEₛ/db₁⁽³⁾)/3 = " in out


def _values(net):
    """The parameters in the tracer's order, as the network holds them (no conversion)."""
    values = []
    for layer in net.layers:
        for neuron in layer.neurons:
            values += list(neuron.weights) + list(getattr(neuron, "recurrent_weights", []))
            values.append(neuron.bias)
    return values
