"""Each activation's derivative, each loss's gradient, checked by central differences."""

import math

import pytest

from neuronsim.core.activations import ACTIVATIONS, get_activation
from neuronsim.core.losses import LOSSES, get_loss

POINTS = [-3.0, -0.7, -0.1, 0.2, 0.9, 2.5]


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if n != "softmax"])
def test_derivative_matches_central_difference(name):
    g = get_activation(name, slope=0.1) if name == "leaky_relu" else get_activation(name)
    for z in POINTS:
        a = g.function(z)
        h = 1e-6
        numeric = (g.function(z + h) - g.function(z - h)) / (2 * h)
        assert g.derivative(z, a) == pytest.approx(numeric, rel=1e-7, abs=1e-9), (name, z)


def test_relu_kink_uses_the_left_value():
    assert get_activation("relu").derivative(0.0, 0.0) == 0.0
    assert get_activation("leaky_relu", slope=0.2).derivative(0.0, 0.0) == 0.2
    assert get_activation("leaky_relu").params == {"slope": 0.01}


def test_sigmoid_never_overflows():
    g = get_activation("sigmoid")
    assert g.function(-1e6) == 0.0 and g.function(1e6) == 1.0
    assert g.function(-745.0) > 0.0
    assert g.function(0.3775) == pytest.approx(0.593269992, abs=1e-9)


def test_softmax_is_shift_invariant_and_stable():
    g = get_activation("softmax")
    a = g.function([1.0, 2.0, 3.0])
    assert a == pytest.approx(g.function([1001.0, 1002.0, 1003.0]), rel=1e-15)
    assert sum(a) == pytest.approx(1.0, rel=1e-15)
    assert g.function([1e6, -1e6]) == [1.0, 0.0]


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown activation 'sigmod'"):
        get_activation("sigmod")
    with pytest.raises(ValueError, match="takes no parameter 'slope'"):
        get_activation("relu", slope=0.1)
    with pytest.raises(ValueError, match="unknown loss 'l2'"):
        get_loss("l2")


OUTPUTS = [0.2, 0.7, 0.45]
TARGETS = [0.1, 0.9, 0.5]


@pytest.mark.parametrize("name", list(LOSSES))
def test_output_grads_match_central_difference(name):
    loss = get_loss(name)
    targets = [0, 1, 0] if name == "cross_entropy" else TARGETS
    grads = loss.output_grads(OUTPUTS, targets)
    for j in range(3):
        h = 1e-6
        up = list(OUTPUTS)
        down = list(OUTPUTS)
        up[j] += h
        down[j] -= h
        numeric = (loss.value(up, targets) - loss.value(down, targets)) / (2 * h)
        assert grads[j] == pytest.approx(numeric, rel=1e-7, abs=1e-10), (name, j)


def test_loss_values():
    assert get_loss("half_sse").value([0.75136507, 0.772928465], [0.01, 0.99]) == \
        pytest.approx(0.298371109, abs=1e-9)
    assert get_loss("sse").value([1.0, 2.0], [0.0, 0.0]) == 5.0
    assert get_loss("mse").value([1.0, 2.0], [0.0, 0.0]) == 2.5
    assert get_loss("binary_cross_entropy").value([0.5], [1]) == pytest.approx(math.log(2))
    assert get_loss("cross_entropy").value([0.25, 0.75], [0, 1]) == pytest.approx(-math.log(0.75))


def test_log_losses_never_crash_at_0_and_1():
    bce = get_loss("binary_cross_entropy")
    assert bce.value([1.0], [1]) == 0.0 and bce.value([0.0], [0]) == 0.0
    assert bce.value([0.0], [1]) == math.inf
    assert bce.output_grads([1.0], [0]) == [math.inf]
    ce = get_loss("cross_entropy")
    assert ce.value([0.0, 1.0], [1, 0]) == math.inf
    assert ce.output_grads([0.0, 1.0], [1, 0])[0] == -math.inf


@pytest.mark.parametrize("name, activation", [("binary_cross_entropy", "sigmoid"),
                                              ("cross_entropy", "softmax")])
def test_paired_value_from_z_equals_value_from_a(name, activation):
    loss, g = get_loss(name), get_activation(activation)
    zs = [-1.3, 0.4, 2.2]
    a = g.function(zs) if g.is_layerwise else [g.function(z) for z in zs]
    t = [0, 1, 0] if name == "cross_entropy" else [0.2, 0.9, 1.0]
    assert loss.paired_value(zs, t) == pytest.approx(loss.value(a, t), rel=1e-14)
    # ... and stays finite where a rounds to exactly 0 or 1
    assert loss.paired_value([800.0, -800.0, 0.0], [0, 1, 0]) == pytest.approx(
        1600.0 if name == "cross_entropy" else 800.0 + 800.0 + math.log(2), rel=1e-12)


def test_paired_delta_equals_chain_rule():
    bce, sig = get_loss("binary_cross_entropy"), get_activation("sigmoid")
    z, t = 0.8, 0.3
    a = sig.function(z)
    chain = bce.output_grads([a], [t])[0] * sig.derivative(z, a)
    assert bce.paired_delta([a], [t])[0] == pytest.approx(chain, rel=1e-14)
