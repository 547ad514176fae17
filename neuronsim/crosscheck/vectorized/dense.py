"""The dense layer kind, one step of a whole batch (samples are the rows)::

    forward    Z = A_prev Wᵀ + b,          A = g(Z)
    backward   Δ = dA ⊙ g'(Z)              (softmax: Δ = A ⊙ (dA - Σ_j dA_j A_j), the full Jacobian)
               dW = Δᵀ A_prev,  db = Σ_rows Δ,  dA_prev = Δ W

W has shape (n, n_prev) (row j = the weights into neuron j), b shape (n,).
This is the textbook's Z = W A_prev + b with the samples as rows instead of
columns: each product is the transpose of the textbook's.

The pair comes in two forms that make the same operations in the same order:
on arrays (:func:`dense_forward_arrays`, :func:`dense_backward_arrays`), which
the feed-forward network (:mod:`.network`) calls layer after layer with no
per-layer dict or cache, and on a layer's parameter dict and a
:class:`DenseCache` (:func:`dense_forward`, :func:`dense_backward`), the
per-kind interface the stacks over time (:mod:`.stack`) call, which wraps it.
"""

from dataclasses import dataclass

import numpy as np

from .functions import layer_activation

#: Σ over the rows, a speed trick: ``sum_rows(Δ, axis=0)`` is the very reduction that
#: ``Δ.sum(axis=0)`` runs (the same bits), without ndarray.sum's Python wrapper, one Python
#: frame per layer and step.  Python bookkeeping is what separates this reference from plain
#: numpy at small batches (issue 15: within 1.1x of it at 784-30-10, batch 32).
sum_rows = np.add.reduce


def dense_forward_arrays(A_prev, W, b, g):
    """Z = A_prev Wᵀ + b, A = g(Z) (``g`` a resolved Activation).  Returns (Z, A)."""
    Z = A_prev @ W.T
    Z += b   # in place: the same sum, without a second (m, n) array
    return Z, g.g(Z)


def dense_backward_arrays(delta, A_prev, W, input_grad=True):
    """dW = Δᵀ A_prev, db = Σ_rows Δ (summed over the rows, not divided) and
    dA_prev = Δ W, from Δ = dE/dZ.  Returns (dW, db, dA_prev); dA_prev is None
    when ``input_grad`` is False (the first layer of a network needs none)."""
    return delta.T @ A_prev, sum_rows(delta, axis=0), (delta @ W if input_grad else None)


@dataclass(slots=True)
class DenseCache:
    """What dense_backward needs from dense_forward at one step: the layer's
    parameters, its resolved activation ``g``, A_prev, Z and A."""

    params: dict
    A_prev: np.ndarray
    Z: np.ndarray
    A: np.ndarray
    g: object = None


def dense_forward(params, A_prev):
    """Z = A_prev Wᵀ + b, A = g(Z), for a layer's parameters {"W", "b", "g" or
    "activation"}.  Returns (A, cache)."""
    g = layer_activation(params)
    Z, A = dense_forward_arrays(A_prev, params["W"], params["b"], g)
    return A, DenseCache(params, A_prev, Z, A, g)


def dense_backward(dA, cache, delta=None, input_grad=True):
    """Δ = dA ⊙ g'(Z) (:meth:`Activation.backward`); dW = Δᵀ A_prev, db = Σ_rows Δ,
    dA_prev = Δ W.

    Returns (dA_prev, grads) with grads {"W", "b", "Z": Δ} (summed over the
    rows, not divided).  ``delta`` given (the paired output delta) is Δ
    itself, and dA is not used.  ``input_grad`` False: dA_prev is not wanted
    (the first layer of a network) and None is returned in its place.
    """
    if delta is None:
        delta = cache.g.backward(dA, cache.Z, cache.A)
    dW, db, dA_prev = dense_backward_arrays(delta, cache.A_prev, cache.params["W"], input_grad)
    return dA_prev, {"W": dW, "b": db, "Z": delta}
