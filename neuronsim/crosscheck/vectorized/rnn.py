"""Backpropagation through time in numpy, in the older layout "one recurrent
first layer + dense layers": a thin compatibility layer over
:mod:`.stack`, the driver of the one numpy reference for every stack of layer kinds.

It keeps the names and argument order code written for it uses
(``rnn_bptt(params, X, targets, mask, activation, dense_activations, loss, ...)``
with ``params = [(W, U, b), (W, b), ...]``) and turns them into the stack's
list of layer dicts; every number comes from
:func:`~neuronsim.crosscheck.vectorized.stack.stack_bptt`.  For the recurrent
layer

    Z[t] = X[t] Wᵀ + H[t-1] Uᵀ + b,   H[t] = g(Z[t]),   H[0] = the initial state

then the dense layers A^(l)[t] = g_l(A^(l-1)[t] W_lᵀ + b_l) at every step.
Sequences are the **rows**: X has shape (N, T, n_in); ``[:, 0]`` is step
t = 1.  ``mask`` (N, T) marks the steps that have a target.  A sequence's loss
is the sum of its E_t over those steps (or their mean, ``step_loss="mean"``);
the batch loss and the gradients are the mean over the N sequences
(``reduction="mean"``) or their sum.  Truncation k: each E_t is followed back
k steps (the definition in docs/recurrent.md).
"""

from dataclasses import dataclass

import numpy as np

from .functions import activate, activation_name
from .stack import stack_bptt, stack_forward

# ---------------------------------------------------------------- activations


def apply_activation(spec, Z):
    """g(Z) element-wise (softmax over the last axis); ``spec`` a name or
    ``{"name": "leaky_relu", "slope": s}``."""
    return activate(spec, np.asarray(Z, dtype=float))


def _activation_spec(activation):
    """"tanh", or {"name": "leaky_relu", "slope": s} for an activation with parameters."""
    params = {k: float(v) for k, v in getattr(activation, "params", {}).items()}
    return dict(params, name=activation.name) if params else activation.name


# ---------------------------------------------------------------- results
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
        """Per layer (recurrent first) ``activations`` and ``deltas`` of shape
        (N, T, n_l), ``dW`` and ``db``; ``dU``; ``loss``: the layout
        :func:`neuronsim.crosscheck.compare.compare` reads."""
        fwd = self.forward
        (dW, dU, db), dense = self.grads[0], self.grads[1:]
        return {"activations": [fwd.H[:, 1:]] + list(fwd.dense_A),
                "deltas": [self.deltas] + list(self.dense_deltas),
                "dW": [dW] + [g for g, _ in dense], "dU": dU,
                "db": [db] + [g for _, g in dense], "loss": self.loss}


# ---------------------------------------------------------------- to the stack
def _layers(params, activation, dense_activations, initial_state):
    """The stack's layer dicts for [(W, U, b), (W, b), ...]."""
    dense_activations = list(dense_activations)
    if len(dense_activations) != len(params) - 1:
        raise ValueError(f"expected {len(params) - 1} dense activations, "
                         f"got {len(dense_activations)}")
    W, U, b = params[0]
    layers = [{"kind": "recurrent", "W": W, "U": U, "b": b, "activation": activation,
               "h0": initial_state}]
    layers += [{"kind": "dense", "W": Wl, "b": bl, "activation": act}
               for (Wl, bl), act in zip(params[1:], dense_activations)]
    return layers


def _rnn_forward(fwd, n_dense):
    """An RNNForward from the stack's forward pass."""
    h0 = fwd.params[0]["h0"]
    first = fwd.activations[0]
    H = np.concatenate([np.broadcast_to(h0, (first.shape[0], 1, first.shape[2])), first], axis=1)
    return RNNForward(fwd.zs[0], H, list(fwd.zs[1:1 + n_dense]),
                      list(fwd.activations[1:1 + n_dense]))


def rnn_forward(params, X, activation="tanh", dense_activations=(), initial_state=None):
    """The forward pass for a batch X (N, T, n_in); ``params`` = [(W, U, b), (W, b), ...]."""
    layers = _layers(params, activation, dense_activations, initial_state)
    return _rnn_forward(stack_forward(layers, X), len(layers) - 1)


def rnn_bptt(params, X, targets, mask=None, activation="tanh", dense_activations=(),
             loss="half_sse", truncation=None, reduction="mean", step_loss="sum",
             initial_state=None):
    """Loss and gradients of a batch of sequences by (truncated) BPTT.

    ``targets`` (N, T, n_out); ``mask`` (N, T) or (T,) booleans, True where a
    step has a target (default: every step).  For many-to-one give targets
    whose last step is the target and ``mask`` True only at the last step.
    ``truncation`` None = full BPTT, k = follow each E_t back k steps.
    """
    if activation_name(activation) == "softmax":
        raise ValueError("a recurrent layer takes an element-wise activation, not softmax")
    layers = _layers(params, activation, dense_activations, initial_state)
    X = np.asarray(X, dtype=float)
    if mask is None:
        mask = np.ones(X.shape[:2], dtype=bool)
    result = stack_bptt(layers, X, targets, mask, loss, step_loss=step_loss,
                        reduction=reduction, truncation=truncation)
    n_dense = len(layers) - 1
    return RNNGradients(result.loss, result.outputs, [tuple(g) for g in result.grads],
                        result.deltas[0], result.sequence_losses,
                        _rnn_forward(result.forward, n_dense), list(result.deltas[1:]))


def recurrent_network_gradients(net, X, targets, mask, truncation="default"):
    """:func:`rnn_bptt` with the arrays, names and options of a network whose
    first layer is recurrent and the others dense (any other stack:
    :func:`neuronsim.crosscheck.compare_rnn.stack_layers` and
    :func:`~neuronsim.crosscheck.vectorized.stack_bptt`)."""
    layers = net.layers
    initial = layers[0].initial_state
    return rnn_bptt([tuple(arrays[:3]) if i == 0 else arrays
                     for i, arrays in enumerate(net.to_arrays())], X, targets, mask,
                    activation=_activation_spec(layers[0].activation),
                    dense_activations=[_activation_spec(layer.activation) for layer in layers[1:]],
                    loss=net.loss.name,
                    truncation=net.truncation if truncation == "default" else truncation,
                    reduction=net.reduction, step_loss=net.step_loss,
                    initial_state=None if initial is None else [float(v) for v in initial])
