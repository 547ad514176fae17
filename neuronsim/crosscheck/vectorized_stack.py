"""The numpy reference for stacks of layer kinds, under its former name.

Everything now lives in the package :mod:`neuronsim.crosscheck.vectorized`
(one module per layer kind, :mod:`~neuronsim.crosscheck.vectorized.stack` for
the loop over time); this module re-exports its names so that code written
for ``neuronsim.crosscheck.vectorized_stack`` keeps working.
"""

from .vectorized.dense import DenseCache, dense_backward, dense_forward
from .vectorized.functions import (
    ACTIVATIONS,
    LOSSES,
    PAIRED_WITH,
    _sigmoid,
    _softmax,
    _softplus,
    _t_log,
    activate,
    activation_backward,
    activation_name,
    output_grad,
    paired_delta,
    step_loss_values,
)
from .vectorized.gated import (
    GRUCache,
    LSTMCache,
    _split,
    gru_backward,
    gru_forward,
    lstm_backward,
    lstm_forward,
)
from .vectorized.recurrent import RecurrentCache, recurrent_backward, recurrent_forward
from .vectorized.stack import (
    GATE_COUNT,
    PARAMETERS,
    STATES,
    StackForward,
    StackResult,
    _prepare,
    _sweep,
    stack_bptt,
    stack_forward,
    step_backward,
    step_forward,
)

__all__ = [
    "ACTIVATIONS", "LOSSES", "PAIRED_WITH", "activate", "activation_backward",
    "activation_name", "output_grad", "paired_delta", "step_loss_values", "DenseCache",
    "dense_backward", "dense_forward", "GRUCache", "LSTMCache", "gru_backward", "gru_forward",
    "lstm_backward", "lstm_forward", "RecurrentCache", "recurrent_backward",
    "recurrent_forward", "GATE_COUNT", "PARAMETERS", "STATES", "StackForward", "StackResult",
    "stack_bptt", "stack_forward", "step_backward", "step_forward",
    "_prepare", "_sigmoid", "_softmax", "_softplus", "_split", "_sweep", "_t_log",
]
