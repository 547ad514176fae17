"""The gradient-correctness suite: per-neuron backprop against the independent
matrix implementation (1e-12 relative) and against finite differences (1e-6),
for every output/loss pairing of the catalogue, every hidden activation, both
reductions, and online, mini-batch and full-batch training.

Inputs are moved off ReLU kinks (strategies.move_off_kinks) instead of
loosening tolerances.
"""

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

from neuronsim.core.errors import ShapeError
from neuronsim.crosscheck import vectorized

RTOL_EXACT = 1e-12
RTOL_FD = 1e-6
ATOL_FD = 1e-8
SIZES = [3, 4, 3]


def build(output, loss, hidden, reduction, seed=0, count=5, sizes=SIZES):
    n_out = 3 if output == "softmax" else 2
    net = random_network(sizes + [n_out], hidden, output, loss, seed, reduction=reduction)
    samples = random_samples(sizes[0], n_out, output, loss, count, seed + 100)
    move_off_kinks(net, [x for x, _ in samples])
    return net, samples


def arrays(samples):
    return (np.array([x for x, _ in samples], dtype=float),
            np.array([t for _, t in samples], dtype=float))


def per_neuron(net, samples):
    """Back-propagate the samples one at a time; per-sample a and δ, batch loss."""
    activations = [[] for _ in net.layers]
    deltas = [[] for _ in net.layers]
    total = 0.0
    for x, t in samples:
        net.forward_pass(x)
        total += net.back_prop(t)
        for l, layer in enumerate(net.layers):
            activations[l].append([n.output for n in layer.neurons])
            deltas[l].append([n.delta for n in layer.neurons])
    n = len(samples) if net.reduction == "mean" else 1
    return activations, deltas, total / n


def assert_matches_vectorized(net, samples, context=""):
    """back_prop every sample, then every a, δ, dW, db and E against vectorized."""
    X, Y = arrays(samples)
    expected = vectorized.network_gradients(net, X, Y)
    activations, deltas, loss = per_neuron(net, samples)
    for l in range(len(net.layers)):
        for name, ours, theirs in (("activations", activations[l], expected.activations[l]),
                                   ("deltas", deltas[l], expected.deltas[l])):
            assert_close(ours, theirs, RTOL_EXACT, exact_atol(theirs), name, l, context)
        dW, db = net.gradient_arrays()[l]
        inputs = X if l == 0 else expected.activations[l - 1]
        for name, ours, theirs in (("dW", dW, expected.dW[l]), ("db", db, expected.db[l])):
            atol = batch_sum_atol(theirs, expected.deltas[l], inputs)
            assert_close(ours, theirs, RTOL_EXACT, atol, name, l, context)
    assert loss == pytest.approx(expected.loss, rel=RTOL_EXACT, abs=1e-300), context
    return expected


# ---------------------------------------------------------------- known numbers
def test_mazur_published_numbers():
    """Mazur's worked example: E = 0.298371109, dE/dw5 = 0.082167041, dE/dw1 = 0.000438568."""
    net = catalogue.mazur()
    result = vectorized.network_gradients(net, [catalogue.MAZUR_SAMPLE[0]],
                                          [catalogue.MAZUR_SAMPLE[1]])
    assert result.loss == pytest.approx(0.298371109, abs=1e-9)
    assert result.dW[1][0, 0] == pytest.approx(0.082167041, abs=1e-9)
    assert result.dW[0][0, 0] == pytest.approx(0.000438568, abs=1e-9)
    assert result.activations[1][0].tolist() == pytest.approx([0.75136507, 0.772928465], abs=1e-9)


def test_forward_uses_samples_as_rows():
    """Z = A_prev Wᵀ + b: row i is sample i (the transpose of the textbook's W A + b)."""
    W, b = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([0.5, -0.5, 0.0])
    g = vectorized.Activation("linear")
    Zs, As = vectorized.forward([W], [b], [g], [[1.0, 0.0], [0.0, 2.0]])
    assert As[0].tolist() == [[1.0, 0.0], [0.0, 2.0]]
    assert Zs[0].tolist() == [[1.5, 2.5, 5.0], [4.5, 7.5, 12.0]]


def test_softmax_jacobian_backward_by_hand():
    """δ_j = a_j (g_j - Σ_i g_i a_i) for a = (0.5, 0.25, 0.25), g = (1, 0, 0)."""
    g = vectorized.Activation("softmax")
    A = np.array([[0.5, 0.25, 0.25]])
    delta = g.backward(np.array([[1.0, 0.0, 0.0]]), None, A)
    assert delta.tolist() == [[0.25, -0.125, -0.125]]


@pytest.mark.parametrize("loss, output, expected", [
    ("binary_cross_entropy", "sigmoid", True), ("cross_entropy", "softmax", True),
    ("cross_entropy", "sigmoid", False), ("half_sse", "sigmoid", False)])
def test_pairing_rules(loss, output, expected):
    assert vectorized.is_paired(loss, output) is expected


def test_leaky_relu_slope_is_used():
    g = vectorized.activation({"activation": "leaky_relu", "slope": 0.2})
    Z = np.array([[-2.0, 0.0, 3.0]])
    assert g.g(Z).tolist() == [[-0.4, 0.0, 3.0]]
    assert g.prime(Z, g.g(Z)).tolist() == [[0.2, 0.2, 1.0]]


def test_bad_names_and_shapes_are_reported():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        vectorized.Activation("swish")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        vectorized.backprop([[[1.0]]], [[0.0]], ["linear"], "hinge", [[1.0]], [[1.0]])
    with pytest.raises(ShapeError, match=r"weights\[1\]: expected shape \(n, 2\)"):
        vectorized.backprop([np.ones((2, 1)), np.ones((1, 3))], [np.zeros(2), np.zeros(1)],
                            ["linear", "linear"], "sse", [[1.0]], [[1.0]])
    with pytest.raises(ShapeError, match=r"Y: expected shape \(1, 1\)"):
        vectorized.backprop([[[1.0]]], [[0.0]], ["linear"], "sse", [[1.0]], [[1.0, 2.0]])


def test_network_is_not_touched():
    net, samples = build("sigmoid", "half_sse", "tanh", "mean")
    before = net.to_spec()
    vectorized.network_gradients(net, *arrays(samples))
    assert net.to_spec() == before
    assert net.samples_in_batch == 0


# ---------------------------------------------------------------- per neuron vs matrix
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output, loss", PAIRINGS)
def test_full_batch_gradients_match(output, loss, hidden, reduction):
    net, samples = build(output, loss, hidden, reduction)
    assert_matches_vectorized(net, samples, f"({hidden} hidden, {output} + {loss}, {reduction})")


def replay(net, samples, batch_size, learning_rate, epochs):
    """Mini-batch gradient descent in matrix form, samples in order."""
    arrays_ = vectorized.network_arrays(net)
    weights, biases = arrays_["weights"], arrays_["biases"]
    X, Y = arrays(samples)
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            result = vectorized.backprop(weights, biases, arrays_["activations"],
                                         arrays_["loss"], X[start:start + batch_size],
                                         Y[start:start + batch_size], arrays_["reduction"])
            weights = [W - learning_rate * dW for W, dW in zip(weights, result.dW)]
            biases = [b - learning_rate * db for b, db in zip(biases, result.db)]
    return weights, biases


@pytest.mark.parametrize("batch_size", [1, 2, None], ids=["online", "mini-batch", "full-batch"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output, loss", PAIRINGS)
def test_training_modes_match_matrix_updates(output, loss, hidden, reduction, batch_size):
    """net.train (no shuffling) against the same updates W - η dW done with matrices."""
    net, samples = build(output, loss, hidden, reduction, count=5)
    size = batch_size or len(samples)
    weights, biases = replay(net, samples, size, 0.05, epochs=2)
    net.train(samples, epochs=2, learning_rate=0.05, batch_size=batch_size, shuffle=False)
    context = f"({hidden} hidden, {output} + {loss}, {reduction}, batch {size})"
    for l, (W, b) in enumerate(net.to_arrays()):
        assert_close(W, weights[l], RTOL_EXACT, exact_atol(weights[l]), "weights", l, context)
        assert_close(b, biases[l], RTOL_EXACT, exact_atol(biases[l]), "biases", l, context)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("output, loss", PAIRINGS)
def test_online_gradient_of_each_sample_matches(output, loss, reduction):
    """Online mode: after each back_prop the pending gradient is that sample's."""
    net, samples = build(output, loss, "tanh", reduction)
    for i, sample in enumerate(samples):
        assert_matches_vectorized(net, [sample], f"(sample {i}, {output} + {loss})")
        net.update_weights(0.1)


# ---------------------------------------------------------------- vs finite differences
def numeric_gradients(arrays_, X, Y, eps=1e-6):
    """Central differences of the matrix form's batch loss for every W and b entry."""
    def loss(weights, biases):
        return vectorized.backprop(weights, biases, arrays_["activations"], arrays_["loss"],
                                   X, Y, arrays_["reduction"]).loss

    weights = [W.copy() for W in arrays_["weights"]]
    biases = [b.copy() for b in arrays_["biases"]]
    numeric = []
    for l in range(len(weights)):
        parts = []
        for array in (weights[l], biases[l]):
            grad = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                value = array[index]
                array[index] = value + eps
                plus = loss(weights, biases)
                array[index] = value - eps
                minus = loss(weights, biases)
                array[index] = value
                grad[index] = (plus - minus) / (2 * eps)
            parts.append(grad)
        numeric.append(parts)
    return numeric


def assert_matches_finite_differences(net, X, Y, context=""):
    arrays_ = vectorized.network_arrays(net)
    numeric = numeric_gradients(arrays_, X, Y)
    for l, (dW, db) in enumerate(net.gradient_arrays()):
        assert_close(dW, numeric[l][0], RTOL_FD, ATOL_FD, "dW", l, context)
        assert_close(db, numeric[l][1], RTOL_FD, ATOL_FD, "db", l, context)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output, loss", PAIRINGS)
def test_gradients_match_finite_differences(output, loss, hidden, reduction):
    net, samples = build(output, loss, hidden, reduction, count=3)
    for x, t in samples:
        net.forward_pass(x)
        net.back_prop(t)
    assert_matches_finite_differences(net, *arrays(samples),
                                      f"({hidden} hidden, {output} + {loss}, {reduction})")


# ---------------------------------------------------------------- property-based
@settings(max_examples=60, deadline=None)
@given(network_cases())
def test_random_networks_match_vectorized(case):
    assert_matches_vectorized(case.net, case.samples, repr(case))


@settings(max_examples=30, deadline=None)
@given(network_cases())
def test_random_networks_match_finite_differences(case):
    for x, t in case.samples:
        case.net.forward_pass(x)
        case.net.back_prop(t)
    assert_matches_finite_differences(case.net, case.X, case.Y, repr(case))


# ---------------------------------------------------------------- one reference
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("output,loss", PAIRINGS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_network_and_stack_are_one_computation(output, loss, hidden, reduction):
    """The feed-forward network and the stack at T = 1 call the same dense pair:
    every z, a, δ, dW, db and the loss are bit-identical, not merely close."""
    net, samples = build(output, loss, hidden, reduction, seed=6)
    X, Y = arrays(samples)
    ff = vectorized.network_gradients(net, X, Y)
    layers = [{"kind": "dense", "W": W, "b": b, "activation": g}
              for (W, b), g in zip(net.to_arrays(), vectorized.network_arrays(net)["activations"])]
    stack = vectorized.stack_bptt(layers, X[:, None], Y[:, None], np.ones((len(X), 1), bool),
                                  loss, reduction=reduction)
    assert ff.loss == stack.loss
    for l in range(len(layers)):
        for name, ours, theirs in (("zs", ff.zs[l], stack.zs[l][:, 0]),
                                   ("activations", ff.activations[l], stack.activations[l][:, 0]),
                                   ("deltas", ff.deltas[l], stack.deltas[l][:, 0]),
                                   ("dW", ff.dW[l], stack.grads[l][0]),
                                   ("db", ff.db[l], stack.grads[l][1])):
            assert np.array_equal(ours, theirs), f"{name}[{l}]"


def test_lists_and_arrays_give_the_same_bits():
    """Lists are converted once, to the arrays a caller would have passed."""
    net, samples = build("softmax", "cross_entropy", "tanh", "mean", seed=2)
    X, Y = arrays(samples)
    arrays_in = vectorized.network_arrays(net)
    lists_in = dict(arrays_in, weights=[W.tolist() for W in arrays_in["weights"]],
                    biases=[b.tolist() for b in arrays_in["biases"]])
    on_arrays = vectorized.backprop(X=X, Y=Y, **arrays_in)
    on_lists = vectorized.backprop(X=X.tolist(), Y=Y.tolist(), **lists_in)
    assert on_lists.loss == on_arrays.loss
    for ours, theirs in zip(on_lists.dW + on_lists.db + on_lists.deltas,
                            on_arrays.dW + on_arrays.db + on_arrays.deltas):
        assert np.array_equal(ours, theirs)


def test_the_callers_arrays_are_left_alone():
    """dW and db are divided in place, but in this call's own arrays: the weights,
    biases, X and Y given are unchanged, and float64 arrays are not copied."""
    net, samples = build("sigmoid", "binary_cross_entropy", "relu", "mean", seed=3)
    X, Y = arrays(samples)
    given_ = vectorized.network_arrays(net)
    before = [a.copy() for a in given_["weights"] + given_["biases"] + [X, Y]]
    result = vectorized.backprop(X=X, Y=Y, **given_)
    for a, b in zip(given_["weights"] + given_["biases"] + [X, Y], before):
        assert np.array_equal(a, b)
    assert result.inputs is X
    assert not any(np.shares_memory(d, a) for d in result.dW + result.db
                   for a in given_["weights"] + given_["biases"])


def test_a_bias_column_and_one_flat_sample_are_accepted():
    """b as [[0.5], [-0.5]] is read as (0.5, -0.5); one sample given flat is one row."""
    result = vectorized.backprop([[[1.0, 2.0], [3.0, 4.0]]], [[[0.5], [-0.5]]], ["linear"],
                                 "half_sse", [1.0, 1.0], [0.0, 0.0])
    assert result.zs[0].tolist() == [[3.5, 6.5]]
    assert result.db[0].tolist() == [3.5, 6.5]


def test_former_module_names_still_work():
    """neuronsim.crosscheck.vectorized_stack and .vectorized_rnn re-export the package's objects."""
    from neuronsim.crosscheck import vectorized_rnn, vectorized_stack

    for name in ("stack_bptt", "stack_forward", "step_forward", "step_backward",
                 "dense_forward", "dense_backward", "recurrent_forward", "recurrent_backward",
                 "lstm_forward", "lstm_backward", "gru_forward", "gru_backward",
                 "activate", "activation_backward", "StackResult"):
        assert getattr(vectorized_stack, name) is getattr(vectorized, name), name
    for name in ("rnn_bptt", "rnn_forward", "recurrent_network_gradients", "RNNGradients"):
        assert getattr(vectorized_rnn, name) is getattr(vectorized, name), name
    assert vectorized.activation("tanh").name == "tanh"
    assert not hasattr(vectorized, "MatrixActivation")   # it took samples as columns
