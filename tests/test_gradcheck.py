"""neuronsim.crosscheck.gradcheck: back_prop's gradients against central differences."""

import catalogue
import numpy as np
import pytest
from catalogue import HIDDEN, PAIRINGS, random_network, random_samples
from strategies import move_off_kinks

from neuronsim import Activation, Network, gradcheck
from neuronsim.cli.main import main
from neuronsim.core.activations import ACTIVATIONS, sigmoid


def wrong_sigmoid(numbers=None):
    """sigmoid with g'(z) = a(1 - a) + 0.01: the kind of slip gradcheck must catch."""
    right = sigmoid() if numbers is None else sigmoid(numbers)
    return Activation("sigmoid", right.function, lambda z, a: a * (1 - a) + 0.01)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output, loss", PAIRINGS)
def test_every_pairing_passes(output, loss, hidden, reduction):
    n_out = 3 if output == "softmax" else 2
    net = random_network([3, 4, n_out], hidden, output, loss, seed=7, reduction=reduction)
    samples = random_samples(3, n_out, output, loss, 3, seed=8)
    move_off_kinks(net, [x for x, _ in samples])
    report = gradcheck(net, samples)
    assert report.ok, report.to_text(limit=5)
    assert report.kinks == []
    assert len(report.entries) == (3 + 1) * 4 + (4 + 1) * n_out


def test_mazur_entries():
    net = catalogue.mazur(samples=[catalogue.MAZUR_SAMPLE])
    report = gradcheck(net)
    by_label = {entry.label: entry for entry in report.entries}
    w5 = by_label["dE/dw₁₁⁽³⁾"]
    assert w5.analytic == pytest.approx(0.082167041, abs=1e-9)
    assert w5.numeric == pytest.approx(w5.analytic, rel=1e-8)
    assert w5.where() == "layers[1].neurons[0].weights[0]"
    assert by_label["dE/db₁⁽²⁾"].where() == "layers[0].neurons[0].bias"
    assert report.ok and report.loss == pytest.approx(0.298371109, abs=1e-9)


def test_a_wrong_derivative_fails_with_its_label():
    net = catalogue.mazur(samples=[catalogue.MAZUR_SAMPLE])
    bad = wrong_sigmoid()
    layer = net.layers[1]
    layer.activation = bad
    for neuron in layer.neurons:
        neuron.activation = bad
    report = gradcheck(net)
    assert not report.ok
    failing = {entry.label for entry in report.failures}
    # every gradient through the output layer's δ is off, the layer 2 ones too
    assert "dE/dw₁₁⁽³⁾" in failing and "dE/dw₁₁⁽²⁾" in failing
    assert report.entries[0].status == "FAIL"
    text = str(report)
    assert "checked parameters FAIL; worst" in text


def test_the_network_is_not_touched():
    net = catalogue.xor(samples=catalogue.XOR_SAMPLES)
    net.forward_pass([1, 0])
    net.back_prop([1])
    pending = net.gradient_arrays()
    before = net.to_spec()
    gradcheck(net)
    assert net.to_spec() == before and net.samples_in_batch == 1
    for (dW, db), (dW2, db2) in zip(pending, net.gradient_arrays()):
        assert np.array_equal(dW, dW2) and np.array_equal(db, db2)


def test_relu_kink_is_reported_not_failed():
    """Neuron 1 of layer 2 has z = 0 exactly on the sample x = 0: moving its bias
    by ±ε crosses the kink; its weights see x = 0 there and do not."""
    weights = [[[0.5, -0.4], [0.3, 0.8]], [[0.7, -0.5]]]
    net = Network.from_arrays(weights, [[0.0, 0.1], [0.05]], ["relu", "linear"], "half_sse")
    samples = [([0.0, 0.0], [0.3]), ([0.5, -0.3], [0.1]), ([-0.2, 0.9], [0.4])]
    report = gradcheck(net, samples)
    assert [entry.label for entry in report.kinks] == ["dE/db₁⁽²⁾"]
    assert report.ok
    assert report.entries[-1].status == "kink"
    assert "1 not checked: moving them by ±ε moves a ReLU input z across 0" in str(report)


def test_table_lengths_and_limits():
    net = random_network([3, 5, 4, 2], "tanh", "sigmoid", "half_sse", seed=2)
    report = gradcheck(net, random_samples(3, 2, "sigmoid", "half_sse", 2, seed=3))
    assert len(report.entries) == 20 + 24 + 10
    assert "... 34 more (sorted worst first" in str(report)
    assert len(report.to_text(limit=None).splitlines()) == 4 + 1 + 54 + 2
    excess = [entry.excess for entry in report.entries]
    assert excess == sorted(excess, reverse=True)


def test_bad_arguments():
    net = catalogue.xor()
    with pytest.raises(ValueError, match="at least one sample"):
        gradcheck(net)
    with pytest.raises(ValueError, match="eps must be positive"):
        gradcheck(net, catalogue.XOR_SAMPLES, eps=0)


def test_cli_gradcheck(tmp_path, capsys, monkeypatch):
    path = tmp_path / "xor.json"
    catalogue.xor(samples=catalogue.XOR_SAMPLES).save(path)
    assert main(["gradcheck", str(path), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "all 9 checked parameters agree" in out and "... 6 more" in out
    # (xor's sigmoid output is paired with binary_cross_entropy: g' unused there)
    catalogue.mazur(samples=[catalogue.MAZUR_SAMPLE]).save(path)
    monkeypatch.setitem(ACTIVATIONS, "sigmoid", wrong_sigmoid)
    assert main(["gradcheck", str(path)]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_cli_gradcheck_bad_input(tmp_path, capsys):
    path = tmp_path / "xor.json"
    catalogue.xor().save(path)
    assert main(["gradcheck", str(path)]) == 2
    assert "has no samples" in capsys.readouterr().err
    catalogue.xor(samples=catalogue.XOR_SAMPLES).save(path)
    assert main(["gradcheck", str(path), "--top", "0"]) == 2
    assert "--top: expected at least 1" in capsys.readouterr().err


def test_nothing_checked_is_a_failure():
    """1-1 ReLU with z = w·1 + b = 0: both parameters sit on the kink."""
    net = Network.from_arrays([[[0.0]]], [[0.0]], "relu", "half_sse")
    report = gradcheck(net, [([1.0], [0.5])])
    assert len(report.kinks) == 2 and report.failures == []
    assert not report.ok
    assert ("nothing checked: every parameter is at a kink (below), and a check that checks "
            "nothing fails") in str(report)


def test_a_nan_gradient_never_passes():
    net = Network.from_arrays([[[0.1, 0.2], [0.3, -0.4]]], [[0.0, 0.0]], "linear",
                              "cross_entropy")
    report = gradcheck(net, [([1.0, 2.0], [0.0, 1.0])])       # ln of the output -0.5
    assert not report.ok
    assert report.failures and report.entries[0].status == "FAIL"
