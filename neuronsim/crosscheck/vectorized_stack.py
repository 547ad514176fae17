"""Backpropagation through a stack of layer kinds, in numpy: an independent
reference for networks of dense and Elman recurrent layers in any order.

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

Here dA, dH are dE/dA, dE/dH and Δ = dE/dZ (the delta).  The backward functions
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
    state, reduced as the batch loss."""

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
        if kind not in ("dense", "recurrent"):
            raise ValueError(f"layers[{l}]: kind must be 'dense' or 'recurrent', not {kind!r}")
        p = {"kind": kind, "activation": layer["activation"],
             "W": np.asarray(layer["W"], dtype=float), "b": np.asarray(layer["b"], dtype=float)}
        name = activation_name(p["activation"])
        n = p["W"].shape[0] if p["W"].ndim == 2 else -1
        if p["W"].shape != (n, n_prev):
            raise ValueError(f"layers[{l}]: W must have shape (n, {n_prev}), not {p['W'].shape}")
        if p["b"].shape != (n,):
            raise ValueError(f"layers[{l}]: b must have shape ({n},), not {p['b'].shape}")
        if kind == "recurrent":
            if name == "softmax":
                raise ValueError(f"layers[{l}]: a recurrent layer takes an element-wise "
                                 f"activation, not softmax")
            p["U"] = np.asarray(layer["U"], dtype=float)
            if p["U"].shape != (n, n):
                raise ValueError(f"layers[{l}]: U must have shape ({n}, {n}), not {p['U'].shape}")
            h0 = layer.get("h0")
            p["h0"] = np.zeros(n) if h0 is None else np.asarray(h0, dtype=float)
            if p["h0"].shape != (n,):
                raise ValueError(f"layers[{l}]: h0 must have shape ({n},), not {p['h0'].shape}")
            p["learn_h0"] = bool(layer.get("learn_h0", False))
        prepared.append(p)
        n_prev = n
    return prepared


def stack_forward(layers, X):
    """The forward pass of the stack over every step of X (m, T, n_in)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 3 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must have shape (m, T, n_in) with m, T >= 1, not {X.shape}")
    if not layers:
        raise ValueError("layers: expected at least one layer")
    m, steps, _ = X.shape
    params = _prepare(layers, X.shape[2])
    zs = [np.zeros((m, steps, p["W"].shape[0])) for p in params]
    activations = [np.zeros_like(Z) for Z in zs]
    caches = [[None] * steps for _ in params]
    state = [np.tile(p["h0"], (m, 1)) if p["kind"] == "recurrent" else None for p in params]
    for t in range(steps):
        A = X[:, t]
        for l, p in enumerate(params):
            if p["kind"] == "recurrent":
                A, cache = recurrent_forward(p, A, state[l])
                state[l] = A
            else:
                A, cache = dense_forward(p, A)
            caches[l][t] = cache
            zs[l][:, t] = cache.Z
            activations[l][:, t] = A
    return StackForward(params, zs, activations, caches)


def stack_bptt(layers, X, targets, mask, loss, step_loss="sum", reduction="mean",
               truncation=None):
    """Loss, activations, deltas and gradients of a batch of sequences.

    ``layers``: a list of dicts, bottom first::

        {"kind": "dense", "W": (n, n_prev), "b": (n,), "activation": name}
        {"kind": "recurrent", "W": (n, n_prev), "U": (n, n), "b": (n,),
         "activation": name, "h0": (n,) or None, "learn_h0": bool}

    an activation being a name or ``{"name": "leaky_relu", "slope": s}``.
    ``X`` (m, T, n_in), ``targets`` (m, T, n_out), ``mask`` (m, T) booleans:
    True where a step has a target (many-to-one: only the last step).
    ``truncation`` None (full BPTT) or k ≥ 1.  Returns :class:`StackResult`.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r} (known: {', '.join(LOSSES)})")
    if step_loss not in ("sum", "mean") or reduction not in ("sum", "mean"):
        raise ValueError("step_loss and reduction must each be 'sum' or 'mean'")
    if truncation is not None and (isinstance(truncation, bool)
                                   or not isinstance(truncation, (int, np.integer))
                                   or truncation < 1):
        raise ValueError(f"truncation must be None or an integer >= 1, not {truncation!r}")
    fwd = stack_forward(layers, X)
    params = fwd.params
    m, steps = fwd.zs[0].shape[:2]
    targets = np.asarray(targets, dtype=float)
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), (m, steps))
    if step_loss == "mean" and not mask.any(axis=1).all():
        raise ValueError("step_loss='mean' needs at least one step with a target in every sequence")
    n_out = params[-1]["W"].shape[0]
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
    sums = [{name: np.zeros_like(p[name]) for name in ("W", "U", "b", "h0") if name in p}
            for p in params]
    for t in range(steps):
        if mask[:, t].any():
            _sweep(t, fwd, params, loss, paired, targets, mask, weight, truncation, deltas, sums)

    n = m if reduction == "mean" else 1
    grads = []
    for p, s in zip(params, sums):
        if p["kind"] == "dense":
            grads.append((s["W"] / n, s["b"] / n))
        elif p["learn_h0"]:
            grads.append((s["W"] / n, s["U"] / n, s["b"] / n, s["h0"] / n))
        else:
            grads.append((s["W"] / n, s["U"] / n, s["b"] / n))
    return StackResult(float(sequence_losses.sum() / n), sequence_losses, outputs, fwd.zs,
                       fwd.activations, deltas, grads, fwd)


def _sweep(t, fwd, params, loss, paired, targets, mask, weight, truncation, deltas, sums):
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
    # dE_t/dH[s] of each recurrent layer, arriving from step s+1 (none yet at s = t)
    from_next = [np.zeros(p["W"].shape[0]) for p in params]
    for s in range(t, first - 1, -1):
        dA_from_above = None
        for l in range(top, -1, -1):
            p, cache = params[l], fwd.caches[l][s]
            delta = None
            if l == top:
                dA = np.zeros_like(cache.Z)
                if s == t:
                    if paired:
                        delta = seed_delta
                    else:
                        dA = seed_dA
            else:
                dA = dA_from_above
            if p["kind"] == "dense":
                dA_from_above, g = dense_backward(dA, cache, delta)
            else:
                dA_from_above, dH_prev, g = recurrent_backward(dA + from_next[l], cache, delta)
                crossings = t - s + 1   # time transitions from step t to H[s-1]
                if truncation is None or crossings <= truncation - 1:
                    if s > 0:
                        from_next[l] = dH_prev
                    else:   # H[s-1] is the initial state
                        sums[l]["h0"] += dH_prev.sum(axis=0)
            deltas[l][:, s] += g["Z"]
            for name, value in g.items():
                if name != "Z":
                    sums[l][name] += value
