"""Backpropagation through a stack of layer kinds, in numpy: an independent
reference for networks of dense, Elman recurrent, LSTM and GRU layers in any order.

It imports nothing from neuronsim (its activations and losses are written
here again, on arrays) and it organises the work differently from the
per-neuron core: one pair of functions per layer kind for one time step, on a
whole batch, in the style of CS231n's ``layer_forward`` / ``layer_backward``,
and a driver that loops over time around the stack.  A feed-forward network is
the case T = 1 with no recurrent layer.

Shapes and indices
------------------
Sequences are the **rows**: X has shape (m, T, n_in) for m sequences of T steps
(``batch_first`` as in ``torch.nn.RNN``).  The text counts steps t = 1..T, the
code 0-based (``X[:, 0]`` is step 1).  Layer l takes A^(l-1)[t], the outputs
of the layer below at the same step (A^(0)[t] = X[t]).

One step of each kind
---------------------
dense (W of shape (n, n_prev), b (n,))::

    forward    Z = A_prev Wᵀ + b,          A = g(Z)
    backward   Δ = dA ⊙ g'(Z)              (softmax: Δ = A ⊙ (dA - Σ_j dA_j A_j), the full Jacobian)
               dW = Δᵀ A_prev,  db = Σ_rows Δ,  dA_prev = Δ W

Elman recurrent (W (n, n_prev), U (n, n), b (n,), initial state h0 (n,))::

    forward    Z[t] = A_prev[t] Wᵀ + H[t-1] Uᵀ + b,   H[t] = g(Z[t]),   H[0] = h0 (zeros if None)
    backward   Δ[t] = dH[t] ⊙ g'(Z[t])
               dW = Δᵀ A_prev[t],  dU = Δᵀ H[t-1],  db = Σ_rows Δ,
               dA_prev[t] = Δ W,   dH[t-1] = Δ U

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

Here dA, dH are dE/dA, dE/dH and Δ = dE/dZ (the delta; for LSTM and GRU the
gates' Δ side by side, in torch's order).  The backward functions
return the step's parameter gradients summed over the rows, and Δ itself (rows
kept) under the key ``"Z"``: ``grads[name]`` is always dE/d(name).

The loss
--------
At a step t with a target, E_t(A^(L)[t], target[t]) is (per sequence, over the
outputs j)::

    half_sse   Σ ½(a - t)²            dE/da = a - t
    sse        Σ (a - t)²             dE/da = 2(a - t)
    mse        (1/n) Σ (a - t)²       dE/da = 2(a - t)/n
    binary_cross_entropy  -Σ [t ln a + (1-t) ln(1-a)]   dE/da = (a - t)/(a(1 - a))
    cross_entropy         -Σ t ln a                      dE/da = -t/a

(0 ln 0 = 0).  When the loss is *paired* with the output layer's activation
(binary_cross_entropy after sigmoid, cross_entropy after softmax) the output
delta is given directly and E_t is computed from Z, as in
:mod:`neuronsim.core.losses`::

    sigmoid + binary_cross_entropy   Δ = A - T,      E_t = Σ t·softplus(-z) + (1-t)·softplus(z)
    softmax + cross_entropy          Δ = A Σt - T,   E_t = Σ t (logsumexp(z) - z)

A sequence's loss is E = Σ_t E_t over the steps with a target (``mask``), or
that sum divided by their number (``step_loss="mean"``).  The batch loss and
every gradient are the mean over the m sequences (``reduction="mean"``) or the
sum.  The deltas reported are those of each sequence's own loss E, before the
batch reduction.

Time, and truncated BPTT
------------------------
The gradient is Σ_t ∂E_t/∂θ.  :func:`stack_bptt` computes each term on its own,
with one backward sweep per step t that has a target: at step t the output
layer receives dE_t/dA (or the paired Δ); then, for s = t, t-1, ..., every
layer at step s receives dA from the layer above at step s, and a recurrent
layer also receives dH[s] from itself at step s+1 (from the same sweep).

Truncation k (docs/recurrent.md): when differentiating E_t, the state H[t-k]
of **every** recurrent layer is held constant.  So a gradient path from E_t may
cross at most k-1 time transitions: the sweep for E_t covers steps t, t-1, ...,
max(1, t-k+1), and the dH[s-1] = Δ[s] U of a recurrent layer at step s is
passed on only while the number of transitions it would then have crossed,
t - s + 1, is at most k - 1.  (dU still gets Δ[s] H[s-1]ᵀ: H[s-1] is a constant,
not a variable.)  ``truncation=None`` is full BPTT; k ≥ T gives the full weight
gradients, since no weight is used before step 1.

A learned initial state: at s = 1 the passed-on dH[0] is dE_t/dh0, summed over
the rows.  In full BPTT dE/dh0_j = Σ_i u_ij δ_i[1].  With truncation k, E_t
reaches h0 only if t ≤ k - 1 (for t = k, H[0] = H[t-k] is the constant), so
dh0 = Σ_i u_ij (δ_i[1] less its part from E_k): the full value needs k ≥ T + 1
(or ``truncation=None``), one more than the weights need.

This is the definition written out directly, O(T²) sweeps for full BPTT: a
reference, readable first, not fast.
"""

from dataclasses import dataclass, field

import numpy as np

# ---------------------------------------------------------------- activations
# g(Z) and g'(Z, A) on arrays (softmax over the last axis), next to each other.


def _sigmoid(Z):
    """1 / (1 + e^-z) in two branches, so that e^x never overflows."""
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax(Z):
    """e^(z_j - max z) / Σ_i e^(z_i - max z), row by row."""
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


#: name -> (g(Z, slope), g'(Z, A, slope)); softmax's backward is the full Jacobian.
ACTIVATIONS = {
    "sigmoid": (lambda Z, s: _sigmoid(Z), lambda Z, A, s: A * (1.0 - A)),
    "tanh": (lambda Z, s: np.tanh(Z), lambda Z, A, s: 1.0 - A * A),
    "relu": (lambda Z, s: np.where(Z > 0, Z, 0.0), lambda Z, A, s: np.where(Z > 0, 1.0, 0.0)),
    "leaky_relu": (lambda Z, s: np.where(Z > 0, Z, s * Z), lambda Z, A, s: np.where(Z > 0, 1.0, s)),
    "linear": (lambda Z, s: Z.copy(), lambda Z, A, s: np.ones_like(Z)),
    "softmax": (lambda Z, s: _softmax(Z), None),
}


def activation_name(spec):
    """The name in ``"tanh"`` or ``{"name": "leaky_relu", "slope": s}``."""
    name = spec.get("name") if isinstance(spec, dict) else spec
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")
    return name


def _slope(spec):
    """leaky_relu's slope s (0.01 unless given, as in neuronsim.core.activations)."""
    return float(spec.get("slope", 0.01)) if isinstance(spec, dict) else 0.01


def activate(spec, Z):
    """A = g(Z)."""
    return ACTIVATIONS[activation_name(spec)][0](Z, _slope(spec))


def activation_backward(spec, dA, Z, A):
    """Δ = dE/dZ from dE/dA: dA ⊙ g'(Z), or for softmax Δ_j = a_j (dA_j - Σ_i dA_i a_i).

    relu's g'(0) is 0 and leaky_relu's is the slope, the left-hand values, as in torch.
    """
    name = activation_name(spec)
    if name == "softmax":
        return A * (dA - (dA * A).sum(axis=-1, keepdims=True))
    return dA * ACTIVATIONS[name][1](Z, A, _slope(spec))


# ---------------------------------------------------------------- losses
#: loss -> the output activation it is paired with (closed-form Δ, E from Z).
PAIRED_WITH = {"binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}
LOSSES = ("half_sse", "sse", "mse", "binary_cross_entropy", "cross_entropy")


def _t_log(T, A):
    """t ln a, with 0 ln 0 = 0 (terms with t = 0 left out)."""
    return np.where(T != 0, T * np.log(np.where(T != 0, A, 1.0)), 0.0)


def _softplus(Z):
    """ln(1 + e^z) = max(z, 0) + ln(1 + e^-|z|)."""
    return np.maximum(Z, 0.0) + np.log1p(np.exp(-np.abs(Z)))


def step_loss_values(loss, paired, A, T, Z):
    """E_t of every row (sequence) at one step, from A (or from Z when paired)."""
    if loss == "half_sse":
        return 0.5 * ((T - A) ** 2).sum(axis=-1)
    if loss == "sse":
        return ((T - A) ** 2).sum(axis=-1)
    if loss == "mse":
        return ((T - A) ** 2).mean(axis=-1)
    if loss == "binary_cross_entropy":
        if paired:   # -ln σ(z) = softplus(-z), -ln(1 - σ(z)) = softplus(z)
            return (np.where(T != 0, T * _softplus(-Z), 0.0)
                    + np.where(T != 1, (1.0 - T) * _softplus(Z), 0.0)).sum(axis=-1)
        return -(_t_log(T, A) + _t_log(1.0 - T, 1.0 - A)).sum(axis=-1)
    if loss == "cross_entropy":
        if paired:   # -ln a_j = logsumexp(z) - z_j
            top = Z.max(axis=-1, keepdims=True)
            logsumexp = top + np.log(np.exp(Z - top).sum(axis=-1, keepdims=True))
            return np.where(T != 0, T * (logsumexp - Z), 0.0).sum(axis=-1)
        return -_t_log(T, A).sum(axis=-1)
    raise ValueError(f"unknown loss {loss!r} (known: {', '.join(LOSSES)})")


def output_grad(loss, A, T):
    """dE_t/dA of the output layer (rows = sequences)."""
    if loss == "half_sse":
        return A - T
    if loss == "sse":
        return 2.0 * (A - T)
    if loss == "mse":
        return 2.0 * (A - T) / A.shape[-1]
    if loss == "binary_cross_entropy":
        return (A - T) / (A * (1.0 - A))
    if loss == "cross_entropy":
        return -T / A
    raise ValueError(f"unknown loss {loss!r} (known: {', '.join(LOSSES)})")


def paired_delta(loss, A, T):
    """Δ = dE_t/dZ of a paired output layer: A - T (sigmoid + BCE), A Σt - T (softmax + CE)."""
    if loss == "binary_cross_entropy":
        return A - T
    return A * T.sum(axis=-1, keepdims=True) - T


# ---------------------------------------------------------------- one step, per kind
@dataclass
class DenseCache:
    """What dense_backward needs from dense_forward at one step."""

    params: dict
    A_prev: np.ndarray
    Z: np.ndarray
    A: np.ndarray


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


@dataclass
class RecurrentCache:
    """What recurrent_backward needs from recurrent_forward at one step."""

    params: dict
    X_t: np.ndarray
    H_prev: np.ndarray
    Z: np.ndarray
    H: np.ndarray


def dense_forward(params, A_prev):
    """Z = A_prev Wᵀ + b, A = g(Z).  Returns (A, cache)."""
    Z = A_prev @ params["W"].T + params["b"]
    A = activate(params["activation"], Z)
    return A, DenseCache(params, A_prev, Z, A)


def dense_backward(dA, cache, delta=None):
    """Δ = dA ⊙ g'(Z); dW = Δᵀ A_prev, db = Σ_rows Δ, dA_prev = Δ W.

    Returns (dA_prev, grads) with grads {"W", "b", "Z": Δ}.  ``delta`` given
    (the paired output delta) is Δ itself, and dA is not used.
    """
    p = cache.params
    if delta is None:
        delta = activation_backward(p["activation"], dA, cache.Z, cache.A)
    grads = {"W": delta.T @ cache.A_prev, "b": delta.sum(axis=0), "Z": delta}
    return delta @ p["W"], grads


def recurrent_forward(params, X_t, H_prev):
    """Z = X_t Wᵀ + H_prev Uᵀ + b, H = g(Z).  Returns (H, cache)."""
    Z = X_t @ params["W"].T + H_prev @ params["U"].T + params["b"]
    H = activate(params["activation"], Z)
    return H, RecurrentCache(params, X_t, H_prev, Z, H)


def recurrent_backward(dH, cache, delta=None):
    """Δ = dH ⊙ g'(Z); dW = Δᵀ X_t, dU = Δᵀ H_prev, db = Σ_rows Δ, dX_t = Δ W, dH_prev = Δ U.

    Returns (dX_t, dH_prev, grads) with grads {"W", "U", "b", "Z": Δ}.
    ``delta`` given (a paired output delta) is Δ itself, and dH is not used.
    """
    p = cache.params
    if delta is None:
        delta = activation_backward(p["activation"], dH, cache.Z, cache.H)
    grads = {"W": delta.T @ cache.X_t, "U": delta.T @ cache.H_prev, "b": delta.sum(axis=0),
             "Z": delta}
    return delta @ p["W"], delta @ p["U"], grads


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


#: the number of gates (rows of W per unit) of each kind
GATE_COUNT = {"dense": 1, "recurrent": 1, "lstm": 4, "gru": 3}
#: each kind's parameters, in the order of its gradients (the network's gradient_arrays)
PARAMETERS = {"dense": ("W", "b"), "recurrent": ("W", "U", "b"),
              "lstm": ("W", "U", "b_ih", "b_hh"), "gru": ("W", "U", "b_ih", "b_hh")}
#: each kind's carried states (learned as h0, c0)
STATES = {"dense": (), "recurrent": ("h0",), "lstm": ("h0", "c0"), "gru": ("h0",)}


def step_forward(p, A_prev, state):
    """One step of any kind: (A, new state (a tuple), cache)."""
    kind = p["kind"]
    if kind == "dense":
        A, cache = dense_forward(p, A_prev)
        return A, (), cache
    if kind == "recurrent":
        A, cache = recurrent_forward(p, A_prev, state[0])
        return A, (A,), cache
    if kind == "lstm":
        H, C, cache = lstm_forward(p, A_prev, *state)
        return H, (H, C), cache
    H, cache = gru_forward(p, A_prev, state[0])
    return H, (H,), cache


def step_backward(p, dA, from_next, cache, delta=None):
    """One step back of any kind: (dA_prev, what goes to step t-1 (a tuple), grads).
    ``from_next``: what step t+1 sent (dH[t], and dC[t] for an LSTM)."""
    kind = p["kind"]
    if kind == "dense":
        dA_prev, grads = dense_backward(dA, cache, delta)
        return dA_prev, (), grads
    if kind == "recurrent":
        dA_prev, dH_prev, grads = recurrent_backward(dA + from_next[0], cache, delta)
        return dA_prev, (dH_prev,), grads
    if delta is not None:
        raise ValueError(f"a {kind} layer's output is not paired with a loss")
    if kind == "lstm":
        dA_prev, dH_prev, dC_prev, grads = lstm_backward(dA + from_next[0], from_next[1], cache)
        return dA_prev, (dH_prev, dC_prev), grads
    dA_prev, dH_prev, grads = gru_backward(dA + from_next[0], cache)
    return dA_prev, (dH_prev,), grads


# ---------------------------------------------------------------- the stack over time
@dataclass
class StackForward:
    """Per layer: the checked float ``params[l]``, ``zs[l]`` and
    ``activations[l]`` of shape (m, T, n_l), and the per-step caches ``caches[l][t]``."""

    params: list
    zs: list
    activations: list
    caches: list


@dataclass
class StackResult:
    """The batch ``loss``; ``sequence_losses`` (m,); ``outputs`` (m, T, n_out);
    per layer ``zs``, ``activations`` and ``deltas`` (m, T, n_l; δ = dE/dz of
    each sequence's own loss, as truncation allows, 0 where nothing reaches);
    ``grads`` per layer in the order of the parameters: (dW, db) dense,
    (dW, dU, db) recurrent, (dW, dU, db, dh0) recurrent with a learned initial
    state, (dW, dU, db_ih, db_hh[, dh0[, dc0]]) LSTM and GRU, reduced as the batch
    loss.  For an LSTM or GRU layer ``zs`` and ``deltas`` hold its gates side by
    side (m, T, 4n or 3n; torch's order) and ``activations`` its H (m, T, n)."""

    loss: float
    sequence_losses: np.ndarray
    outputs: np.ndarray
    zs: list
    activations: list
    deltas: list
    grads: list
    forward: StackForward = field(default=None, repr=False)


def _prepare(layers, n_in):
    """Float copies of the parameters, with shapes checked (ValueError naming the layer)."""
    prepared, n_prev = [], n_in
    for l, layer in enumerate(layers):
        kind = layer.get("kind", "dense")
        if kind not in GATE_COUNT:
            raise ValueError(f"layers[{l}]: kind must be one of {', '.join(GATE_COUNT)}, "
                             f"not {kind!r}")
        p = {"kind": kind, "activation": layer.get("activation", "tanh")}
        for name in PARAMETERS[kind]:
            p[name] = np.asarray(layer[name], dtype=float)
        gates = GATE_COUNT[kind]
        rows = p["W"].shape[0] if p["W"].ndim == 2 else -1
        n = rows // gates if rows % gates == 0 else -1
        if p["W"].shape != (gates * n, n_prev) or n < 1:
            shape = f"({gates}n, {n_prev})" if gates > 1 else f"(n, {n_prev})"
            raise ValueError(f"layers[{l}]: W must have shape {shape}, not {p['W'].shape}")
        for name in PARAMETERS[kind][1:]:
            expected = (gates * n, n) if name == "U" else (gates * n,)
            if p[name].shape != expected:
                raise ValueError(f"layers[{l}]: {name} must have shape {expected}, "
                                 f"not {p[name].shape}")
        if kind == "recurrent" and activation_name(p["activation"]) == "softmax":
            raise ValueError(f"layers[{l}]: a recurrent layer takes an element-wise "
                             f"activation, not softmax")
        activation_name(p["activation"])
        p["n"] = n
        for name in STATES[kind]:
            value = layer.get(name)
            p[name] = np.zeros(n) if value is None else np.asarray(value, dtype=float)
            if p[name].shape != (n,):
                raise ValueError(f"layers[{l}]: {name} must have shape ({n},), "
                                 f"not {p[name].shape}")
        p["learn_h0"] = bool(layer.get("learn_h0", False))
        prepared.append(p)
        n_prev = n
    return prepared


def stack_forward(layers, X, forward=step_forward):
    """The forward pass of the stack over every step of X (m, T, n_in).
    ``forward``: the one-step function (:func:`step_forward`; the diagnosis
    passes a variant that makes a classic mistake)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 3 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must have shape (m, T, n_in) with m, T >= 1, not {X.shape}")
    if not layers:
        raise ValueError("layers: expected at least one layer")
    m, steps, _ = X.shape
    params = _prepare(layers, X.shape[2])
    zs = [np.zeros((m, steps, p["W"].shape[0])) for p in params]
    activations = [np.zeros((m, steps, p["n"])) for p in params]
    caches = [[None] * steps for _ in params]
    state = [tuple(np.tile(p[name], (m, 1)) for name in STATES[p["kind"]]) for p in params]
    for t in range(steps):
        A = X[:, t]
        for l, p in enumerate(params):
            A, state[l], cache = forward(p, A, state[l])
            caches[l][t] = cache
            zs[l][:, t] = cache.Z
            activations[l][:, t] = A
    return StackForward(params, zs, activations, caches)


def stack_bptt(layers, X, targets, mask, loss, step_loss="sum", reduction="mean",
               truncation=None, step_functions=(step_forward, step_backward)):
    """Loss, activations, deltas and gradients of a batch of sequences.

    ``layers``: a list of dicts, bottom first::

        {"kind": "dense", "W": (n, n_prev), "b": (n,), "activation": name}
        {"kind": "recurrent", "W": (n, n_prev), "U": (n, n), "b": (n,),
         "activation": name, "h0": (n,) or None, "learn_h0": bool}
        {"kind": "lstm", "W": (4n, n_prev), "U": (4n, n), "b_ih": (4n,), "b_hh": (4n,),
         "h0": (n,) or None, "c0": (n,) or None, "learn_h0": bool (h0 and c0)}
        {"kind": "gru", "W": (3n, n_prev), "U": (3n, n), "b_ih": (3n,), "b_hh": (3n,),
         "h0": (n,) or None, "learn_h0": bool}

    an activation being a name or ``{"name": "leaky_relu", "slope": s}``.
    ``X`` (m, T, n_in), ``targets`` (m, T, n_out), ``mask`` (m, T) booleans:
    True where a step has a target (many-to-one: only the last step).
    ``truncation`` None (full BPTT) or k ≥ 1.  ``step_functions``: the one-step
    functions (forward, backward), :func:`step_forward` and :func:`step_backward`
    unless a variant is given (:mod:`neuronsim.crosscheck.gated_mistakes`).
    Returns :class:`StackResult`.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r} (known: {', '.join(LOSSES)})")
    if step_loss not in ("sum", "mean") or reduction not in ("sum", "mean"):
        raise ValueError("step_loss and reduction must each be 'sum' or 'mean'")
    if truncation is not None and (isinstance(truncation, bool)
                                   or not isinstance(truncation, (int, np.integer))
                                   or truncation < 1):
        raise ValueError(f"truncation must be None or an integer >= 1, not {truncation!r}")
    fwd = stack_forward(layers, X, step_functions[0])
    params = fwd.params
    m, steps = fwd.zs[0].shape[:2]
    targets = np.asarray(targets, dtype=float)
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), (m, steps))
    if step_loss == "mean" and not mask.any(axis=1).all():
        raise ValueError("step_loss='mean' needs at least one step with a target in every sequence")
    n_out = params[-1]["n"]
    if targets.shape != (m, steps, n_out):
        raise ValueError(f"targets must have shape ({m}, {steps}, {n_out}), not {targets.shape}")

    top = len(params) - 1
    out_Z, outputs = fwd.zs[top], fwd.activations[top]
    paired = PAIRED_WITH.get(loss) == activation_name(params[top]["activation"])
    # each step's weight in its sequence's loss: 1, or 1/(number of steps with a target)
    weight = mask.astype(float)
    if step_loss == "mean":
        weight = weight / mask.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        step_values = np.where(mask, step_loss_values(loss, paired, outputs, targets, out_Z), 0.0)
    sequence_losses = (step_values * weight).sum(axis=1)

    deltas = [np.zeros_like(Z) for Z in fwd.zs]
    sums = [{name: np.zeros_like(p[name]) for name in PARAMETERS[p["kind"]] + STATES[p["kind"]]}
            for p in params]
    for t in range(steps):
        if mask[:, t].any():
            _sweep(t, fwd, params, loss, paired, targets, mask, weight, truncation, deltas, sums,
                   step_functions[1])

    n = m if reduction == "mean" else 1
    grads = []
    for p, s in zip(params, sums):
        names = PARAMETERS[p["kind"]] + (STATES[p["kind"]] if p["learn_h0"] else ())
        grads.append(tuple(s[name] / n for name in names))
    return StackResult(float(sequence_losses.sum() / n), sequence_losses, outputs, fwd.zs,
                       fwd.activations, deltas, grads, fwd)


def _sweep(t, fwd, params, loss, paired, targets, mask, weight, truncation, deltas, sums,
           backward=step_backward):
    """Back-propagate E_t alone (0-based step t) through the stack and back in time,
    holding H[t-k] of every recurrent layer constant; add its Δs to ``deltas`` and
    its parameter gradients (summed over rows) to ``sums``."""
    top = len(params) - 1
    has_target = mask[:, t][:, None]
    w_t = weight[:, t][:, None]
    A_t, T_t = fwd.activations[top][:, t], targets[:, t]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if paired:
            seed_delta = np.where(has_target, paired_delta(loss, A_t, T_t) * w_t, 0.0)
        else:
            seed_dA = np.where(has_target, output_grad(loss, A_t, T_t) * w_t, 0.0)
    first = 0 if truncation is None else max(0, t - truncation + 1)
    # dE_t/dH[s] (and dE_t/dC[s]) of each recurrent layer, arriving from step s+1
    # (none yet at s = t)
    from_next = [tuple(np.zeros(p["n"]) for _ in STATES[p["kind"]]) for p in params]
    for s in range(t, first - 1, -1):
        dA_from_above = None
        for l in range(top, -1, -1):
            p, cache = params[l], fwd.caches[l][s]
            delta = None
            if l == top:
                dA = np.zeros_like(fwd.activations[l][:, s])   # (m, n): H of a gated layer
                if s == t:
                    if paired:
                        delta = seed_delta
                    else:
                        dA = seed_dA
            else:
                dA = dA_from_above
            dA_from_above, to_previous, g = backward(p, dA, from_next[l], cache, delta)
            if to_previous:
                crossings = t - s + 1   # time transitions from step t to H[s-1]
                if truncation is None or crossings <= truncation - 1:
                    if s > 0:
                        from_next[l] = to_previous
                    else:   # H[s-1] (and C[s-1]) is the initial state
                        for name, value in zip(STATES[p["kind"]], to_previous):
                            sums[l][name] += value.sum(axis=0)
            deltas[l][:, s] += g["Z"]
            for name, value in g.items():
                if name != "Z":
                    sums[l][name] += value
