"""LSTM and GRU layers (neuronsim.core.lstm, neuronsim.core.gru): a hand example each,
torch's nn.LSTM and nn.GRU in float64 (outputs, loss, every gradient, both biases),
finite differences, the numpy stack reference, files and an optimizer.

Truncated BPTT is built in torch from its definition (tests/test_stacks.py::torch_truncated):
for each E_t the states at t-k are detached, both h and c for an LSTM.
"""

import math
import re

import numpy as np
import pytest

from neuronsim import Network
from neuronsim.core.errors import NumericalError, SpecError
from neuronsim.core.labels import (
    gate_bias_label,
    gate_recurrent_label,
    gate_weight_label,
)
from neuronsim.crosscheck.gradcheck import gradcheck
from neuronsim.crosscheck.vectorized import stack_bptt

RTOL = 1e-12
GATES = {"lstm": ("input", "forget", "cell", "output"), "gru": ("reset", "update", "new")}


def relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def one_unit(kind, **extra):
    """One unit of one input, every weight and bias 0 (so every gate's z is 0)."""
    gate = {"weights": [[0.0]], "recurrent_weights": [[0.0]]}
    layer = {"type": kind, "gates": {name: dict(gate) for name in GATES[kind]}}
    layer.update(extra)
    return {"inputs": 1, "loss": "half_sse", "layers": [layer]}


# ---------------------------------------------------------------- hand examples
def test_lstm_hand_example_one_step():
    """z = 0 everywhere: i = f = o = σ(0) = 1/2, g = tanh(0) = 0; c[0] = 1, so
    c[1] = f c[0] + i g = 1/2 and h[1] = o tanh(c[1]) = tanh(1/2)/2.  Target 0, E = h²/2:
    dE/dh = h;  δ_o = h · tanh(1/2) · 1/4;  dE/dc = h · 1/2 · (1 - tanh²(1/2));
    δ_i = dE/dc · g · 1/4 = 0;  δ_f = dE/dc · c[0] · 1/4;  δ_g = dE/dc · i · 1 (tanh'(0) = 1);
    dE/dc[0] = dE/dc · f;  dE/dh[0] = 0 (every u is 0)."""
    net = Network.from_spec(one_unit("lstm", initial_cell=[1.0], learn_initial_state=True))
    tanh_half = math.tanh(0.5)
    h = tanh_half / 2
    assert net.forward_pass([[2.0]]) == [[h]]
    assert net.back_prop([[0.0]]) == h * h / 2
    unit = net.history[0][0][0]
    assert (unit.previous_cell, unit.cell, unit.output) == (1.0, 0.5, h)
    assert [unit.gates[q].output for q in GATES["lstm"]] == [0.5, 0.5, 0.0, 0.5]
    dc = h * 0.5 * (1 - tanh_half ** 2)
    assert unit.output_grad == h and unit.cell_grad == dc and unit.cell_path == 0
    deltas = {q: unit.gates[q].delta for q in GATES["lstm"]}
    assert deltas == {"input": 0.0, "forget": dc * 1.0 * 0.25, "cell": dc * 0.5,
                      "output": h * tanh_half * 0.25}
    dW, dU, db_ih, db_hh, dh0, dc0 = net.gradient_arrays()[0]
    assert dW[:, 0].tolist() == [2.0 * deltas[q] for q in GATES["lstm"]]   # δ · x, x = 2
    assert dU.tolist() == [[0.0]] * 4                                         # h[0] = 0
    assert db_ih.tolist() == db_hh.tolist() == [deltas[q] for q in GATES["lstm"]]
    assert dh0.tolist() == [0.0] and dc0.tolist() == [dc * 0.5]


def test_gru_hand_example_one_step():
    """z = 0 for r and z: r = z = 1/2; n = tanh(0 + r · 0) = 0; h[0] = 1, so
    h[1] = (1 - z) n + z h[0] = 1/2.  Target 0: dE/dh = 1/2;  δ_n = dE/dh (1 - z) · 1 = 1/4;
    δ_z = dE/dh (h[0] - n) · 1/4 = 1/8;  δ_r = δ_n · s · 1/4 = 0 (s = 0);
    dE/du_n = r δ_n h[0] = 1/8 and dE/db_hn = r δ_n = 1/8;  dE/dh[0] = z · dE/dh = 1/4."""
    net = Network.from_spec(one_unit("gru", initial_state=[1.0], learn_initial_state=True))
    assert net.forward_pass([[3.0]]) == [[0.5]]
    assert net.back_prop([[0.0]]) == 0.125
    unit = net.history[0][0][0]
    assert [unit.gates[q].output for q in GATES["gru"]] == [0.5, 0.5, 0.0]
    assert [unit.gates[q].delta for q in GATES["gru"]] == [0.0, 0.125, 0.25]
    assert unit.gates["new"].hidden_delta == 0.125
    dW, dU, db_ih, db_hh, dh0 = net.gradient_arrays()[0]
    assert dW[:, 0].tolist() == [0.0, 0.375, 0.75]       # δ · x, x = 3
    assert dU[:, 0].tolist() == [0.0, 0.125, 0.125]      # δ^h · h[0]
    assert db_ih.tolist() == [0.0, 0.125, 0.25]
    assert db_hh.tolist() == [0.0, 0.125, 0.125]
    assert dh0.tolist() == [0.25]


def test_labels_name_the_gate():
    assert gate_weight_label(0, "forget", 0, 1) == "w_f,12⁽²⁾"
    assert gate_recurrent_label(1, "new", 2, 0, style="latex") == "u_{n,31}^{(3)}"
    assert gate_bias_label(0, "cell", 1, "hh", style="ascii") == "b_hg,2^(2)"
    assert gate_bias_label(0, "cell", 1, "ih", convention="ng") == "b_xg,2⁽¹⁾"


# ---------------------------------------------------------------- finite differences
def stack_spec(**top):
    """dense -> LSTM (learned h0, c0) -> GRU (learned h0) -> Elman -> dense."""
    spec = {"inputs": 2, "loss": "half_sse", "learning_rate": 0.2, "layers": [
        {"activation": "tanh", "size": 3, "init": "uniform", "seed": 1},
        {"type": "lstm", "size": 2, "init": "uniform", "seed": 2, "learn_initial_state": True,
         "initial_state": [0.1, -0.2], "initial_cell": [0.3, 0.05]},
        {"type": "gru", "size": 2, "init": "uniform", "seed": 3, "learn_initial_state": True},
        {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform", "seed": 4},
        {"activation": "linear", "size": 1, "init": "uniform", "seed": 5}],
        "samples": [{"input": [[1, 0], [0, 1], [1, 1]], "target": [[1], None, [0]]},
                    {"input": [[1, 1], [0, 0]], "target": [1]}]}
    spec.update(top)
    return spec


def test_finite_differences_check_every_gate_parameter():
    report = gradcheck(Network.from_spec(stack_spec()))
    assert report.ok and not report.kinks
    # dense 9 + LSTM 4·2·(3 + 2 + 2) + h0, c0 + GRU 3·2·(2 + 2 + 2) + h0 + Elman 10 + dense 3
    assert len(report.entries) == 9 + 56 + 4 + 36 + 2 + 10 + 3
    names = {e.name for e in report.entries}
    assert {"bias_ih", "bias_hh", "initial_cell"} <= names
    where = {e.where(): e.label for e in report.entries}
    assert where["layers[1].neurons[3].weights[0]"] == "dE/dw_f,21⁽³⁾"   # row 3 = forget, unit 2
    assert where["layers[2].neurons[5].bias_hh"] == "dE/db_hn,2⁽⁴⁾"
    assert where["layers[1].initial_cell[1]"] == "dE/dc₂⁽³⁾[0]"


# ---------------------------------------------------------------- the numpy reference
def reference_layers(net):
    """The network's layers as stack_bptt dicts."""
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


@pytest.mark.parametrize("truncation", [None, 1, 2, 4])
def test_per_neuron_network_equals_the_numpy_stack_reference(truncation):
    net = Network.from_spec(stack_spec(truncation=truncation))
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3, 4, 2))
    Y = rng.normal(size=(3, 4, 1))
    expected = stack_bptt(reference_layers(net), X, Y, np.ones((3, 4), dtype=bool), "half_sse",
                          truncation=truncation)
    outputs, losses = [], []
    for x, y in zip(X, Y):
        outputs.append(net.forward_pass(x.tolist()))
        losses.append(net.back_prop(y.tolist()))
        for l, layer in enumerate(net.layers):   # every gate's δ, in torch's column order
            if layer.kind in GATES:
                deltas = [[unit.gates[q].delta for q in GATES[layer.kind] for unit in step[l]]
                          for step in net.history]
                assert relative_error(deltas, expected.deltas[l][len(outputs) - 1]) <= RTOL
    assert relative_error(outputs, expected.outputs) <= RTOL
    assert relative_error(np.mean(losses), expected.loss) <= RTOL
    for l, (mine, theirs) in enumerate(zip(net.gradient_arrays(), expected.grads)):
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            assert relative_error(a, b) <= RTOL, l


# ---------------------------------------------------------------- files
def test_save_and_load_keep_every_gate_and_state(tmp_path):
    net = Network.from_spec(stack_spec())
    net.train(epochs=2, batch_size=None)
    net.save(tmp_path / "a.json")
    again = Network.from_spec(str(tmp_path / "a.json"))
    assert again.to_spec() == net.to_spec()
    lstm = again.to_spec()["layers"][1]
    assert list(lstm["gates"]) == list(GATES["lstm"])
    assert set(lstm) == {"type", "gates", "initial_state", "initial_cell", "learn_initial_state"}
    assert list(lstm["gates"]["forget"]) == ["weights", "recurrent_weights", "bias_ih", "bias_hh"]
    x = [[1, 0], [0, 1]]
    assert again.forward_pass(x) == net.forward_pass(x)


def test_a_non_finite_gate_parameter_is_named_and_not_saved(tmp_path):
    net = Network.from_spec(stack_spec())
    net.layers[1].gates["forget"][1].bias_hh = float("nan")
    with pytest.raises(NumericalError, match=r"not saved: layer 3, forget gate of unit 2: "
                                             r"b_hf,2⁽³⁾ \(net\.layers\[1\]\.neurons\[3\]\.bias_hh\) "
                                             "is nan"):
        net.save(tmp_path / "nan.json")
    assert not (tmp_path / "nan.json").exists()


def test_size_and_init_draw_gate_by_gate_in_torch_order():
    """Each gate: its weights and bias_ih, then its recurrent_weights and bias_hh."""
    import random

    from neuronsim.core.initializers import initial_weights

    net = Network.from_spec({"inputs": 2, "loss": "half_sse", "layers": [
        {"type": "gru", "size": 2, "init": "uniform", "seed": 9}]})
    rng = random.Random(9)
    gates = net.to_spec()["layers"][0]["gates"]
    for name in GATES["gru"]:
        W, b_ih = initial_weights("uniform", 2, 2, rng)
        U, b_hh = initial_weights("uniform", 2, 2, rng)
        assert gates[name] == {"weights": W, "recurrent_weights": U, "bias_ih": b_ih,
                               "bias_hh": b_hh}


@pytest.mark.parametrize("change, message", [
    ({"activation": "tanh"}, ("layers[0].activation: unknown key for an lstm layer "
                              "(an LSTM or GRU has fixed activations)")),
    ({"gates": {"input": {}}}, "layers[0].gates.forget: missing"),
    ({"gates": {"reset": {}}}, ("layers[0].gates.reset: not a gate of an lstm layer "
                                "(its gates: input, forget, cell, output)")),
    ({"init": "he"}, "layers[0].init: give either gates or size + init"),
    ({"size": 3}, "layers[0].size: says 3 but gates.input.weights has 1 rows"),
    ({"initial_cell": [1, 2]}, "layers[0].initial_cell: expected 1 numbers, got 2"),
    ({"learn_initial_state": 1}, "layers[0].learn_initial_state: expected true or false"),
])
def test_malformed_gated_layers_say_where(change, message):
    spec = one_unit("lstm")
    spec["layers"][0].update(change)
    with pytest.raises(SpecError, match="^" + re.escape(message)):
        Network.from_spec(spec)


def test_malformed_gate_entries_say_where():
    spec = one_unit("gru")
    spec["layers"][0]["gates"]["update"]["recurrent_weights"] = [[1, 2]]
    with pytest.raises(SpecError, match=r"^layers\[0\]\.gates\.update\.recurrent_weights\[0\]: "
                                        "expected 1 numbers, got 2"):
        Network.from_spec(spec)
    spec = one_unit("gru")
    spec["layers"][0]["gates"]["new"]["bias"] = [0]
    with pytest.raises(SpecError, match=r"^layers\[0\]\.gates\.new\.bias: unknown key for a gate"):
        Network.from_spec(spec)
    spec = one_unit("gru", initial_cell=[0])
    with pytest.raises(SpecError, match=r"^layers\[0\]\.initial_cell: unknown key for an gru"):
        Network.from_spec(spec)


# ---------------------------------------------------------------- the tools that once refused
# trace, step and report take gated layers: tests/test_trace_gated.py; the notebook:
# tests/test_notebook.py; early-update: tests/test_early_update_gated.py


# ---------------------------------------------------------------- torch
torch = pytest.importorskip("torch", reason="torch is optional (pip install torch==2.13.0)")
from test_stacks import dense_layer, ours, torch_truncated

F64 = torch.float64


def gated_layer(module, index, kind):
    """The file entry of layer ``index`` of an nn.LSTM / nn.GRU: torch's rows split by gate."""
    def get(name):
        return getattr(module, f"{name}_l{index}").detach().numpy()

    n = module.hidden_size
    gates = {}
    for q, name in enumerate(GATES[kind]):
        rows = slice(q * n, (q + 1) * n)
        gates[name] = {"weights": get("weight_ih")[rows].tolist(),
                       "recurrent_weights": get("weight_hh")[rows].tolist(),
                       "bias_ih": get("bias_ih")[rows].tolist(),
                       "bias_hh": get("bias_hh")[rows].tolist()}
    return {"type": kind, "gates": gates}


def torch_module(kind, *args, **kwargs):
    return (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(*args, batch_first=True,
                                                               dtype=F64, **kwargs)


def assert_module_grads(grads, module, layers):
    for l, index in layers:
        for g, name in zip(grads[l], ("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
            assert relative_error(g, getattr(module, f"{name}_l{index}").grad) <= RTOL, (l, name)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("truncation", [None, 1, 2, 3])
def test_stacked_gated_layers_and_linear_equal_torch(kind, num_layers, truncation):
    """nn.LSTM / nn.GRU (num_layers 1 or 2) + nn.Linear, half_sse at every step,
    mean over the batch; full or truncated BPTT."""
    torch.manual_seed(7 + num_layers)
    module = torch_module(kind, 3, 4, num_layers=num_layers)
    linear = torch.nn.Linear(4, 2, dtype=F64)
    X = torch.randn(3, 5, 3, dtype=F64)
    Y = torch.randn(3, 5, 2, dtype=F64)
    net = Network.from_spec({"inputs": 3, "loss": "half_sse", "truncation": truncation,
                             "layers": [gated_layer(module, l, kind) for l in range(num_layers)]
                             + [dense_layer(linear, "linear")]})

    def run(start, stop, state):
        out, last = module(X[:, start:stop], None if state == "detached" else state)
        return linear(out), last

    def loss_at(t, result):
        return 0.5 * ((result[0][:, -1] - Y[:, t]) ** 2).sum() / len(X)

    total = torch_truncated(run, 5, truncation, loss_at)
    total.backward()
    outputs, loss, grads = ours(net, X.numpy(), Y.numpy().tolist())
    with torch.no_grad():
        expected = run(0, 5, None)[0].numpy()
    assert relative_error(outputs, expected) <= RTOL
    if truncation is None:
        assert relative_error(loss, total.item()) <= RTOL
    assert_module_grads(grads, module, [(l, l) for l in range(num_layers)])
    assert relative_error(grads[-1][0], linear.weight.grad) <= RTOL
    assert relative_error(grads[-1][1], linear.bias.grad) <= RTOL


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("truncation", [None, 2])
@pytest.mark.parametrize("many_to_one", [False, True])
def test_dense_gated_dense_with_a_learned_initial_state_equals_torch(kind, truncation,
                                                                      many_to_one):
    """Linear+tanh -> LSTM/GRU with learned h0 (and c0) -> Linear+sigmoid, binary
    cross-entropy (many-to-many, or the last step only)."""
    torch.manual_seed(11)
    first = torch.nn.Linear(2, 3, dtype=F64)
    module = torch_module(kind, 3, 3)
    last = torch.nn.Linear(3, 1, dtype=F64)
    h0 = torch.tensor([0.3, -0.2, 0.5], dtype=F64, requires_grad=True)
    c0 = torch.tensor([-0.4, 0.1, 0.6], dtype=F64, requires_grad=True)
    X = torch.randn(4, 4, 2, dtype=F64)
    Y = torch.rand(4, 4, 1, dtype=F64)
    layer = gated_layer(module, 0, kind)
    layer.update(initial_state=h0.tolist(), learn_initial_state=True)
    if kind == "lstm":
        layer["initial_cell"] = c0.tolist()
    net = Network.from_spec({"inputs": 2, "loss": "binary_cross_entropy",
                             "truncation": truncation,
                             "layers": [dense_layer(first, "tanh"), layer,
                                        dense_layer(last, "sigmoid")]})

    def initial(detach):
        h, c = (h0.detach(), c0.detach()) if detach else (h0, c0)
        h = h.expand(len(X), 3).unsqueeze(0)
        return (h, c.expand(len(X), 3).unsqueeze(0)) if kind == "lstm" else h

    def run(start, stop, state):
        if isinstance(state, str) or state is None:   # "detached": h[0] (c[0]) held constant
            state = initial(isinstance(state, str))
        out, state = module(torch.tanh(first(X[:, start:stop])), state)
        return last(out), state

    def loss_at(t, result):
        if many_to_one and t < 3:
            return 0
        return torch.nn.functional.binary_cross_entropy_with_logits(
            result[0][:, -1], Y[:, t], reduction="sum") / len(X)

    total = torch_truncated(run, 4, truncation, loss_at)
    total.backward()
    targets = [t[-1] for t in Y.numpy().tolist()] if many_to_one else Y.numpy().tolist()
    outputs, loss, grads = ours(net, X.numpy(), targets)
    with torch.no_grad():
        expected = torch.sigmoid(run(0, 4, None)[0]).numpy()
    assert relative_error(outputs, expected) <= RTOL
    if truncation is None:
        assert relative_error(loss, total.item()) <= RTOL
    assert relative_error(grads[0][0], first.weight.grad) <= RTOL
    assert relative_error(grads[0][1], first.bias.grad) <= RTOL
    assert_module_grads(grads, module, [(1, 0)])
    states = [h0, c0] if kind == "lstm" else [h0]
    assert len(grads[1]) == 4 + len(states)
    for ours_grad, state in zip(grads[1][4:], states):
        # no E_t reaches h[0] when every target step t has h[t-k] held constant
        expected_grad = state.grad if state.grad is not None else torch.zeros(3, dtype=F64)
        assert relative_error(ours_grad, expected_grad) <= RTOL
    assert relative_error(grads[2][0], last.weight.grad) <= RTOL
    assert relative_error(grads[2][1], last.bias.grad) <= RTOL


def test_one_sgd_step_on_a_file_equals_torch_sgd():
    """Two bias vectors, each moved by η·dE/db, exactly as torch.optim.SGD moves them."""
    torch.manual_seed(2)
    module = torch_module("gru", 2, 3)
    linear = torch.nn.Linear(3, 1, dtype=F64)
    X = torch.randn(3, 4, 2, dtype=F64)
    Y = torch.randn(3, 4, 1, dtype=F64)
    net = Network.from_spec({"inputs": 2, "loss": "half_sse", "learning_rate": 0.25,
                             "layers": [gated_layer(module, 0, "gru"),
                                        dense_layer(linear, "linear")],
                             "samples": [{"input": x, "target": y}
                                         for x, y in zip(X.tolist(), Y.tolist())]})
    net.train(epochs=1, batch_size=None)
    optimizer = torch.optim.SGD(list(module.parameters()) + list(linear.parameters()), lr=0.25)
    out, _ = module(X)
    (0.5 * ((linear(out) - Y) ** 2).sum() / len(X)).backward()
    optimizer.step()
    after = Network.from_spec({"inputs": 2, "loss": "half_sse", "layers": [
        gated_layer(module, 0, "gru"), dense_layer(linear, "linear")]})
    for ours_values, theirs in zip(net.to_arrays(), after.to_arrays()):
        for a, b in zip(ours_values, theirs):
            assert relative_error(a, b) <= RTOL


def test_twenty_adam_steps_on_lstm_and_linear_equal_torch_adam():
    torch.manual_seed(4)
    module = torch_module("lstm", 2, 3)
    linear = torch.nn.Linear(3, 2, dtype=F64)
    X = torch.randn(2, 5, 2, dtype=F64)
    Y = torch.randn(2, 5, 2, dtype=F64)
    net = Network.from_spec({"inputs": 2, "loss": "half_sse", "learning_rate": 0.01,
                             "optimizer": {"name": "adam"},
                             "layers": [gated_layer(module, 0, "lstm"),
                                        dense_layer(linear, "linear")],
                             "samples": [{"input": x, "target": y}
                                         for x, y in zip(X.tolist(), Y.tolist())]})
    net.train(epochs=20, batch_size=None)
    optimizer = torch.optim.Adam(list(module.parameters()) + list(linear.parameters()), lr=0.01)
    for _ in range(20):
        optimizer.zero_grad()
        out, _ = module(X)
        (0.5 * ((linear(out) - Y) ** 2).sum() / len(X)).backward()
        optimizer.step()
    arrays = net.to_arrays()
    for array, name in zip(arrays[0], ("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
        assert relative_error(array, getattr(module, f"{name}_l0").detach()) <= RTOL, name
    assert relative_error(arrays[1][0], linear.weight.detach()) <= RTOL
    assert relative_error(arrays[1][1], linear.bias.detach()) <= RTOL


# ---------------------------------------------------------------- the torch bridge
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_from_torch_and_to_torch_map_lstm_and_gru_exactly(kind, batch_first):
    """A StackModule of nn.LSTM / nn.GRU (num_layers 2, learned h0 and c0) + Linear:
    from_torch gives the same outputs and gradients, to_torch gives the module back."""
    from neuronsim.crosscheck.torch_bridge import stack_module_class

    torch.manual_seed(6)
    module = torch_module(kind, 2, 3, num_layers=2)
    module.batch_first = batch_first
    linear = torch.nn.Linear(3, 1, dtype=F64)
    h0 = torch.randn(2, 3, dtype=F64)
    state = (h0, True, torch.randn(2, 3, dtype=F64)) if kind == "lstm" else (h0, True)
    stack = stack_module_class()([module, linear], {0: state})
    net = Network.from_torch(stack, loss="half_sse")
    assert repr(net) == f"Network(2-{kind}3-{kind}3-1; {kind}, {kind}, linear; loss half_sse)"
    X = torch.randn(4, 5, 2, dtype=F64)
    Y = torch.randn(4, 5, 1, dtype=F64)
    order = (lambda A: A) if batch_first else (lambda A: A.transpose(0, 1))
    out = order(stack(order(X)))
    (0.5 * ((out - Y) ** 2).sum() / len(X)).backward()
    outputs, loss, grads = ours(net, X.numpy(), Y.numpy().tolist())
    assert relative_error(outputs, out.detach().numpy()) <= RTOL
    for l in range(2):
        for g, name in zip(grads[l], ("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
            assert relative_error(g, getattr(module, f"{name}_l{l}").grad) <= RTOL
        for g, name in zip(grads[l][4:], ("initial_state", "initial_cell")):
            assert relative_error(g, getattr(stack, f"{name}_0").grad[l]) <= RTOL
    back = net.to_torch(batch_first=batch_first)
    assert Network.from_torch(back, loss="half_sse").to_spec() == net.to_spec()
    with torch.no_grad():
        assert relative_error(order(back(order(X))), out.detach()) <= RTOL
    learned = {name for name, _ in back.named_parameters() if name.startswith("initial")}
    expected = {"initial_state_0", "initial_state_1"}
    assert learned == (expected | {"initial_cell_0", "initial_cell_1"} if kind == "lstm"
                       else expected)


def test_from_torch_refuses_what_neuronsim_does_not_have():
    for module, message in ((torch_module("lstm", 2, 3, bidirectional=True),
                             "a bidirectional nn.LSTM is not supported"),
                            (torch_module("gru", 2, 3, num_layers=2, dropout=0.5),
                             r"nn.GRU\(dropout=0.5\): neuronsim has no dropout"),
                            (torch_module("lstm", 2, 3, proj_size=2),
                             r"nn.LSTM\(proj_size=2\) is not supported")):
        with pytest.raises(ValueError, match=r"^module\[0\]: " + message):
            Network.from_torch(module)
