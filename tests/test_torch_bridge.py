"""The PyTorch bridge: Network <-> nn.Sequential, and autograd as a third opinion.

Needs torch (CI installs the CPU build: pip install torch==2.13.0); without it
these tests skip, except the one that checks the message a user then gets.
"""

import sys

import catalogue
import numpy as np
import pytest
from catalogue import HIDDEN, PAIRINGS, random_network, random_samples
from hypothesis import given, settings
from strategies import (
    assert_close,
    batch_sum_atol,
    exact_atol,
    move_off_kinks,
    network_cases,
)

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.crosscheck.compare import compare, per_neuron_batch

RTOL_EXACT = 1e-12


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="torch not installed (pip install torch==2.13.0)")


def test_missing_torch_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'neuronsim\[torch\]'"):
        catalogue.mazur().to_torch()


def test_to_torch_layout_and_dtype(torch):
    net = catalogue.softmax_233()
    model = net.to_torch()
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "Softmax"]
    for linear, (W, b) in zip(model[::2], net.to_arrays()):
        assert linear.weight.dtype == torch.float64
        assert np.array_equal(linear.weight.detach().numpy(), W)
        assert np.array_equal(linear.bias.detach().numpy(), b)
    x = [0.5, -1.0]
    out = model(torch.tensor([x], dtype=torch.float64))[0].tolist()
    assert out == pytest.approx(net.forward_pass(x), rel=1e-15)


def test_linear_and_leaky_relu_layers(torch):
    net = Network.from_arrays([[[0.5, -0.2]], [[1.5]]], [[0.1], [0.0]],
                              [{"activation": "leaky_relu", "slope": 0.2}, "linear"], "sse")
    model = net.to_torch()
    assert [type(m).__name__ for m in model] == ["Linear", "LeakyReLU", "Linear"]
    assert model[1].negative_slope == 0.2
    back = Network.from_torch(model, loss="sse")
    assert back.to_spec()["layers"] == net.to_spec()["layers"]


@pytest.mark.parametrize("output, loss", PAIRINGS)
def test_round_trip(torch, output, loss):
    net = random_network([2, 3, 2], "tanh", output, loss, seed=5, reduction="sum")
    back = Network.from_torch(net.to_torch(), loss=loss, reduction="sum")
    assert back.to_spec() == net.to_spec()


def test_from_torch_module_by_hand(torch):
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Identity())
    net = Network.from_torch(model, loss="mse", learning_rate=0.1)
    assert repr(net) == "Network(3-4-2; tanh, linear; loss mse)"
    assert net.learning_rate == 0.1
    W = model[0].weight.detach().double().numpy()
    assert np.array_equal(net.to_arrays()[0][0], W)
    single = Network.from_torch(nn.Linear(2, 1, dtype=torch.float64))
    assert repr(single) == "Network(2-1; linear; loss half_sse)"


def test_from_torch_without_biases(torch):
    nn = torch.nn
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Sigmoid(), nn.Linear(2, 1, bias=False))
    net = Network.from_torch(model)
    assert net.update_biases is False
    assert all(b.tolist() == [0.0] * len(b) for _, b in net.to_arrays())


@pytest.mark.parametrize("modules, message", [
    (lambda nn: [nn.Linear(2, 2), nn.Dropout()], r"module\[1\]: Dropout is not supported"),
    (lambda nn: [nn.ReLU(), nn.Linear(2, 2)], r"module\[0\]: expected a Linear layer first"),
    (lambda nn: [nn.Linear(2, 2), nn.ReLU(), nn.Tanh()], r"module\[2\]: two activations in a row"),
    (lambda nn: [nn.Linear(2, 2), nn.Softmax(dim=0)], r"Softmax\(dim=0\) is not over the features"),
    (lambda nn: [nn.Linear(2, 2), nn.Linear(2, 1, bias=False)], "some Linear layers have bias"),
])
def test_from_torch_errors(torch, modules, message):
    with pytest.raises(ValueError, match=message):
        Network.from_torch(torch.nn.Sequential(*modules(torch.nn)))


@pytest.mark.parametrize("loss, torch_loss, implied", [
    ("cross_entropy", "CrossEntropyLoss", "softmax"),
    ("binary_cross_entropy", "BCEWithLogitsLoss", "sigmoid"),
])
def test_from_torch_logits_model_gets_the_output_its_torch_loss_implies(torch, loss, torch_loss,
                                                                       implied):
    nn = torch.nn
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    net = Network.from_torch(model, loss=loss)
    assert repr(net) == f"Network(3-4-3; tanh, {implied}; loss {loss})"
    rng = np.random.default_rng(4)
    X = rng.uniform(-2, 2, (5, 3))
    if loss == "cross_entropy":
        labels = [0, 2, 1, 2, 0]
        Y = np.eye(3)[labels]
        target = torch.tensor(labels)
    else:
        Y = rng.uniform(0.05, 0.95, (5, 3))
        target = torch.tensor(Y)
    logits = model(torch.tensor(X))
    expected = getattr(nn, torch_loss)()(logits, target)
    expected.backward()
    if loss == "binary_cross_entropy":
        expected = expected * 3            # torch averages over the outputs too; E sums them
    ours = per_neuron_batch(net, X, Y)
    assert np.isfinite(ours.loss)
    assert ours.loss == pytest.approx(float(expected.detach()), rel=RTOL_EXACT)
    for l, linear in enumerate((model[0], model[2])):
        theirs = linear.weight.grad.numpy() * (3 if loss == "binary_cross_entropy" else 1)
        assert_close(ours.dW[l], theirs, RTOL_EXACT,
                     batch_sum_atol(theirs, ours.deltas[l], X if l == 0 else ours.activations[0]),
                     "dW", l)
    assert compare(net, X, Y, against="torch").ok


@pytest.mark.parametrize("last", ["ReLU", "Tanh"])
def test_from_torch_refuses_an_output_that_cannot_be_a_probability(torch, last):
    nn = torch.nn
    model = nn.Sequential(nn.Linear(3, 2), getattr(nn, last)())
    with pytest.raises(ValueError, match=f"the last layer ends in {last.lower()}, which cannot "
                                         "give the probabilities cross_entropy takes"):
        Network.from_torch(model, loss="cross_entropy")


def delta_atols(net, outputs, Y):
    """The absolute floor for each layer's δ.  The output δ, (a − t)·g' (or a·Σt − t), may
    cancel: two exact computations agree to a few ulps of a and t, not of a − t.  That
    error reaches δ^(l) through |W^(l+1)|ᵀ ... |W^(L)|ᵀ (|g'| <= 1 for every activation
    here), so each layer's floor is the output's times the ∞-norms of the |W|ᵀ above it.
    (Hypothesis found a δ of 1.9e-6 from a ≈ t at 1.8e-12 relative.)"""
    Y = np.asarray(Y, dtype=float)
    operands = np.abs(outputs) * np.maximum(np.abs(Y).sum(axis=1, keepdims=True), 1)
    floors = [exact_atol(operands, Y)]
    for W, *_ in reversed(net.to_arrays()[1:]):
        floors.append(floors[-1] * max(1.0, float(np.abs(W).sum(axis=0).max())))
    return floors[::-1]


def assert_matches_torch(net, X, Y, context=""):
    from neuronsim.crosscheck.torch_bridge import torch_gradients

    ours = per_neuron_batch(net, X, Y)
    theirs = torch_gradients(net, X, Y)
    delta_floors = delta_atols(net, theirs["activations"][-1], Y)
    for quantity in ("activations", "deltas", "dW", "db"):
        for l, expected in enumerate(theirs[quantity]):
            actual = getattr(ours, quantity)[l]
            if quantity in ("dW", "db"):
                inputs = X if l == 0 else theirs["activations"][l - 1]
                # dW = Σ a_k δ_j, db = Σ δ_j (then ÷ n): δ's own floor comes along
                carried = delta_floors[l] * (float(np.max(np.abs(inputs)))
                                             if quantity == "dW" else 1.0)
                atol = max(batch_sum_atol(expected, theirs["deltas"][l], inputs), carried)
            elif quantity == "deltas":
                atol = max(exact_atol(expected), delta_floors[l])
            else:
                atol = exact_atol(expected)
            assert_close(actual, expected, RTOL_EXACT, atol, quantity, l, context)
    # E = ½Σ(a − t)² inherits a − t's cancellation: its error is about |a − t| times the
    # output δ's floor
    loss_floor = max(1e-300, float(np.sqrt(2 * abs(theirs["loss"]))) * delta_floors[-1])
    assert ours.loss == pytest.approx(theirs["loss"], rel=RTOL_EXACT, abs=loss_floor), context


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output, loss", PAIRINGS)
def test_autograd_agrees_on_every_pairing(torch, output, loss, hidden, reduction):
    n_out = 3 if output == "softmax" else 2
    net = random_network([3, 4, 3, n_out], hidden, output, loss, seed=11, reduction=reduction)
    samples = random_samples(3, n_out, output, loss, 4, seed=12)
    X = np.array([x for x, _ in samples])
    Y = np.array([t for _, t in samples])
    move_off_kinks(net, X)
    assert_matches_torch(net, X, Y, f"({hidden} hidden, {output} + {loss}, {reduction})")
    assert compare(net, X, Y, against="torch").ok


def test_sigmoid_bce_at_z_zero(torch):
    """z = 0 exactly: δ = σ(0) - t = 0 for t = ½ (hypothesis found a hand-written
    softplus whose autograd gave 1 - t there)."""
    net = Network.from_arrays([[[0.0]]], [[0.0]], "sigmoid", "binary_cross_entropy")
    assert_matches_torch(net, np.array([[0.7]]), np.array([[0.5]]))


@settings(max_examples=40, deadline=None)
@given(network_cases())
def test_random_networks_match_autograd(case):
    pytest.importorskip("torch", reason="torch not installed (pip install torch==2.13.0)")
    assert_matches_torch(case.net, case.X, case.Y, repr(case))


def test_cli_against_torch(torch, tmp_path, capsys):
    path = tmp_path / "softmax.json"
    catalogue.softmax_233(samples=catalogue.SOFTMAX_SAMPLES).save(path)
    assert main(["crosscheck", str(path), "--against", "torch"]) == 0
    out = capsys.readouterr().out
    assert "against torch (autograd), batch of 3" in out and "all 9 compared" in out


def test_cli_against_torch_when_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    path = tmp_path / "mazur.json"
    catalogue.mazur(samples=[catalogue.MAZUR_SAMPLE]).save(path)
    assert main(["crosscheck", str(path), "--against", "torch"]) == 2
    assert "needs the optional package torch" in capsys.readouterr().err


# ---------------------------------------------------------------- nn.RNN both ways
def relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def rnn_model(torch, batch_first, nonlinearity="tanh", seed=7):
    """StackModule(nn.RNN(3, 4, num_layers=2), nn.Linear(4, 2), nn.Sigmoid())."""
    from neuronsim.crosscheck.torch_bridge import StackModule

    torch.manual_seed(seed)
    f64 = torch.float64
    rnn = torch.nn.RNN(3, 4, num_layers=2, nonlinearity=nonlinearity, batch_first=batch_first,
                       dtype=f64)
    linear = torch.nn.Linear(4, 2, dtype=f64)
    return StackModule([rnn, linear, torch.nn.Sigmoid()]), rnn, linear


def torch_run(torch, model, X, Y, batch_first):
    """Outputs (m, T, n_out) and the half_sse loss (mean over sequences), backward done."""
    model.zero_grad()
    inputs = torch.tensor(X) if batch_first else torch.tensor(X).transpose(0, 1)
    out = model(inputs)
    out = out if batch_first else out.transpose(0, 1)
    loss = 0.5 * ((out - torch.tensor(Y)) ** 2).sum() / len(X)
    loss.backward()
    return out.detach().numpy(), loss.item()


def ours(net, X, Y):
    outputs, losses = [], []
    for x, y in zip(X, Y):
        outputs.append(net.forward_pass(x.tolist()))
        losses.append(net.back_prop(y.tolist()))
    return np.array(outputs), float(np.mean(losses)), net.gradient_arrays()


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_two_layers_round_trip_gives_the_same_outputs_and_gradients(torch, batch_first,
                                                                        nonlinearity):
    model, rnn, linear = rnn_model(torch, batch_first, nonlinearity)
    rng = np.random.default_rng(1)
    X, Y = rng.uniform(-1, 1, (3, 5, 3)), rng.uniform(0, 1, (3, 5, 2))
    expected, loss = torch_run(torch, model, X, Y, batch_first)

    net = Network.from_torch(model)
    assert [layer.kind for layer in net.layers] == ["recurrent", "recurrent", "dense"]
    outputs, our_loss, grads = ours(net, X, Y)
    assert relative_error(outputs, expected) <= RTOL_EXACT
    assert relative_error(our_loss, loss) <= RTOL_EXACT
    for l in range(2):
        W, U, b = net.to_arrays()[l]
        assert np.array_equal(W, getattr(rnn, f"weight_ih_l{l}").detach().numpy())
        assert np.array_equal(U, getattr(rnn, f"weight_hh_l{l}").detach().numpy())
        both = getattr(rnn, f"bias_ih_l{l}") + getattr(rnn, f"bias_hh_l{l}")
        assert np.array_equal(b, both.detach().numpy())         # b = b_ih + b_hh
        dW, dU, db = grads[l]
        assert relative_error(dW, getattr(rnn, f"weight_ih_l{l}").grad) <= RTOL_EXACT
        assert relative_error(dU, getattr(rnn, f"weight_hh_l{l}").grad) <= RTOL_EXACT
        # dE/db_ih = dE/db_hh = dE/db
        assert relative_error(db, getattr(rnn, f"bias_ih_l{l}").grad) <= RTOL_EXACT
        assert relative_error(db, getattr(rnn, f"bias_hh_l{l}").grad) <= RTOL_EXACT
    assert relative_error(grads[2][0], linear.weight.grad) <= RTOL_EXACT
    assert relative_error(grads[2][1], linear.bias.grad) <= RTOL_EXACT

    back = net.to_torch(batch_first=batch_first)
    assert type(back).__name__ == "StackModule"
    rnns = [m for m in back.layers if isinstance(m, torch.nn.RNN)]
    assert [(r.num_layers, r.batch_first, r.nonlinearity) for r in rnns] == \
        [(1, batch_first, nonlinearity)] * 2
    assert all(not r.bias_hh_l0.detach().any() for r in rnns)   # b in b_ih, zeros in b_hh
    again, again_loss = torch_run(torch, back, X, Y, batch_first)
    assert relative_error(again, expected) <= RTOL_EXACT
    assert relative_error(again_loss, loss) <= RTOL_EXACT
    for l, layer_rnn in enumerate(rnns):
        assert relative_error(layer_rnn.weight_ih_l0.grad, getattr(rnn, f"weight_ih_l{l}").grad) \
            <= RTOL_EXACT
        assert relative_error(layer_rnn.weight_hh_l0.grad, getattr(rnn, f"weight_hh_l{l}").grad) \
            <= RTOL_EXACT
        assert relative_error(layer_rnn.bias_ih_l0.grad, grads[l][2]) <= RTOL_EXACT
    assert relative_error(back.layers[2].weight.grad, linear.weight.grad) <= RTOL_EXACT
    assert Network.from_torch(back).to_spec() == net.to_spec()


def test_an_sgd_step_in_torch_moves_the_bias_sum_by_twice(torch):
    model, rnn, _ = rnn_model(torch, True)
    rng = np.random.default_rng(2)
    X, Y = rng.uniform(-1, 1, (2, 3, 3)), rng.uniform(0, 1, (2, 3, 2))
    net = Network.from_torch(model)
    _, _, grads = ours(net, X, Y)
    before = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().clone()
    torch_run(torch, model, X, Y, True)
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    moved = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach() - before
    assert relative_error(moved, -2 * 0.1 * grads[0][2]) <= 1e-10


def test_learned_initial_state_round_trip(torch):
    net = Network.from_spec({"inputs": 2, "loss": "half_sse", "layers": [
        {"activation": "tanh", "size": 3, "init": "uniform", "seed": 1},
        {"type": "recurrent", "activation": "relu", "size": 2, "init": "uniform", "seed": 2,
         "initial_state": [0.4, 0.1], "learn_initial_state": True},
        {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform", "seed": 3,
         "initial_state": [-0.2, 0.3]},
        {"activation": "linear", "size": 1, "init": "uniform", "seed": 4}]})
    model = net.to_torch()
    assert isinstance(model.initial_state_2, torch.nn.Parameter)
    assert "initial_state_3" in dict(model.named_buffers())
    X, Y = np.random.default_rng(3).uniform(-1, 1, (2, 4, 2)), np.full((2, 4, 1), 0.5)
    expected, _ = torch_run(torch, model, X, Y, True)
    outputs, _, grads = ours(net, X, Y)
    assert relative_error(outputs, expected) <= RTOL_EXACT
    assert relative_error(grads[1][3], model.initial_state_2.grad[0]) <= RTOL_EXACT
    again = Network.from_torch(model)
    assert again.to_spec() == net.to_spec()


def test_a_logits_rnn_model_gets_softmax_with_cross_entropy(torch):
    from neuronsim.crosscheck.torch_bridge import StackModule

    f64 = torch.float64
    torch.manual_seed(4)
    model = StackModule([torch.nn.RNN(2, 3, dtype=f64, batch_first=True),
                         torch.nn.Linear(3, 3, dtype=f64)])
    net = Network.from_torch(model, loss="cross_entropy")
    assert net.layers[-1].activation.name == "softmax"
    X = np.random.default_rng(4).uniform(-1, 1, (2, 3, 2))
    labels = np.array([[0, 2, 1], [1, 1, 0]])
    logits = model(torch.tensor(X))
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 3),
                                             torch.tensor(labels.reshape(-1)), reduction="sum")
    loss = loss / len(X)
    loss.backward()
    _, our_loss, grads = ours(net, X, np.eye(3)[labels])
    assert relative_error(our_loss, loss.item()) <= RTOL_EXACT
    assert relative_error(grads[0][1], model.layers[0].weight_hh_l0.grad) <= RTOL_EXACT


def test_an_nn_sequential_holding_an_rnn_is_read(torch):
    nn = torch.nn
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.RNN(3, 2, num_layers=2, bias=True),
                          nn.Linear(2, 1))
    net = Network.from_torch(model)
    assert repr(net) == "Network(2-3-r2-r2-1; tanh, tanh, tanh, linear; loss half_sse)"


@pytest.mark.parametrize("modules, message", [
    (lambda nn: [nn.RNN(2, 2), nn.Tanh()], r"module\[1\]: Tanh after an nn.RNN"),
    (lambda nn: [nn.RNN(2, 2, bidirectional=True)], "a bidirectional nn.RNN is not supported"),
    (lambda nn: [nn.RNN(2, 2, num_layers=2, dropout=0.5)], r"nn.RNN\(dropout=0.5\)"),
    (lambda nn: [nn.LSTM(2, 2), nn.Tanh()], r"module\[1\]: Tanh after an nn.LSTM"),
    (lambda nn: [nn.Linear(2, 2), nn.RNN(2, 2, bias=False)], "some Linear and RNN layers have "
                                                             "bias=False"),
    (lambda nn: [nn.RNN(2, 2), nn.Linear(2, 2)], None),
])
def test_from_torch_rnn_errors(torch, modules, message):
    model = torch.nn.Sequential(*modules(torch.nn))
    if message is None:
        Network.from_torch(model)
        return
    with pytest.raises(ValueError, match=message):
        Network.from_torch(model)


def test_to_torch_refuses_a_recurrent_kind_torch_lacks(torch):
    net = Network.from_spec({"inputs": 1, "loss": "half_sse", "layers": [
        {"type": "recurrent", "activation": "sigmoid", "size": 2, "init": "uniform", "seed": 1}]})
    with pytest.raises(ValueError, match=r"net.layers\[0\]: torch.nn.RNN has tanh and relu "
                                         "recurrent layers only, not sigmoid"):
        net.to_torch()
