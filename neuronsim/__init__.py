"""neuronsim: a reference simulator for backpropagation, one Python object per neuron.

    >>> from neuronsim import Network
    >>> net = Network.from_arrays([[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]],
    ...                           [[0.35, 0.35], [0.6, 0.6]], "sigmoid", "half_sse")
    >>> [round(a, 9) for a in net.forward_pass([0.05, 0.1])]
    [0.75136507, 0.772928465]
    >>> round(net.back_prop([0.01, 0.99]), 9)
    0.298371109

The package is laid out by concept (docs/architecture.md): ``core`` (neurons,
layers, the network), ``files`` (network files), ``trace`` (the tracer),
``render`` (tables, diagrams), ``crosscheck`` (independent computations),
``hand`` (explain, worksheets), ``classroom`` (stepper, walkthrough, plots)
and ``cli``.
"""

from .core import services
from .core.activations import ACTIVATIONS, Activation, get_activation
from .core.errors import NeuronsimError, NumericalError, ShapeError, SpecError
from .core.layer import Layer
from .core.losses import LOSSES, Loss, get_loss
from .core.network import Network
from .core.neuron import Neuron
from .files import spec

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "Activation", "LOSSES", "Layer", "Loss", "Network", "Neuron",
    "NeuronsimError", "NumericalError", "ShapeError", "SpecError",
    "get_activation", "get_loss", "gradcheck", "__version__",
]


def __getattr__(name):
    """``neuronsim.gradcheck``, imported on first use: ``import neuronsim`` stays free of
    numpy and tabulate (the cross-check package needs them)."""
    if name == "gradcheck":
        from .crosscheck.gradcheck import gradcheck

        return gradcheck
    raise AttributeError(f"module 'neuronsim' has no attribute {name!r}")


# The core's Network offers these, implemented outside the core (neuronsim.core.services).
# The torch bridge, the diagrams and the notebook display are imported when first used.
def _network_from_torch(*args, **kwargs):
    from .crosscheck.torch_bridge import network_from_torch

    return network_from_torch(*args, **kwargs)


def _network_to_torch(net, **options):
    from .crosscheck.torch_bridge import network_to_torch

    return network_to_torch(net, **options)


def _network_html(net):
    from .render.notebook import network_html

    return network_html(net)


def _draw_svg(*args, **options):
    from .render.draw import svg

    return svg(*args, **options)


def _draw_save(*args, **options):
    from .render.draw import save

    return save(*args, **options)


def _widget(net, **options):
    from .classroom.widget import network_widget

    return network_widget(net, **options)


for _name, _function in {
        "network_from_arrays": spec.network_from_arrays,
        "load_network": spec.load_network,
        "spec_from_network": spec.spec_from_network,
        "save_network": spec.save_network,
        "recurrent_network_from_arrays": spec.recurrent_network_from_arrays,
        "network_from_torch": _network_from_torch,
        "network_to_torch": _network_to_torch,
        "network_html": _network_html,
        "draw_svg": _draw_svg,
        "draw_save": _draw_save,
        "widget": _widget}.items():
    services.provide(_name, _function)
del _name, _function
