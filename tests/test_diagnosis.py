"""Each classic backprop mistake, made on purpose (tests/buggy_backprop.py),
is found at the right place and named by neuronsim.crosscheck.diagnosis.

Every case runs twice: with the user's deltas given (the mistake shows in δ)
and with only dW and db given (it shows first in the gradients).
"""

import buggy_backprop
import catalogue
import numpy as np
import pytest
from catalogue import random_network, random_samples

from neuronsim import Network
from neuronsim.crosscheck import compare

ALL = buggy_backprop.KEYS
GRADIENTS_ONLY = ("dW", "db")


def sigmoid_net(hidden="sigmoid", reduction="mean", m=4, sizes=(3, 4, 3, 2), seed=1):
    net = random_network(list(sizes), hidden, "sigmoid", "half_sse", seed, reduction=reduction,
                         learning_rate=0.5)
    samples = random_samples(sizes[0], sizes[-1], "sigmoid", "half_sse", m, seed + 1)
    X = np.array([x for x, _ in samples])
    Y = np.array([t for _, t in samples])
    return net, X, Y


def run(net, X, Y, mistake, keys=ALL, **options):
    options.setdefault("activations", [layer.activation.name for layer in net.layers])
    options.setdefault("loss", net.loss.name)
    user = buggy_backprop.make(mistake, keys=keys, **options)
    return compare(net, X, Y, against=user)


def codes(report):
    return [finding.code for finding in report.findings]


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
@pytest.mark.parametrize("keys", [ALL, GRADIENTS_ONLY], ids=["with deltas", "gradients only"])
def test_the_correct_implementation_passes(hidden, keys):
    net, X, Y = sigmoid_net(hidden)
    report = run(net, X, Y, None, keys)
    assert report.ok, str(report)
    assert report.first_divergence is None and report.findings == [] and report.diagnosis == ""


# (mistake, layer, expected first divergence with deltas, without, expected code)
LAYER_MISTAKES = [
    ("derivative_missing", 1, "δ⁽³⁾", "dE/dW⁽³⁾", "derivative_missing"),
    ("derivative_missing", 2, "δ⁽⁴⁾", "dE/dW⁽⁴⁾", "derivative_missing"),
    ("derivative_twice", 1, "δ⁽³⁾", "dE/dW⁽³⁾", "derivative_twice"),
    ("derivative_twice", 0, "δ⁽²⁾", "dE/dW⁽²⁾", "derivative_twice"),
    ("derivative_of_a", 1, "δ⁽³⁾", "dE/dW⁽³⁾", "derivative_of_a"),
    ("derivative_of_z", 0, "δ⁽²⁾", "dE/dW⁽²⁾", "derivative_of_z"),
    ("updated_before_deltas", None, "δ⁽³⁾", "dE/dW⁽³⁾", "updated_before_deltas"),
    ("factor_2", None, "δ⁽⁴⁾", "dE/dW⁽⁴⁾", "factor_2"),
    ("sign", None, "δ⁽⁴⁾", "dE/dW⁽⁴⁾", "sign"),
]


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
@pytest.mark.parametrize("mistake, layer, with_deltas, without, code", LAYER_MISTAKES)
def test_layer_mistakes_are_named(hidden, mistake, layer, with_deltas, without, code):
    net, X, Y = sigmoid_net(hidden)
    for keys, first in ((ALL, with_deltas), (GRADIENTS_ONLY, without)):
        report = run(net, X, Y, mistake, keys, layer=layer)
        assert not report.ok
        assert report.first_divergence.name == first, str(report)
        assert codes(report) == [code], str(report)
        assert report.diagnosis == report.findings[0].message
        assert "diagnosis: " + report.diagnosis in str(report)


def test_transposed_weight_gradient_non_square():
    net, X, Y = sigmoid_net()
    report = run(net, X, Y, "transposed", layer=1)
    assert report.first_divergence.name == "dE/dW⁽³⁾"
    assert report.first_divergence.status == "FAIL (shape)"
    assert codes(report) == ["transposed"]
    assert "(n_in, n_out) layout a_prev δᵀ, (4, 3)" in report.diagnosis
    assert "shape (4, 3), expected (3, 4)" in str(report)


def test_transposed_weight_gradient_square():
    net, X, Y = sigmoid_net(sizes=(3, 3, 3, 2))
    report = run(net, X, Y, "transposed", layer=1)
    assert report.first_divergence.name == "dE/dW⁽³⁾"
    assert report.first_divergence.status == "FAIL"
    assert codes(report) == ["transposed"]


def test_transposed_deltas_layout():
    net, X, Y = sigmoid_net()

    def columns(weights, biases, X, Y):
        results = buggy_backprop.user_backprop(weights, biases, X, Y,
                                               activations=["sigmoid"] * 3, keys=("deltas",))
        return {"deltas": [d.T for d in results["deltas"]]}

    report = compare(net, X, Y, against=columns)
    assert report.first_divergence.name == "δ⁽⁴⁾"
    assert codes(report) == ["transposed"]
    assert "one column per sample" in report.diagnosis


def test_batch_factor_missing_mean():
    net, X, Y = sigmoid_net(m=4)
    report = run(net, X, Y, "batch_factor")
    assert report.first_divergence.name == "E"       # the loss comes before the deltas
    assert codes(report) == ["batch_factor"]
    assert "exactly m = 4 times ours" in report.diagnosis and "1/m is missing" in report.diagnosis
    gradients = run(net, X, Y, "batch_factor", GRADIENTS_ONLY)
    assert gradients.first_divergence.name == "dE/dW⁽⁴⁾"
    assert codes(gradients) == ["batch_factor"]


def test_batch_factor_divided_for_a_summed_loss():
    net, X, Y = sigmoid_net(reduction="sum", m=3)
    report = run(net, X, Y, None, reduction="mean")
    assert report.first_divergence.name == "E"
    assert codes(report) == ["batch_factor"]
    assert "1/m = 1/3" in report.diagnosis and "reduction 'sum'" in report.diagnosis


def test_one_over_m_in_the_deltas_is_a_convention_when_gradients_match():
    net, X, Y = sigmoid_net(m=4)
    report = run(net, X, Y, "deltas_over_m")
    assert report.first_divergence.name == "δ⁽⁴⁾"
    assert codes(report) == ["batch_factor"]
    assert "convention, not a bug" in report.diagnosis and "here they do)" in report.diagnosis
    dW_rows = [row for row in report.rows if row.quantity in ("dW", "db")]
    assert all(row.ok for row in dW_rows)


def test_batch_of_two_factor_two_is_ambiguous_and_says_so():
    net, X, Y = sigmoid_net(m=2)
    report = run(net, X, Y, "factor_2", GRADIENTS_ONLY)
    assert report.first_divergence.name == "dE/dW⁽⁴⁾"
    assert sorted(codes(report)) == ["batch_factor", "factor_2"]


def test_factor_2_message_names_the_half():
    net, X, Y = sigmoid_net()
    report = run(net, X, Y, "factor_2")
    assert "the ½ of E = ½ Σ (t - a)² was dropped" in report.diagnosis


def test_updated_before_deltas_finds_the_learning_rate():
    net, X, Y = sigmoid_net()
    report = run(net, X, Y, "updated_before_deltas", learning_rate=0.5)
    assert "learning rate 0.5, the network's learning rate" in report.diagnosis
    assert "compute every delta first" in report.diagnosis
    other = run(net, X, Y, "updated_before_deltas", learning_rate=0.1)
    assert codes(other) == ["updated_before_deltas"]
    assert "learning rate 0.1)" in other.diagnosis


def relu_at_kink():
    """2-3-2, relu hidden: neuron 1 of layer 2 has z = 0 exactly on sample 0."""
    weights = [[[0.5, -0.4], [0.3, 0.8], [-0.6, 0.2]], [[0.7, -0.5, 0.4], [0.2, 0.6, -0.3]]]
    biases = [[0.0, 0.1, 0.2], [0.05, -0.05]]
    net = Network.from_arrays(weights, biases, ["relu", "linear"], "half_sse")
    X = np.array([[0.0, 0.0], [0.5, -0.3], [-0.2, 0.9]])
    Y = np.array([[0.1, 0.2], [0.3, -0.1], [0.0, 0.4]])
    return net, X, Y


@pytest.mark.parametrize("keys", [ALL, GRADIENTS_ONLY], ids=["with deltas", "gradients only"])
def test_relu_derivative_at_zero(keys):
    net, X, Y = relu_at_kink()
    assert net.forward_pass([0.0, 0.0]) and net.layers[0].neurons[0].z == 0.0
    report = run(net, X, Y, "relu_at_zero", keys, layer=0)
    # The kink is on the sample x = 0, whose dE/dw = x δ is 0 anyway: only db shows it.
    assert report.first_divergence.name == ("δ⁽²⁾" if keys == ALL else "dE/db⁽²⁾")
    assert codes(report) == ["relu_at_zero"]
    assert "g'(0) = 1; neuronsim takes 0" in report.diagnosis


def test_softmax_derivative_on_top_of_the_combined_delta():
    net = catalogue.softmax_233()
    X = [x for x, _ in catalogue.SOFTMAX_SAMPLES]
    Y = [t for _, t in catalogue.SOFTMAX_SAMPLES]
    for keys in (ALL, GRADIENTS_ONLY):
        assert run(net, X, Y, None, keys).ok
        report = run(net, X, Y, "softmax_on_combined", keys)
        assert report.first_divergence.name == ("δ⁽³⁾" if keys == ALL else "dE/dW⁽³⁾")
        assert codes(report) == ["softmax_on_combined"]
        assert "a - t already is dE/dz⁽³⁾" in report.diagnosis


def test_sigmoid_derivative_on_top_of_bce_delta():
    net = catalogue.xor()
    X = [x for x, _ in catalogue.XOR_SAMPLES]
    Y = [t for _, t in catalogue.XOR_SAMPLES]
    assert run(net, X, Y, None).ok
    report = run(net, X, Y, "derivative_twice", layer=1)
    assert report.first_divergence.name == "δ⁽³⁾"
    assert codes(report) == ["derivative_twice"]
    assert "sigmoid + binary_cross_entropy delta a - t" in report.diagnosis
    missing = run(net, X, Y, "derivative_missing", layer=1)
    assert codes(missing) == ["derivative_missing"]
    assert "(a - t) / (a(1 - a))" in missing.diagnosis


def test_forward_mistakes():
    net, X, Y = sigmoid_net(sizes=(3, 3, 2))
    W, b = net.to_arrays()[0]

    def no_bias(weights, biases, X, Y):
        return {"activations": [1 / (1 + np.exp(-(X @ weights[0].T))), None]}

    def transposed(weights, biases, X, Y):
        return {"activations": [1 / (1 + np.exp(-(X @ weights[0] + biases[0]))), None]}

    def no_activation(weights, biases, X, Y):
        return {"activations": [X @ weights[0].T + biases[0], None]}

    def fill(function):
        def user(weights, biases, X, Y):
            first = function(weights, biases, X, Y)["activations"][0]
            return {"activations": [first, np.zeros((len(X), 2))]}
        return user

    for function, code in ((no_bias, "bias_missing"), (transposed, "forward_transposed"),
                           (no_activation, "activation_missing")):
        report = compare(net, X, Y, against=fill(function))
        assert report.first_divergence.name == "a⁽²⁾"
        assert codes(report) == [code], str(report)


def test_unexplained_mismatch_is_said_plainly():
    net, X, Y = sigmoid_net()
    report = run(net, X, Y, "unexplained")
    assert report.first_divergence.name == "dE/dW⁽²⁾"
    assert report.findings == []
    assert report.diagnosis.startswith("none of the classic mistakes explains dE/dW⁽²⁾")
    assert "worst entry dE/dw₁₁⁽²⁾" in report.diagnosis


def test_other_constant_factor_is_reported_as_such():
    net, X, Y = sigmoid_net()

    def scaled(weights, biases, X, Y):
        results = buggy_backprop.user_backprop(weights, biases, X, Y,
                                               activations=["sigmoid"] * 3, keys=("dW",))
        return {"dW": [dW * 0.37 for dW in results["dW"]]}

    report = compare(net, X, Y, against=scaled)
    assert codes(report) == ["constant_factor"]
    assert "0.37 times ours" in report.diagnosis
