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


# ---------------------------------------------------------------- the classic mistakes of issue 12
def net_of(sizes, output="sigmoid", loss="half_sse", m=4, hidden="sigmoid", seed=1):
    net = random_network(list(sizes), hidden, output, loss, seed, learning_rate=0.5)
    samples = random_samples(sizes[0], sizes[-1], output, loss, m, seed + 1)
    return net, np.array([x for x, _ in samples]), np.array([t for _, t in samples])


@pytest.mark.parametrize("keys, first", [(ALL, "δ⁽²⁾"), (GRADIENTS_ONLY, "dE/dW⁽²⁾")],
                         ids=["with deltas", "gradients only"])
def test_W_instead_of_W_transposed_on_a_square_layer(keys, first):
    net, X, Y = net_of((3, 3, 3, 2))
    report = run(net, X, Y, "backward_transposed", keys, layer=0)
    assert report.first_divergence.name == first, str(report)
    assert codes(report) == ["backward_transposed"]
    assert "used W where Wᵀ belongs" in report.diagnosis
    assert "W⁽³⁾ is square (3 × 3)" in report.diagnosis


def test_W_instead_of_W_transposed_on_a_non_square_layer_is_more_than_a_shape_error():
    from neuronsim.crosscheck.usercode import UserCodeError

    net, X, Y = net_of((3, 4, 3, 2))
    with pytest.raises(UserCodeError) as caught:
        run(net, X, Y, "backward_transposed", layer=0)
    error = caught.value
    with open(buggy_backprop.__file__, encoding="utf-8") as handle:
        source = handle.read().splitlines()
    line = next(i for i, text in enumerate(source, 1) if "BACKWARD_TRANSPOSED_LINE" in text)
    assert (error.filename, error.line) == (buggy_backprop.__file__, line)
    assert isinstance(error.exception, ValueError)
    text = str(error)
    assert text.startswith(f"your function user_backprop[backward_transposed] "
                           f"({buggy_backprop.__file__}, line {line}) raised ValueError: ")
    assert "most often W where Wᵀ belongs (code backward_transposed)" in text
    assert "X (4, 3), weights[0] = W⁽²⁾ (4, 3), weights[1] = W⁽³⁾ (3, 4)" in text


@pytest.mark.parametrize("keys, first", [(ALL, "δ⁽²⁾"), (GRADIENTS_ONLY, "dE/dW⁽²⁾")],
                         ids=["with deltas", "gradients only"])
def test_a_layer_skipped_by_the_loop_is_named(keys, first):
    net, X, Y = net_of((3, 4, 3, 2))
    report = run(net, X, Y, "layer_skipped", keys)
    assert report.first_divergence.name == first, str(report)
    assert codes(report) == ["layer_skipped"]
    assert "all zeros where ours is not" in report.diagnosis
    assert "range(L - 1, 0, -1)" in report.diagnosis
    # dW and db of the skipped layer are zeros because its δ is: inherited, not a second mistake
    assert [(later.row.name, later.kind) for later in report.later] == (
        [("dE/dW⁽²⁾", "inherits"), ("dE/db⁽²⁾", "inherits")] if keys == ALL
        else [("dE/db⁽²⁾", "inherits")])
    assert "everything after it in computation order inherits the error" in str(report)


@pytest.mark.parametrize("sizes, status", [((3, 4, 3, 2), "FAIL (shape)"),
                                           ((3, 3, 3, 2), "FAIL")],
                         ids=["non-square", "square"])
def test_activations_of_the_wrong_layer_in_dW(sizes, status):
    net, X, Y = net_of(sizes)
    report = run(net, X, Y, "wrong_activations", layer=1)
    assert report.first_divergence.name == "dE/dW⁽³⁾", str(report)
    assert report.first_divergence.status == status
    assert codes(report) == ["wrong_activations"]
    assert report.diagnosis.startswith("dE/dW⁽³⁾ = δ⁽³⁾ a⁽³⁾ᵀ: it uses the activations of "
                                       "layer 3, the layer's own output, where dW⁽³⁾ = δ⁽³⁾ "
                                       "a⁽²⁾ᵀ takes those of the layer before it (layer 2)")


@pytest.mark.parametrize("output, loss", [("sigmoid", "mse"), ("sigmoid", "sse"),
                                          ("softmax", "sse"), ("linear", "mse"),
                                          ("sigmoid", "cross_entropy")])
@pytest.mark.parametrize("keys", [ALL, GRADIENTS_ONLY], ids=["with deltas", "gradients only"])
def test_the_a_minus_t_shortcut_with_another_loss(output, loss, keys):
    net, X, Y = net_of((3, 4, 3), output=output, loss=loss)
    assert run(net, X, Y, None, keys).ok
    report = run(net, X, Y, "combined_shortcut", keys)
    assert report.first_divergence.name == ("δ⁽³⁾" if keys == ALL else "dE/dW⁽³⁾"), str(report)
    assert codes(report)[0] == "combined_shortcut", str(report)
    assert f"used with {loss} after {output}, where it does not hold" in report.diagnosis


def test_a_loss_averaged_over_the_outputs():
    net, X, Y = net_of((3, 4, 3), m=4)
    report = run(net, X, Y, "outputs_mean")
    assert report.first_divergence.name == "E"
    assert codes(report) == ["outputs_mean"]
    assert report.diagnosis == ("E is exactly 1/n_out = 1/3 of ours: the loss averaged over the "
                                "3 outputs, where half_sse sums over them (a mean over the "
                                "outputs is mse's convention, not this loss's).")
    # dE/da carries the same 1/n_out: a second instance (the loss feeds nothing)
    assert report.later[0].row.name == "δ⁽³⁾" and report.later[0].kind == "second instance"
    assert all(later.kind == "inherits" for later in report.later[1:])
    gradients = run(net, X, Y, "outputs_mean", GRADIENTS_ONLY)
    assert gradients.first_divergence.name == "dE/dW⁽³⁾"
    assert codes(gradients) == ["outputs_mean"]


def test_mse_summed_over_the_outputs():
    net, X, Y = net_of((3, 4, 3), output="linear", loss="mse")
    report = run(net, X, Y, None, loss="sse", keys=("loss",))
    assert codes(report) == ["loss_only", "outputs_mean"]
    assert "n_out = 3 times ours: summed over the 3 outputs, where mse averages" \
        in report.diagnosis


@pytest.mark.parametrize("m, status", [(4, "FAIL (shape)"), (3, "FAIL")],
                         ids=["batch != width", "batch == width"])
@pytest.mark.parametrize("keys", [ALL, GRADIENTS_ONLY], ids=["with deltas", "gradients only"])
def test_bias_gradient_summed_over_the_wrong_axis(m, status, keys):
    net, X, Y = net_of((3, 4, 3, 2), m=m)
    report = run(net, X, Y, "bias_wrong_axis", keys, layer=1)       # 3 neurons
    row = report.first_divergence
    assert row.name == "dE/db⁽³⁾" and row.status == status, str(report)
    assert codes(report) == ["bias_wrong_axis"]
    assert "summed over the neurons (axis 1), one number per sample" in report.diagnosis
    assert ("the shapes agree, so only the values show it" in report.diagnosis) == (m == 3)


def test_a_batch_as_wide_as_the_layer_is_never_squeezed_silently():
    net, X, Y = net_of((3, 4, 3, 2), m=3)

    def keepdims(weights, biases, X, Y):
        results = buggy_backprop.user_backprop(weights, biases, X, Y,
                                               activations=["sigmoid"] * 3, keys=ALL)
        results["db"][1] = (results["deltas"][1].sum(axis=1, keepdims=True) / len(X))  # (3, 1)
        return results

    report = compare(net, X, Y, against=keepdims)
    row = report.first_divergence
    assert row.name == "dE/db⁽³⁾" and row.layout_note == "given as (3, 1), read as (3,)"
    assert codes(report) == ["bias_wrong_axis"]
    text = str(report)
    assert "layout: dE/db⁽³⁾ given as (3, 1), read as (3,)" in text
    assert "FAIL (layout)" in text


# ---------------------------------------------------------------- the text agrees with the table
def test_accepted_shapes_are_not_called_mismatching():
    net, X, Y = sigmoid_net(m=4)

    def column_db(weights, biases, X, Y):
        results = buggy_backprop.user_backprop(weights, biases, X, Y,
                                               activations=["sigmoid"] * 3,
                                               mistake="deltas_over_m")
        results["db"] = [db.reshape(-1, 1) for db in results["db"]]
        return results

    report = compare(net, X, Y, against=column_db)
    assert all(row.ok for row in report.rows if row.quantity == "db")
    assert "here they do)" in report.diagnosis
    assert "shape" not in report.diagnosis and "mismatch" not in report.diagnosis


def test_rounding_noise_is_not_a_constant_factor():
    net, X, Y = sigmoid_net()

    def noisy(weights, biases, X, Y):
        results = buggy_backprop.user_backprop(weights, biases, X, Y,
                                               activations=["sigmoid"] * 3, keys=("dW",))
        rng = np.random.default_rng(0)
        return {"dW": [dW * (1 + 1e-7 * rng.standard_normal(dW.shape)) for dW in results["dW"]]}

    report = compare(net, X, Y, against=noisy)
    assert not report.ok
    assert "constant_factor" not in codes(report) and "times ours" not in report.diagnosis
    assert codes(report) == ["rounding", "float32"]
    assert report.diagnosis.startswith("dE/dW⁽⁴⁾ differs from ours by at most ")


def test_a_mismatch_in_the_loss_alone_is_named():
    net, X, Y = net_of((3, 4, 3), m=4)

    def wrong_loss(weights, biases, X, Y):
        results = buggy_backprop.user_backprop(weights, biases, X, Y,
                                               activations=["sigmoid"] * 2)
        results["loss"] = results["loss"] / 3.0        # averaged over the outputs, E only
        return results

    report = compare(net, X, Y, against=wrong_loss)
    assert report.first_divergence.name == "E"
    assert codes(report) == ["loss_only", "outputs_mean"]
    assert report.diagnosis.startswith("Only the loss differs (yours ")
    assert "backprop is right and the mistake is in the formula of E" in report.diagnosis
    text = str(report)
    assert "first divergence: E, loss; every row after it agrees" in text
    assert "inherits" not in text


def test_inheritance_is_claimed_only_when_later_rows_fail():
    net, X, Y = sigmoid_net()
    report = run(net, X, Y, "derivative_missing", layer=2)
    assert "everything after it in computation order inherits the error" in str(report)
    assert all(later.kind == "inherits" for later in report.later)
    # dW transposed at every layer, gradients only: db agrees, each dW is its own instance
    square = sigmoid_net(sizes=(3, 3, 3, 3))
    report = run(*square, "transposed", GRADIENTS_ONLY)
    assert report.first_divergence.name == "dE/dW⁽⁴⁾"
    assert [(later.row.name, later.kind) for later in report.later] == [
        ("dE/dW⁽³⁾", "second instance"), ("dE/dW⁽²⁾", "second instance")]
    text = str(report)
    assert "inherits" not in text
    assert ("also dE/dW⁽³⁾, dW[1] (net.layers[1]): a second, independent instance of the "
            "same mistake: dE/dW⁽³⁾ is the transpose of the right gradient") in text


# ---------------------------------------------------------------- float32
def test_float32_code_is_recognised_and_a_tolerance_suggested():
    net, X, Y = sigmoid_net()
    report = run(net, X, Y, "float32")
    assert not report.ok
    assert codes(report)[-1] == "float32"
    finding = report.findings[-1]
    assert "the candidate looks like float32" in finding.message
    assert "every value it gave for them is a float32 number" in finding.message
    suggested = finding.message.split("compare with --tolerance ")[1].split(" ")[0]
    tolerance = float(suggested)
    assert 1e-6 <= tolerance <= 1e-4
    atol = 1e-12
    if "--atol " in finding.message:
        atol = float(finding.message.split("--atol ")[1].split(" ")[0])
    assert run(net, X, Y, "float32").ok is False
    again = compare(net, X, Y, against=buggy_backprop.make(
        "float32", activations=["sigmoid"] * 3, loss="half_sse"), tolerance=tolerance, atol=atol)
    assert again.ok, str(again)


def test_one_entry_off_by_a_little_is_not_rounding():
    net, X, Y = sigmoid_net()

    def one_entry(weights, biases, X, Y):
        results = buggy_backprop.user_backprop(weights, biases, X, Y,
                                               activations=["sigmoid"] * 3, keys=("dW",))
        results["dW"][2] = results["dW"][2].copy()
        results["dW"][2][0, 1] *= 1 + 1e-7
        return results

    report = compare(net, X, Y, against=one_entry)
    assert report.first_divergence.name == "dE/dW⁽⁴⁾"
    assert report.findings == []
    assert report.diagnosis.startswith("none of the classic mistakes explains dE/dW⁽⁴⁾")


def test_an_unexplained_loss_is_not_described_as_a_gradient():
    net, X, Y = sigmoid_net()

    def odd_loss(weights, biases, X, Y):
        results = buggy_backprop.user_backprop(weights, biases, X, Y,
                                               activations=["sigmoid"] * 3, mistake="sign")
        results["loss"] = results["loss"] + 0.25
        return results

    report = compare(net, X, Y, against=odd_loss)
    assert report.first_divergence.name == "E" and report.findings == []
    assert report.diagnosis.startswith("none of the classic factors explains E (yours ")
    assert "transposed" not in report.diagnosis
