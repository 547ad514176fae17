"""Activation functions g, each next to its derivative g'.

Every activation is an :class:`Activation` record: ``function(z)`` gives
a = g(z) and ``derivative(z, a)`` gives g'(z) (it may use the output a, which
the neuron has already computed: sigmoid' = a(1 - a), tanh' = 1 - a²).

==============  =========================  ===================================
name            g(z)                       g'(z)
==============  =========================  ===================================
``sigmoid``     1 / (1 + e^-z)             a (1 - a)
``tanh``        tanh z                     1 - a²
``relu``        max(0, z)                  1 if z > 0 else 0   (0 at z = 0)
``leaky_relu``  z if z > 0 else s·z        1 if z > 0 else s   (s at z = 0)
``linear``      z                          1
``softmax``     e^z_j / Σ_i e^z_i          a_j (1 - a_j) on the diagonal
==============  =========================  ===================================

At ReLU's kink z = 0 the derivative does not exist; neuronsim uses the
left-hand value (0 for relu, s for leaky_relu), the same choice as PyTorch.

``softmax`` couples the neurons of a layer: its Jacobian is
∂a_i/∂z_j = a_i (δ_ij - a_j).  The layer applies that full Jacobian in the
backward pass (see :meth:`neuronsim.core.layer.Layer.back_prop`); ``derivative``
returns only the diagonal, for display.

Activations are built for a number system (see :mod:`neuronsim.core.numbers`) so
that exp and tanh come from the right library.
"""

from .numbers import FLOAT
from .summation import sum_in_order


class Activation:
    """One activation function g with its derivative g'.

    ``is_layerwise`` is True for softmax, whose outputs depend on every z of
    the layer: then ``function`` maps the list of z to the list of a.
    """

    __slots__ = ("name", "function", "derivative", "is_layerwise", "params")

    def __init__(self, name, function, derivative, is_layerwise=False, params=None):
        self.name = name
        self.function = function
        self.derivative = derivative
        self.is_layerwise = is_layerwise
        self.params = dict(params or {})

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name!r}{extra})"


def sigmoid(numbers=FLOAT):
    """g(z) = 1 / (1 + e^-z), in two branches so that e^x never overflows."""
    exp, one = numbers.exp, numbers.one

    def function(z):
        if z >= 0:
            return one / (one + exp(-z))
        e = exp(z)
        return e / (one + e)

    def derivative(z, a):
        return a * (1 - a)

    return Activation("sigmoid", function, derivative)


def tanh(numbers=FLOAT):
    """g(z) = tanh z;  g'(z) = 1 - a²."""

    def derivative(z, a):
        return 1 - a * a

    return Activation("tanh", numbers.tanh, derivative)


def relu(numbers=FLOAT):
    """g(z) = max(0, z);  g'(z) = 1 for z > 0, else 0 (0 at the kink)."""
    zero, one = numbers.zero, numbers.one

    def function(z):
        return z if z > 0 else zero

    def derivative(z, a):
        return one if z > 0 else zero

    return Activation("relu", function, derivative)


def leaky_relu(numbers=FLOAT, slope=0.01):
    """g(z) = z for z > 0, else slope·z;  g'(z) = 1 for z > 0, else slope."""
    slope = numbers.convert(slope)
    one = numbers.one

    def function(z):
        return z if z > 0 else slope * z

    def derivative(z, a):
        return one if z > 0 else slope

    return Activation("leaky_relu", function, derivative, params={"slope": slope})


def linear(numbers=FLOAT):
    """g(z) = z;  g'(z) = 1 (the identity, for regression outputs)."""
    one = numbers.one

    def function(z):
        return z

    def derivative(z, a):
        return one

    return Activation("linear", function, derivative)


def softmax(numbers=FLOAT):
    """a_j = e^(z_j - m) / Σ_i e^(z_i - m) with m = max z (shifting by m
    changes nothing mathematically and keeps e^x from overflowing)."""
    exp = numbers.exp

    def function(zs):
        m = max(zs)
        exps = [exp(z - m) for z in zs]
        total = sum_in_order(exps)
        return [e / total for e in exps]

    def derivative(z, a):
        return a * (1 - a)

    return Activation("softmax", function, derivative, is_layerwise=True)


ACTIVATIONS = {
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "linear": linear,
    "softmax": softmax,
}

# Extra keyword parameters each activation accepts (from files and from_arrays).
ACTIVATION_PARAMS = {"leaky_relu": ("slope",)}


def get_activation(name, numbers=FLOAT, **params):
    """Build the activation called ``name`` for ``numbers``.

    Raises ``ValueError`` naming the known activations if ``name`` is unknown.
    """
    if isinstance(name, Activation):
        return name
    try:
        make = ACTIVATIONS[name]
    except (KeyError, TypeError):
        known = ", ".join(ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r} (known: {known})") from None
    allowed = ACTIVATION_PARAMS.get(name, ())
    for key in params:
        if key not in allowed:
            raise ValueError(f"activation {name!r} takes no parameter {key!r}")
    return make(numbers, **params)
