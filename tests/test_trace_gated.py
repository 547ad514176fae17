"""Per-time-step, per-gate traces of LSTM and GRU layers (neuronsim.trace.gated through
neuronsim.trace.recurrent), and the commands that show them: trace, step and report.

The numbers in the records are the network's own: the unit records are the
network's LSTMStep/GRUStep objects, each gate's gradient summed over t equals the
network's batch sum bit for bit, the update equals the neurons' new values, and
a traced network computes exactly what an untraced copy computes.  The records
also agree with the independent numpy reference (crosscheck/vectorized/)
to 1e-12 relative.  The tables render in every format, the LaTeX compiles, and
the same file gives the same bytes twice.
"""

import html.parser
import json
import math
import shutil
import subprocess

import numpy as np
import pytest

from neuronsim import Network
from neuronsim.classroom.stepper import Stepper, table_so_far, whole_walk
from neuronsim.cli.main import main
from neuronsim.crosscheck.vectorized import stack_bptt
from neuronsim.render.numfmt import format_number
from neuronsim.render.tables import latex_document
from neuronsim.trace.recurrent import (
    RecurrentTracer,
    render_sequence_batches,
    render_sequences,
)
from neuronsim.trace.walk import walk_sequence
from neuronsim.core.summation import sum_in_order

RTOL = 1e-12
GATES = {"lstm": ("input", "forget", "cell", "output"), "gru": ("reset", "update", "new")}
SUMS = ("weight_grad_sum", "recurrent_grad_sum", "bias_ih_grad_sum", "bias_hh_grad_sum")


# ---------------------------------------------------------------- networks
def spec_of(name, **top):
    """"stack": dense -> LSTM (learned h0, c0) -> GRU (learned h0) -> Elman -> dense;
    "lstm": one LSTM layer as the output, a target at every step;
    "gru": one GRU layer as the output, many-to-one, a learned h0;
    "gated": LSTM -> GRU -> sigmoid output with binary cross-entropy (paired)."""
    if name == "stack":
        spec = {"inputs": 2, "loss": "half_sse", "step_loss": "mean", "layers": [
            {"activation": "tanh", "size": 3, "init": "uniform", "seed": 1},
            {"type": "lstm", "size": 2, "init": "uniform", "seed": 2,
             "learn_initial_state": True, "initial_state": [0.1, -0.2],
             "initial_cell": [0.3, 0.05]},
            {"type": "gru", "size": 2, "init": "uniform", "seed": 3, "learn_initial_state": True},
            {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform", "seed": 4},
            {"activation": "linear", "size": 1, "init": "uniform", "seed": 5}],
            "samples": [{"input": [[1, 0], [0, 1], [1, 1], [0.5, -1]],
                         "target": [[1], None, [0], [0.5]]},
                        {"input": [[1, 1], [0, 0], [-1, 0.5]], "target": [1]}]}
    elif name == "lstm":
        spec = {"inputs": 1, "loss": "half_sse", "layers": [
            {"type": "lstm", "size": 2, "init": "uniform", "seed": 7}],
            "samples": [{"input": [[1.0], [0.5], [-1.0]],
                         "target": [[0.2, 0.1], [0.0, -0.3], [0.4, 0.2]]},
                        {"input": [[0.3], [-0.7], [0.2]], "target": [[0.1, 0.1]] * 3}]}
    elif name == "gru":
        spec = {"inputs": 2, "loss": "half_sse", "layers": [
            {"type": "gru", "size": 2, "init": "uniform", "seed": 8,
             "learn_initial_state": True, "initial_state": [0.4, -0.1]}],
            "samples": [{"input": [[1, 0], [0, 1], [1, 1], [0, 0]], "target": [0.3, -0.2]},
                        {"input": [[0, 1], [1, 0], [1, 1], [0.5, 0.5]], "target": [0.1, 0.1]}]}
    else:
        spec = {"inputs": 2, "loss": "binary_cross_entropy", "layers": [
            {"type": "lstm", "size": 2, "init": "uniform", "seed": 11},
            {"type": "gru", "size": 2, "init": "uniform", "seed": 12},
            {"activation": "sigmoid", "size": 1, "init": "uniform", "seed": 13}],
            "samples": [{"input": [[1, 0], [0, 1], [1, 1]], "target": [[1], [0], [1]]},
                        {"input": [[0, 0], [1, 1], [0, 1]], "target": [[0], [1], [1]]}]}
    spec["learning_rate"] = 0.2
    spec.update(top)
    return spec


def traced(name, truncation=None, sample=0, update=False, optimizer=None, **top):
    """One traced sequence: (net, record, the raw gradient sums before any update)."""
    net = Network.from_spec(spec_of(name, **top))
    if optimizer:
        net.set_optimizer(optimizer)
    tracer = RecurrentTracer().attach(net)
    x, t = net.samples[sample]["input"], net.samples[sample]["target"]
    net.forward_pass(x)
    net.back_prop(t, truncation=truncation)
    sums = [layer.gradient_sums() for layer in net.layers]
    if update:
        net.update_weights(0.2)
    tracer.flush()
    return net, tracer.sequences[0], sums


CASES = [(name, k, sample) for name in ("stack", "lstm", "gru", "gated")
         for k in (None, 1, 2, 3) for sample in (0, 1)]


def relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ---------------------------------------------------------------- records
@pytest.mark.parametrize("name, truncation, sample", CASES)
def test_records_hold_the_networks_numbers_bit_for_bit(name, truncation, sample):
    net, record, sums = traced(name, truncation, sample)
    assert record.gated_layers == [l for l, layer in enumerate(net.layers)
                                   if layer.kind in GATES]
    for l, (series, layer) in enumerate(zip(record.layers, net.layers)):
        assert series.kind == layer.kind
        if layer.kind not in GATES:
            continue
        assert series.is_gated and not series.is_recurrent
        assert series.states == net.states_of(l)
        n = layer.size
        for j, unit in enumerate(series.neurons):
            assert all(unit.steps[t] is net.history[t][l][j] for t in range(record.steps))
            assert unit.outputs == net.history_of(l, j, "output")
            for q, gate in enumerate(GATES[layer.kind]):
                g, neuron, row = unit.gates[gate], layer.gates[gate][j], q * n + j
                assert (g.weights, g.recurrent_weights, g.bias_ih, g.bias_hh) == (
                    neuron.weights, neuron.recurrent_weights, neuron.bias_ih, neuron.bias_hh)
                assert g.weight_totals == sums[l][0][row]
                assert g.recurrent_totals == sums[l][1][row]
                assert g.bias_ih_total == sums[l][2][row]
                assert g.bias_hh_total == sums[l][3][row]
        if layer.learn_initial_state:
            assert series.initial_grads == layer.initial_grads
            assert [series.initial_grads[s] for s in layer.STATES] == list(sums[l][4:])


@pytest.mark.parametrize("name, truncation", [("stack", None), ("stack", 2), ("gated", 1),
                                              ("lstm", 2), ("gru", None)])
def test_a_traced_network_computes_what_an_untraced_copy_computes(name, truncation):
    plain = Network.from_spec(spec_of(name))
    net, record, sums = traced(name, truncation)
    x, t = plain.samples[0]["input"], plain.samples[0]["target"]
    plain.forward_pass(x)
    plain.back_prop(t, truncation=truncation)
    assert [layer.gradient_sums() for layer in plain.layers] == sums
    assert repr(plain.history) == repr(net.history)
    assert record.loss == plain.last_loss


def test_a_disabled_tracer_records_nothing_and_changes_nothing():
    net = Network.from_spec(spec_of("stack"))
    tracer = RecurrentTracer(enabled=False).attach(net)
    net.train(epochs=2)
    plain = Network.from_spec(spec_of("stack"))
    plain.train(epochs=2)
    tracer.flush()
    assert tracer.sequences == [] and tracer.count == 0
    assert net.to_spec() == plain.to_spec()


def reference(net, x, target, truncation):
    """stack_bptt of the network's parameters on one sequence."""
    layers = []
    for layer in net.layers:
        values = [np.array(v, dtype=float) for v in layer.parameters()]
        if layer.kind == "dense":
            layers.append({"kind": "dense", "W": values[0], "b": values[1],
                           "activation": layer.activation.name})
        elif layer.kind == "recurrent":
            layers.append({"kind": "recurrent", "W": values[0], "U": values[1], "b": values[2],
                           "activation": layer.activation.name, "h0": layer.initial_state,
                           "learn_h0": layer.learn_initial_state})
        else:
            entry = dict(zip(("W", "U", "b_ih", "b_hh"), values), kind=layer.kind,
                         h0=layer.initial_state, learn_h0=layer.learn_initial_state)
            if layer.kind == "lstm":
                entry["c0"] = layer.initial_cell
            layers.append(entry)
    steps = len(x)
    if not isinstance(target[0], list):
        target = [None] * (steps - 1) + [target]
    mask = np.array([[v is not None for v in target]])
    width = len(next(v for v in target if v is not None))
    Y = np.array([[v if v is not None else [0.0] * width for v in target]], dtype=float)
    return stack_bptt(layers, np.array([x], dtype=float), Y, mask, net.loss.name,
                      step_loss=net.step_loss, truncation=truncation)


@pytest.mark.parametrize("name, truncation, sample", [c for c in CASES if c[2] == 0])
def test_records_agree_with_the_numpy_reference(name, truncation, sample):
    before = Network.from_spec(spec_of(name))
    x, target = before.samples[sample]["input"], before.samples[sample]["target"]
    expected = reference(before, x, target, truncation)
    net, record, _ = traced(name, truncation, sample)
    assert relative_error(record.loss, expected.loss) <= RTOL
    for l, series in enumerate(record.layers):
        if not series.is_gated:
            continue
        gates = GATES[series.kind]
        units = series.neurons
        zs = [[u.steps[t].gates[q].z for q in gates for u in units] for t in range(record.steps)]
        deltas = [[u.steps[t].gates[q].delta for q in gates for u in units]
                  for t in range(record.steps)]
        hs = [[u.steps[t].output for u in units] for t in range(record.steps)]
        assert relative_error(zs, expected.zs[l][0]) <= RTOL
        assert relative_error(hs, expected.activations[l][0]) <= RTOL
        assert relative_error(deltas, expected.deltas[l][0]) <= RTOL
        totals = [[units[j].gates[q].totals(p) for q in gates for j in range(len(units))]
                  for p in ("weights", "recurrent_weights", "bias_ih", "bias_hh")]
        if series.learn_initial_state:
            totals += [series.initial_grads[s] for s in ("initial_state", "initial_cell")
                       if s in series.initial_grads]
        assert len(totals) == len(expected.grads[l])
        for mine, theirs in zip(totals, expected.grads[l]):
            assert relative_error(mine, theirs) <= RTOL, l


@pytest.mark.parametrize("optimizer", [None, "adam"])
def test_update_records_are_the_networks_new_values(optimizer):
    net, record, sums = traced("stack", 2, update=True, optimizer=optimizer)
    for l, (series, layer) in enumerate(zip(record.layers, net.layers)):
        if not series.is_gated:
            continue
        n = layer.size
        for j, unit in enumerate(series.neurons):
            for q, gate in enumerate(GATES[layer.kind]):
                g, neuron, row = unit.gates[gate], layer.gates[gate][j], q * n + j
                assert g.new == {p: getattr(neuron, p) for p in g.new}
                assert g.batch_grads["weights"] == sums[l][0][row]     # one sequence: Σ / 1
                assert g.batch_grads["bias_hh"] == sums[l][3][row]
                if optimizer is None:
                    assert g.new["weights"] == [w - 0.2 * d for w, d in
                                                zip(g.weights, g.batch_grads["weights"])]
                    assert g.applied is None
                else:
                    assert g.applied == neuron.batch_grad
                    assert g.state_after["weights"][0]["exp_avg"] == \
                        neuron.optimizer_state["weights"][0]["exp_avg"]
                    assert g.state_before is None    # the first step: no state yet
        assert series.old_initials == {"initial_state": [0.1, -0.2],
                                       "initial_cell": [0.3, 0.05]} or l != 1
        assert series.new_initials == {s: getattr(layer, s) for s in layer.STATES}


# ---------------------------------------------------------------- a hand example
def one_unit_lstm():
    """z = 0 everywhere: i = f = o = 1/2, g = 0; c[0] = 1, so c[1] = 1/2, h[1] = tanh(1/2)/2."""
    gate = {"weights": [[0.0]], "recurrent_weights": [[0.0]]}
    return {"inputs": 1, "loss": "half_sse", "learning_rate": 0.5, "layers": [
        {"type": "lstm", "initial_cell": [1.0],
         "gates": {q: dict(gate) for q in GATES["lstm"]}}],
        "samples": [{"input": [[2.0]], "target": [[0.0]]}]}


def test_the_hand_example_reads_as_the_chain_rule():
    net = Network.from_spec(one_unit_lstm())
    tracer = RecurrentTracer().attach(net)
    net.step([[2.0]], [[0.0]], 0.5)
    text = render_sequences(tracer.sequences, digits=6)
    h = math.tanh(0.5) / 2
    dc = h * 0.5 * (1 - math.tanh(0.5) ** 2)
    n = lambda x: format_number(x, 6)   # noqa: E731
    for line in [
        "z_f,1⁽²⁾[1] = (w_f,11⁽²⁾·a₁⁽¹⁾[1] + b_xf,1⁽²⁾) + (u_f,11⁽²⁾·h₁⁽²⁾[0] + b_hf,1⁽²⁾) = "
        "(0·2 + 0) + (0·0 + 0) = 0",
        "f₁⁽²⁾[1] = σ(z_f,1⁽²⁾[1]) = σ(0) = 0.5;  σ'(z_f,1⁽²⁾[1]) = f₁⁽²⁾[1](1 − f₁⁽²⁾[1]) = "
        "0.5·(1 − 0.5) = 0.25",
        "c₁⁽²⁾[1] = f₁⁽²⁾[1]·c₁⁽²⁾[0] + i₁⁽²⁾[1]·g₁⁽²⁾[1] = 0.5·1 + 0.5·0 = 0.5",
        f"h₁⁽²⁾[1] = o₁⁽²⁾[1]·tanh(c₁⁽²⁾[1]) = 0.5·tanh(0.5) = 0.5·{n(math.tanh(0.5))} = {n(h)}",
        f"dE/dh₁⁽²⁾[1] = ∂E[1]/∂h₁⁽²⁾[1] = {n(h)} = {n(h)}",
        f"dE/dc₁⁽²⁾[1] = dE/dh₁⁽²⁾[1]·o₁⁽²⁾[1]·tanh'(c₁⁽²⁾[1]) = {n(h)}·0.5·"
        f"{n(1 - math.tanh(0.5) ** 2)} = {n(dc)}",
        f"δ_f,1⁽²⁾[1] = dE/dc₁⁽²⁾[1]·c₁⁽²⁾[0]·σ'(z_f,1⁽²⁾[1]) = {n(dc)}·1·0.25 = {n(dc / 4)}",
        f"δ_i,1⁽²⁾[1] = dE/dc₁⁽²⁾[1]·g₁⁽²⁾[1]·σ'(z_i,1⁽²⁾[1]) = {n(dc)}·0·0.25 = 0",
    ]:
        assert line in text, line


# ---------------------------------------------------------------- tables
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


class _Balanced(html.parser.HTMLParser):
    """Fails on a closing tag that does not close the innermost open element."""

    VOID = {"br", "wbr", "meta", "img", "hr", "input", "link"}

    def __init__(self):
        super().__init__()
        self.open = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (tag, self.open[-3:])
        self.open.pop()


@pytest.mark.parametrize("name, truncation, optimizer", [("stack", None, None),
                                                        ("stack", 2, "adam"),
                                                        ("gated", None, "rmsprop"),
                                                        ("gru", 3, None), ("lstm", 2, None)])
def test_every_format_renders_the_gates_and_latex_compiles(name, truncation, optimizer):
    net, record, _ = traced(name, truncation, update=True, optimizer=optimizer)
    l = record.gated_layers[0]
    kind = record.layers[l].kind
    gate = "forget" if kind == "lstm" else "new"
    unit = record.layers[l].neurons[0].steps[0].gates[gate]
    labels = {"plain": "δ_f,1" if kind == "lstm" else "δ_n,1",
              "markdown": "δ_f,1" if kind == "lstm" else "δ_n,1",
              "html": "&delta;<sub>f,1</sub>" if kind == "lstm" else "&delta;<sub>n,1</sub>",
              "latex": r"\delta_{f,1}" if kind == "lstm" else r"\delta_{n,1}"}
    for fmt in ("plain", "markdown", "html", "latex"):
        text = render_sequences([record], format=fmt, digits=6)
        style = {"plain": "text", "markdown": "text"}.get(fmt, fmt)
        assert format_number(unit.delta, 6, style) in text
        assert labels[fmt] in text
        assert text == render_sequences([record], format=fmt, digits=6)
    parser = _Balanced()
    parser.feed(render_sequences([record], format="html", digits=6))
    assert parser.open == []
    latex = latex_document(render_sequences([record], format="latex", digits=6))
    latex.encode("ascii")
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    assert _pdflatex(latex) == (0, [])


def test_truncated_tables_show_the_carried_parts():
    _, record, _ = traced("stack", 2)
    text = render_sequences([record], digits=6)
    assert "δ̃_f,1⁽³⁾[2]" in text and "f₁⁽³⁾[3]·(carried part of dE/dc₁⁽³⁾[3])" in text
    assert "carried part of dE/dh₁⁽⁴⁾[2]" in text
    assert "LSTM and GRU layers carry the same part of dE/dc[t+1]" in text
    assert "the carried part of each is the part that comes from E[t+1]." in text
    full = render_sequences([traced("stack", None)[1]], digits=6)
    assert "δ̃" not in full and "f₁⁽³⁾[3]·dE/dc₁⁽³⁾[3]" in full


def test_filters_times_and_sections_apply_to_gated_layers():
    _, record, _ = traced("stack", None, update=True)
    text = render_sequences([record], digits=6, layers={2}, neurons={1}, times=[2],
                            sections=["forward", "backward"])
    assert "r₂⁽⁴⁾" in text and "r₁⁽⁴⁾" not in text and "i₂⁽³⁾" not in text
    assert "t = 1\n" not in text and "t = 2" in text and "Update" not in text


def test_batch_steps_sum_each_gate_over_the_sequences():
    net = Network.from_spec(spec_of("stack"))
    tracer = RecurrentTracer(batches=True).attach(net)
    net.train(epochs=1, batch_size=2)
    batch = tracer.batches[0]
    layer = net.layers[1]
    gated = [p for p in batch.parameters if p.layer == 1]
    # 2 units x 4 gates x (3 inputs + 2 recurrent + 2 biases), then h0 and c0 of 2 units
    assert len(gated) == 2 * 4 * 7 + 4
    first = gated[0]
    assert (first.kind, first.gate, first.neuron, first.index) == ("gate_weight", "input", 0, 0)
    assert first.new == layer.gates["input"][0].weights[0]
    assert [s.layers[1].neurons[0].gates["input"].weight_totals[0] for s in batch.samples] \
        == first.terms
    assert relative_error(sum(first.terms), first.total) <= RTOL
    assert gated[-1].kind == "gate_initial_cell" and gated[-1].new == layer.initial_cell[1]
    text = render_sequence_batches(tracer.batches, digits=6)
    assert "Accumulated gradient" in text and "b_hf,2⁽³⁾" in text and "c₂⁽³⁾[0]" in text
    latex = latex_document(render_sequence_batches(tracer.batches, format="latex", digits=6))
    latex.encode("ascii")
    if shutil.which("pdflatex"):
        assert _pdflatex(latex) == (0, [])


# ---------------------------------------------------------------- walk and stepper
@pytest.mark.parametrize("optimizer", [None, "adam"])
def test_the_walk_goes_gate_by_gate_with_the_records_numbers(optimizer):
    net, record, sums = traced("stack", None, update=True, optimizer=optimizer)
    computations = walk_sequence(record, layers={1, 2})
    lstm = [c for c in computations if c.layer == 1]
    forward = [c for c in lstm if c.phase == "forward"]
    assert len(forward) == record.steps * 2 * 5          # 4 gates, then c and h, per unit
    first = forward[0]
    assert [line.quantity for line in first.lines] == ["z", "output", "derivative"]
    assert first.lines[0].value == net.history[0][1][0].gates["input"].z
    backward = [c for c in lstm if c.phase == "backward"]
    assert [c.quantity for c in backward[:6]] == ["output_grad", "delta", "cell_grad", "delta",
                                                  "delta", "delta"]
    assert backward[0].time == record.steps
    for c in backward:
        unit = net.history[c.time - 1][1][c.neuron]
        line = c.lines[0]
        expected = (unit.gates[line.index].delta if c.quantity == "delta"
                    else getattr(unit, c.quantity))
        assert line.value == expected
    sums_of = next(c for c in lstm if c.phase == "gradients" and c.neuron == 1)
    by = {(line.quantity, line.index): line.value for line in sums_of.lines}
    assert by[("weight_grads", ("forget", 2))] == sums[1][0][2 + 1][2]     # row q·n + j
    assert by[("bias_hh_grad", "output")] == sums[1][3][6 + 1]
    assert by[("initial_cell_grad", None)] == sums[1][5][1]
    update = next(c for c in lstm if c.phase == "update" and c.neuron == 0)
    news = {(line.quantity, line.index): line.value for line in update.lines
            if line.quantity.startswith("new_")}
    assert news[("new_weights", ("cell", 1))] == net.layers[1].gates["cell"][0].weights[1]
    assert news[("new_initial_state", None)] == net.layers[1].initial_state[0]
    stepper = Stepper(record, computations, digits=6)
    assert "1 (forget gate)" in table_so_far(computations, 1, 6)
    assert "new value" in whole_walk(stepper)


def test_the_steppers_table_shows_dE_dh_and_dE_dc_of_each_unit():
    net, record, _ = traced("stack", None)
    computations = walk_sequence(record, layers={1})
    last = max(i for i, c in enumerate(computations) if c.phase == "backward")
    table = table_so_far(computations, last, 17, mark=False)
    header = table.splitlines()[0]
    assert "dE/da (unit: dE/dh)" in header and "dE/dc" in header
    t = record.steps
    unit = net.history[t - 1][1][0]
    row = next(line for line in table.splitlines()
               if line.split()[:3] == [str(t), "3", "1"])
    assert format_number(unit.output_grad, 17) in row
    assert format_number(unit.cell_grad, 17) in row
    first = table_so_far(computations, 0, 6, mark=False).splitlines()[0]
    assert "dE/dc" not in first                      # nothing of it known yet


# ---------------------------------------------------------------- the commands
@pytest.fixture
def gated_file(tmp_path):
    spec = spec_of("stack")
    spec["name"] = "<lstm & gru>"
    path = tmp_path / "gated.json"
    path.write_text(json.dumps(spec))
    return str(path)


def run(capsys, *args):
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_trace_takes_a_gated_file_and_gives_the_same_bytes_twice(capsys, gated_file, tmp_path):
    status, out, err = run(capsys, "trace", gated_file)
    assert status == 0 and err == ""
    assert "layer 3 (LSTM), gate by gate:" in out and "layer 4 (GRU), gate by gate:" in out
    assert "dE/dc₁⁽³⁾[1]" in out and "δ_r,2⁽⁴⁾[1]" in out
    assert run(capsys, "trace", gated_file)[1] == out
    for fmt, suffix in (("latex", "tex"), ("html", "html"), ("markdown", "md")):
        path = tmp_path / f"t.{suffix}"
        assert run(capsys, "trace", gated_file, "--format", fmt, "--truncation", "2",
                   "-o", str(path))[0] == 0
        first = path.read_bytes()
        assert run(capsys, "trace", gated_file, "--format", fmt, "--truncation", "2",
                   "-o", str(path))[0] == 0
        assert path.read_bytes() == first
    page = (tmp_path / "t.html").read_text()
    assert "&lt;lstm &amp; gru&gt;" not in out and "<lstm" not in page
    if shutil.which("pdflatex"):
        assert _pdflatex((tmp_path / "t.tex").read_text(encoding="ascii")) == (0, [])


def test_trace_batches_of_a_gated_file(capsys, gated_file):
    status, out, _ = run(capsys, "trace", gated_file, "--batch-size", "2")
    assert status == 0
    assert "Batch step 1: the sums and the one update" in out
    assert "w_g,13⁽³⁾" in out and "h₂⁽⁴⁾[0]" in out


def test_step_and_report_walk_a_gated_file(capsys, gated_file, tmp_path):
    status, out, _ = run(capsys, "step", gated_file, "--layer", "3", "--neuron", "1")
    assert status == 0
    assert "layer 3, unit 1: forget gate f₁⁽³⁾[1]" in out
    assert "Gated layers: an LSTM unit j has gates i, f, g, o" in out
    report = tmp_path / "r.html"
    status, out, _ = run(capsys, "report", gated_file, "-o", str(report))
    assert status == 0 and "computations over 4 time steps" in out
    page = report.read_text()
    assert "&lt;lstm &amp; gru&gt;" in page and "<lstm" not in page
    assert "<svg" in page
    assert "&delta;<sub>f,1</sub><sup>(3)</sup>" in page


def test_an_lstm_output_layer_is_scored_with_each_steps_own_h():
    """Backward, a gated layer gets its h[t] back with its step's records (as a dense
    layer gets its a[t]), so the loss of step t reads h[t], not h[T]."""
    net = Network.from_spec(spec_of("lstm"))
    x, targets = net.samples[0]["input"], net.samples[0]["target"]
    ys = net.forward_pass(x)
    loss = net.back_prop(targets)
    assert net.step_losses == [sum((a - b) ** 2 for a, b in zip(y, t)) / 2
                               for y, t in zip(ys, targets)]
    assert loss == sum_in_order(net.step_losses)
    assert net.history[0][0][0].output_path == ys[0][0] - targets[0][0]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_gated_output_layer_with_a_target_at_every_step_equals_torch(kind):
    """nn.LSTM / nn.GRU as the output layer, half_sse at every step, in float64."""
    torch = pytest.importorskip("torch", reason="torch is optional")
    torch.manual_seed(5)
    module = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(
        2, 3, batch_first=True, dtype=torch.float64)
    X = torch.randn(1, 4, 2, dtype=torch.float64)
    Y = torch.randn(1, 4, 3, dtype=torch.float64)
    n = 3
    gates = {}
    for q, name in enumerate(GATES[kind]):
        rows = slice(q * n, (q + 1) * n)
        gates[name] = {key: getattr(module, f"{key}_l0").detach().numpy()[rows].tolist()
                       for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        gates[name] = {"weights": gates[name]["weight_ih"],
                       "recurrent_weights": gates[name]["weight_hh"],
                       "bias_ih": gates[name]["bias_ih"], "bias_hh": gates[name]["bias_hh"]}
    net = Network.from_spec({"inputs": 2, "loss": "half_sse",
                             "layers": [{"type": kind, "gates": gates}]})
    tracer = RecurrentTracer().attach(net)
    out, _ = module(X)
    loss = 0.5 * ((out - Y) ** 2).sum()
    loss.backward()
    assert relative_error(net.forward_pass(X[0].numpy().tolist()), out[0].detach()) <= RTOL
    assert relative_error(net.back_prop(Y[0].numpy().tolist()), loss.item()) <= RTOL
    tracer.flush()
    units = tracer.sequences[0].layers[0].neurons
    for p, name in zip(("weights", "recurrent_weights", "bias_ih", "bias_hh"),
                       ("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
        traced_grads = [units[j].gates[q].totals(p) for q in GATES[kind] for j in range(n)]
        assert relative_error(traced_grads, getattr(module, f"{name}_l0").grad) <= RTOL, p


def test_the_trace_budget_counts_each_gate_of_a_unit(capsys, tmp_path):
    """10 LSTM units over 401 steps: 401 x 10 x (4 gates + 1) = 20,050 rows > 20,000."""
    spec = {"inputs": 1, "loss": "half_sse", "layers": [
        {"type": "lstm", "size": 10, "init": "uniform", "seed": 1}],
        "samples": [{"input": [[0.5]] * 401, "target": [0.0] * 10}], "learning_rate": 0.1}
    path = tmp_path / "long.json"
    path.write_text(json.dumps(spec))
    for command in ("trace", "step"):
        status, _, err = run(capsys, command, str(path))
        assert status == 2 and "20,050 neuron-steps" in err and "\n" not in err.strip()
    status, out, _ = run(capsys, "trace", str(path), "--neuron", "1", "--times", "1",
                         "--sections", "forward")
    assert status == 0 and "i₁⁽²⁾" in out


def test_the_ng_convention_moves_the_input_side_superscripts_only():
    _, record, _ = traced("stack", None, update=True)
    text = render_sequences([record], digits=6, convention="ng")
    assert "w_f,11⁽²⁾" in text and "b_xf,1⁽²⁾" in text and "b_hf,1⁽²⁾" in text
    assert "u_f,11⁽³⁾" in text and "w_f,11⁽³⁾" not in text


def test_serve_shows_a_gated_network_gate_by_gate():
    """neuronsim serve traces an LSTM network now that the tracer takes it: the value
    table has a row per gate, the downloads (trace, walkthrough) are the commands'."""
    from neuronsim.serve import actions, downloads, page
    from neuronsim.serve.sessions import Limits, SessionStore

    limits = Limits()
    session = SessionStore(limits).new()
    actions.load_upload(session, json.dumps(spec_of("gated")).encode(), limits)
    actions.act(session, "backward", {}, limits)
    assert session.refusal is None and session.record.gated_layers == [0, 1]
    values = page.values_html(session)
    unit = session.record.layers[0].neurons[1]
    delta = unit.steps[2].gates["forget"].delta
    assert ('data-quantity="delta" data-layer="2" data-neuron="2" data-t="3" data-gate="forget" '
            f'data-value="{delta!r}"') in values
    assert "failed" not in page.panel_html(session, limits)
    text, _, _ = downloads.trace_file(session, "plain")
    assert "layer 2 (LSTM), gate by gate:" in text
    walk_page, _, _ = downloads.walkthrough_file(session)
    assert "<svg" in walk_page
