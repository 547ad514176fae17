"""Stacked networks (dense and recurrent layers in any order) against torch, finite
differences and themselves: outputs, loss, every gradient, a training step, saved files.

Truncated BPTT is built in torch from its definition: for each E_t every recurrent
layer's state at t-k is detached and the last k steps are run again from it.
"""

import json

import numpy as np
import pytest

from neuronsim import Network
from neuronsim.cli import main
from neuronsim.crosscheck.gradcheck import gradcheck

RTOL = 1e-12


def relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def stacked_spec(**top):
    """dense -> recurrent (learned a[0]) -> recurrent -> dense, BCE at a sigmoid output."""
    spec = {"inputs": 2, "loss": "binary_cross_entropy", "step_loss": "mean", "layers": [
        {"activation": "tanh", "weights": [[0.5, -0.2], [0.1, 0.3], [0.2, 0.2]],
         "biases": [0.1, 0.0, -0.1]},
        {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform", "seed": 3,
         "learn_initial_state": True, "initial_state": [0.2, -0.3]},
        {"type": "recurrent", "activation": "sigmoid", "size": 2, "init": "uniform", "seed": 4},
        {"activation": "sigmoid", "size": 1, "init": "uniform", "seed": 5}],
        "samples": [{"input": [[1, 0], [0, 1], [1, 1]], "target": [[1], None, [0]]},
                    {"input": [[1, 1], [0, 0]], "target": [1]}],
        "learning_rate": 0.3}
    spec.update(top)
    return spec


def test_finite_differences_for_a_stack_with_a_learned_initial_state():
    report = gradcheck(Network.from_spec(stacked_spec()))
    assert report.ok and len(report.entries) == 36 and not report.kinks
    names = {entry.name for entry in report.entries}
    assert names == {"weights", "recurrent_weights", "bias", "initial_state"}
    a0 = [e for e in report.entries if e.name == "initial_state"]
    assert [e.where() for e in sorted(a0, key=lambda e: e.neuron)] == [
        "layers[1].initial_state[0]", "layers[1].initial_state[1]"]
    assert report.note is None


def test_gradcheck_of_a_truncated_network_checks_full_bptt_and_says_so():
    report = gradcheck(Network.from_spec(stacked_spec(truncation=1)))
    assert report.ok
    assert "truncation k = 1 gives a gradient that is not dE/dθ" in report.to_text()


def test_the_same_file_trains_to_the_same_bytes(tmp_path):
    paths = []
    for name in ("a.json", "b.json"):
        net = Network.from_spec(stacked_spec())
        net.train(epochs=3, batch_size=None)
        net.save(tmp_path / name)
        paths.append(tmp_path / name)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    again = Network.from_spec(str(paths[0]))
    assert again.to_spec() == json.loads(paths[0].read_text())


def test_learned_initial_state_is_updated_and_fixed_one_is_not():
    net = Network.from_spec(stacked_spec())
    before = [list(layer.initial_state or [0, 0]) for layer in net.layers[1:3]]
    net.forward_pass([[1, 0], [0, 1]])
    net.back_prop([[1], [0]])
    (_, _, _, da0), (_, _, _) = net.gradient_arrays()[1:3]
    grad = net.layers[1].initial_state_grad
    net.update_weights(0.5)
    after = [list(layer.initial_state or [0, 0]) for layer in net.layers[1:3]]
    assert after[0] == [a - 0.5 * g for a, g in zip(before[0], grad)]
    assert da0.tolist() == grad
    assert after[1] == before[1] == [0, 0]


# ---------------------------------------------------------------- torch
torch = pytest.importorskip("torch", reason="torch is optional (pip install torch==2.13.0)")


def recurrent_layer(rnn, index, activation):
    def get(name):
        return getattr(rnn, f"{name}_l{index}").detach().numpy()

    return {"type": "recurrent", "activation": activation,
            "weights": get("weight_ih").tolist(), "recurrent_weights": get("weight_hh").tolist(),
            "biases": (get("bias_ih") + get("bias_hh")).tolist()}


def dense_layer(linear, activation):
    return {"activation": activation, "weights": linear.weight.detach().numpy().tolist(),
            "biases": linear.bias.detach().numpy().tolist()}


def ours(net, X, targets):
    """Per-sequence back_prop of a batch; returns the outputs, the loss, the gradients."""
    outputs, losses = [], []
    for x, t in zip(X, targets):
        outputs.append(net.forward_pass(x.tolist()))
        losses.append(net.back_prop(t))
    return np.array(outputs), float(np.mean(losses)), net.gradient_arrays()


def torch_truncated(run, steps, k, loss_at):
    """Σ_t E_t, each E_t from the states at t-k detached (k None: full BPTT)."""
    if k is None:
        return sum(loss_at(t, run(0, t + 1, None)) for t in range(steps))
    total = 0
    for t in range(steps):
        start = t - k + 1          # a[t+1-k] (1-based steps) is held constant
        states = None              # start < 0: E_t reaches a[0] itself
        if start >= 0:
            with torch.no_grad():
                states = run(0, start, None)[1] if start > 0 else "detached"
        total = total + loss_at(t, run(max(start, 0), t + 1, states))
    return total


@pytest.mark.parametrize("truncation", [None, 1, 2, 3])
def test_rnn_two_layers_and_linear_equal_torch(truncation):
    """nn.RNN(num_layers=2) + nn.Linear, half_sse at every step, mean over the batch."""
    torch.manual_seed(7)
    f64 = torch.float64
    rnn = torch.nn.RNN(3, 4, num_layers=2, nonlinearity="tanh", batch_first=True, dtype=f64)
    linear = torch.nn.Linear(4, 2, dtype=f64)
    X = torch.randn(3, 5, 3, dtype=f64)
    Y = torch.randn(3, 5, 2, dtype=f64)
    net = Network.from_spec({"inputs": 3, "loss": "half_sse", "truncation": truncation,
                             "layers": [recurrent_layer(rnn, 0, "tanh"),
                                        recurrent_layer(rnn, 1, "tanh"),
                                        dense_layer(linear, "linear")]})

    def run(start, stop, h):
        out, h_last = rnn(X[:, start:stop], None if h == "detached" else h)
        return linear(out), h_last

    def loss_at(t, result):
        y = result[0][:, -1]
        return 0.5 * ((y - Y[:, t]) ** 2).sum() / len(X)

    total = torch_truncated(run, 5, truncation, loss_at)
    total.backward()
    outputs, loss, grads = ours(net, X.numpy(), Y.numpy().tolist())
    with torch.no_grad():
        expected = run(0, 5, None)[0].numpy()
    assert relative_error(outputs, expected) <= RTOL
    if truncation is None:
        assert relative_error(loss, total.item()) <= RTOL
    for l in range(2):
        dW, dU, db = grads[l]
        assert relative_error(dW, getattr(rnn, f"weight_ih_l{l}").grad) <= RTOL
        assert relative_error(dU, getattr(rnn, f"weight_hh_l{l}").grad) <= RTOL
        assert relative_error(db, getattr(rnn, f"bias_ih_l{l}").grad) <= RTOL
        assert relative_error(db, getattr(rnn, f"bias_hh_l{l}").grad) <= RTOL
    assert relative_error(grads[2][0], linear.weight.grad) <= RTOL
    assert relative_error(grads[2][1], linear.bias.grad) <= RTOL


@pytest.mark.parametrize("truncation", [None, 2])
@pytest.mark.parametrize("many_to_one", [False, True])
def test_dense_recurrent_dense_equals_torch(truncation, many_to_one):
    """Linear+tanh -> RNN(relu) with a learned h0 -> Linear+sigmoid, binary cross-entropy
    (many-to-many, or the last step only)."""
    torch.manual_seed(11)
    f64 = torch.float64
    first = torch.nn.Linear(2, 3, dtype=f64)
    rnn = torch.nn.RNN(3, 3, nonlinearity="relu", batch_first=True, dtype=f64)
    last = torch.nn.Linear(3, 1, dtype=f64)
    h0 = torch.tensor([0.3, -0.2, 0.5], dtype=f64, requires_grad=True)
    X = torch.randn(4, 4, 2, dtype=f64)
    Y = torch.rand(4, 4, 1, dtype=f64)
    layer = recurrent_layer(rnn, 0, "relu")
    layer.update(initial_state=h0.tolist(), learn_initial_state=True)
    net = Network.from_spec({"inputs": 2, "loss": "binary_cross_entropy",
                             "truncation": truncation,
                             "layers": [dense_layer(first, "tanh"), layer,
                                        dense_layer(last, "sigmoid")]})

    def run(start, stop, h):
        if isinstance(h, str):          # "detached": a[0] held constant
            h = h0.detach().expand(len(X), 3).unsqueeze(0)
        elif h is None:
            h = h0.expand(len(X), 3).unsqueeze(0)
        out, h_last = rnn(torch.tanh(first(X[:, start:stop])), h)
        return last(out), h_last

    def loss_at(t, result):
        if many_to_one and t < 3:
            return 0
        z = result[0][:, -1]
        return torch.nn.functional.binary_cross_entropy_with_logits(
            z, Y[:, t], reduction="sum") / len(X)

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
    dW, dU, db, da0 = grads[1]
    assert relative_error(dW, rnn.weight_ih_l0.grad) <= RTOL
    assert relative_error(dU, rnn.weight_hh_l0.grad) <= RTOL
    assert relative_error(db, rnn.bias_hh_l0.grad) <= RTOL
    # no E_t reaches a[0] when every target step t has a[t-k] held constant
    expected_da0 = h0.grad if h0.grad is not None else torch.zeros(3, dtype=f64)
    assert relative_error(da0, expected_da0) <= RTOL
    if h0.grad is None:
        assert many_to_one and truncation == 2 and not da0.any()
    assert relative_error(grads[2][0], last.weight.grad) <= RTOL
    assert relative_error(grads[2][1], last.bias.grad) <= RTOL


def test_train_one_full_batch_step_of_a_stacked_file_equals_torch_sgd(tmp_path, capsys):
    """neuronsim train --epochs 1 --batch-size full on a file, then torch.optim.SGD.step().

    torch's RNN has two bias vectors, b_ih and b_hh, and SGD moves each by η·dE/db, so
    their sum moves by 2η·dE/db; our one bias b moves by η·dE/db.  So b_hh is 0 and
    frozen here, and b = b_ih."""
    torch.manual_seed(5)
    f64 = torch.float64
    rnn = torch.nn.RNN(2, 3, num_layers=2, nonlinearity="tanh", batch_first=True, dtype=f64)
    with torch.no_grad():
        for l in range(2):
            getattr(rnn, f"bias_hh_l{l}").zero_()
            getattr(rnn, f"bias_hh_l{l}").requires_grad_(False)
    linear = torch.nn.Linear(3, 1, dtype=f64)
    X = torch.randn(3, 4, 2, dtype=f64)
    Y = torch.randn(3, 4, 1, dtype=f64)
    spec = {"inputs": 2, "loss": "half_sse", "learning_rate": 0.1,
            "layers": [recurrent_layer(rnn, 0, "tanh"), recurrent_layer(rnn, 1, "tanh"),
                       dense_layer(linear, "linear")],
            "samples": [{"input": x, "target": y}
                        for x, y in zip(X.numpy().tolist(), Y.numpy().tolist())]}
    path, saved = tmp_path / "stack.json", tmp_path / "trained.json"
    path.write_text(json.dumps(spec))
    status = main(["train", str(path), "--epochs", "1", "--batch-size", "full", "--quiet",
                   "--save", str(saved)])
    assert status == 0, capsys.readouterr().err
    trainable = [p for p in rnn.parameters() if p.requires_grad] + list(linear.parameters())
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    out, _ = rnn(X)
    (0.5 * ((linear(out) - Y) ** 2).sum() / len(X)).backward()
    optimizer.step()
    trained = Network.from_spec(str(saved))
    for l in range(2):
        W, U, b = trained.to_arrays()[l]
        assert relative_error(W, getattr(rnn, f"weight_ih_l{l}").detach()) <= RTOL
        assert relative_error(U, getattr(rnn, f"weight_hh_l{l}").detach()) <= RTOL
        torch_b = getattr(rnn, f"bias_ih_l{l}") + getattr(rnn, f"bias_hh_l{l}")
        assert relative_error(b, torch_b.detach()) <= RTOL
    W, b = trained.to_arrays()[2]
    assert relative_error(W, linear.weight.detach()) <= RTOL
    assert relative_error(b, linear.bias.detach()) <= RTOL
