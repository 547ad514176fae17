"""The gated layer kinds, LSTM and GRU, one time step of a whole batch (sequences are the rows).

LSTM (torch.nn.LSTM: W (4n, n_prev), U (4n, n), b_ih, b_hh (4n,), rows in the
gate order i, f, g, o; initial state h0, c0 (n,))::

    forward    Z[t] = A_prev[t] Wᵀ + b_ih + H[t-1] Uᵀ + b_hh = [Z_i Z_f Z_g Z_o]
               I = σ(Z_i), F = σ(Z_f), G = tanh(Z_g), O = σ(Z_o)
               C[t] = F ⊙ C[t-1] + I ⊙ G,   H[t] = O ⊙ tanh(C[t])
    backward   dC = dH ⊙ O ⊙ (1 - tanh²(C[t])) + dC[t]_from_next   (dC[t]_from_next = F[t+1] ⊙ dC[t+1])
               Δ_o = dH ⊙ tanh(C[t]) ⊙ O(1 - O),  Δ_i = dC ⊙ G ⊙ I(1 - I),
               Δ_f = dC ⊙ C[t-1] ⊙ F(1 - F),      Δ_g = dC ⊙ I ⊙ (1 - G²)
               Δ = [Δ_i Δ_f Δ_g Δ_o];  dW = Δᵀ A_prev[t],  dU = Δᵀ H[t-1],
               db_ih = db_hh = Σ_rows Δ,  dA_prev[t] = Δ W,
               dH[t-1] = Δ U,  dC[t-1] = dC ⊙ F

GRU (torch.nn.GRU: W (3n, n_prev), U (3n, n), b_ih, b_hh (3n,), rows in the
gate order r, z, n; initial state h0)::

    forward    X̃ = A_prev[t] Wᵀ + b_ih = [X̃_r X̃_z X̃_n],  H̃ = H[t-1] Uᵀ + b_hh = [H̃_r H̃_z H̃_n]
               R = σ(X̃_r + H̃_r),  Zu = σ(X̃_z + H̃_z),  N = tanh(X̃_n + R ⊙ H̃_n)
               H[t] = (1 - Zu) ⊙ N + Zu ⊙ H[t-1]
    backward   Δ_n = dH ⊙ (1 - Zu) ⊙ (1 - N²),  Δ_z = dH ⊙ (H[t-1] - N) ⊙ Zu(1 - Zu),
               Δ_r = Δ_n ⊙ H̃_n ⊙ R(1 - R)
               input side Δ = [Δ_r Δ_z Δ_n], recurrent side Δʰ = [Δ_r Δ_z R ⊙ Δ_n]
               dW = Δᵀ A_prev[t],  db_ih = Σ_rows Δ,  dU = Δʰᵀ H[t-1],  db_hh = Σ_rows Δʰ,
               dA_prev[t] = Δ W,  dH[t-1] = Δʰ U + dH ⊙ Zu

dH is what the layer above sends at step t plus what step t+1 sends back
(:mod:`.stack`); Δ holds the gates' deltas side by side in torch's order, and
the backward functions return it under the key ``"Z"`` of their grads.
"""

from dataclasses import dataclass

import numpy as np

from .functions import _sigmoid


@dataclass
class LSTMCache:
    """What lstm_backward needs from lstm_forward at one step."""

    params: dict
    X_t: np.ndarray
    H_prev: np.ndarray
    C_prev: np.ndarray
    Z: np.ndarray
    gates: tuple      # I, F, G, O
    C: np.ndarray
    tanh_C: np.ndarray
    H: np.ndarray


@dataclass
class GRUCache:
    """What gru_backward needs from gru_forward at one step."""

    params: dict
    X_t: np.ndarray
    H_prev: np.ndarray
    Z: np.ndarray
    gates: tuple      # R, Zu, N
    H_tilde_n: np.ndarray
    H: np.ndarray


def _split(M, parts):
    """The gates' blocks of columns, in torch's order."""
    return np.split(M, parts, axis=-1)


def lstm_forward(params, X_t, H_prev, C_prev):
    """Z = X_t Wᵀ + b_ih + H_prev Uᵀ + b_hh; C = F ⊙ C_prev + I ⊙ G; H = O ⊙ tanh(C).
    Returns (H, C, cache)."""
    Z = X_t @ params["W"].T + params["b_ih"] + H_prev @ params["U"].T + params["b_hh"]
    Z_i, Z_f, Z_g, Z_o = _split(Z, 4)
    I, F, G, O = _sigmoid(Z_i), _sigmoid(Z_f), np.tanh(Z_g), _sigmoid(Z_o)
    C = F * C_prev + I * G
    tanh_C = np.tanh(C)
    H = O * tanh_C
    return H, C, LSTMCache(params, X_t, H_prev, C_prev, Z, (I, F, G, O), C, tanh_C, H)


def lstm_backward(dH, dC_next, cache):
    """The LSTM backward of the module docstring.  ``dC_next`` is F[t+1] ⊙ dC[t+1]
    (zeros at the last step).  Returns (dX_t, dH_prev, dC_prev, grads) with
    grads {"W", "U", "b_ih", "b_hh", "Z": Δ}."""
    p = cache.params
    I, F, G, O = cache.gates
    dO = dH * cache.tanh_C
    dC = dH * O * (1.0 - cache.tanh_C ** 2) + dC_next
    dI, dF, dG = dC * G, dC * cache.C_prev, dC * I
    delta = np.concatenate([dI * I * (1.0 - I), dF * F * (1.0 - F), dG * (1.0 - G * G),
                            dO * O * (1.0 - O)], axis=-1)
    grads = {"W": delta.T @ cache.X_t, "U": delta.T @ cache.H_prev,
             "b_ih": delta.sum(axis=0), "b_hh": delta.sum(axis=0), "Z": delta}
    return delta @ p["W"], delta @ p["U"], dC * F, grads


def gru_forward(params, X_t, H_prev):
    """R, Zu, N and H = (1 - Zu) ⊙ N + Zu ⊙ H_prev (torch's GRU).  Returns (H, cache)."""
    X_r, X_z, X_n = _split(X_t @ params["W"].T + params["b_ih"], 3)
    H_r, H_z, H_n = _split(H_prev @ params["U"].T + params["b_hh"], 3)
    Z = np.concatenate([X_r + H_r, X_z + H_z, np.zeros_like(X_n)], axis=-1)
    R, Zu = _sigmoid(X_r + H_r), _sigmoid(X_z + H_z)
    Z[..., 2 * R.shape[-1]:] = X_n + R * H_n
    N = np.tanh(X_n + R * H_n)
    H = (1.0 - Zu) * N + Zu * H_prev
    return H, GRUCache(params, X_t, H_prev, Z, (R, Zu, N), H_n, H)


def gru_backward(dH, cache):
    """The GRU backward of the module docstring.  Returns (dX_t, dH_prev, grads)
    with grads {"W", "U", "b_ih", "b_hh", "Z": Δ (the input side)}."""
    p = cache.params
    R, Zu, N = cache.gates
    delta_n = dH * (1.0 - Zu) * (1.0 - N * N)
    delta_z = dH * (cache.H_prev - N) * Zu * (1.0 - Zu)
    delta_r = delta_n * cache.H_tilde_n * R * (1.0 - R)
    delta = np.concatenate([delta_r, delta_z, delta_n], axis=-1)
    delta_h = np.concatenate([delta_r, delta_z, R * delta_n], axis=-1)
    grads = {"W": delta.T @ cache.X_t, "b_ih": delta.sum(axis=0),
             "U": delta_h.T @ cache.H_prev, "b_hh": delta_h.sum(axis=0), "Z": delta}
    return delta @ p["W"], delta_h @ p["U"] + dH * Zu, grads
