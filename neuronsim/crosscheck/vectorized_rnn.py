"""Backpropagation through time in numpy for one recurrent first layer and
dense layers, under its former name: the code lives in
:mod:`neuronsim.crosscheck.vectorized.rnn` (a thin layer over
:func:`neuronsim.crosscheck.vectorized.stack_bptt`); this module re-exports
its names so that code written for ``neuronsim.crosscheck.vectorized_rnn``
keeps working.
"""

from .vectorized.rnn import (
    RNNForward,
    RNNGradients,
    apply_activation,
    recurrent_network_gradients,
    rnn_bptt,
    rnn_forward,
)

__all__ = ["RNNForward", "RNNGradients", "apply_activation", "recurrent_network_gradients",
           "rnn_bptt", "rnn_forward"]
