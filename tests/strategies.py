"""Hypothesis strategies for random small networks, and checks that show numbers.

``network_cases()`` draws a :class:`Case`: a Network of 1 to 4 weighted
layers, widths 1 to 5, one of the catalogue's (output activation, loss)
PAIRINGS, one HIDDEN activation, reduction mean or sum, and a batch of 1 to
6 samples whose targets suit the loss.  Inputs are then moved off the ReLU
kinks (``move_off_kinks``) so that finite differences and two summation
orders cannot disagree about which side of z = 0 a neuron is on.

``assert_close`` fails with the label, both values and the relative error
of the worst entry.
"""

import numpy as np
from catalogue import HIDDEN, PAIRINGS
from hypothesis import strategies as st

from neuronsim import Network
from neuronsim.core.labels import bias_label, neuron_label, partial_label, weight_label

KINKED = ("relu", "leaky_relu")


class Case:
    """A network and a batch: ``net``, ``X`` (m, n_in), ``Y`` (m, n_out)."""

    def __init__(self, net, X, Y):
        self.net = net
        self.X = np.asarray(X, dtype=float)
        self.Y = np.asarray(Y, dtype=float)

    @property
    def samples(self):
        return [(x.tolist(), t.tolist()) for x, t in zip(self.X, self.Y)]

    def __repr__(self):
        return f"Case({self.net!r}, reduction {self.net.reduction}, batch of {len(self.X)})"


def _floats(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _matrix(rows, cols, low, high):
    return st.lists(st.lists(_floats(low, high), min_size=cols, max_size=cols),
                    min_size=rows, max_size=rows)


def targets(output, loss, n_out, count):
    """Targets that make sense for the output activation and loss."""
    if loss == "cross_entropy":
        return st.lists(st.integers(0, n_out - 1), min_size=count, max_size=count).map(
            lambda hot: [[1.0 if j == i else 0.0 for j in range(n_out)] for i in hot])
    if output in ("sigmoid", "softmax") or loss == "binary_cross_entropy":
        return _matrix(count, n_out, 0.05, 0.95)
    return _matrix(count, n_out, -1.0, 1.0)


@st.composite
def network_cases(draw, max_layers=4, max_width=5, max_batch=6, pairings=PAIRINGS,
                  hidden=HIDDEN):
    n_layers = draw(st.integers(1, max_layers))
    sizes = draw(st.lists(st.integers(1, max_width), min_size=n_layers + 1,
                          max_size=n_layers + 1))
    output, loss = draw(st.sampled_from(pairings))
    hidden_name = draw(st.sampled_from(hidden))
    slope = draw(_floats(0.01, 0.3))
    names = [hidden_name] * (n_layers - 1) + [output]
    activations = [{"activation": name, "slope": slope} if name == "leaky_relu" else name
                   for name in names]
    weights = [draw(_matrix(n_out, n_in, -1.0, 1.0)) for n_in, n_out in zip(sizes, sizes[1:])]
    biases = [draw(st.lists(_floats(-0.5, 0.5), min_size=n, max_size=n)) for n in sizes[1:]]
    reduction = draw(st.sampled_from(["mean", "sum"]))
    m = draw(st.integers(1, max_batch))
    X = draw(_matrix(m, sizes[0], -1.0, 1.0))
    Y = draw(targets(output, loss, sizes[-1], m))
    net = Network.from_arrays(weights, biases, activations, loss, reduction=reduction)
    move_off_kinks(net, X)
    return Case(net, X, Y)


def move_off_kinks(net, X, margin=1e-3):
    """Shift the biases of relu/leaky_relu neurons until every |z| >= margin.

    Layer by layer (a shift changes the z of later layers): for a neuron
    whose z comes within ``margin`` of 0 on some sample, try the bias shifts
    0, 2.5·margin, 5·margin, ...; m samples rule out at most m of them, so
    one of the first m + 1 works.  Changes ``net`` in place; returns it.
    """
    A = np.asarray(X, dtype=float)
    for layer in net.layers:
        W = np.array([n.weights for n in layer.neurons], dtype=float)
        if layer.activation.name in KINKED:
            for j, neuron in enumerate(layer.neurons):
                z = A @ W[j] + neuron.bias
                shift = 0.0
                while np.any(np.abs(z + shift) < margin):
                    shift += 2.5 * margin
                neuron.bias = neuron.bias + shift
        b = np.array([n.bias for n in layer.neurons], dtype=float)
        A = _layer_outputs(layer, A @ W.T + b)
    return net


def _layer_outputs(layer, Z):
    name = layer.activation.name
    if name == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.where(Z > 0, Z, 0.0)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, float(layer.activation.params["slope"]) * Z)
    if name == "softmax":
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)
    return Z


# ---------------------------------------------------------------- checks
def entry_label(quantity, layer, index):
    """Textbook label of one entry: dW[l][j, k] -> dE/dw_(j+1)(k+1)^(l+2), ..."""
    if quantity == "dW":
        return partial_label(weight_label(layer, index[0], index[1]))
    if quantity == "db":
        return partial_label(bias_label(layer, index[0]))
    if quantity in ("deltas", "activations", "zs"):
        kind = {"deltas": "delta", "activations": "a", "zs": "z"}[quantity]
        return f"{neuron_label(kind, layer, index[1])} of sample {index[0]}"
    return f"{quantity}[{layer}]{list(index)}"


def assert_close(actual, expected, rtol, atol, quantity, layer, context=""):
    """Every |actual - expected| <= atol + rtol·|expected|, else fail naming the
    worst entry by its label with both numbers and the relative error."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, (
        f"{quantity}[{layer}]: shape {actual.shape}, expected {expected.shape} {context}")
    errors = np.abs(actual - expected)
    allowed = atol + rtol * np.abs(expected)
    if np.all(errors <= allowed):
        return
    worst = np.unravel_index(int(np.argmax(errors / allowed)), errors.shape)
    rel = errors[worst] / abs(expected[worst]) if expected[worst] else float("inf")
    raise AssertionError(
        f"{entry_label(quantity, layer, worst)}: got {actual[worst]!r}, expected "
        f"{expected[worst]!r} (abs error {errors[worst]:.3g}, rel error {rel:.3g}; "
        f"rtol {rtol:g}, atol {atol:g}) {context}")


def batch_sum_atol(gradient, deltas, inputs):
    """The absolute floor for dW or db: they are sums over the batch of the
    terms a_k·δ_j (dW) and δ_j (db), which may cancel, so 1e-13 of the largest
    term, not of the (possibly tiny) sum."""
    delta_scale = float(np.max(np.abs(deltas))) if np.size(deltas) else 0.0
    if np.ndim(gradient) == 2:   # dW: terms a_k δ_j
        delta_scale *= float(np.max(np.abs(inputs))) if np.size(inputs) else 0.0
    return max(exact_atol(gradient), 1e-13 * delta_scale)


def exact_atol(*arrays):
    """The absolute floor for comparing two exact computations: 1e-13 of the
    largest magnitude involved (sums of a few terms, done in different orders,
    agree to a few ulps of their largest term, not of a result that cancels)."""
    scale = max([float(np.max(np.abs(a))) for a in arrays if np.size(a)] + [1e-300])
    return 1e-13 * scale
