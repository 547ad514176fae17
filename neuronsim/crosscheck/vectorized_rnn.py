"""Backpropagation through time in numpy: an independent reference for
:mod:`neuronsim.core.recurrent`.

It shares no code with the per-neuron simulator (only the names of the
activations and losses), and it even organises BPTT differently: instead of
one backward sweep that adds the output path and the recurrent path at each
step, it takes each step t that has a target on its own and follows ∂E_t back
through time, step by step, for at most k steps (k = T for full BPTT):

    D = ∂E_t/∂H[t]                                   (through the dense layers at t)
    for s = t, t-1, ..., max(1, t-k+1):
        Δ = D ⊙ g'(Z[s]);   dW += Δᵀ X[s];   dU += Δᵀ H[s-1];   db += Σ Δ
        D = Δ U                                       (to H[s-1])

This is the definition of truncated BPTT in docs/recurrent.md, written out
directly (H[t-k] is a constant for E_t).  When the recurrent layer is the
output layer and the loss pairs with its activation (sigmoid with
binary_cross_entropy), the first Δ (s = t) is the paired ∂E_t/∂Z[t] = A - T,
and E_t is computed from Z, as for a paired dense output layer.  Sequences are the **rows**: X has
shape (N, T, n_in) for N sequences of T steps (``batch_first`` as in
``torch.nn.RNN``), and for the recurrent layer

    Z[t] = X[t] Wᵀ + H[t-1] Uᵀ + b,   H[t] = g(Z[t]),   H[0] = the initial state

then the dense layers A^(l)[t] = g_l(A^(l-1)[t] W_lᵀ + b_l) at every step.
``mask`` (N, T) marks the steps that have a target.  A sequence's loss is the
sum of its E_t over those steps (or their mean, ``step_loss="mean"``); the
batch loss and the gradients are the mean over the N sequences
(``reduction="mean"``) or their sum.  Time indices are 0-based here: ``[:, 0]``
is step t = 1.

:func:`recurrent_network_gradients` reads a recurrent network's arrays and
names (nothing else) and runs :func:`rnn_bptt`; ``RNNGradients.as_dict()``
is the layout :mod:`neuronsim.crosscheck.compare` compares.  :mod:`neuronsim.crosscheck.vectorized`
re-exports these, so ``neuronsim.crosscheck.vectorized`` is the one place for both
matrix references.
"""

from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------- activations
# g(Z) and g'(Z, A) on arrays, next to each other.


def _sigmoid(Z):
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


_ACTIVATIONS = {
    "tanh": (np.tanh, lambda Z, A, p: 1.0 - A ** 2),
    "sigmoid": (_sigmoid, lambda Z, A, p: A * (1.0 - A)),
    "relu": (lambda Z: np.maximum(Z, 0.0), lambda Z, A, p: (Z > 0).astype(float)),
    "leaky_relu": (None, lambda Z, A, p: np.where(Z > 0, 1.0, p)),
    "linear": (lambda Z: Z.copy(), lambda Z, A, p: np.ones_like(Z)),
    "softmax": (_softmax, None),
}


def _activation(spec):
    """(name, slope) from "tanh" or {"name": "leaky_relu", "slope": s}."""
    if isinstance(spec, dict):
        name = spec.get("name", spec.get("activation"))
        return name, float(spec.get("slope", 0.01))
    return spec, 0.01


def apply_activation(spec, Z):
    """g(Z) element-wise (softmax over the last axis)."""
    name, slope = _activation(spec)
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r} (known: {', '.join(_ACTIVATIONS)})")
    if name == "leaky_relu":
        return np.where(Z > 0, Z, slope * Z)
    return _ACTIVATIONS[name][0](Z)


def activation_derivative(spec, Z, A):
    """g'(Z) element-wise, from Z and A = g(Z) (not for softmax)."""
    name, slope = _activation(spec)
    return _ACTIVATIONS[name][1](Z, A, slope)


# ---------------------------------------------------------------- losses
# Per step, over the last axis: E_t (one value per row) and dE_t/dA.
_PAIRED = {"binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}


def _xlogy(T, A):
    """t ln a with 0 ln 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(T == 0, 0.0, T * np.log(np.where(T == 0, 1.0, A)))


def _loss_value(name, A, T, Z, paired):
    if name == "half_sse":
        return 0.5 * ((T - A) ** 2).sum(-1)
    if name == "sse":
        return ((T - A) ** 2).sum(-1)
    if name == "mse":
        return ((T - A) ** 2).mean(-1)
    if name == "binary_cross_entropy":
        if paired:   # from z: softplus(z) - t z
            return (np.maximum(Z, 0.0) + np.log1p(np.exp(-np.abs(Z))) - T * Z).sum(-1)
        return -(_xlogy(T, A) + _xlogy(1.0 - T, 1.0 - A)).sum(-1)
    if name == "cross_entropy":
        if paired:   # ln a = z - logsumexp(z)
            m = Z.max(-1, keepdims=True)
            logsumexp = m + np.log(np.exp(Z - m).sum(-1, keepdims=True))
            return (T * (logsumexp - Z)).sum(-1)
        return -_xlogy(T, A).sum(-1)
    raise ValueError(f"unknown loss {name!r}")


def _output_grad(name, A, T):
    """dE_t/dA."""
    if name == "half_sse":
        return A - T
    if name == "sse":
        return 2.0 * (A - T)
    if name == "mse":
        return 2.0 * (A - T) / A.shape[-1]
    if name == "binary_cross_entropy":
        return (A - T) / (A * (1.0 - A))
    if name == "cross_entropy":
        return -T / A
    raise ValueError(f"unknown loss {name!r}")


def _output_delta(name, output_activation, A, T, Z, paired):
    """Δ = dE_t/dZ of the output layer at one step (rows = sequences)."""
    if paired and name == "binary_cross_entropy":
        return A - T
    if paired and name == "cross_entropy":
        return A * T.sum(-1, keepdims=True) - T
    G = _output_grad(name, A, T)
    if _activation(output_activation)[0] == "softmax":
        # full Jacobian: Δ_j = a_j (G_j - Σ_i G_i a_i)
        return A * (G - (G * A).sum(-1, keepdims=True))
    return G * activation_derivative(output_activation, Z, A)


# ---------------------------------------------------------------- the passes
@dataclass
class RNNForward:
    """Z, H (N, T+1, n: H[:, 0] is the initial state), and per dense layer
    its Zs and As (N, T, n_l).  ``outputs`` is the last layer's A."""

    Z: np.ndarray
    H: np.ndarray
    dense_Z: list
    dense_A: list

    @property
    def outputs(self):
        return self.dense_A[-1] if self.dense_A else self.H[:, 1:]


@dataclass
class RNNGradients:
    """The batch loss, the outputs (N, T, n_out), the gradients in the layout
    of the parameters ([(dW, dU, db), (dW, db), ...]), the recurrent layer's
    deltas (N, T, n: δ[t] summed over every E_t that reaches step t, before the
    batch reduction), each sequence's loss, the forward pass and each dense
    layer's deltas (N, T, n_l; 0 at steps without a target)."""

    loss: float
    outputs: np.ndarray
    grads: list
    deltas: np.ndarray
    sequence_losses: np.ndarray
    forward: RNNForward = None
    dense_deltas: list = None

    def as_dict(self):
        """The arrays :func:`neuronsim.crosscheck.compare.compare` reads for a recurrent
        network: per layer (recurrent first) ``activations`` and ``deltas`` of
        shape (N, T, n_l), ``dW`` and ``db``; ``dU``; ``loss``."""
        fwd = self.forward
        (dW, dU, db), dense = self.grads[0], self.grads[1:]
        return {"activations": [fwd.H[:, 1:]] + list(fwd.dense_A),
                "deltas": [self.deltas] + list(self.dense_deltas),
                "dW": [dW] + [g for g, _ in dense], "dU": dU,
                "db": [db] + [g for _, g in dense], "loss": self.loss}


def rnn_forward(params, X, activation="tanh", dense_activations=(), initial_state=None):
    """The forward pass for a batch X (N, T, n_in); ``params`` = [(W, U, b), (W, b), ...]."""
    W, U, b = (np.asarray(p, dtype=float) for p in params[0])
    X = np.asarray(X, dtype=float)
    N, steps, _ = X.shape
    n = W.shape[0]
    H = np.zeros((N, steps + 1, n))
    if initial_state is not None:
        H[:, 0] = np.asarray(initial_state, dtype=float)
    Z = np.zeros((N, steps, n))
    for t in range(steps):
        Z[:, t] = X[:, t] @ W.T + H[:, t] @ U.T + b
        H[:, t + 1] = apply_activation(activation, Z[:, t])
    dense_Z, dense_A = [], []
    A = H[:, 1:]
    for (Wl, bl), act in zip(params[1:], dense_activations):
        Zl = A @ np.asarray(Wl, dtype=float).T + np.asarray(bl, dtype=float)
        A = apply_activation(act, Zl)
        dense_Z.append(Zl)
        dense_A.append(A)
    return RNNForward(Z, H, dense_Z, dense_A)


def rnn_bptt(params, X, targets, mask=None, activation="tanh", dense_activations=(),
             loss="half_sse", truncation=None, reduction="mean", step_loss="sum",
             initial_state=None):
    """Loss and gradients of a batch of sequences by (truncated) BPTT.

    ``targets`` (N, T, n_out); ``mask`` (N, T) or (T,) booleans, True where a
    step has a target (default: every step).  For many-to-one give targets
    whose last step is the target and ``mask`` True only at the last step.
    ``truncation`` None = full BPTT, k = follow each E_t back k steps.
    """
    dense_activations = list(dense_activations)
    if len(dense_activations) != len(params) - 1:
        raise ValueError(f"expected {len(params) - 1} dense activations, "
                         f"got {len(dense_activations)}")
    if reduction not in ("mean", "sum") or step_loss not in ("sum", "mean"):
        raise ValueError("reduction and step_loss are 'mean' or 'sum'")
    if _activation(activation)[0] == "softmax":
        raise ValueError("a recurrent layer takes an element-wise activation, not softmax")
    X = np.asarray(X, dtype=float)
    targets = np.asarray(targets, dtype=float)
    N, steps, _ = X.shape
    if mask is None:
        mask = np.ones((N, steps), dtype=bool)
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), (N, steps))
    k = steps if truncation is None else int(truncation)
    if k < 1:
        raise ValueError(f"truncation must be None or >= 1, not {truncation}")
    fwd = rnn_forward(params, X, activation, dense_activations, initial_state)
    W, U, b = (np.asarray(p, dtype=float) for p in params[0])
    dense = [(np.asarray(Wl, dtype=float), np.asarray(bl, dtype=float)) for Wl, bl in params[1:]]
    # weight of each step's loss in its sequence: 1, or 1/n_T for a mean over steps
    weight = mask.astype(float)
    if step_loss == "mean":
        weight = weight / mask.sum(axis=1, keepdims=True)
    out_act = dense_activations[-1] if dense else activation
    out_Z = fwd.dense_Z[-1] if dense else fwd.Z
    paired = _PAIRED.get(loss) == _activation(out_act)[0]
    outputs = fwd.outputs
    with np.errstate(divide="ignore", invalid="ignore"):
        step_values = np.where(mask, _loss_value(loss, outputs, targets, out_Z, paired), 0.0)
    sequence_losses = (step_values * weight).sum(axis=1)
    n = N if reduction == "mean" else 1
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    dense_grads = [(np.zeros_like(Wl), np.zeros_like(bl)) for Wl, bl in dense]
    dense_deltas = [np.zeros_like(Zl) for Zl in fwd.dense_Z]
    deltas = np.zeros_like(fwd.Z)
    for t in range(steps):
        w_t = weight[:, t][:, None]
        if not mask[:, t].any():
            continue
        has_target = mask[:, t][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            if dense:
                # through the dense layers at step t, output layer first
                Delta = np.where(has_target, _output_delta(
                    loss, out_act, outputs[:, t], targets[:, t], out_Z[:, t], paired) * w_t, 0.0)
            elif paired:
                # the recurrent layer is the output layer: ∂E_t/∂Z[t] directly
                first_Delta = np.where(has_target, _output_delta(
                    loss, out_act, outputs[:, t], targets[:, t], out_Z[:, t], paired) * w_t, 0.0)
            else:
                D = np.where(has_target,
                             _output_grad(loss, outputs[:, t], targets[:, t]) * w_t, 0.0)
        for l in range(len(dense) - 1, -1, -1):
            A_prev = fwd.dense_A[l - 1][:, t] if l > 0 else fwd.H[:, t + 1]
            dense_deltas[l][:, t] = Delta
            dense_grads[l][0][...] += Delta.T @ A_prev
            dense_grads[l][1][...] += Delta.sum(axis=0)
            D = Delta @ dense[l][0]
            if l > 0:
                Delta = D * activation_derivative(dense_activations[l - 1],
                                                  fwd.dense_Z[l - 1][:, t],
                                                  fwd.dense_A[l - 1][:, t])
        # D = ∂E_t/∂H[t]; follow it back through time
        for s in range(t, max(-1, t - k), -1):
            if s == t and paired and not dense:
                Delta = first_Delta
            else:
                Delta = D * activation_derivative(activation, fwd.Z[:, s], fwd.H[:, s + 1])
            deltas[:, s] += Delta
            dW += Delta.T @ X[:, s]
            dU += Delta.T @ fwd.H[:, s]
            db += Delta.sum(axis=0)
            D = Delta @ U
    grads = [(dW / n, dU / n, db / n)] + [(gW / n, gb / n) for gW, gb in dense_grads]
    return RNNGradients(float(sequence_losses.sum() / n), outputs, grads, deltas, sequence_losses,
                        fwd, dense_deltas)


# ---------------------------------------------------------------- from a network
def _activation_spec(activation):
    """"tanh", or {"name": "leaky_relu", "slope": s} for an activation with parameters."""
    params = {k: float(v) for k, v in getattr(activation, "params", {}).items()}
    return dict(params, name=activation.name) if params else activation.name


def recurrent_network_gradients(net, X, targets, mask, truncation="default"):
    """:func:`rnn_bptt` with the arrays, names and options of a recurrent network.

    Reads ``net.to_arrays()``, the activation and loss names, ``reduction``,
    ``step_loss``, ``truncation`` and the initial state; it runs none of the
    network's code.  ``targets`` (N, T, n_out) and ``mask`` (N, T) as in
    :func:`rnn_bptt`.
    """
    layers = net.layers
    initial = layers[0].initial_state
    return rnn_bptt(net.to_arrays(), X, targets, mask,
                    activation=_activation_spec(layers[0].activation),
                    dense_activations=[_activation_spec(layer.activation) for layer in layers[1:]],
                    loss=net.loss.name,
                    truncation=net.truncation if truncation == "default" else truncation,
                    reduction=net.reduction, step_loss=net.step_loss,
                    initial_state=None if initial is None else [float(v) for v in initial])
