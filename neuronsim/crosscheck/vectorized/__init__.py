"""The vectorized reference: backpropagation in numpy for a whole batch, one
pair of functions per layer kind.  An independent computation: it shares no
code with the per-neuron core (neuron.py, layer.py, network.py), only the
*names* of the activations and losses; two computations that must agree are
the point.  docs/vectorized.md shows the two side by side.

Samples (or sequences) are the **rows**, as in numpy, torch and
``neuronsim.crosscheck.compare``: A^(l) has shape (m, n_l), and for a stack
read over time (m, T, n_l).  The textbook writes the samples as columns
(Z = W A + b); with rows each product is its transpose (Z = A Wᵀ + b).

The modules, one concept each:

* :mod:`.functions`: activations (g next to g') and losses (E next to dE/dA)
  on arrays;
* one module per layer kind, each a ``<kind>_forward(params, A_prev…) -> (A, cache)``
  / ``<kind>_backward(dA, cache) -> (dA_prev, grads)`` pair for one step of a batch:
  :mod:`.dense` (also on plain arrays, the form the feed-forward network calls),
  :mod:`.recurrent` (Elman), :mod:`.gated` (LSTM, GRU);
* :mod:`.network`: a feed-forward network, the dense pair layer after layer
  (:func:`backprop`, :func:`network_gradients`, :class:`BatchGradients`);
* :mod:`.stack`: any stack of layer kinds through time, full and truncated BPTT
  (:func:`stack_bptt`); a feed-forward network is its case T = 1;
* :mod:`.rnn`: the older call for one recurrent first layer and dense layers
  (:func:`rnn_bptt`), a thin layer over :mod:`.stack`.

``neuronsim.crosscheck.vectorized_stack`` and ``neuronsim.crosscheck.vectorized_rnn``,
the modules' former homes, re-export their names.
"""

from .dense import (
    DenseCache,
    dense_backward,
    dense_backward_arrays,
    dense_forward,
    dense_forward_arrays,
)
from .functions import (
    ACTIVATION_PARAMS,
    ACTIVATIONS,
    LOSSES,
    PAIRED_WITH,
    Activation,
    activate,
    activation,
    activation_backward,
    activation_name,
    is_paired,
    output_grad,
    paired_delta,
    step_loss_values,
)
from .gated import GRUCache, LSTMCache, gru_backward, gru_forward, lstm_backward, lstm_forward
from .network import BatchGradients, backprop, forward, network_arrays, network_gradients
from .recurrent import RecurrentCache, recurrent_backward, recurrent_forward
from .rnn import RNNForward, RNNGradients, recurrent_network_gradients, rnn_bptt, rnn_forward
from .stack import (
    GATE_COUNT,
    PARAMETERS,
    STATES,
    StackForward,
    StackResult,
    stack_bptt,
    stack_forward,
    step_backward,
    step_forward,
)

#: the names this module had before it became a package.  (MatrixActivation and
#: matrix_activation are gone: they took samples as columns, and Activation takes
#: them as rows; the same name for other numbers would mislead.)
PAIRED_OUTPUT = PAIRED_WITH
RECURRENT = (RNNForward, RNNGradients, recurrent_network_gradients, rnn_bptt, rnn_forward)
"""The recurrent names this module re-exports (from :mod:`.rnn`)."""

__all__ = [
    "ACTIVATION_PARAMS", "ACTIVATIONS", "LOSSES", "PAIRED_OUTPUT", "PAIRED_WITH", "Activation",
    "activate", "activation", "activation_backward", "activation_name",
    "is_paired", "output_grad", "paired_delta", "step_loss_values",
    "DenseCache", "dense_backward", "dense_backward_arrays", "dense_forward",
    "dense_forward_arrays", "RecurrentCache", "recurrent_backward",
    "recurrent_forward", "GRUCache", "LSTMCache", "gru_backward", "gru_forward",
    "lstm_backward", "lstm_forward", "BatchGradients", "backprop", "forward",
    "network_arrays", "network_gradients", "GATE_COUNT", "PARAMETERS", "STATES",
    "StackForward", "StackResult", "stack_bptt", "stack_forward", "step_backward",
    "step_forward", "RECURRENT", "RNNForward", "RNNGradients", "recurrent_network_gradients",
    "rnn_bptt", "rnn_forward",
]
