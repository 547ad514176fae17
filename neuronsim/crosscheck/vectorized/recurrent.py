"""The Elman recurrent layer kind, one time step of a whole batch (sequences are the rows)::

    forward    Z[t] = A_prev[t] Wᵀ + H[t-1] Uᵀ + b,   H[t] = g(Z[t]),   H[0] = h0 (zeros if None)
    backward   Δ[t] = dH[t] ⊙ g'(Z[t])
               dW = Δᵀ A_prev[t],  dU = Δᵀ H[t-1],  db = Σ_rows Δ,
               dA_prev[t] = Δ W,   dH[t-1] = Δ U

W (n, n_prev), U (n, n), b (n,), initial state h0 (n,).  dH[t] is what the
layer above sends at step t plus what step t+1 sends back (:mod:`.stack`).
"""

from dataclasses import dataclass

import numpy as np

from .functions import layer_activation


@dataclass
class RecurrentCache:
    """What recurrent_backward needs from recurrent_forward at one step."""

    params: dict
    X_t: np.ndarray
    H_prev: np.ndarray
    Z: np.ndarray
    H: np.ndarray


def recurrent_forward(params, X_t, H_prev):
    """Z = X_t Wᵀ + H_prev Uᵀ + b, H = g(Z).  Returns (H, cache)."""
    Z = X_t @ params["W"].T + H_prev @ params["U"].T + params["b"]
    H = layer_activation(params).g(Z)
    return H, RecurrentCache(params, X_t, H_prev, Z, H)


def recurrent_backward(dH, cache, delta=None):
    """Δ = dH ⊙ g'(Z); dW = Δᵀ X_t, dU = Δᵀ H_prev, db = Σ_rows Δ, dX_t = Δ W, dH_prev = Δ U.

    Returns (dX_t, dH_prev, grads) with grads {"W", "U", "b", "Z": Δ}.
    ``delta`` given (a paired output delta) is Δ itself, and dH is not used.
    """
    p = cache.params
    if delta is None:
        delta = layer_activation(p).backward(dH, cache.Z, cache.H)
    grads = {"W": delta.T @ cache.X_t, "U": delta.T @ cache.H_prev, "b": delta.sum(axis=0),
             "Z": delta}
    return delta @ p["W"], delta @ p["U"], grads
