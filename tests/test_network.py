"""The network step: Mazur's published numbers, batching, reductions, training."""

import numpy as np
import pytest
from catalogue import (
    MAZUR_SAMPLE,
    XOR_SAMPLES,
    mazur,
    random_network,
    random_samples,
    softmax_233,
    xor,
)

from neuronsim import Network, NumericalError, ShapeError

# Matt Mazur, "A Step by Step Backpropagation Example": values and the digits he publishes.
MAZUR_AFTER_UPDATE = {
    "w5": ((1, 0, 0), "0.35891648"), "w6": ((1, 0, 1), "0.408666186"),
    "w7": ((1, 1, 0), "0.511301270"), "w8": ((1, 1, 1), "0.561370121"),
    "w1": ((0, 0, 0), "0.149780716"), "w2": ((0, 0, 1), "0.19956143"),
    "w3": ((0, 1, 0), "0.24975114"), "w4": ((0, 1, 1), "0.29950229"),
}


def published(value, text):
    """value rounded to as many decimals as ``text`` has equals ``text``."""
    decimals = len(text.split(".")[1])
    return f"{value:.{decimals}f}" == text


def test_mazur_forward_and_loss():
    net = mazur()
    outputs = net.forward_pass(MAZUR_SAMPLE[0])
    assert published(net.layers[0].neurons[0].output, "0.593269992")
    assert published(net.layers[0].neurons[1].output, "0.596884378")
    assert published(outputs[0], "0.75136507")
    assert published(outputs[1], "0.772928465")
    loss = net.back_prop(MAZUR_SAMPLE[1])
    assert published(loss, "0.298371109")


def test_mazur_deltas_and_gradients():
    net = mazur()
    net.forward_pass(MAZUR_SAMPLE[0])
    net.back_prop(MAZUR_SAMPLE[1])
    out1 = net.layers[1].neurons[0]
    assert published(out1.output_grad, "0.74136507")
    assert published(out1.derivative, "0.186815602")
    assert published(out1.weight_grads[0], "0.082167041")   # Mazur's dE/dw5
    hidden1 = net.layers[0].neurons[0]
    assert published(hidden1.output_grad, "0.036350306")     # Mazur's dE_total/dout_h1
    assert published(hidden1.derivative, "0.241300709")
    assert published(hidden1.weight_grads[0], "0.000438568")  # Mazur's dE/dw1


@pytest.mark.parametrize("name", sorted(MAZUR_AFTER_UPDATE))
def test_mazur_update_matches_published_digits(name):
    net = mazur()
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    (l, j, k), text = MAZUR_AFTER_UPDATE[name]
    assert published(net.layers[l].neurons[j].weights[k], text)


def test_mazur_biases_stay_fixed_when_asked():
    net = mazur()
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    assert [n.bias for layer in net.layers for n in layer.neurons] == [0.35, 0.35, 0.6, 0.6]
    net = mazur(update_biases=True)
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    assert net.layers[1].neurons[0].bias == 0.6 - 0.5 * net_delta(mazur(), 1, 0)


def net_delta(net, l, j):
    net.forward_pass(MAZUR_SAMPLE[0])
    net.back_prop(MAZUR_SAMPLE[1])
    return net.layers[l].neurons[j].delta


def test_weights_do_not_change_during_back_prop():
    net = mazur()
    before = [list(n.weights) for layer in net.layers for n in layer.neurons]
    net.forward_pass(MAZUR_SAMPLE[0])
    net.back_prop(MAZUR_SAMPLE[1])
    after = [list(n.weights) for layer in net.layers for n in layer.neurons]
    assert before == after
    # The hidden deltas used the old output weights: δ₁⁽²⁾ = (w₁₁⁽³⁾δ₁⁽³⁾ + w₂₁⁽³⁾δ₂⁽³⁾) g'(z₁⁽²⁾)
    out = net.layers[1].neurons
    hidden = net.layers[0].neurons[0]
    expected = (0.4 * out[0].delta + 0.5 * out[1].delta) * hidden.derivative
    assert hidden.delta == pytest.approx(expected, rel=1e-15)


def _grads(net):
    return [(dW.tolist(), db.tolist()) for dW, db in net.gradient_arrays()]


def test_batch_gradient_is_mean_of_sample_gradients():
    samples = [([0.1, 0.9], [0.2, 0.8]), ([0.7, -0.3], [0.9, 0.1]), ([0.05, 0.1], [0.01, 0.99])]
    singles = []
    for x, t in samples:
        net = mazur()
        net.forward_pass(x)
        net.back_prop(t)
        singles.append(net.gradient_arrays())
    net = mazur()
    for x, t in samples:
        net.forward_pass(x)
        net.back_prop(t)
    for l, (dW, db) in enumerate(net.gradient_arrays()):
        mean_dW = sum(s[l][0] for s in singles) / 3
        mean_db = sum(s[l][1] for s in singles) / 3
        assert dW == pytest.approx(mean_dW, rel=1e-13)
        assert db == pytest.approx(mean_db, rel=1e-13)
    summed = mazur(reduction="sum")
    for x, t in samples:
        summed.forward_pass(x)
        summed.back_prop(t)
    for (dW, _), (dW_mean, _) in zip(summed.gradient_arrays(), net.gradient_arrays()):
        assert dW == pytest.approx(3 * dW_mean, rel=1e-13)


def test_update_applies_mean_gradient_then_clears():
    samples = [([0.1, 0.9], [0.2, 0.8]), ([0.7, -0.3], [0.9, 0.1])]
    net = mazur(update_biases=True)
    for x, t in samples:
        net.forward_pass(x)
        net.back_prop(t)
    grads = net.gradient_arrays()
    old = net.to_arrays()
    net.update_weights(0.5)
    for (W0, b0), (dW, db), (W1, b1) in zip(old, grads, net.to_arrays()):
        np.testing.assert_allclose(W1, W0 - 0.5 * dW, rtol=1e-15, atol=0)
        np.testing.assert_allclose(b1, b0 - 0.5 * db, rtol=1e-15, atol=0)
    assert net.samples_in_batch == 0
    assert all((dW == 0).all() for dW, _ in net.gradient_arrays())


def finite_difference_loss_gradient(net, samples, eps=1e-6):
    """Central differences of the mean loss for every weight: [(dW, db)] as lists."""
    def mean_loss():
        return sum(net.loss_of(x, t) for x, t in samples) / len(samples)

    result = []
    for layer in net.layers:
        dW, db = [], []
        for neuron in layer.neurons:
            row = []
            for k in range(len(neuron.weights)):
                w = neuron.weights[k]
                neuron.weights[k] = w + eps
                up = mean_loss()
                neuron.weights[k] = w - eps
                down = mean_loss()
                neuron.weights[k] = w
                row.append((up - down) / (2 * eps))
            dW.append(row)
            b = neuron.bias
            neuron.bias = b + eps
            up = mean_loss()
            neuron.bias = b - eps
            down = mean_loss()
            neuron.bias = b
            db.append((up - down) / (2 * eps))
        result.append((dW, db))
    return result


@pytest.mark.parametrize("batch_size", [1, 2, None])
def test_train_steps_follow_the_batch_gradient(batch_size):
    """One epoch of train == manual updates with the finite-difference batch gradient."""
    samples = random_samples(3, 2, "sigmoid", "half_sse", 4, seed=5)
    net = random_network([3, 4, 2], "tanh", "sigmoid", "half_sse", seed=6)
    reference = random_network([3, 4, 2], "tanh", "sigmoid", "half_sse", seed=6)
    net.train(samples, epochs=1, learning_rate=0.1, batch_size=batch_size, shuffle=False)
    size = len(samples) if batch_size is None else batch_size
    for start in range(0, len(samples), size):
        batch = samples[start:start + size]
        grads = finite_difference_loss_gradient(reference, batch)
        for layer, (dW, db) in zip(reference.layers, grads):
            for neuron, row, g_b in zip(layer.neurons, dW, db):
                neuron.weights = [w - 0.1 * g for w, g in zip(neuron.weights, row)]
                neuron.bias -= 0.1 * g_b
    for (W, b), (W_ref, b_ref) in zip(net.to_arrays(), reference.to_arrays()):
        np.testing.assert_allclose(W, W_ref, rtol=0, atol=1e-9)
        np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-9)


def test_train_returns_epoch_losses_and_learns_xor():
    net = xor(learning_rate=0.5)
    history = net.train(XOR_SAMPLES, epochs=400, seed=1)
    assert len(history) == 400
    assert history[-1] < 0.05 < history[0]
    for x, t in XOR_SAMPLES:
        assert abs(net.forward_pass(x)[0] - t[0]) < 0.2


def test_train_epoch_loss_is_mean_of_sample_losses():
    net = xor()
    expected = sum(xor().loss_of(x, t) for x, t in XOR_SAMPLES) / 4
    history = net.train(XOR_SAMPLES, epochs=1, learning_rate=0.5, batch_size=None)
    assert history == [pytest.approx(expected, rel=1e-15)]
    summed = xor(reduction="sum")
    history = summed.train(XOR_SAMPLES, epochs=1, learning_rate=0.5, batch_size=None)
    assert history == [pytest.approx(4 * expected, rel=1e-15)]


def test_train_stops_at_stop_loss():
    net = xor()
    history = net.train(XOR_SAMPLES, epochs=5000, learning_rate=0.5, seed=1, stop_loss=0.1)
    assert history[-1] <= 0.1 and len(history) < 5000
    assert all(h > 0.1 for h in history[:-1])


def test_same_seed_gives_bit_identical_training():
    results = []
    for _ in range(2):
        net = random_network([2, 3, 1], "tanh", "sigmoid", "binary_cross_entropy", seed=9)
        net.train(XOR_SAMPLES, epochs=20, learning_rate=0.3, batch_size=2, seed=42)
        results.append(net.to_spec())
    assert results[0] == results[1]


def test_softmax_cross_entropy_delta_is_a_minus_t():
    net = softmax_233()
    x, t = [0.5, -1.0], [1, 0, 0]
    outputs = net.forward_pass(x)
    net.back_prop(t)
    assert sum(outputs) == pytest.approx(1.0, rel=1e-15)
    deltas = [n.delta for n in net.layers[-1].neurons]
    assert deltas == [pytest.approx(a - y, abs=1e-16) for a, y in zip(outputs, t)]


def test_softmax_with_squared_error_uses_full_jacobian():
    net = Network.from_arrays([[[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]]], [[0.0, 0.1, -0.1]],
                              "softmax", "half_sse")
    x, t = [0.6, -0.4], [0.2, 0.5, 0.3]
    a = net.forward_pass(x)
    net.back_prop(t)
    dE_da = [ai - ti for ai, ti in zip(a, t)]
    for j, neuron in enumerate(net.layers[0].neurons):
        expected = sum(dE_da[i] * a[i] * ((1 if i == j else 0) - a[j]) for i in range(3))
        assert neuron.delta == pytest.approx(expected, rel=1e-13)


def test_wrong_input_length_is_a_shape_error():
    net = mazur()
    with pytest.raises(ShapeError, match="input: expected 2 numbers, got 3"):
        net.forward_pass([1, 2, 3])
    net.forward_pass([1, 2])
    with pytest.raises(ShapeError, match="target: expected 2 numbers, got 1"):
        net.back_prop([1])
    with pytest.raises(ShapeError, match="input"):
        net.forward_pass(["a", "b"])


def test_nan_stops_training_and_names_the_place():
    net = Network.from_arrays([[[1e200]], [[1.0]]], [[0.0], [0.0]], ["linear", "linear"], "sse")
    with pytest.raises(NumericalError) as info:
        net.train([([1e-200], [0.0]), ([1e200], [0.0])], epochs=3, learning_rate=1e-300,
                  shuffle=False)
    assert str(info.value).startswith(
        "epoch 1, samples[1]: first non-finite value is z of layers[0].neurons[0] (z₁⁽²⁾ = inf)")
    loss_only = Network.from_arrays([[[1.0]]], [[0.0]], "linear", "sse")
    with pytest.raises(NumericalError, match="the loss E = inf"):
        loss_only.train([([1e200], [0.0])], epochs=1, learning_rate=0.1)


def test_repr_and_sizes():
    net = mazur()
    assert repr(net) == "Network(2-2-2; sigmoid, sigmoid; loss half_sse)"
    assert net.sizes == [2, 2, 2]
    assert repr(net.layers[0]) == "Layer(2 -> 2, sigmoid)"
    assert repr(net.layers[0].neurons[0]) == "Neuron(2 inputs, sigmoid)"


def test_back_prop_needs_its_own_forward_pass():
    net = mazur()
    net.forward_pass(MAZUR_SAMPLE[0])
    net.back_prop(MAZUR_SAMPLE[1])
    with pytest.raises(RuntimeError, match="back_prop needs a forward_pass"):
        net.back_prop(MAZUR_SAMPLE[1])          # would count the sample twice
    assert net.samples_in_batch == 1
    net.update_weights(0.5)
    with pytest.raises(RuntimeError, match="back_prop needs a forward_pass"):
        net.back_prop(MAZUR_SAMPLE[1])          # z and a belong to the old weights


def test_loss_of_between_back_prop_and_update_keeps_the_trace():
    from neuronsim.trace import Tracer

    net = mazur()
    tracer = Tracer().attach(net)
    net.forward_pass(MAZUR_SAMPLE[0])
    net.back_prop(MAZUR_SAMPLE[1])
    net.loss_of([0.1, 0.2], [0.5, 0.5])
    net.update_weights(0.5)
    tracer.flush()
    assert len(tracer.steps) == 1 and tracer.steps[0].updated


@pytest.mark.parametrize("options, message", [
    (dict(epochs=0), "epochs must be a whole number of at least 1"),
    (dict(epochs=True), "epochs must be a whole number"),
    (dict(batch_size=2.5), "batch_size must be a whole number"),
    (dict(batch_size=True), "batch_size must be a whole number"),
    (dict(batch_size=0), "batch_size must be a whole number"),
    (dict(learning_rate=-1), "learning_rate must be a finite number above 0"),
    (dict(learning_rate=True), "learning_rate must be a finite number above 0"),
    (dict(learning_rate=float("nan")), "learning_rate must be a finite number above 0"),
    (dict(learning_rate="fast"), "learning_rate must be a finite number above 0"),
    (dict(stop_loss="x"), "stop_loss must be a number"),
])
def test_train_refuses_bad_arguments_before_touching_anything(options, message):
    net = xor()
    net.forward_pass([0, 1])
    net.back_prop([1])
    arguments = dict(epochs=2, learning_rate=0.5)
    arguments.update(options)
    with pytest.raises(ValueError, match=message):
        net.train(XOR_SAMPLES, **arguments)
    assert net.samples_in_batch == 1            # the pending gradient is still there


def test_large_finite_deltas_do_not_stop_training():
    """The quick finiteness check sums deltas; an overflowing sum is not a NaN."""
    net = Network.from_arrays([[[0.0], [0.0]], [[1e308, 1e308]]], [[0, 0], [0]],
                              ["linear", "linear"], "half_sse")
    history = net.train([([1.0], [1.0])], learning_rate=1e-300)
    assert history == [0.5]


def test_loss_over_the_samples_is_their_mean_or_sum_and_changes_no_weight():
    from neuronsim.files import load_example

    net = load_example("xor")
    before = net.to_spec()
    pairs = net.sample_pairs(net.samples)
    losses = [net.loss_of(x, t) for x, t in pairs]
    assert net.loss_over() == (((losses[0] + losses[1]) + losses[2]) + losses[3]) / 4
    assert net.loss_over(net.samples[:1]) == losses[0]
    net.reduction = "sum"
    assert net.loss_over() == ((losses[0] + losses[1]) + losses[2]) + losses[3]
    net.reduction = "mean"
    assert net.to_spec() == before
