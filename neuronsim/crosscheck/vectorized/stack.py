"""Backpropagation through a stack of layer kinds over time: the driver around
the one-step pairs of :mod:`.dense`, :mod:`.recurrent` and :mod:`.gated`.

Sequences are the **rows**: X has shape (m, T, n_in) for m sequences of T steps
(``batch_first`` as in ``torch.nn.RNN``).  The text counts steps t = 1..T, the
code 0-based (``X[:, 0]`` is step 1).  Layer l takes A^(l-1)[t], the outputs
of the layer below at the same step (A^(0)[t] = X[t]).  A feed-forward network
is the case T = 1 with no recurrent layer (:mod:`.network` runs that case
with the same dense pair, without the loop over time).

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

from .dense import dense_backward, dense_forward
from .functions import (
    PAIRED_WITH,
    activation,
    activation_name,
    check_loss,
    output_grad,
    paired_delta,
    step_loss_values,
)
from .gated import gru_backward, gru_forward, lstm_backward, lstm_forward
from .recurrent import recurrent_backward, recurrent_forward


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
        p = {"kind": kind, "activation": layer.get("activation", "tanh"), "index": l}
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
        p["g"] = activation(p["activation"])   # resolved once, used at every step
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
    check_loss(loss)
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
    paired = PAIRED_WITH.get(loss) == params[top]["g"].name
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
