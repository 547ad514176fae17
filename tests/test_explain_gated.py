"""explain through time on LSTM and GRU layers (neuronsim.hand.explain_gates).

Every number the derivation shows is the network's own: the value it adds up
equals net.gradient_arrays() (and net.history for a δ, dE/dh or dE/dc) bit for
bit, for every gate parameter, full and truncated BPTT; the recomputed
backward line of each unit equals every stored number; the numpy stack
reference agrees to 1e-12 and central differences (through gradcheck, whose
labels explain reads) to 1e-6.
"""

import random
import shutil
import subprocess

import numpy as np
import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.core.errors import NeuronsimError
from neuronsim.crosscheck.gradcheck import gradcheck
from neuronsim.crosscheck.vectorized import stack_bptt
from neuronsim.hand.explain import explain, render_explanation
from neuronsim.hand.explain_gates import gated_line
from neuronsim.hand.label_parse import LabelError, parse_label

T = 3
GATE_LETTERS = {"input": "i", "forget": "f", "cell": "g", "output": "o",
                "reset": "r", "update": "z", "new": "n"}

# layer entries bottom first (sizes and kinds), loss, targets ("every", "some", "last")
STACKS = {
    "lstm-dense": ([("lstm", 2), ("dense", "linear", 1)], "half_sse", "every"),
    "gru-dense": ([("gru", 2), ("dense", "sigmoid", 1)], "binary_cross_entropy", "some"),
    "dense-lstm-gru-rnn-dense": ([("dense", "tanh", 2), ("lstm", 2, "learned"),
                                  ("gru", 2, "learned"), ("recurrent", "tanh", 2),
                                  ("dense", "linear", 1)], "half_sse", "some"),
    "lstm-lstm-softmax": ([("lstm", 2, "learned"), ("lstm", 2), ("dense", "softmax", 2)],
                          "cross_entropy", "last"),
    "dense-gru-on-top": ([("dense", "tanh", 2), ("gru", 2, "learned")], "mse", "every"),
}


def stack(name, truncation=None, step_loss="sum", numbers="float", seed=0):
    """The network file of STACKS[name] with one sample of T steps, built."""
    entries, loss, which = STACKS[name]
    rng = random.Random(seed)
    layers = []
    for index, entry in enumerate(entries):
        kind = entry[0]
        if kind in ("lstm", "gru"):
            layer = {"type": kind, "size": entry[1], "init": "uniform", "seed": 10 + index}
            if len(entry) > 2:
                layer["learn_initial_state"] = True
                layer["initial_state"] = [round(rng.uniform(-0.5, 0.5), 3)
                                          for _ in range(entry[1])]
                if kind == "lstm":
                    layer["initial_cell"] = [round(rng.uniform(-0.5, 0.5), 3)
                                             for _ in range(entry[1])]
        else:
            layer = {"type": kind, "activation": entry[1], "size": entry[2], "init": "uniform",
                     "seed": 10 + index}
        layers.append(layer)
    n_out = entries[-1][-1] if entries[-1][0] == "dense" else entries[-1][1]
    xs = [[round(rng.uniform(-1, 1), 3) for _ in range(2)] for _ in range(T)]
    if loss == "cross_entropy":
        targets = [[1 if i == t % n_out else 0 for i in range(n_out)] for t in range(T)]
    else:
        targets = [[round(rng.uniform(0.1, 0.9), 3) for _ in range(n_out)] for _ in range(T)]
    if which == "some":
        targets[1] = None
    if which == "last":
        targets = targets[-1]
    spec = {"inputs": 2, "layers": layers, "loss": loss, "truncation": truncation,
            "step_loss": step_loss, "learning_rate": 0.5,
            "samples": [{"input": xs, "target": targets}]}
    return Network.from_spec(spec, numbers=numbers)


def run(net):
    """net's own numbers: forward and back_prop of its first sample."""
    sample = net.samples[0]
    net.forward_pass(sample["input"])
    net.back_prop(sample["target"])
    return net


def gate_parameter_labels(net):
    """(label, (layer, group, row[, k])) of every gate parameter and gated initial state."""
    labels = []
    for l, layer in enumerate(net.layers):
        if layer.kind not in ("lstm", "gru"):
            continue
        n = layer.size
        for row in range(len(layer.neurons)):
            gate, j = layer.GATES[row // n], row % n
            q = GATE_LETTERS[gate]
            labels += [(f"w_{q},{j + 1},{k + 1}^({l + 2})", (l, 0, row, k))
                       for k in range(layer.n_inputs)]
            labels += [(f"u_{q},{j + 1},{m + 1}^({l + 2})", (l, 1, row, m)) for m in range(n)]
            labels += [(f"b_x{q},{j + 1}^({l + 2})", (l, 2, row)),
                       (f"b_h{q},{j + 1}^({l + 2})", (l, 3, row))]
        if layer.learn_initial_state:
            labels += [(f"h_{j + 1}^({l + 2})[0]", (l, 4, j)) for j in range(n)]
            if layer.kind == "lstm":
                labels += [(f"c_{j + 1}^({l + 2})[0]", (l, 5, j)) for j in range(n)]
    return labels


# ---------------------------------------------------------------- the labels
def test_gate_labels_read_as_gradcheck_prints_them():
    net = stack("dense-lstm-gru-rnn-dense")
    report = gradcheck(net, samples=net.samples[:1])
    for entry in report.entries:
        target = parse_label(entry.label, net=net)
        assert target.label() == entry.label[len("dE/d"):]
    assert parse_label("b_ih,o,1^(3)") == parse_label("b_xo,1^(3)")
    assert parse_label("layers[1].neurons[3].weights[0]", net=net) == \
        parse_label("w_f,21^(3)", net=net)
    assert parse_label("a_2^(3)[2]", net=net) == parse_label("h_2^(3)[2]", net=net)


@pytest.mark.parametrize("label, message", [
    ("w_12^(3)", ("'w_12^(3)': textbook layer 3 is an LSTM layer: name the gate q (i, f, g, "
                  "o), as in w_f,12^(2), u_i,21^(2), b_xo,1^(2) or b_ho,1^(2)")),
    ("b_o,1^(3)", ("'b_o,1^(3)': a gate has two biases: b_xo,j^(l) (input side, torch's b_io) "
                   "or b_ho,j^(l) (recurrent side, b_ho)")),
    ("w_q,12^(3)", "'w_q,12^(3)': 'q' is not a gate"),
    ("w_r,11^(3)", "'w_r,11^(3)': textbook layer 3 is an LSTM layer, whose gates are i, f, g, o"),
    ("c_1^(4)[2]", "'c_1^(4)[2]': textbook layer 4 is a GRU layer: its units have no cell state"),
    ("w_f,11^(2)", ("'w_f,11^(2)': textbook layer 2 is a dense layer; gate labels belong to "
                    "LSTM and GRU layers (layers 3, 4 here)")),
    ("h_1^(5)[1]", "'h_1^(5)[1]': textbook layer 5 is a recurrent layer; h and c belong to"),
    ("δ_f,1^(3)[0]", "'δ_f,1^(3)[0]': step 0 holds only the initial state a[0]"),
    ("w_f,10^(3)", "'w_f,10^(3)': a gate has two biases, not one weight w_j0"),
    ("z_f,1^(3)[2]", "'z_f,1^(3)[2]': explain takes a weight"),
])
def test_labels_that_name_nothing_say_what_is_accepted(label, message):
    net = stack("dense-lstm-gru-rnn-dense")
    with pytest.raises(NeuronsimError) as info:
        explain(net, label)
    text = str(info.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_cli_refuses_a_bad_gate_label_in_one_line(tmp_path, capsys):
    path = tmp_path / "lstm.json"
    stack("lstm-dense").save(path)
    assert main(["explain", str(path), "w_11^(2)"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "an LSTM layer: name the gate q (i, f, g, o)" in err, err
    assert main(["explain", str(path), "w_f,11^(2)"]) == 0
    out = capsys.readouterr().out
    assert "Explain ∂E/∂w_f,11⁽²⁾" in out and "exactly equal to the value above" in out


def test_truncated_states_are_refused_in_one_line():
    net = stack("lstm-dense", truncation=2)
    for label in ("h_1^(2)[2]", "dE/dc_1^(2)[1]"):
        with pytest.raises(NeuronsimError, match=r"with truncated BPTT \(truncation 2\) dE/d[hc]"
                                                 r"\[t\] is a sum of parts by age"):
            explain(net, label)


# ---------------------------------------------------------------- the numbers
@pytest.mark.parametrize("truncation", [None, 1, 2, T])
@pytest.mark.parametrize("name", sorted(STACKS))
def test_every_gate_gradient_is_the_networks_own_bit_for_bit(name, truncation):
    net = stack(name, truncation)
    arrays = run(stack(name, truncation)).gradient_arrays()
    for label, index in gate_parameter_labels(net):
        if label.startswith(("h_", "c_")) and truncation is not None:
            continue
        e = explain(net, label)
        expected = arrays[index[0]][index[1]][index[2:]]
        assert e.value == e.simulator_value == expected, label
        text = render_explanation(e)
        assert "exactly equal to the value above" in text, label


@pytest.mark.parametrize("truncation", [None, 2])
@pytest.mark.parametrize("name", ["dense-lstm-gru-rnn-dense", "lstm-lstm-softmax"])
def test_layers_below_and_above_a_gated_layer_explain_exactly(name, truncation):
    """A dense layer below an LSTM gets e = Σ_q Σ_m w_q,mj δ_q,m[t] through every gate."""
    net = stack(name, truncation)
    arrays = run(stack(name, truncation)).gradient_arrays()
    for l, layer in enumerate(net.layers):
        if layer.kind in ("lstm", "gru"):
            continue
        for j, neuron in enumerate(layer.neurons):
            for k in range(len(neuron.weights)):
                e = explain(net, f"w_{j + 1},{k + 1}^({l + 2})")
                assert e.value == e.simulator_value == arrays[l][0][j, k]
            for t in range(1, T + 1):
                e = explain(net, f"δ_{j + 1}^({l + 2})[{t}]")
                assert e.value == e.simulator_value


@pytest.mark.parametrize("truncation", [None, 2])
@pytest.mark.parametrize("name", sorted(STACKS))
def test_every_gate_delta_and_state_gradient_is_the_networks_own(name, truncation):
    net = stack(name, truncation)
    history = run(stack(name, truncation)).history
    for l, layer in enumerate(net.layers):
        if layer.kind not in ("lstm", "gru"):
            continue
        for t in range(1, T + 1):
            for j in range(layer.size):
                for gate in layer.GATES:
                    e = explain(net, f"δ_{GATE_LETTERS[gate]},{j + 1}^({l + 2})[{t}]")
                    assert e.value == e.simulator_value == history[t - 1][l][j].gates[gate].delta
                if truncation is not None:
                    continue
                e = explain(net, f"dE/dh_{j + 1}^({l + 2})[{t}]")
                assert e.value == e.simulator_value == history[t - 1][l][j].output_grad
                if layer.kind == "lstm":
                    e = explain(net, f"c_{j + 1}^({l + 2})[{t}]")
                    assert e.value == e.simulator_value == history[t - 1][l][j].cell_grad


@pytest.mark.parametrize("name", sorted(STACKS))
def test_each_gated_line_recomputes_every_stored_number(name):
    """e, r, dE/dh, the cell path, dE/dc and each gate's dE/da, δ and δ^h: bit for bit."""
    net = run(stack(name))
    for l, layer in enumerate(net.layers):
        if layer.kind not in ("lstm", "gru"):
            continue
        for t in range(1, T + 1):
            for j in range(layer.size):
                line = gated_line(net, l, j, t)
                record = net.history[t - 1][l][j]
                assert (line.e, line.r, line.output_grad) == (
                    record.output_path, record.recurrent_path, record.output_grad)
                if layer.kind == "lstm":
                    assert (line.cell_path, line.cell_grad) == (record.cell_path,
                                                                record.cell_grad)
                for gate in layer.GATES:
                    saved, mine = record.gates[gate], line.gates[gate]
                    assert (mine.output_grad, mine.derivative, mine.delta, mine.hidden_delta) \
                        == (saved.output_grad, saved.derivative, saved.delta, saved.hidden_delta)


def reference_layers(net):
    """The network's layers as vectorized.stack_bptt dicts."""
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
    return layers


@pytest.mark.parametrize("truncation", [None, 2])
@pytest.mark.parametrize("name", sorted(STACKS))
def test_explained_values_agree_with_the_numpy_stack_reference(name, truncation):
    net = stack(name, truncation)
    sample = net.samples[0]
    X = np.array([sample["input"]], dtype=float)
    targets = sample["target"]
    if not isinstance(targets[0], list) and targets[0] is not None:     # many-to-one
        targets = [None] * (T - 1) + [targets]
    n_out = net.n_outputs
    mask = np.array([[t is not None for t in targets]])
    Y = np.array([[t if t is not None else [0.0] * n_out for t in targets]], dtype=float)
    expected = stack_bptt(reference_layers(net), X, Y, mask, net.loss.name,
                          step_loss=net.step_loss, truncation=truncation)
    for label, index in gate_parameter_labels(net):
        if label.startswith(("h_", "c_")) and truncation is not None:
            continue    # truncated, the reference's dh0 follows its own definition
        value = explain(net, label).value
        reference = expected.grads[index[0]][index[1]][index[2:]]
        assert abs(value - reference) <= 1e-12 * max(abs(reference), 1e-300) + 1e-15, label
    for l, layer in enumerate(net.layers):
        if layer.kind not in ("lstm", "gru"):
            continue
        n = layer.size
        for row in range(len(layer.neurons)):
            gate, j = layer.GATES[row // n], row % n
            for t in range(1, T + 1):
                value = explain(net, f"δ_{GATE_LETTERS[gate]},{j + 1}^({l + 2})[{t}]").value
                reference = expected.deltas[l][0, t - 1, row]
                assert abs(value - reference) <= 1e-12 * max(abs(reference), 1e-300) + 1e-15


@pytest.mark.parametrize("name", ["dense-lstm-gru-rnn-dense", "lstm-lstm-softmax",
                                  "dense-gru-on-top"])
def test_explained_gradients_agree_with_finite_differences(name):
    """gradcheck's central differences, one per parameter, by gradcheck's own label."""
    net = stack(name)
    report = gradcheck(net, samples=net.samples[:1])
    assert report.ok
    checked = 0
    for entry in report.entries:
        value = explain(net, entry.label[len("dE/d"):]).value
        assert abs(value - entry.analytic) <= 1e-12 * max(abs(value), 1e-300)
        assert abs(value - entry.numeric) <= 1e-6 * max(abs(value), 1e-3), entry
        checked += 1
    assert checked == len(report.entries) > 40


# ---------------------------------------------------------------- the text
def test_an_lstm_derivation_writes_the_forget_path_and_tanh_of_c():
    net = stack("lstm-dense")
    e = explain(net, "w_f,12^(2)")
    text = render_explanation(e, digits=6)
    work = e.net
    step2 = work.history[1][0][0]
    step3 = work.history[2][0][0]
    assert "z_f,1⁽²⁾[t] = Σ_k w_f,1k⁽²⁾ · aₖ⁽¹⁾[t] + b_xf,1⁽²⁾ + Σ_m u_f,1m⁽²⁾ · hₘ⁽²⁾[t−1] " \
           "+ b_hf,1⁽²⁾" in text
    assert "∂E/∂w_f,12⁽²⁾ = Σ_t δ_f,1⁽²⁾[t] · a₂⁽¹⁾[t]" in text
    # dE/dc[2] with its path through f[3] to dE/dc[3], and tanh'(c) on the output path
    assert ("∂E/∂c₁⁽²⁾[2] = ∂E/∂h₁⁽²⁾[2] · a_o,1⁽²⁾[2] · tanh'(c₁⁽²⁾[2]) + a_f,1⁽²⁾[3] · "
            "∂E/∂c₁⁽²⁾[3]") in text
    assert f" + {step3.gates['forget'].output:.6g} · ".replace("-", "−") in text
    assert "δ_o,1⁽²⁾[2] = ∂E/∂h₁⁽²⁾[2] · tanh(c₁⁽²⁾[2]) · σ'(z_o,1⁽²⁾[2])" in text
    assert "δ_f,1⁽²⁾[2] = ∂E/∂c₁⁽²⁾[2] · c₁⁽²⁾[1] · σ'(z_f,1⁽²⁾[2])" in text
    assert f"{step2.previous_cell:.6g}".replace("-", "−") in text
    assert "(t = T: no forget path from a later step)" in text


def test_a_gru_derivation_writes_one_minus_z_and_the_reset_product():
    net = stack("gru-dense")
    text = render_explanation(explain(net, "u_n,12^(2)"), digits=6)
    assert ("z_n,1⁽²⁾[t] = Σ_k w_n,1k⁽²⁾ · aₖ⁽¹⁾[t] + b_xn,1⁽²⁾ + a_r,1⁽²⁾[t] · (Σ_m u_n,1m⁽²⁾ · "
            "hₘ⁽²⁾[t−1] + b_hn,1⁽²⁾)") in text
    assert "∂z_n,1⁽²⁾[t]/∂u_n,12⁽²⁾ = a_r,1⁽²⁾[t] · h₂⁽²⁾[t−1]" in text
    assert "δ_n,1⁽²⁾[2] = ∂E/∂h₁⁽²⁾[2] · (1 − a_z,1⁽²⁾[2]) · tanh'(z_n,1⁽²⁾[2])" in text
    assert "δ_z,1⁽²⁾[2] = ∂E/∂h₁⁽²⁾[2] · (h₁⁽²⁾[1] − a_n,1⁽²⁾[2]) · σ'(z_z,1⁽²⁾[2])" in text
    assert "δ_r,1⁽²⁾[2] = δ_n,1⁽²⁾[2] · s_n,1⁽²⁾[2] · σ'(z_r,1⁽²⁾[2])" in text
    assert "r₁⁽²⁾[2] = a_z,1⁽²⁾[3] · ∂E/∂h₁⁽²⁾[3] + u_r,11⁽²⁾ · δ_r,1⁽²⁾[3]" in text
    assert "u_n,11⁽²⁾ · (a_r,1⁽²⁾[3] · δ_n,1⁽²⁾[3])" in text


def test_initial_states_of_gated_layers():
    net = stack("dense-lstm-gru-rnn-dense")
    text = render_explanation(explain(net, "c_2^(3)[0]"))
    assert "∂E/∂c₂⁽³⁾[0] = a_f,2⁽³⁾[1] · ∂E/∂c₂⁽³⁾[1]" in text
    text = render_explanation(explain(net, "h_1^(4)[0]"))
    assert "∂E/∂h₁⁽⁴⁾[0] = a_z,1⁽⁴⁾[1] · ∂E/∂h₁⁽⁴⁾[1] + u_r,11⁽⁴⁾ · δ_r,1⁽⁴⁾[1]" in text
    assert "exactly equal to the value above" in text


def test_precise_numbers_are_exact_too():
    net = stack("lstm-dense", numbers="precise:30")
    for label in ("w_o,11^(2)", "b_hg,2^(2)", "δ_i,1^(2)[1]", "h_2^(2)[1]"):
        e = explain(net, label)
        assert e.value == e.simulator_value
        assert "precise:30" in render_explanation(e, "markdown")


def test_explain_does_not_touch_the_network():
    net = stack("dense-lstm-gru-rnn-dense")
    before = [layer.parameters() for layer in net.layers]
    explain(net, "u_n,12^(4)")
    assert [layer.parameters() for layer in net.layers] == before
    assert net.history is None or net.history == []


def test_latex_is_ascii_and_compiles(tmp_path):
    cases = [("lstm-dense", None, "w_f,12^(2)"), ("gru-dense", None, "u_n,12^(2)"),
             ("dense-lstm-gru-rnn-dense", None, "h_1^(4)[0]"),
             ("dense-lstm-gru-rnn-dense", 2, "b_hn,2^(4)"),
             ("lstm-lstm-softmax", None, "c_1^(3)[2]"), ("dense-gru-on-top", None, "w_11^(2)")]
    documents = [render_explanation(explain(stack(name, k), label), "latex", 6)
                 for name, k, label in cases]
    body = "\n".join(documents)
    body.encode("ascii")
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    (tmp_path / "gates.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body
        + "\n\\end{document}\n", encoding="ascii")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                             "gates.tex"], cwd=tmp_path, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120, check=False)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors


def test_the_work_is_bounded_counting_gate_neurons():
    net = stack("lstm-dense")
    xs = [[0.1, 0.2]] * 60                   # 60 steps × (8 gate neurons + 1) = 540 > 400
    with pytest.raises(NeuronsimError, match=r"needs 540 deltas .* more than 400"):
        explain(net, "w_f,11^(2)", xs, [0.5])


def test_labels_parse_without_a_network():
    assert parse_label("δ_z,1^(2)[3]").python() == \
        'net.history[2][0][0].gates["update"].delta'
    with pytest.raises(LabelError, match="only a gate's bias has a side"):
        parse_label("u_xf,11^(2)")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_gated_output_layer_reads_its_own_h_at_each_step(kind):
    """Regression: at step t < T the loss of a gated output layer used h[T] (the
    layer's state after the forward pass) instead of h[t]; both the loss and the
    gradient were wrong together, so finite differences agreed with them."""
    net = Network.from_spec({"inputs": 2, "loss": "mse", "layers": [
        {"type": kind, "size": 2, "init": "uniform", "seed": 3}],
        "samples": [{"input": [[1, 0], [0.5, -1], [-1, 1]],
                     "target": [[0.3, 0.1], [0.8, -0.2], [0.1, 0.4]]}]})
    sample = net.samples[0]
    net.forward_pass(sample["input"])
    loss = net.back_prop(sample["target"])
    for t, target in enumerate(sample["target"], start=1):
        h = [unit.output for unit in net.history[t - 1][0]]
        assert net.step_losses[t - 1] == net.loss.value(h, target)
    X = np.array([sample["input"]], dtype=float)
    Y = np.array([sample["target"]], dtype=float)
    expected = stack_bptt(reference_layers(net), X, Y, np.ones((1, 3), dtype=bool), "mse")
    assert abs(loss - expected.loss) <= 1e-12 * expected.loss
    for mine, theirs in zip(net.gradient_arrays()[0], expected.grads[0]):
        assert np.max(np.abs(mine - theirs)) <= 1e-12 * np.max(np.abs(theirs))


def test_the_ng_convention_names_gate_weights_by_the_layer_they_come_from():
    net = stack("dense-lstm-gru-rnn-dense")
    assert explain(net, "w_f,12^(2)", convention="ng").value == \
        explain(net, "w_f,12^(3)").value
    assert explain(net, "u_f,12^(3)", convention="ng").value == \
        explain(net, "u_f,12^(3)").value
    text = render_explanation(explain(net, "b_hz,1^(3)", convention="ng"))
    assert "∂E/∂b_hz,1⁽³⁾ = Σ_t δ_z,1⁽⁴⁾[t]" in text


def test_label_parse_docstring_examples_run():
    import doctest

    import neuronsim.hand.label_parse

    result = doctest.testmod(neuronsim.hand.label_parse)
    assert result.failed == 0 and result.attempted >= 13


@pytest.mark.parametrize("name", ["dense-gru-on-top", "dense-lstm-gru-rnn-dense"])
def test_step_loss_mean_scales_the_output_path_exactly(name):
    net = stack(name, step_loss="mean")
    arrays = run(stack(name, step_loss="mean")).gradient_arrays()
    for label, index in gate_parameter_labels(net):
        e = explain(net, label)
        assert e.value == e.simulator_value == arrays[index[0]][index[1]][index[2:]], label
    label = {"dense-gru-on-top": "w_n,11^(3)", "dense-lstm-gru-rnn-dense": "w_n,11^(4)"}[name]
    text = render_explanation(explain(net, label))
    assert "exactly equal to the value above" in text


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_gated_output_layer_matches_torch_at_every_step(kind):
    """The regression above against torch.nn.LSTM / nn.GRU in float64: a loss at
    every step on the layer's own h[t]."""
    torch = pytest.importorskip("torch")
    net = Network.from_spec({"inputs": 2, "loss": "mse", "layers": [
        {"type": kind, "size": 2, "init": "uniform", "seed": 5}]})
    xs = [[1.0, 0.0], [0.5, -1.0], [-1.0, 1.0]]
    ys = [[0.3, 0.1], [0.8, -0.2], [0.1, 0.4]]
    net.forward_pass(xs)
    loss = net.back_prop(ys)
    module = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(2, 2, batch_first=True,
                                                                 dtype=torch.float64)
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    with torch.no_grad():
        for name, value in zip(names, net.layers[0].parameters()):
            getattr(module, name).copy_(torch.tensor(value, dtype=torch.float64))
    out, _ = module(torch.tensor([xs], dtype=torch.float64))
    expected = ((out[0] - torch.tensor(ys, dtype=torch.float64)) ** 2).mean(dim=1).sum()
    expected.backward()
    assert abs(loss - expected.item()) <= 1e-12 * expected.item()
    for name, mine in zip(names, net.gradient_arrays()[0]):
        theirs = getattr(module, name).grad.numpy()
        assert np.max(np.abs(mine - theirs)) <= 1e-12 * np.max(np.abs(theirs)), name
