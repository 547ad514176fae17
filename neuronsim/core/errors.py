"""The exceptions neuronsim raises for problems a user can fix.

Every message names the place (file, layer, neuron, sample) so that one line
is enough to find the mistake; the command line prints it and exits with
status 2, without a traceback.
"""


class NeuronsimError(Exception):
    """Base class: an input or number problem the user can act on."""


class SpecError(NeuronsimError, ValueError):
    """A network description (file, dict or arrays) is malformed.

    The message starts with the location, e.g.
    ``layers[1].weights[0]: expected 2 numbers, got 3``.
    """


class ShapeError(NeuronsimError, ValueError):
    """An input or target vector has the wrong length or type."""


class NumericalError(NeuronsimError, ArithmeticError):
    """A NaN or infinity appeared; the message says where it first did."""
