"""The feed-forward network in matrix form: the dense pair of :mod:`.dense`
(its form on arrays), layer after layer, for a whole batch.

Samples are the **rows**: X has shape (m, n_in), A^(l) shape (m, n_l), and for
every layer l (the textbook's formulas with the samples as rows instead of
columns, so each product is the transpose of the textbook's)

    Z^(l) = A^(l-1) W^(l)ᵀ + b^(l)           (b added to every row)
    A^(l) = g(Z^(l))
    Δ^(L) = dE/dA^(L) ⊙ g'(Z^(L))            (or A - T for sigmoid + binary_cross_entropy,
                                              A Σt - T for softmax + cross_entropy)
    Δ^(l) = (Δ^(l+1) W^(l+1)) ⊙ g'(Z^(l))
    dW^(l) = Δ^(l)ᵀ A^(l-1) / n,  db^(l) = Σ_rows Δ^(l) / n

where n is the batch size m for ``reduction="mean"`` and 1 for ``"sum"``:
Δᵀ A_prev adds up δ a_prevᵀ of every sample.  The batch loss is the mean
(or the sum) of the per-sample losses.  This is the stack of
:mod:`.stack` with T = 1 and no recurrent layer (a test shows they agree),
without the loop over time.  Python lists are 0-based: ``dW[0]`` is textbook
layer 2 (the inputs are layer 1).
"""

import numpy as np

from ...core.errors import ShapeError
from .dense import dense_backward_arrays, dense_forward_arrays
from .functions import (
    DIVIDING,
    activation,
    check_loss,
    is_paired,
    output_grad,
    paired_delta,
    step_loss_values,
)


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


def _prepare(weights, biases, activations, X):
    """The dense layers as (W, b, g) tuples, W and b float arrays (converted once:
    float64 arrays are taken as they are, lists become arrays) and g the resolved
    activation, and X as a float matrix, one row per sample (one sample given flat
    is one row).  Every check is made here, once per call, not in the layer loops:
    ShapeError naming the first array whose shape does not fit the one before it."""
    if len(weights) == 0:
        raise ShapeError("weights: expected at least one weight matrix")
    if not (len(biases) == len(activations) == len(weights)):
        raise ShapeError(f"expected one bias vector and one activation per weight matrix "
                         f"({len(weights)}), got {len(biases)} and {len(activations)}")
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        X = np.atleast_2d(X)
    layers, n_prev = [], X.shape[1]
    for l, (W, b, g) in enumerate(zip(weights, biases, activations)):
        W, b = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
        if b.ndim != 1:   # a column or row such as [[0.1], [0.2]]
            b = b.reshape(-1)
        shape = W.shape
        if len(shape) != 2 or shape[1] != n_prev:
            raise ShapeError(f"weights[{l}]: expected shape (n, {n_prev}), got {shape}")
        n_prev = shape[0]
        if len(b) != n_prev:
            raise ShapeError(f"biases[{l}]: expected {n_prev} numbers, got {len(b)}")
        layers.append((W, b, activation(g)))
    return layers, X


def _targets(Y, X, n_out):
    """Y as a float matrix of shape (m, n_out), or ShapeError."""
    T = np.asarray(Y, dtype=float)
    if T.ndim != 2:
        T = np.atleast_2d(T)
    if T.shape != (X.shape[0], n_out):
        raise ShapeError(f"Y: expected shape ({X.shape[0]}, {n_out}), got {T.shape}")
    return T


def _forward(layers, X):
    """(Zs, As) of the prepared layers, As[l] the output of layers[l] (X not included)."""
    zs, outputs, A = [], [], X
    for W, b, g in layers:
        Z, A = dense_forward_arrays(A, W, b, g)
        zs.append(Z)
        outputs.append(A)
    return zs, outputs


def forward(weights, biases, activations, X):
    """Z^(l) = A^(l-1) W^(l)ᵀ + b^(l), A^(l) = g(Z^(l)) with samples as rows.

    Returns (Zs, As) where As[0] is X (the input layer, textbook layer 1)
    and Zs[l], As[l + 1] belong to ``weights[l]``.
    """
    layers, X = _prepare(weights, biases, activations, X)
    zs, outputs = _forward(layers, X)
    return zs, [X] + outputs


def backprop(weights, biases, activations, loss, X, Y, reduction="mean"):
    """Forward and backward pass for the batch (X, Y), X of shape (m, n_in).

    ``weights[l]`` has shape (n_l, n_(l-1)) (row j = weights into neuron j),
    ``biases[l]`` shape (n_l,), ``activations`` one name (or name + params)
    per layer, ``loss`` a loss name.  Returns :class:`BatchGradients`.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
    check_loss(loss)
    layers, X = _prepare(weights, biases, activations, X)
    T = _targets(Y, X, layers[-1][0].shape[0])
    n = X.shape[0] if reduction == "mean" else 1

    zs, outputs = _forward(layers, X)
    Z, A = zs[-1], outputs[-1]
    paired = is_paired(loss, layers[-1][2].name)
    if loss in DIVIDING:   # a = 0 or 1 gives inf or nan, reported as such
        with np.errstate(divide="ignore", invalid="ignore"):
            dE_dA = output_grad(loss, A, T)
            sample_losses = step_loss_values(loss, paired, A, T, Z)
    else:
        dE_dA = output_grad(loss, A, T)
        sample_losses = step_loss_values(loss, paired, A, T, Z)
    delta = paired_delta(loss, A, T) if paired else None   # else Δ = dE/dA ⊙ g'(Z)

    L = len(layers)
    derivatives, output_grads, deltas = [None] * L, [None] * L, [None] * L
    dW, db = [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        W, _, g = layers[l]
        Z, A = zs[l], outputs[l]
        output_grads[l] = dE_dA
        derivatives[l] = prime = g.prime(Z, A)   # g'(Z), computed once
        if delta is None:   # (only the output layer's can be given)
            delta = g.backward(dE_dA, Z, A, prime)
        deltas[l] = delta
        dW[l], db[l], dE_dA = dense_backward_arrays(delta, outputs[l - 1] if l else X, W,
                                                    input_grad=l > 0)
        if n != 1:   # divided in place: the sums are this call's own arrays (no copies)
            dW[l] /= n
            db[l] /= n
        delta = None
    return BatchGradients(X, zs, outputs, derivatives, output_grads, deltas, dW, db,
                          sample_losses, float(sample_losses.sum() / n), T)   # in __init__'s order


def network_arrays(net):
    """What :func:`backprop` needs from a Network: weights, biases,
    activations (name + params), loss name, reduction."""
    pairs = net.to_arrays()
    activations = [(layer.activation.name,
                    {k: float(v) for k, v in layer.activation.params.items()})
                   for layer in net.layers]
    return {"weights": [W for W, _ in pairs], "biases": [b for _, b in pairs],
            "activations": activations, "loss": net.loss.name, "reduction": net.reduction}


def network_gradients(net, X, Y):
    """:func:`backprop` with the weights, names and reduction of ``net``.

    Reads the network's arrays only; the network itself is not touched.
    """
    return backprop(X=X, Y=Y, **network_arrays(net))
