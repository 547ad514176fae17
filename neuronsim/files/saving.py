"""Checks before a network is saved: a file holds finite numbers only.

JSON has no NaN or infinity (and a network file with them could not be read
back), so a network whose training diverged is refused before anything is
written, naming the first non-finite parameter by layer and neuron, like
the other NaN reports.
"""

import math

from ..core.errors import NumericalError
from ..core.labels import bias_label, weight_label


def first_non_finite(net):
    """(description, value) of the first weight or bias of ``net`` that is NaN
    or infinite, in layer order; None if every one is finite."""
    finite = getattr(net.numbers, "is_finite", math.isfinite)
    for l, layer in enumerate(net.layers):
        for j, neuron in enumerate(layer.neurons):
            where = f"layer {l + 2}, neuron {j + 1}"
            for k, w in enumerate(neuron.weights):
                if not finite(w):
                    label = (f"{where}: {weight_label(l, j, k)} "
                             f"(net.layers[{l}].neurons[{j}].weights[{k}])")
                    return label, w
            for k, u in enumerate(getattr(neuron, "recurrent_weights", ())):
                if not finite(u):
                    label = (f"{where}: recurrent weight {k + 1} "
                             f"(net.layers[{l}].neurons[{j}].recurrent_weights[{k}])")
                    return label, u
            if not finite(neuron.bias):
                return f"{where}: {bias_label(l, j)} (net.layers[{l}].neurons[{j}].bias)", \
                    neuron.bias
    return None


def check_savable(net, path):
    """Raise a NumericalError naming ``path`` and the first non-finite
    parameter of ``net``; nothing is written."""
    found = first_non_finite(net)
    if found is not None:
        where, value = found
        raise NumericalError(f"{path}: not saved: {where} is {value} (a network file holds "
                             "finite numbers only; training diverged? try a smaller "
                             "--learning-rate)")
