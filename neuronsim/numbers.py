"""Number systems: which arithmetic the neurons compute in.

The neuron, layer and network code is written once, with ``+ - * /`` and
integer constants only, so that it runs unchanged on any number type.  What
differs between number systems is collected here: how to convert a user's
value, and the transcendental functions (exp, log, tanh) that activations and
losses need.

``FLOAT`` (Python float = IEEE float64) is the default.
"""

import math


class FloatNumbers:
    """IEEE float64 arithmetic with Python's ``math`` module."""

    name = "float"
    zero = 0.0
    one = 1.0
    exp = staticmethod(math.exp)
    tanh = staticmethod(math.tanh)
    log1p = staticmethod(math.log1p)
    inf = math.inf
    nan = math.nan

    @staticmethod
    def convert(value):
        """Turn a user's number (int, float, numpy scalar) into a float."""
        return float(value)

    @staticmethod
    def log(x):
        """Natural log with log(0) = -inf and log(x < 0) = nan (never raises)."""
        if x > 0:
            return math.log(x)
        return -math.inf if x == 0 else math.nan

    @staticmethod
    def is_finite(x):
        return math.isfinite(x)

    @staticmethod
    def to_float(x):
        return float(x)


FLOAT = FloatNumbers()

NUMBER_SYSTEMS = {"float": FLOAT}


def get_numbers(name="float"):
    """Return the number system called ``name`` (a registry lookup)."""
    if not isinstance(name, str):
        return name  # already a number-system object
    try:
        return NUMBER_SYSTEMS[name]
    except KeyError:
        known = ", ".join(sorted(NUMBER_SYSTEMS))
        raise ValueError(f"unknown number system {name!r} (known: {known})") from None
