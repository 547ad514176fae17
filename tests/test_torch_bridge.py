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


def assert_matches_torch(net, X, Y, context=""):
    from neuronsim.crosscheck.torch_bridge import torch_gradients

    ours = per_neuron_batch(net, X, Y)
    theirs = torch_gradients(net, X, Y)
    for quantity in ("activations", "deltas", "dW", "db"):
        for l, expected in enumerate(theirs[quantity]):
            actual = getattr(ours, quantity)[l]
            if quantity in ("dW", "db"):
                inputs = X if l == 0 else theirs["activations"][l - 1]
                atol = batch_sum_atol(expected, theirs["deltas"][l], inputs)
            else:
                atol = exact_atol(expected)
            assert_close(actual, expected, RTOL_EXACT, atol, quantity, l, context)
    assert ours.loss == pytest.approx(theirs["loss"], rel=RTOL_EXACT, abs=1e-300), context


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
