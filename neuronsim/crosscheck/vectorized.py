"""The matrix form of backpropagation, in numpy: an independent reference.

The per-neuron simulator (neuron.py, layer.py, network.py) computes one
number at a time.  This module computes the same mathematics for a whole
batch with matrices, and shares no code with it except the *names* of the
activations and losses (the registries ``ACTIVATIONS`` and ``LOSSES``):
two independent computations that must agree are the point.  docs/vectorized.md
shows the two side by side.

Samples are the **columns** here, as in the textbook's matrix form: A^(l) has
shape (n_l, m) for a batch of m samples, and for every layer l

    Z^(l) = W^(l) A^(l-1) + b^(l)            (b added to every column)
    A^(l) = g(Z^(l))
    Δ^(L) = dE/dA^(L) ⊙ g'(Z^(L))            (or A - T for sigmoid + binary_cross_entropy,
                                              A Σt - T for softmax + cross_entropy)
    Δ^(l) = (W^(l+1)ᵀ Δ^(l+1)) ⊙ g'(Z^(l))
    dW^(l) = Δ^(l) A^(l-1)ᵀ / n,  db^(l) = Σ_columns Δ^(l) / n

where n is the batch size m for ``reduction="mean"`` and 1 for ``"sum"``:
Δ A_prevᵀ adds up δ a_prevᵀ of every sample.  The batch loss is the mean
(or the sum) of the per-sample losses.

The results (:class:`BatchGradients`) are given back with one **row** per
sample, shape (m, n_l), the layout of ``X`` and of user functions checked by
:mod:`neuronsim.crosscheck.compare`.  Python lists are 0-based: ``dW[0]`` is
textbook layer 2 (the inputs are layer 1).

Networks that read sequences: :mod:`neuronsim.crosscheck.vectorized_stack` is the
numpy reference for every stack of layer kinds (this module's network is its
case T = 1 without a recurrent layer; a test shows they agree).  The older
"one recurrent first layer" calls :func:`rnn_bptt` and
:func:`recurrent_network_gradients` are re-exported from
:mod:`neuronsim.crosscheck.vectorized_rnn`, a thin layer over it.
"""

import numpy as np

from ..core.activations import ACTIVATION_PARAMS, ACTIVATIONS
from ..core.losses import LOSSES

# Backpropagation through time is vectorized_stack's (no code shared with this module
# or with the core); vectorized_rnn keeps the older call for one recurrent first layer.
from .vectorized_rnn import (
    RNNForward,
    RNNGradients,
    recurrent_network_gradients,
    rnn_bptt,
    rnn_forward,
)

RECURRENT = (RNNForward, RNNGradients, recurrent_network_gradients, rnn_bptt, rnn_forward)
"""The recurrent names this module re-exports (from neuronsim.crosscheck.vectorized_rnn)."""

# ---------------------------------------------------------------- activations
# Each activation: g(Z) and g'(Z, A) on whole arrays, next to each other.


def _sigmoid(Z):
    """1 / (1 + e^-z) in two branches, so e^x never overflows."""
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_prime(Z, A):
    return A * (1.0 - A)


def _tanh_prime(Z, A):
    return 1.0 - A * A


def _relu(Z):
    return np.where(Z > 0, Z, 0.0)


def _relu_prime(Z, A):
    """1 for z > 0, else 0 (the left-hand value at the kink z = 0)."""
    return np.where(Z > 0, 1.0, 0.0)


def _leaky_relu(Z, slope):
    return np.where(Z > 0, Z, slope * Z)


def _leaky_relu_prime(Z, A, slope):
    return np.where(Z > 0, 1.0, slope)


def _linear(Z):
    return Z


def _linear_prime(Z, A):
    return np.ones_like(Z)


def _softmax(Z):
    """e^(z_j - max z) / Σ_i e^(z_i - max z), column by column."""
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def _softmax_prime(Z, A):
    """The diagonal a_j (1 - a_j) only; the backward pass uses the full Jacobian."""
    return A * (1.0 - A)


_NUMPY_ACTIVATIONS = {
    "sigmoid": (_sigmoid, _sigmoid_prime),
    "tanh": (np.tanh, _tanh_prime),
    "relu": (_relu, _relu_prime),
    "leaky_relu": (_leaky_relu, _leaky_relu_prime),
    "linear": (_linear, _linear_prime),
    "softmax": (_softmax, _softmax_prime),
}


class MatrixActivation:
    """An activation on arrays: ``g(Z)``, ``prime(Z, A)`` (g'), and its name."""

    def __init__(self, name, slope=0.01):
        if name not in ACTIVATIONS or name not in _NUMPY_ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")
        self.name = name
        self.slope = float(slope)
        self._g, self._prime = _NUMPY_ACTIVATIONS[name]

    def g(self, Z):
        if self.name == "leaky_relu":
            return self._g(Z, self.slope)
        return self._g(Z)

    def prime(self, Z, A):
        if self.name == "leaky_relu":
            return self._prime(Z, A, self.slope)
        return self._prime(Z, A)

    def backward(self, dE_dA, Z, A, prime=None):
        """Δ = dE/dZ from dE/dA: dE/dA ⊙ g'(Z), or for softmax the full
        Jacobian, δ_j = a_j (dE/da_j - Σ_i dE/da_i a_i) in each column.
        ``prime``: g'(Z) when it is already computed."""
        if self.name == "softmax":
            return A * (dE_dA - (dE_dA * A).sum(axis=0, keepdims=True))
        return dE_dA * (self.prime(Z, A) if prime is None else prime)

    def __repr__(self):
        return f"MatrixActivation({self.name!r})"


def matrix_activation(spec):
    """A name, a ``(name, params)`` pair or a ``{"name"|"activation": ..., "slope": ...}`` dict."""
    if isinstance(spec, MatrixActivation):
        return spec
    if isinstance(spec, str):
        return MatrixActivation(spec)
    if isinstance(spec, dict):
        params = dict(spec)
        name = params.pop("name", None) or params.pop("activation", None)
    else:
        name, params = spec
        params = dict(params)
    allowed = ACTIVATION_PARAMS.get(name, ())
    for key in params:
        if key not in allowed:
            raise ValueError(f"activation {name!r} takes no parameter {key!r}")
    return MatrixActivation(name, **params)


# ---------------------------------------------------------------- losses
# Each loss: per-sample values E (one per column) next to dE/dA.

def _half_sse(A, T):
    return 0.5 * ((T - A) ** 2).sum(axis=0), A - T


def _sse(A, T):
    return ((T - A) ** 2).sum(axis=0), 2.0 * (A - T)


def _mse(A, T):
    n = A.shape[0]
    return ((T - A) ** 2).sum(axis=0) / n, 2.0 * (A - T) / n


def _binary_cross_entropy(A, T):
    """-Σ [t ln a + (1-t) ln(1-a)] with 0·ln 0 = 0;  dE/da = (a - t) / (a (1 - a))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(T != 0, T * np.log(A), 0.0)
        second = np.where(T != 1, (1.0 - T) * np.log(1.0 - A), 0.0)
        return -(first + second).sum(axis=0), (A - T) / (A * (1.0 - A))


def _cross_entropy(A, T):
    """-Σ t ln a (terms with t = 0 left out);  dE/da = -t / a."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(T != 0, T * np.log(A), 0.0).sum(axis=0), -T / A


_NUMPY_LOSSES = {
    "half_sse": _half_sse,
    "sse": _sse,
    "mse": _mse,
    "binary_cross_entropy": _binary_cross_entropy,
    "cross_entropy": _cross_entropy,
}

# Loss -> the output activation with which δ^(L) = dE/dz has a closed form.
PAIRED_OUTPUT = {"binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}


def _paired(loss, Z, A, T):
    """Per-sample E computed from z, and δ^(L), for the two paired losses.

    sigmoid + binary_cross_entropy: E = Σ softplus(z) - t z,  δ = a - t.
    softmax + cross_entropy: E = logsumexp(z) Σt - Σ t z,  δ = a Σt - t.
    """
    if loss == "binary_cross_entropy":
        softplus = np.maximum(Z, 0.0) + np.log1p(np.exp(-np.abs(Z)))
        return (softplus - T * Z).sum(axis=0), A - T
    top = Z.max(axis=0, keepdims=True)
    logsumexp = top + np.log(np.exp(Z - top).sum(axis=0, keepdims=True))
    target_sum = T.sum(axis=0, keepdims=True)
    values = np.where(T != 0, T * (logsumexp - Z), 0.0).sum(axis=0)
    return values, A * target_sum - T


def is_paired(loss, output_activation):
    """True if ``loss`` after ``output_activation`` uses the closed-form δ^(L)."""
    return PAIRED_OUTPUT.get(loss) == output_activation


# ---------------------------------------------------------------- the batch
class BatchGradients:
    """Everything one batch produces, one row per sample.

    ``zs[l]``, ``activations[l]``, ``derivatives[l]`` (g'(z)), ``output_grads[l]``
    (dE/da) and ``deltas[l]`` (dE/dz) have shape (m, n_l); ``dW[l]`` has the
    shape of W^(l), (n_l, n_(l-1)); ``db[l]`` shape (n_l,); ``loss`` is the
    batch loss (mean or sum of ``sample_losses``).  Index l is 0-based over
    the layers with weights (``l = 0`` is textbook layer 2); ``inputs`` is X,
    ``targets`` is Y.
    """

    def __init__(self, inputs, zs, activations, derivatives, output_grads, deltas,
                 dW, db, sample_losses, loss, targets=None):
        self.inputs = inputs
        self.targets = targets
        self.zs = zs
        self.activations = activations
        self.derivatives = derivatives
        self.output_grads = output_grads
        self.deltas = deltas
        self.dW = dW
        self.db = db
        self.sample_losses = sample_losses
        self.loss = loss

    def as_dict(self):
        """The keys :func:`neuronsim.crosscheck.compare.compare` reads from user code."""
        return {"activations": self.activations, "deltas": self.deltas,
                "dW": self.dW, "db": self.db, "loss": self.loss}

    def __repr__(self):
        sizes = "-".join(str(a.shape[1]) for a in [self.inputs] + self.activations)
        return f"BatchGradients({sizes}, batch of {self.inputs.shape[0]}, loss {self.loss!r})"


def forward(weights, biases, activations, X):
    """Z^(l) = W^(l) A^(l-1) + b^(l), A^(l) = g(Z^(l)) with samples as columns.

    Returns (Zs, As) where As[0] is Xᵀ (the input layer, textbook layer 1)
    and Zs[l], As[l + 1] belong to ``weights[l]``.
    """
    A = np.asarray(X, dtype=float).T
    Zs, As = [], [A]
    for W, b, g in zip(weights, biases, activations):
        Z = W @ A + b[:, None]
        A = g.g(Z)
        Zs.append(Z)
        As.append(A)
    return Zs, As


def backprop(weights, biases, activations, loss, X, Y, reduction="mean"):
    """Forward and backward pass for the batch (X, Y), X of shape (m, n_in).

    ``weights[l]`` has shape (n_l, n_(l-1)) (row j = weights into neuron j),
    ``biases[l]`` shape (n_l,), ``activations`` one name (or name + params)
    per layer, ``loss`` a loss name.  Returns :class:`BatchGradients`.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
    if loss not in LOSSES or loss not in _NUMPY_LOSSES:
        raise ValueError(f"unknown loss {loss!r} (known: {', '.join(LOSSES)})")
    weights = [np.asarray(W, dtype=float) for W in weights]
    biases = [np.asarray(b, dtype=float).reshape(-1) for b in biases]
    gs = [matrix_activation(a) for a in activations]
    X = np.atleast_2d(np.asarray(X, dtype=float))
    T = np.ascontiguousarray(np.atleast_2d(np.asarray(Y, dtype=float)).T)   # (a copy: T - A runs faster on two row-major arrays)
    _check_shapes(weights, biases, gs, X, T)
    m = X.shape[0]

    Zs, As = forward(weights, biases, gs, X)
    derivatives = [g.prime(Z, A) for g, Z, A in zip(gs, Zs, As[1:])]   # g'(Z), once
    L = len(weights)
    Z, A = Zs[-1], As[-1]
    sample_losses, dE_dA = _NUMPY_LOSSES[loss](A, T)
    if is_paired(loss, gs[-1].name):
        sample_losses, Delta = _paired(loss, Z, A, T)
    else:
        Delta = gs[-1].backward(dE_dA, Z, A, derivatives[-1])

    n = m if reduction == "mean" else 1
    deltas = [None] * L
    output_grads = [None] * L
    dW = [None] * L
    db = [None] * L
    for l in range(L - 1, -1, -1):
        deltas[l] = Delta
        output_grads[l] = dE_dA
        dW[l] = (Delta @ As[l].T) / n
        db[l] = Delta.sum(axis=1) / n
        if l > 0:
            dE_dA = weights[l].T @ Delta          # dE/da of the layer below: Wᵀ Δ
            Delta = gs[l - 1].backward(dE_dA, Zs[l - 1], As[l], derivatives[l - 1])
    batch_loss = sample_losses.sum() / n
    # One row per sample: the transposes are views of the column arrays (no copies).
    return BatchGradients(
        inputs=X, zs=[Z.T for Z in Zs], activations=[a.T for a in As[1:]],
        derivatives=[d.T for d in derivatives],
        output_grads=[g.T for g in output_grads],
        deltas=[d.T for d in deltas], dW=dW, db=db,
        sample_losses=sample_losses, loss=float(batch_loss), targets=T.T)


def network_arrays(net):
    """What :func:`backprop` needs from a Network: weights, biases,
    activations (name + params), loss name, reduction."""
    pairs = net.to_arrays()
    activations = [(layer.activation.name, {k: float(v) for k, v in layer.activation.params.items()})
                   for layer in net.layers]
    return {"weights": [W for W, _ in pairs], "biases": [b for _, b in pairs],
            "activations": activations, "loss": net.loss.name, "reduction": net.reduction}


def network_gradients(net, X, Y):
    """:func:`backprop` with the weights, names and reduction of ``net``.

    Reads the network's arrays only; the network itself is not touched.
    """
    return backprop(X=X, Y=Y, **network_arrays(net))


def _check_shapes(weights, biases, activations, X, T):
    from ..core.errors import ShapeError

    if not weights:
        raise ShapeError("weights: expected at least one weight matrix")
    if not (len(biases) == len(activations) == len(weights)):
        raise ShapeError(f"expected one bias vector and one activation per weight matrix "
                         f"({len(weights)}), got {len(biases)} and {len(activations)}")
    n_prev = X.shape[1]
    for l, (W, b) in enumerate(zip(weights, biases)):
        if W.ndim != 2 or W.shape[1] != n_prev:
            raise ShapeError(f"weights[{l}]: expected shape (n, {n_prev}), got {W.shape}")
        if b.shape != (W.shape[0],):
            raise ShapeError(f"biases[{l}]: expected {W.shape[0]} numbers, got {b.shape[0]}")
        n_prev = W.shape[0]
    if T.shape != (n_prev, X.shape[0]):
        raise ShapeError(f"Y: expected shape ({X.shape[0]}, {n_prev}), got {T.T.shape}")
