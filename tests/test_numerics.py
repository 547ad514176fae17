"""Extreme numbers: |z| up to 1e6, targets exactly 0 and 1, NaN and infinity in training.

Every value is checked against a closed form computed with mpmath at 60
digits and then rounded to a float, so "stable" means "the correctly
rounded answer (to a few ulps)", not merely "no exception".  Non-finite
values that arise during ``train`` must stop it with a NumericalError that
names the layer, the neuron, the quantity and the sample.
"""

import math
import re

import mpmath
import pytest
from catalogue import xor

from neuronsim import Network, NumericalError, get_activation, get_loss


@pytest.fixture(autouse=True)
def sixty_digits():
    """mpmath at 60 digits inside this module's tests only."""
    with mpmath.workdps(60):
        yield


EXTREMES = [-1e6, -1e3, -745.2, -710.0, -40.0, -1.0, -1e-300, 0.0, 1e-300, 1.0, 40.0, 710.0,
            745.2, 1e3, 1e6]


def close(got, want, ulps=4):
    """got is within a few ulps of the float nearest to ``want`` (an mpf)."""
    want = float(want)
    return got == want or abs(got - want) <= ulps * math.ulp(max(abs(want), 5e-324))


def mp_sigmoid(z):
    return 1 / (1 + mpmath.exp(-mpmath.mpf(z)))


# ---------------------------------------------------------------- activations
@pytest.mark.parametrize("z", EXTREMES)
def test_sigmoid_and_its_derivative(z):
    sigmoid = get_activation("sigmoid")
    a = sigmoid.function(z)
    assert close(a, mp_sigmoid(z)), (z, a, mp_sigmoid(z))
    want = mp_sigmoid(z) * (1 - mp_sigmoid(z))
    got = sigmoid.derivative(z, a)
    # g' = a (1 - a): exact to rounding, except where 1 - a cancels (a rounds to 1).
    assert close(got, want) or (a == 1.0 and got == 0.0 and float(want) < 2**-52), (z, got)


@pytest.mark.parametrize("z", EXTREMES)
def test_tanh_and_its_derivative(z):
    tanh = get_activation("tanh")
    a = tanh.function(z)
    assert close(a, mpmath.tanh(z))
    want = 1 - mpmath.tanh(z) ** 2
    got = tanh.derivative(z, a)
    assert close(got, want) or (abs(a) == 1.0 and got == 0.0 and float(want) < 2**-52)


@pytest.mark.parametrize("zs", [[1e6, -1e6, 0.0], [1e6, 1e6 - 1, -1e6], [-1e6, -1e6, -1e6],
                                [745.2, -745.2, 0.0], [1e6, 0.0, 1e-300], [-1e6, 0.0, 30.0]])
def test_softmax(zs):
    a = get_activation("softmax").function(zs)
    m = max(mpmath.mpf(z) for z in zs)
    total = mpmath.fsum(mpmath.exp(mpmath.mpf(z) - m) for z in zs)
    for got, z in zip(a, zs):
        assert close(got, mpmath.exp(mpmath.mpf(z) - m) / total), (zs, a)
    assert abs(math.fsum(a) - 1) <= 4 * 2**-53


# ---------------------------------------------------------------- losses
def mp_softplus(x):
    return mpmath.log1p(mpmath.exp(mpmath.mpf(x)))


def mp_binary_cross_entropy(zs, targets):
    """-Σ [t ln σ(z) + (1-t) ln(1 - σ(z))] = Σ t softplus(-z) + (1-t) softplus(z):
    two non-negative terms, so 60 digits give every digit of a float."""
    return mpmath.fsum(t * mp_softplus(-z) + (1 - t) * mp_softplus(z)
                       for z, t in zip(zs, targets))


def mp_cross_entropy(zs, targets):
    """-Σ t_j ln a_j = Σ t_j ((m - z_j) + ln Σ_i e^(z_i - m)), m = max z."""
    m = max(mpmath.mpf(z) for z in zs)
    log_total = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(z) - m) for z in zs))
    return mpmath.fsum(t * ((m - z) + log_total) for z, t in zip(zs, targets))


@pytest.mark.parametrize("z", EXTREMES + [-40.0 + 1e-9, 36.7, 37.0, 1e-17])
@pytest.mark.parametrize("t", [0.0, 1.0, 0.25, 1e-12])
def test_binary_cross_entropy_from_z(z, t):
    """The paired value (computed from z) for a sigmoid output, to a few ulps of E itself
    (E = 4.2e-18 at z = 40, t = 1 included: no cancellation against z)."""
    loss = get_loss("binary_cross_entropy")
    got = loss.paired_value([z], [t])
    want = mp_binary_cross_entropy([z], [t])
    assert math.isfinite(got) and close(got, want, ulps=8), (z, t, got, want)
    a = get_activation("sigmoid").function(z)
    assert loss.paired_delta([a], [t]) == [a - t]


CE_CASES = [([1e6, -1e6, 0.0], [1, 0, 0]), ([1e6, -1e6, 0.0], [0, 1, 0]),
            ([-1e6, -1e6, -1e6], [0, 0, 1]), ([1e6, 1e6 - 1, 3.0], [0.5, 0.5, 0]),
            ([-745.2, 745.2, 0.0], [0, 0, 1]), ([40.0, 0.0, 0.0], [1, 0, 0]),
            ([1e6, 1e6, 1e6], [0, 1, 0])]


@pytest.mark.parametrize("zs, target", CE_CASES)
def test_cross_entropy_from_z(zs, target):
    """To a few ulps of E (ln 3 at z = (-1e6, -1e6, -1e6); 4.2e-18 at z = (40, 0, 0))."""
    got = get_loss("cross_entropy").paired_value(zs, target)
    want = mp_cross_entropy(zs, target)
    assert math.isfinite(got) and close(got, want, ulps=8), (zs, target, got, want)


@pytest.mark.parametrize("a, t, value", [
    (1.0, 1.0, 0.0), (0.0, 0.0, 0.0), (0.0, 1.0, math.inf), (1.0, 0.0, math.inf)])
def test_binary_cross_entropy_of_outputs_exactly_0_and_1(a, t, value):
    """0·ln 0 is taken as 0; ln 0 itself is an infinite loss, never a ValueError."""
    loss = get_loss("binary_cross_entropy")
    assert loss.value([a], [t]) == value
    grad = loss.output_grads([a], [t])[0]          # (a - t) / (a (1 - a)): 0/0 or x/0
    assert math.isnan(grad) or math.isinf(grad)


@pytest.mark.parametrize("a, t, value", [(1.0, 1.0, 0.0), (0.0, 0.0, 0.0), (0.0, 1.0, math.inf)])
def test_cross_entropy_of_outputs_exactly_0_and_1(a, t, value):
    loss = get_loss("cross_entropy")
    assert loss.value([a, 1 - a], [t, 1 - t]) == value


@pytest.mark.parametrize("scale", [1e6, -1e6])
def test_networks_at_the_extremes_give_finite_results(scale):
    """z of ±1e6 through whole steps: no exception, finite loss and deltas, closed forms."""
    sigmoid_net = Network.from_arrays([[[scale, -scale]], [[scale]]], [[0.0], [0.0]],
                                      ["tanh", "sigmoid"], "binary_cross_entropy")
    for target in (0.0, 1.0):
        # hidden: z = ±1e6, a = ±1 exactly; output: z = ±1e6 · ±1 = +1e6
        value = sigmoid_net.step([1.0, 0.0], [target], learning_rate=0.1)
        assert close(value, mp_binary_cross_entropy([1e6], [target]))
        assert [n.delta for n in sigmoid_net.layers[1].neurons] == [1.0 - target]
        assert sigmoid_net.layers[0].neurons[0].delta == 0.0      # tanh' = 1 - 1² = 0
    softmax_net = Network.from_arrays([[[scale], [-scale], [0.0]]], [[0.0, 0.0, 0.0]],
                                      "softmax", "cross_entropy")
    outputs = softmax_net.forward_pass([1.0])
    value = softmax_net.back_prop([0, 1, 0])
    # E = logsumexp(z) - z_2 with z = (s, -s, 0): 2e6 for s = 1e6, e^-1e6 -> 0.0 for s = -1e6
    assert value == (2e6 if scale > 0 else 0.0)
    assert outputs == ([1.0, 0.0, 0.0] if scale > 0 else [0.0, 1.0, 0.0])
    assert [n.delta for n in softmax_net.layers[0].neurons] == \
        [a - t for a, t in zip(outputs, [0, 1, 0])]


# ---------------------------------------------------------------- NaN and infinity in training
def overflowing_network():
    """2-2-1, linear: a sample of 1e300 makes z of layers[1].neurons[0] overflow."""
    return Network.from_arrays([[[1.0, 0.0], [0.0, 1.0]], [[1e10, 0.5]]], [[0.0, 0.0], [0.0]],
                               "linear", "half_sse")


def test_nonfinite_value_names_where_and_stops_training():
    net = overflowing_network()
    samples = [([1.0, 1.0], [0.0]), ([1e300, 1.0], [0.0]), ([1.0, 1.0], [0.0])]
    with pytest.raises(NumericalError) as info:
        net.train(samples, epochs=1, learning_rate=1e-25, shuffle=False)
    message = str(info.value)
    assert message.startswith("epoch 1, samples[1]: first non-finite value is "
                              "z of layers[1].neurons[0] (z₁⁽³⁾ = inf)"), message
    assert "training stopped" in message
    # Stopped cleanly: the weights are those after samples[0] only, with no batch left over.
    reference = overflowing_network()
    reference.train(samples[:1], epochs=1, learning_rate=1e-25, shuffle=False)
    assert net.to_spec() == reference.to_spec()
    assert net.samples_in_batch == 0
    assert all(n.bias_grad_sum == 0 for layer in net.layers for n in layer.neurons)


def test_nan_input_is_reported_at_the_first_z():
    net = xor()
    with pytest.raises(NumericalError, match=re.escape(
            "epoch 1, samples[0]: first non-finite value is z of layers[0].neurons[0]")):
        net.train([([math.nan, 0.0], [1.0])], learning_rate=0.5)


def test_divergence_stops_with_a_located_error():
    """A learning rate far too large: weights blow up; the error says where first."""
    net = Network.from_arrays([[[0.5, -0.3], [0.2, 0.8]], [[0.7, -0.6]]], [[0.1, -0.2], [0.05]],
                              ["linear", "linear"], "half_sse")
    samples = [([1.0, 2.0], [3.0]), ([-1.0, 0.5], [-2.0])]
    with pytest.raises(NumericalError) as info:
        net.train(samples, epochs=10_000, learning_rate=10.0, shuffle=False)
    assert re.match(r"^epoch \d+, samples\[[01]\]: first non-finite value is "
                    r"(\w+(\[\d+\])? of layers\[[01]\]\.neurons\[[01]\] \(.+\)|the loss E = \S+|"
                    r"delta of layers\[[01]\]\.neurons\[[01]\] \(.+\)); training stopped",
                    str(info.value)), str(info.value)
