"""neuronsim: a reference simulator for backpropagation, one Python object per neuron.

    >>> from neuronsim import Network
    >>> net = Network.from_arrays([[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]],
    ...                           [[0.35, 0.35], [0.6, 0.6]], "sigmoid", "half_sse")
    >>> [round(a, 9) for a in net.forward_pass([0.05, 0.1])]
    [0.75136507, 0.772928465]
    >>> round(net.back_prop([0.01, 0.99]), 9)
    0.298371109
"""

from .activations import ACTIVATIONS, Activation, get_activation
from .errors import NeuronsimError, NumericalError, ShapeError, SpecError
from .gradcheck import gradcheck
from .layer import Layer
from .losses import LOSSES, Loss, get_loss
from .network import Network
from .neuron import Neuron

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "Activation", "LOSSES", "Layer", "Loss", "Network", "Neuron",
    "NeuronsimError", "NumericalError", "ShapeError", "SpecError",
    "get_activation", "get_loss", "__version__",
]
