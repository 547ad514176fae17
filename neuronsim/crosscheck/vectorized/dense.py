"""The dense layer kind, one step of a whole batch (samples are the rows)::

    forward    Z = A_prev Wᵀ + b,          A = g(Z)
    backward   Δ = dA ⊙ g'(Z)              (softmax: Δ = A ⊙ (dA - Σ_j dA_j A_j), the full Jacobian)
               dW = Δᵀ A_prev,  db = Σ_rows Δ,  dA_prev = Δ W

W has shape (n, n_prev) (row j = the weights into neuron j), b shape (n,).
This is the textbook's Z = W A_prev + b with the samples as rows instead of
columns: each product is the transpose of the textbook's.  The feed-forward
network (:mod:`.network`) and the stacks over time (:mod:`.stack`) both call
this pair.
"""

from dataclasses import dataclass

import numpy as np

from .functions import layer_activation


@dataclass(slots=True)
class DenseCache:
    """What dense_backward needs from dense_forward at one step: the layer's
    parameters, its resolved activation ``g``, A_prev, Z, A; and ``prime``,
    g'(Z), kept once computed (:func:`derivative`)."""

    params: dict
    A_prev: np.ndarray
    Z: np.ndarray
    A: np.ndarray
    g: object = None
    prime: np.ndarray = None


def derivative(cache):
    """g'(Z) of the cached step, computed once (for softmax the diagonal a (1 - a))."""
    if cache.prime is None:
        cache.prime = cache.g.prime(cache.Z, cache.A)
    return cache.prime


def dense_forward(params, A_prev):
    """Z = A_prev Wᵀ + b, A = g(Z).  Returns (A, cache)."""
    g = layer_activation(params)
    Z = A_prev @ params["W"].T
    Z += params["b"]   # in place: the same sum, without a second (m, n) array
    A = g.g(Z)
    return A, DenseCache(params, A_prev, Z, A, g)


def dense_backward(dA, cache, delta=None, input_grad=True):
    """Δ = dA ⊙ g'(Z); dW = Δᵀ A_prev, db = Σ_rows Δ, dA_prev = Δ W.

    Returns (dA_prev, grads) with grads {"W", "b", "Z": Δ} (summed over the
    rows, not divided).  ``delta`` given (the paired output delta) is Δ
    itself, and dA is not used.  ``input_grad`` False: dA_prev is not wanted
    (the first layer of a network) and None is returned in its place.
    """
    if delta is None:
        delta = cache.g.backward(dA, cache.Z, cache.A, derivative(cache))
    grads = {"W": delta.T @ cache.A_prev, "b": delta.sum(axis=0), "Z": delta}
    return (delta @ cache.params["W"] if input_grad else None), grads
